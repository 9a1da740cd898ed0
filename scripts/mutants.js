#!/usr/bin/env node
// Mutation test of the crash model (`npm run test:mutants`).
//
// Finds every call in native/core that makes something durable (an Io's
// Sync / SyncDir, outside the Io implementations), and for each one builds
// the test addon with that single call replaced by a successful no-op
// (`Status::OK()`), then runs the durability suites against it. A mutant
// must be KILLED by the crash model (an acknowledged record lost, a value
// lost, a wrong open); one that passes SURVIVED, i.e. the tests cannot see
// that fsync go missing. A mutant that does not build, or whose run fails
// for a reason other than a crash-model test failing (a test-file error, a
// worker crash, a timeout), is an ERROR, never a kill.
//
// The working tree is never modified: each build (the unmutated control
// first, then one per mutant) is a copy of native/ under
// build/mutants/<id>/native, in which native/testing (the fault-injection
// test addon) is built with node-gyp and then loaded by every test through
// COMMITLOG_ADDON_DIR (lib/native.ts). Logs stay in build/mutants/<id>/.
//
// Usage: node scripts/mutants.js [--list] [--only file:line|substring]...
//          [--rounds N] [--seed N] [--jobs N] [--timeout seconds] [--keep]
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const coreDir = path.join(root, 'native', 'core');
const outRoot = path.join(root, 'build', 'mutants');

// The Io implementations themselves: their Sync/SyncDir are not call sites.
const IO_IMPLEMENTATIONS = ['io_posix.cc', 'fault_io.cc'];
// The calls that make something durable.
const DURABLE_METHODS = ['Sync', 'SyncDir'];
// The durability suites; files missing at run time are skipped (with a note).
const SUITES = [
  'test/powerloss.test.ts',
  'test/powerloss.*.test.ts',
  'test/faultio.test.ts',
  'test/faults.test.ts',
  'test/log.recovery.test.ts',
  'test/config.failures.test.ts',
  'test/recovery.review.test.ts',
  'test/log.truncatefrom.test.ts',
];
// Tests in those files that are not the crash model: they inject a failing
// system call and so notice a missing sync by its absence (they count
// system calls), not by lost data. Their failure alone never kills a mutant.
// Matched against the full test name (describe blocks + test title).
const NOT_CRASH_MODEL = [
  /\bunder injected I\/O errors\b/i,
  /\ba failed \S+ rejects\b/i,
  // config.failures.test.ts: its failure-injection tests without a power loss.
  /\bfails each step of \d+ save\(s\), of every kind\b/i,
  /\bafter a failed final rename\b/i,
  /\ba failed fdatasync of the temp file is not fatal\b/i,
  /\bremoves temp files that a failed save could not remove\b/i,
  /\bfsyncs the copy load\(\) would return first\b/i,
];
// A failing test whose message matches one of these did not reach a verdict.
const NO_VERDICT = [/\b(Test|Hook) timed out\b/i, /Worker exited unexpectedly/i, /Channel closed/i];

// ---------------------------------------------------------------- options

function usage(code) {
  const out = code ? process.stderr : process.stdout;
  out.write(`usage: node scripts/mutants.js [options]
  --list               only list the call sites
  --only SITE          run only the mutants whose "file:line  code" contains SITE
                       (e.g. log.cc:98, segment.cc, SyncDir); repeatable
  --rounds N           COMMITLOG_POWER_ROUNDS for each run (default 1500)
  --seed N             COMMITLOG_SEED for each run (default 1)
  --jobs N             mutants built and tested at once (default 1)
  --timeout S          seconds allowed per test run (default 300 + rounds/5)
  --keep               keep the mutant builds under build/mutants/ (logs are always kept)
`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { list: false, only: [], rounds: 1500, seed: 1, jobs: 1, timeout: undefined, keep: false };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) [a, v] = [a.slice(0, eq), a.slice(eq + 1)];
    const val = () => {
      if (v !== undefined) return v;
      if (i + 1 >= argv.length) usage(2);
      return argv[++i];
    };
    const num = (name) => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 0) {
        console.error(`${name} needs a non-negative integer`);
        process.exit(2);
      }
      return n;
    };
    if (a === '--list') o.list = true;
    else if (a === '--only') o.only.push(val());
    else if (a === '--rounds') o.rounds = num(a);
    else if (a === '--seed') o.seed = num(a);
    else if (a === '--jobs') o.jobs = Math.max(1, num(a));
    else if (a === '--timeout') o.timeout = num(a);
    else if (a === '--keep') o.keep = true;
    else if (a === '--help' || a === '-h') usage(0);
    else {
      console.error(`unknown argument: ${a}`);
      usage(2);
    }
  }
  if (o.timeout === undefined) o.timeout = 300 + Math.ceil(o.rounds / 5);
  return o;
}

