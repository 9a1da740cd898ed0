// The package as users get it (classic-level's PREBUILDS_ONLY check, and
// more): the packed tarball installed into a clean project with no compiler
// on the PATH, loaded from CommonJS, ES modules and TypeScript; a tarball
// without a prebuild fails to install with a message that says what to
// install; a prebuild that cannot load names its file.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..');
const fixtures = path.join(__dirname, 'fixtures', 'package-consumer');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const { checkFloor, GLIBC_FLOOR } = createRequire(__filename)('../scripts/prebuild.js') as {
  checkFloor(file: string, objdump?: string): { glibc: string; glibcxx: string[] };
  GLIBC_FLOOR: string;
};
const hasForward = fs.existsSync(path.join(root, 'lib', 'forward.ts'));
const arch = os.arch();

let work: string;
let tarball: string;
let bin: string;

/** A PATH with node, npm and sh only: no python3, make, cc or g++. */
function bareBin(dir: string): string {
  fs.mkdirSync(dir);
  const npmCli = path.join(path.dirname(fs.realpathSync(process.execPath)), '..', 'lib', 'node_modules', 'npm', 'bin');
  fs.symlinkSync(process.execPath, path.join(dir, 'node'));
  fs.symlinkSync(path.join(npmCli, 'npm-cli.js'), path.join(dir, 'npm'));
  fs.symlinkSync('/bin/sh', path.join(dir, 'sh'));
  return dir;
}

function bareEnv(): NodeJS.ProcessEnv {
  // A fresh environment: the tests' own switches (COMMITLOG_*) stay out.
  return { HOME: os.homedir(), PATH: bin, CC: '/bin/false', CXX: '/bin/false', TMPDIR: os.tmpdir() };
}

function project(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  return dir;
}

/** spawnSync, but a process that could not start throws rather than read as a failed run. */
function run(file: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(file, args, { cwd, env: bareEnv(), encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

function npmInstall(dir: string, what: string): SpawnSyncReturns<string> {
  return run(
    path.join(bin, 'npm'),
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', what],
    dir,
  );
}

function runNode(dir: string, args: string[]): SpawnSyncReturns<string> {
  return run(path.join(bin, 'node'), args, dir);
}

function lastJson(r: SpawnSyncReturns<string>): any {
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'commitlog-package-'));
  bin = bareBin(path.join(work, 'bin'));
  // npm test has built dist/; a prebuild for this machine is made when it is
  // missing or older than the sources, in a copy of them (never in build/,
  // which the other test files load).
  if (!fs.existsSync(path.join(root, 'dist', 'index.mjs'))) execFileSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'ignore' });
  execFileSync(process.execPath, [path.join(root, 'scripts', 'prebuild.js'), '--arch', arch, '--stale'], { cwd: root, stdio: 'pipe' });
  // --ignore-scripts: prepack would rebuild dist/ under the other test files.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
  tarball = path.join(work, JSON.parse(out)[0].filename);
}, 120_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the npm scripts', () => {
  it('have no accidental pre- or post-hooks (npm ran prebuildify before every build)', () => {
    const lifecycle = new Set(['prepare', 'prepack', 'postpack', 'preinstall', 'postinstall', 'prepublishOnly']);
    const hooks = Object.keys(pkg.scripts).filter(
      (name) => !lifecycle.has(name) && /^(pre|post)/.test(name) && pkg.scripts[name.replace(/^(pre|post)/, '')] !== undefined,
    );
    expect(hooks).toEqual([]);
  });
});

describe('the prebuilds', () => {
  it('need no GLIBCXX and at most the glibc README states', () => {
    const dir = path.join(root, 'prebuilds', `linux-${arch}`);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
    expect(files.length).toBe(1);
    const floor = checkFloor(path.join(dir, files[0]));
    expect(floor.glibcxx).toEqual([]);
    expect(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).toContain(`glibc ${GLIBC_FLOOR}`);
  });
});

