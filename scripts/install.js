#!/usr/bin/env node
// The package's install step. A prebuild that loads here is all it needs; a
// missing one, or one this system cannot load (a glibc older than its floor),
// means a source build, announced with what it needs, and a failed build ends
// with what to install rather than only node-gyp's log.
'use strict';
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const TOOLS = 'python3, make and a C++17 compiler (g++)';
const HOW =
  '  Debian/Ubuntu: apt-get install python3 make g++\n' +
  '  Fedora/RHEL:   dnf install python3 make gcc-c++\n' +
  '  Alpine:        apk add python3 make g++';

// Why no build or prebuild fits, or undefined when one loads.
function unusable() {
  let file;
  try {
    file = require('node-gyp-build').path(root);
  } catch {
    return `no prebuilt binary for ${process.platform}-${os.arch()}`;
  }
  try {
    require(file);
    return undefined;
  } catch (err) {
    return `the prebuilt binary ${file} does not load here (${err.message.split('\n')[0]})`;
  }
}

function nodeGyp(args) {
  // npm passes its own node-gyp to install scripts; outside npm, the PATH's.
  const bundled = process.env.npm_config_node_gyp;
  return bundled
    ? spawnSync(process.execPath, [bundled, ...args], { cwd: root, stdio: 'inherit' })
    : spawnSync('node-gyp', args, { cwd: root, stdio: 'inherit' });
}

const why = process.env.npm_config_build_from_source === 'true' ? 'building from source as asked' : unusable();
if (why !== undefined) {
  console.error(`commitlog: ${why}; building from source, which needs ${TOOLS}.`);
  const built = nodeGyp(['rebuild']);
  if (built.status !== 0) {
    console.error(
      `commitlog: the source build failed (${why}).\n` +
        `Install ${TOOLS}, then run \`npm rebuild commitlog\`:\n${HOW}`,
    );
    process.exit(1);
  }
}