// ---------------------------------------------------------- finding sites

/**
 * The source with comments and string/char literals blanked out (same length,
 * newlines kept), so offsets match the original and nothing in a comment or a
 * string is taken for code.
 */
function maskSource(src) {
  const out = src.split('');
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      let j = src.indexOf('\n', i);
      if (j < 0) j = n;
      blank(i, j);
      i = j;
    } else if (c === '/' && d === '*') {
      let j = src.indexOf('*/', i + 2);
      j = j < 0 ? n : j + 2;
      blank(i, j);
      i = j;
    } else if (c === 'R' && d === '"' && !/[\w]/.test(src[i - 1] || '')) {
      // Raw string R"delim( ... )delim"
      const open = src.indexOf('(', i + 2);
      const delim = src.slice(i + 2, open);
      let j = src.indexOf(`)${delim}"`, open);
      j = j < 0 ? n : j + delim.length + 2;
      blank(i + 1, j);
      i = j;
    } else if (c === '"' || (c === "'" && !/[0-9a-fA-F]/.test(src[i - 1] || ''))) {
      // String or char literal (a ' right after a hex digit is a digit separator).
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      blank(i + 1, j);
      i = j + 1;
    } else {
      i++;
    }
  }
  return out.join('');
}

/** Names that hold or return an Io* anywhere in native/core: io, io_, and every `Io* name` / `Io* const name`. */
function ioNames(files) {
  const names = new Set(['io', 'io_']);
  const decl = /\bIo\s*(?:\*\s*(?:const\s+)?|&\s*)([A-Za-z_]\w*)/g;
  const smart = /\b(?:unique_ptr|shared_ptr)\s*<\s*Io\s*>\s*(?:const\s+)?&?\s*([A-Za-z_]\w*)/g;
  for (const f of files) {
    const m = maskSource(fs.readFileSync(f, 'utf8'));
    for (const re of [decl, smart]) for (const x of m.matchAll(re)) names.add(x[1]);
  }
  return names;
}

/** Index of the ')' matching the '(' at `open`, in masked source. */
function matchParen(masked, open) {
  let depth = 0;
  for (let k = open; k < masked.length; k++) {
    if (masked[k] === '(') depth++;
    else if (masked[k] === ')' && --depth === 0) return k;
  }
  return -1;
}

function lineOf(src, offset) {
  let line = 1;
  for (let k = 0; k < offset; k++) if (src.charCodeAt(k) === 10) line++;
  return line;
}

/**
 * Every call `<receiver>->Sync(...)` / `<receiver>->SyncDir(...)` in
 * native/core/*.cc (Io implementations excluded) whose receiver is an Io
 * pointer: `io`, `io_`, `this->io_`, `options.io`, `PosixIo()`, ... Each site
 * carries the expression to replace (receiver through the closing paren).
 */