describe('the packed tarball', () => {
  let consumer: string;

  beforeAll(() => {
    consumer = project('consumer');
    const r = npmInstall(consumer, tarball);
    if (r.status !== 0) throw new Error(`npm install failed:\n${r.stdout}\n${r.stderr}`);
  }, 120_000);

  it('ships no test-only sources, source maps or build output', () => {
    const out = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(out.filter((f) => /fault_io|native\/testing|\.map$|isolate-.*\.log$|^package\/build\//.test(f))).toEqual([]);
    expect(out).toContain('package/LICENSE');
    expect(out).toContain('package/CHANGELOG.md');
    expect(out).toContain(`package/prebuilds/linux-${arch}/commitlog.glibc.node`);
  });

  it('has every file its exports map names', () => {
    const listed = new Set(execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n'));
    const targets = (value: unknown): string[] =>
      typeof value === 'string' ? [value] : Object.values(value as object).flatMap(targets);
    const missing = Object.entries(pkg.exports)
      // lib/forward.ts comes from another branch; npm pack (esm-entries --strict) refuses a tarball without it.
      .filter(([subpath]) => hasForward || subpath !== './forward')
      .flatMap(([, target]) => targets(target))
      .filter((file) => !listed.has(path.posix.join('package', file)));
    expect(missing).toEqual([]);
  });

  it('installs with no compiler on the PATH by using the prebuild', () => {
    const installed = path.join(consumer, 'node_modules', 'commitlog');
    expect(fs.existsSync(path.join(installed, 'dist', 'index.js'))).toBe(true);
    // No source build happened: it would have left build/.
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  });

  it('appends and reads from CommonJS, and refuses deep imports', () => {
    fs.copyFileSync(path.join(fixtures, 'use.cjs'), path.join(consumer, 'use.cjs'));
    const out = lastJson(runNode(consumer, ['use.cjs', path.join(work, 'log-cjs')]));
    expect(out).toEqual({ seq: 0, read: ['from cjs'], logError: 'function', version: pkg.version, deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });

  it('appends and reads from an ES module, with the classes require() gives, and refuses deep imports', () => {
    fs.copyFileSync(path.join(fixtures, 'use.mjs'), path.join(consumer, 'use.mjs'));
    const out = lastJson(runNode(consumer, ['use.mjs', path.join(work, 'log-esm')]));
    expect(out).toEqual({ seq: 0, read: ['from esm'], sameClasses: true, defaultIsCjs: true, deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });

  it.skipIf(!hasForward)('loads commitlog/forward from CommonJS and ES modules', () => {
    fs.copyFileSync(path.join(fixtures, 'forward.cjs'), path.join(consumer, 'forward.cjs'));
    const out = lastJson(runNode(consumer, ['forward.cjs']));
    expect(out).toEqual({ forward: 'function', jetStreamSink: 'function', same: true, withoutNats: 'ERR_SINK true' });
  });

  for (const mode of ['node16', 'nodenext', 'bundler'] as const) {
    it(`type-checks with moduleResolution ${mode}`, () => {
      const files = mode === 'bundler' ? ['types.mts'] : ['types.mts', 'types.cts'];
      for (const f of files) fs.copyFileSync(path.join(fixtures, f), path.join(consumer, f));
      const config = {
        compilerOptions: {
          module: mode === 'bundler' ? 'preserve' : mode,
          moduleResolution: mode,
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        files,
      };
      const tsconfig = path.join(consumer, `tsconfig.${mode}.json`);
      fs.writeFileSync(tsconfig, JSON.stringify(config));
      const r = runNode(consumer, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig]);
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('names the file when a prebuild does not load here', () => {
    const copy = path.join(work, 'broken');
    fs.cpSync(consumer, copy, { recursive: true, verbatimSymlinks: true });
    const file = path.join(copy, 'node_modules', 'commitlog', 'prebuilds', `linux-${arch}`, 'commitlog.glibc.node');
    fs.writeFileSync(file, 'not an ELF file');
    const script = "try { require('commitlog') } catch (e) { console.log(JSON.stringify({ code: e.code, path: e.path, named: e.message.includes(e.path) })) }";
    const out = lastJson(runNode(copy, ['-e', script]));
    expect(out).toEqual({ code: 'ERR_DLOPEN_FAILED', path: file, named: true });
  });

  it('names where it looked when no prebuild fits', () => {
    const copy = path.join(work, 'missing');
    fs.cpSync(consumer, copy, { recursive: true, verbatimSymlinks: true });
    const prebuilds = path.join(copy, 'node_modules', 'commitlog', 'prebuilds');
    fs.rmSync(prebuilds, { recursive: true });
    const script = "try { require('commitlog') } catch (e) { console.log(JSON.stringify({ code: e.code, path: e.path })) }";
    const out = lastJson(runNode(copy, ['-e', script]));
    expect(out).toEqual({ code: 'MODULE_NOT_FOUND', path: path.join(prebuilds, `linux-${arch}`) });
  });
});

/** The packed tarball with its prebuild for this machine changed by `change` (given the prebuild's directory). */
function repack(name: string, change: (dir: string) => void): string {
  const unpacked = path.join(work, `${name}-unpacked`);
  fs.mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  change(path.join(unpacked, 'package', 'prebuilds', `linux-${arch}`));
  const out = path.join(work, `${name}.tgz`);
  execFileSync('tar', ['-czf', out, '-C', unpacked, 'package']);
  return out;
}

describe('a tarball without a usable prebuild for this machine', () => {
  const advice = 'Install python3, make and a C++17 compiler (g++), then run `npm rebuild commitlog`';

  it('fails to install without a compiler when the prebuild is missing, saying what to install', () => {
    const stripped = repack('no-prebuild', (dir) => fs.rmSync(dir, { recursive: true }));
    const r = npmInstall(project('no-prebuild'), stripped);
    expect(r.status).not.toBe(0);
    const said = r.stdout + r.stderr;
    expect(said).toContain(`commitlog: no prebuilt binary for linux-${arch}; building from source`);
    expect(said).toContain(advice);
  }, 120_000);

  it('builds from source rather than install a prebuild that does not load here', () => {
    // As on a system older than the prebuild's glibc floor.
    const broken = repack('bad-prebuild', (dir) => fs.writeFileSync(path.join(dir, 'commitlog.glibc.node'), 'not an ELF file'));
    const r = npmInstall(project('bad-prebuild'), broken);
    expect(r.status).not.toBe(0);
    const said = r.stdout + r.stderr;
    expect(said).toMatch(/commitlog: the prebuilt binary \S+commitlog\.glibc\.node does not load here \(.+\); building from source/);
    expect(said).toContain(advice);
  }, 120_000);
});
