#!/usr/bin/env node
// Incremental build of the addons for development and tests: configures once,
// then lets make rebuild only what changed. Builds the production addon
// (build/Release/commitlog.node) and the test-only fault-injection addon
// (native/testing/build/Release/commitlog_test.node). `npm install` builds
// only the production one (via node-gyp-build, unless a prebuild fits).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
// npm sets npm_config_node_gyp for scripts; outside npm, use npm's bundled copy.
const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp || (fs.existsSync(bundled) ? bundled : undefined);
const jobs = process.env.JOBS || '2';

// Build against the running Node's own headers when they are installed next
// to it (no download; npm passes the same through npm_config_nodedir).
const prefix = path.join(path.dirname(process.execPath), '..');
const nodedir =
  process.env.npm_config_nodedir ||
  (fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined);

function run(cwd, args) {
  if (nodedir && args[0] === 'configure') args = [...args, `--nodedir=${nodedir}`];
  if (gyp) execFileSync(process.execPath, [gyp, ...args], { cwd, stdio: 'inherit' });
  else execFileSync('node-gyp', args, { cwd, stdio: 'inherit' });
}

function build(dir) {
  if (!fs.existsSync(path.join(dir, 'build', 'config.gypi'))) run(dir, ['configure']);
  run(dir, ['build', '-j', jobs]);
}

const only = process.argv.indexOf('--dir');
if (only >= 0) {
  build(path.resolve(root, process.argv[only + 1]));
} else {
  build(root);
  if (!process.argv.includes('--production-only')) build(path.join(root, 'native', 'testing'));
}