// The reason given by a "Not needed for correctness: ..." comment in the
// comment block right above the line of offset k, or undefined.
function exemption(src, k) {
  const lines = src.slice(0, k).split('\n');
  lines.pop(); // the call's own line
  const block = [];
  while (lines.length > 0 && /^\s*\/\//.test(lines[lines.length - 1])) block.unshift(lines.pop().replace(/^\s*\/\/\s?/, ''));
  const text = block.join(' ');
  const m = /Not needed for correctness:\s*(.*)$/.exec(text);
  return m ? m[1].trim() : undefined;
}

// Whether offset k of src lies inside an `#if defined(__APPLE__)` block.
function appleOnly(src, k) {
  const stack = [];
  for (const m of src.slice(0, k).matchAll(/^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$/gm)) {
    const [, d, rest] = m;
    if (d === 'if' || d === 'ifdef' || d === 'ifndef') stack.push(/__APPLE__/.test(rest) && d !== 'ifndef');
    else if (d === 'elif' || d === 'else') stack[stack.length - 1] = false;
    else stack.pop();
  }
  return stack.some(Boolean);
}

function findSites() {
  const all = fs.readdirSync(coreDir).sort();
  const sources = all.filter((n) => n.endsWith('.cc') && !IO_IMPLEMENTATIONS.includes(n));
  const names = ioNames(all.filter((n) => /\.(h|cc)$/.test(n)).map((n) => path.join(coreDir, n)));
  const methods = DURABLE_METHODS.join('|');
  // A member chain ending in `->Sync(` / `->SyncDir(`; the receiver is checked below.
  const call = new RegExp(
    String.raw`((?:\b[A-Za-z_]\w*\s*(?:\(\s*\))?\s*(?:->|\.)\s*)*)\b([A-Za-z_]\w*)\s*(\(\s*\))?\s*->\s*(${methods})\s*\(`,
    'g',
  );
  const sites = [];
  const skipped = [];
  for (const file of sources) {
    const src = fs.readFileSync(path.join(coreDir, file), 'utf8');
    const masked = maskSource(src);
    for (const m of masked.matchAll(call)) {
      const start = m.index + m[1].length; // the receiver proper; `this->` etc. stay part of it below
      const exprStart = m.index;
      const open = m.index + m[0].length - 1;
      const close = matchParen(masked, open);
      const line = lineOf(src, start);
      const code = src.split('\n')[line - 1].trim();
      const receiver = m[2];
      const exempt = exemption(src, start);
      if (exempt) {
        // A call the code says is not needed for correctness, and why: listed, not run.
        skipped.push({ file, line, code, why: `exempt: ${exempt}`, start: exprStart, end: close + 1 });
        continue;
      }
      if (appleOnly(src, start)) {
        // Not compiled on this machine: removing it cannot change anything here.
        skipped.push({ file, line, code, why: 'inside #if defined(__APPLE__), not compiled here', start: exprStart, end: close + 1 });
        continue;
      }
      if (!names.has(receiver) || close < 0) {
        skipped.push({ file, line, code, why: close < 0 ? 'unbalanced parentheses' : `receiver ${receiver} is not an Io*`, start: exprStart, end: open + 1 });
        continue;
      }
      sites.push({ file, line, code, method: m[4], start: exprStart, end: close + 1, expr: src.slice(exprStart, close + 1) });
    }
    // Any other `->Sync(` / `.SyncDir(` the pattern did not take apart: listed, so a
    // rewrite that hides a durable call behind an unusual receiver is seen.
    const covered = (k) => sites.concat(skipped).some((x) => x.file === file && x.start <= k && k < x.end);
    for (const m of masked.matchAll(new RegExp(String.raw`(?:->|\.)\s*(?:${methods})\s*\(`, 'g'))) {
      if (covered(m.index)) continue;
      const line = lineOf(src, m.index);
      skipped.push({ file, line, code: src.split('\n')[line - 1].trim(), why: 'receiver not recognised', start: m.index, end: m.index + 1 });
    }
  }
  // Ids: file:line, with #2, #3 for further calls on the same line.
  const seen = new Map();
  for (const s of sites) {
    const key = `${s.file}:${s.line}`;
    const k = (seen.get(key) || 0) + 1;
    seen.set(key, k);
    s.id = k === 1 ? key : `${key}#${k}`;
    s.dir = s.id.replace(/[:#]/g, '-');
  }
  return { sites, skipped };
}

/** The source of `site.file` with that one call replaced by `Status::OK()`. */
function mutate(site) {
  const src = fs.readFileSync(path.join(coreDir, site.file), 'utf8');
  if (src.slice(site.start, site.end) !== site.expr) throw new Error(`${site.id}: the source changed since the sites were listed`);
  return src.slice(0, site.start) + 'Status::OK()' + src.slice(site.end);
}

// ------------------------------------------------------------ running

const children = new Set();
function run(cmd, args, { cwd = root, env = process.env, log, timeoutSec } = {}) {
  return new Promise((resolve) => {
    const fd = fs.openSync(log, 'a');
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd], detached: true });
    children.add(child);
    let timedOut = false;
    const timer = timeoutSec
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child);
        }, timeoutSec * 1000)
      : undefined;
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      fs.closeSync(fd);
      resolve({ code, signal, timedOut });
    });
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL'); // the process group this script started
  } catch {
    /* already gone */
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) killGroup(c);
    console.error(`\n${sig}: stopped (working tree untouched; partial builds under build/mutants/)`);
    process.exit(130);
  });
}

