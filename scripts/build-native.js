#!/usr/bin/env node
// Incremental build of the addon for development and tests: configures once,
// then lets make rebuild only what changed. `npm install` builds it too (via
// node-gyp-build, unless a prebuild fits).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const gyp = process.env.npm_config_node_gyp;
const run = (args) =>
  gyp
    ? execFileSync(process.execPath, [gyp, ...args], { cwd: root, stdio: 'inherit' })
    : execFileSync('node-gyp', args, { cwd: root, stdio: 'inherit' });

const jobs = process.env.JOBS || '2';
if (!fs.existsSync(path.join(root, 'build', 'config.gypi'))) run(['configure']);
run(['build', '-j', jobs]);
