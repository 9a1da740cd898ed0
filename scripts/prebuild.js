#!/usr/bin/env node
// Makes the prebuilds the package ships: prebuilds/linux-<arch>/*.node for
// x64 and, with Debian's g++-aarch64-linux-gnu, arm64 (cross-compiled; Node's
// headers are the same for both). `npm run prebuild:all`; `--stale` builds
// only those missing or older than a source file (npm pack's prepack, the
// package test); `--arch x64` only that one.
// Each build runs in a copy of the sources, so the development build in
// build/ (which the tests load) is never replaced under them, and each result
// is checked against the floor README states before it is kept.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
// The newest glibc symbol version a prebuild may need (README, "Install").
const GLIBC_FLOOR = '2.34';
const CROSS = { arm64: 'aarch64-linux-gnu' };

function hostArch() {
  return process.arch;
}

function toolchain(arch) {
  if (arch === hostArch()) return { prefix: '' };
  const triple = CROSS[arch];
  if (!triple) return undefined;
  const found = spawnSync(`${triple}-g++`, ['--version'], { stdio: 'ignore' });
  return found.status === 0 ? { prefix: `${triple}-` } : undefined;
}

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return 0;
}

/**
 * What a built addon needs from the system: the newest GLIBC_ symbol version
 * and any GLIBCXX_ one (there should be none: libstdc++ is linked in).
 */
function symbolFloor(file, objdump = 'objdump') {
  const out = execFileSync(objdump, ['-T', file], { encoding: 'utf8' });
  const glibc = [...out.matchAll(/\bGLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]).sort(compareVersions);
  const glibcxx = [...new Set([...out.matchAll(/\bGLIBCXX_(\d+(?:\.\d+)+)/g)].map((m) => m[1]))];
  return { glibc: glibc[glibc.length - 1], glibcxx };
}

function checkFloor(file, objdump) {
  const floor = symbolFloor(file, objdump);
  if (floor.glibcxx.length > 0) throw new Error(`${file} needs GLIBCXX_${floor.glibcxx.join(', ')} (libstdc++ not linked in)`);
  if (compareVersions(floor.glibc, GLIBC_FLOOR) > 0) throw new Error(`${file} needs glibc ${floor.glibc}, above the stated ${GLIBC_FLOOR}`);
  return floor;
}

// What the binary is made of (package.json is copied too, for its name only).
const SOURCES = ['binding.gyp', 'native/sources.gypi', 'native/core', 'native/binding'];

function newestSourceMs() {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const entry of SOURCES) visit(path.join(root, entry));
  return newest;
}

// Missing, or built before a source changed (a checkout touches what it
// changes, so an older tree is rebuilt too).
function stale(arch) {
  const file = builtFile(arch);
  return file === undefined || fs.statSync(file).mtimeMs < newestSourceMs();
}

function copySources(dir) {
  for (const entry of ['package.json', ...SOURCES]) {
    fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  }
  // node-addon-api's include_dir is looked up from the copy.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
}

function nodeGyp() {
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return process.env.npm_config_node_gyp || bundled;
}

function prebuild(arch, tools) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `commitlog-prebuild-${arch}-`));
  try {
    copySources(work);
    const env = { ...process.env, JOBS: process.env.JOBS || '2' };
    // Build against the running Node's installed headers (no download).
    const prefix = path.join(path.dirname(process.execPath), '..');
    if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
    if (tools.prefix) Object.assign(env, { CC: `${tools.prefix}gcc`, CXX: `${tools.prefix}g++`, LINK: `${tools.prefix}g++` });
    const args = [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--tag-libc', '--name', 'commitlog', '--arch', arch,
      '--cwd', work, '--out', root, '--node-gyp', nodeGyp()];
    if (tools.prefix) args.push('--strip-bin', `${tools.prefix}strip`);
    execFileSync(process.execPath, args, { env, stdio: 'inherit' });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const file = builtFile(arch);
  const floor = checkFloor(file, `${tools.prefix}objdump`);
  console.log(`prebuild: ${path.relative(root, file)}: glibc ${floor.glibc}, no GLIBCXX`);
}

function builtFile(arch) {
  const dir = path.join(root, 'prebuilds', `linux-${arch}`);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  return files.length > 0 ? path.join(dir, files[0]) : undefined;
}

function main(argv) {
  if (process.platform !== 'linux') throw new Error('prebuild: prebuilds are made on Linux only');
  const at = argv.indexOf('--arch');
  const wanted = at >= 0 ? [argv[at + 1]] : [hostArch(), ...Object.keys(CROSS).filter((a) => a !== hostArch())];
  for (const arch of wanted) {
    if (argv.includes('--stale') && !stale(arch)) continue;
    const tools = toolchain(arch);
    if (!tools) {
      // Only an explicitly asked architecture is an error: a machine without
      // the cross compiler still packs what it can build.
      if (at >= 0) throw new Error(`prebuild: no compiler for ${arch} (apt-get install g++-${CROSS[arch] ?? arch})`);
      console.warn(`prebuild: skipping linux-${arch}: ${CROSS[arch] ?? arch}-g++ not found`);
      continue;
    }
    prebuild(arch, tools);
  }
}

module.exports = { symbolFloor, checkFloor, GLIBC_FLOOR, compareVersions };

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