/** Copies the addon's sources to build/mutants/<dir>/native (optionally mutated) and builds the test addon there. */
async function buildAddon(dir, site, jobs) {
  const base = path.join(outRoot, dir);
  fs.rmSync(base, { recursive: true, force: true });
  const nat = path.join(base, 'native');
  fs.mkdirSync(base, { recursive: true });
  // All of native/ (sources, the gyp files; no build output), so the test
  // addon's binding.gyp finds its ../core and ../binding as in the tree.
  const src = path.join(root, 'native');
  fs.cpSync(src, nat, { recursive: true, filter: (f) => !/^[^/]+\/build(\/|$)/.test(path.relative(src, f)) });
  if (site) {
    const mutated = mutate(site);
    fs.writeFileSync(path.join(nat, 'core', site.file), mutated);
    fs.writeFileSync(path.join(base, 'mutant.txt'), `${site.id}\n- ${site.expr}\n+ Status::OK()\n`);
  }
  const log = path.join(base, 'build.log');
  const env = { ...process.env, JOBS: String(jobs) };
  const r = await run(process.execPath, [path.join(root, 'scripts', 'build-native.js'), '--dir', path.join(nat, 'testing')], { env, log });
  const addonDir = path.join(nat, 'testing', 'build', 'Release');
  if (r.code !== 0 || !fs.existsSync(path.join(addonDir, 'commitlog_test.node'))) {
    const text = fs.readFileSync(log, 'utf8');
    const err = text.split('\n').find((l) => /\berror\b/.test(l)) || `node-gyp exited with ${r.code ?? r.signal}`;
    return { ok: false, why: `build failed: ${err.trim().slice(0, 200)}`, log };
  }
  return { ok: true, addonDir };
}

function suiteFiles() {
  const files = [];
  const missing = [];
  for (const pat of SUITES) {
    if (pat.includes('*')) {
      const d = path.dirname(pat);
      const re = new RegExp(`^${path.basename(pat).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.+')}$`);
      const found = fs.existsSync(path.join(root, d)) ? fs.readdirSync(path.join(root, d)).filter((n) => re.test(n)) : [];
      files.push(...found.sort().map((n) => `${d}/${n}`));
    } else if (fs.existsSync(path.join(root, pat))) files.push(pat);
    else missing.push(pat);
  }
  return { files: [...new Set(files)], missing };
}

function vitestCommand() {
  const bin = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
  if (fs.existsSync(bin)) return [process.execPath, [bin]];
  return ['npx', ['vitest']];
}

/**
 * Runs the suites on one addon build; returns
 * { verdict: 'pass' | 'fail' | 'error', test, why }.
 */
async function runSuites(dir, addonDir, files, opts) {
  const base = path.join(outRoot, dir);
  const log = path.join(base, 'test.log');
  const json = path.join(base, 'results.json');
  fs.rmSync(json, { force: true });
  const env = {
    ...process.env,
    COMMITLOG_ADDON_DIR: addonDir,
    COMMITLOG_TEST_ADDON: '1',
    COMMITLOG_POWER_ROUNDS: String(opts.rounds),
    COMMITLOG_SEED: String(opts.seed),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  const [cmd, pre] = vitestCommand();
  const args = [...pre, 'run', ...files, '--reporter=default', '--reporter=json', `--outputFile.json=${json}`];
  // With several mutants at once, one vitest worker each.
  if (opts.jobs > 1) args.push('--maxWorkers=1');
  const r = await run(cmd, args, { env, log, timeoutSec: opts.timeout });
  if (r.timedOut) return { verdict: 'error', why: `timed out after ${opts.timeout}s`, log };
  let report;
  try {
    report = JSON.parse(fs.readFileSync(json, 'utf8'));
  } catch {
    return { verdict: 'error', why: `no test report (vitest exited with ${r.code ?? r.signal})`, log };
  }
  const model = [];
  const other = [];
  const noVerdict = [];
  const fileErrors = [];
  for (const tf of report.testResults || []) {
    const failedHere = (tf.assertionResults || []).filter((a) => a.status === 'failed');
    if (tf.status === 'failed' && failedHere.length === 0) fileErrors.push(`${path.relative(root, tf.name)}: ${(tf.message || '').split('\n')[0]}`);
    for (const a of failedHere) {
      const msg = (a.failureMessages || []).join('\n');
      const name = a.fullName || a.title;
      const first = msg.split('\n').find((l) => l.trim()) || '';
      const entry = { test: name, message: first.trim().slice(0, 160) };
      if (NO_VERDICT.some((re) => re.test(msg))) noVerdict.push(entry);
      else if (NOT_CRASH_MODEL.some((re) => re.test(name))) other.push(entry);
      else model.push(entry);
    }
  }
  if (model.length) return { verdict: 'fail', test: model[0].test, why: model[0].message, others: model.length - 1, log };
  if (fileErrors.length) return { verdict: 'error', why: fileErrors[0], log };
  if (noVerdict.length) return { verdict: 'error', test: noVerdict[0].test, why: noVerdict[0].message, log };
  if (r.code !== 0 && !other.length) {
    // Failed without a failing test: an unhandled error, a crashed worker.
    const text = fs.readFileSync(log, 'utf8');
    const line = text.split('\n').find((l) => /Unhandled|Error:|Segmentation|exited unexpectedly/.test(l)) || `vitest exited with ${r.code ?? r.signal}`;
    return { verdict: 'error', why: line.trim().slice(0, 200), log };
  }
  if (other.length) return { verdict: 'pass', note: `only a non-crash-model test failed: ${other[0].test}`, log };
  if ((report.numPassedTests || 0) === 0) return { verdict: 'error', why: 'no test ran', log };
  return { verdict: 'pass', log };
}

// ------------------------------------------------------------- main

function fmtTime(ms) {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function table(rows) {
  const head = ['site', 'result', 'time', 'which test failed (first failing test)'];
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const fmt = (r) => r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(w[k]))).join(' | ');
  return [fmt(head), w.map((x) => '-'.repeat(x)).join('-|-'), ...rows.map(fmt)].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { sites, skipped } = findSites();
  console.log(`Durable calls in native/core (${sites.length}; excluding ${IO_IMPLEMENTATIONS.join(', ')}):`);
  for (const s of sites) console.log(`  ${s.id}  ${s.code}`);
  for (const s of skipped) console.log(`  (not a site: ${s.file}:${s.line}  ${s.code}  -- ${s.why})`);
  if (opts.list) return 0;

  let chosen = sites;
  if (opts.only.length) {
    chosen = sites.filter((s) => opts.only.some((o) => s.id === o || `${s.id}  ${s.code}`.includes(o)));
    if (!chosen.length) {
      console.error(`--only ${opts.only.join(', ')}: no such site`);
      return 2;
    }
  }
  if (!sites.length) {
    console.error('no call sites found: the pattern no longer matches the code');
    return 2;
  }
  const { files, missing } = suiteFiles();
  if (!files.length) {
    console.error(`none of the suites exist: ${SUITES.join(', ')}`);
    return 2;
  }
  console.log(`\nSuites: ${files.join(' ')}${missing.length ? `  (absent, skipped: ${missing.join(' ')})` : ''}`);
  console.log(`COMMITLOG_POWER_ROUNDS=${opts.rounds} COMMITLOG_SEED=${opts.seed}, ${opts.jobs} job(s), ${opts.timeout}s per run; builds and logs in ${path.relative(root, outRoot)}/`);

  // Control: the unmutated code must build and pass, else nothing below means anything.
  const buildJobs = opts.jobs > 1 ? 1 : 2;
  let t0 = Date.now();
  process.stdout.write('\ncontrol (unmutated): building... ');
  const cb = await buildAddon('control', undefined, buildJobs);
  if (!cb.ok) {
    console.log(`ERROR\n${cb.why}\nsee ${path.relative(root, cb.log)}`);
    return 2;
  }
  const tb = Date.now();
  process.stdout.write(`${fmtTime(tb - t0)}, testing... `);
  const cr = await runSuites('control', cb.addonDir, files, opts);
  if (cr.verdict !== 'pass' || cr.note) {
    console.log(`FAILED\n${cr.test ? `${cr.test}: ` : ''}${cr.why || cr.note}\nsee ${path.relative(root, cr.log)}`);
    console.log('The unmutated code must pass the suites; aborting.');
    if (opts.rounds < 200) console.log(`(With few --rounds the power-loss test can fail its own checks that some writes were lost; try --rounds 400.)`);
    return 2;
  }
  console.log(`passed (${fmtTime(Date.now() - tb)})`);
  if (!opts.keep) fs.rmSync(path.join(outRoot, 'control', 'native'), { recursive: true, force: true });

  // Mutants.
  const results = new Array(chosen.length);
  let next = 0;
  const worker = async () => {
    while (next < chosen.length) {
      const i = next++;
      const s = chosen[i];
      const t = Date.now();
      const b = await buildAddon(s.dir, s, buildJobs);
      let res;
      if (!b.ok) res = { result: 'ERROR', detail: b.why, log: b.log };
      else {
        const r = await runSuites(s.dir, b.addonDir, files, opts);
        if (r.verdict === 'fail') res = { result: 'KILLED', detail: `${r.test}: ${r.why}`, log: r.log };
        else if (r.verdict === 'pass') res = { result: 'SURVIVED', detail: r.note || '', log: r.log };
        else res = { result: 'ERROR', detail: `${r.test ? `${r.test}: ` : ''}${r.why}`, log: r.log };
      }
      res.ms = Date.now() - t;
      results[i] = res;
      if (!opts.keep) fs.rmSync(path.join(outRoot, s.dir, 'native'), { recursive: true, force: true });
      console.log(`[${results.filter(Boolean).length}/${chosen.length}] ${s.id.padEnd(20)} ${res.result.padEnd(8)} ${fmtTime(res.ms).padStart(6)}  ${res.detail}`);
    }
  };
  t0 = Date.now();
  console.log('');
  await Promise.all(Array.from({ length: Math.min(opts.jobs, chosen.length) }, worker));

  const rows = chosen.map((s, i) => [s.id, results[i].result, fmtTime(results[i].ms), results[i].detail]);
  console.log(`\n${table(rows)}`);
  const count = (r) => results.filter((x) => x.result === r).length;
  const [k, sv, e] = [count('KILLED'), count('SURVIVED'), count('ERROR')];
  console.log(`\n${k} killed, ${sv} survived, ${e} error  (${chosen.length} mutants, ${fmtTime(Date.now() - t0)}; rounds ${opts.rounds}, seed ${opts.seed})`);
  if (sv) console.log(`Survivors: the suites cannot tell that these syncs are missing:\n${chosen.filter((_, i) => results[i].result === 'SURVIVED').map((s) => `  ${s.id}  ${s.code}`).join('\n')}`);
  if (e) console.log(`Errors (no verdict; see build/mutants/<site>/build.log or test.log):\n${chosen.map((s, i) => [s, results[i]]).filter(([, r]) => r.result === 'ERROR').map(([s, r]) => `  ${s.id}  ${path.relative(root, r.log)}`).join('\n')}`);
  return sv || e ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    for (const c of children) killGroup(c);
    console.error(err);
    process.exit(2);
  },
);
