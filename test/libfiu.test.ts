// Real system calls failing under the PRODUCTION addon (build/Release through
// dist/), with libfiu: a child runs under `fiu-run -x`, whose preloaded libc
// wrappers (reaching the flusher and preparer threads too) make fdatasync,
// fsync, pwrite, open and rename fail with EIO or ENOSPC, or make pwrite
// short. The parent enables the failure points with `fiu-ctrl` once the child
// has loaded its modules (and, in most runs, opened the log), then checks,
// without faults, on the production library: every acknowledged record is
// there byte for byte, the log reads gap-free, nothing resolved after the
// instance failed (fail-stop), the rejection codes are the injected errors,
// and reopening works (torn tails cut, never ERR_LOG_CORRUPT).
//
// This is not power loss (the page cache survives); test/powerloss.test.ts
// models that on the simulated I/O layer. Not reachable with libfiu 1.1:
// link(), fallocate() and renameat2 (called through syscall()) have no
// wrappers; write() is left alone because the child reports on stdout with it.
//
// COMMITLOG_SEED replays the plan of every round (sync mode, failure points,
// probabilities, timing); libfiu's own choices are seeded too
// (FIU_PRNG_SEED), but which call fails still depends on thread timing.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog, ConfigFile } from '../lib';
import { tmpDir } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { recordFor, parseRecord } = require('./fixtures/records.js');

function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    const f = path.join(d, cmd);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      // not here
    }
  }
  return undefined;
}

const FIU_RUN = onPath('fiu-run');
const FIU_CTRL = onPath('fiu-ctrl');
const HAVE_FIU = FIU_RUN !== undefined && FIU_CTRL !== undefined;
const SKIP_REASON = 'fiu-run/fiu-ctrl not found (Debian/Ubuntu: apt-get install fiu-utils)';
if (!HAVE_FIU) console.warn(`test/libfiu.test.ts skipped: ${SKIP_REASON}`);

const LOG_ROUNDS = Number(process.env.COMMITLOG_FIU_ROUNDS ?? 24);
const PHASES = 2; // child runs per log directory: the second one opens what the first left
const CONFIG_ROUNDS = Number(process.env.COMMITLOG_FIU_CONFIG_ROUNDS ?? Math.max(1, Math.round(LOG_ROUNDS / 2)));
const CALLERS = 32;
const MAX_APPENDS = 3000;
const PROBES = 4; // appends issued after the first rejection: all must reject
const CONFIG_SAVES = 120;
const CHILD_TIMEOUT_MS = 30_000;
const LOG_CHILD = path.join(__dirname, 'fixtures', 'libfiu-log-child.js');
const CONFIG_CHILD = path.join(__dirname, 'fixtures', 'libfiu-config-child.js');

const EIO = 5;
const ENOSPC = 28;
const ERRNO_NAME: Record<number, string> = { [EIO]: 'EIO', [ENOSPC]: 'ENOSPC' };
const INJECTED_CODES = new Set(Object.values(ERRNO_NAME));

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
/** Log-uniform in [lo, hi]. */
const logUniform = (rng: Rng, lo: number, hi: number) => lo * Math.pow(hi / lo, rng());

// ---------------------------------------------------------------------------
// Failure plans

type Kind = 'fdatasync' | 'fsync' | 'pwrite' | 'short-pwrite' | 'open' | 'rename';

/** Rough calls of each failure point in one log child run (3,000 appends, 64 KiB segments). */
const LOG_CALLS: Record<Kind, number> = {
  fdatasync: 250, // one per batch, plus preparer and checkpoints
  fsync: 50, // directory syncs (roll, checkpoint); one per batch more with sync: 'fsync'
  pwrite: 250,
  'short-pwrite': 250,
  open: 120,
  rename: 50, // prepared segment -> segment, checkpoint temp -> CHECKPOINT
};

interface Plan {
  /** fiu-ctrl commands */
  commands: string[];
  /** Enable before CommitLog.open (faults in recovery and open too) rather than after. */
  early: boolean;
  fiuSeed: number;
}

/** fiu-ctrl commands: open goes last, so that the earlier commands still reach the child. */
function commandsFor(kind: Kind, p: number, errno: number): string[] {
  const r = (name: string, prob: number, info = errno) =>
    `enable_random name=${name},probability=${prob.toPrecision(3)},failinfo=${info}`;
  switch (kind) {
    case 'fdatasync':
      return [r('posix/io/sync/fdatasync', p)];
    case 'fsync':
      return [r('posix/io/sync/fsync', p)];
    case 'pwrite':
      return [r('posix/io/rw/pwrite', p)];
    case 'short-pwrite':
      // Short writes (the wrapper writes fewer bytes, the loop continues) and
      // now and then a failure after one: a torn batch on disk.
      return [r('posix/io/rw/pwrite/reduce', 0.8, 0), r('posix/io/rw/pwrite', p, ENOSPC)];
    case 'open':
      return [r('posix/io/oc/open', p)];
    case 'rename':
      return [r('posix/io/dir/rename', p)];
  }
}

function logPlan(rng: Rng, sync: string): Plan {
  if (rng() < 0.12) {
    // Storm before open: recovery and open themselves fail often (a torn tail
    // from the previous run may be cut under faults); the next open must cope.
    const kinds: Kind[] = ['fdatasync', 'fsync', 'pwrite', 'rename', 'open'];
    const commands = kinds.flatMap((k) => commandsFor(k, logUniform(rng, 0.02, 0.2), rng() < 0.6 ? EIO : ENOSPC));
    return { commands, early: true, fiuSeed: Math.floor(rng() * 2 ** 31) };
  }
  // Mostly the batch path of this sync mode, else any kind; sometimes two or three.
  const batchKinds: Kind[] =
    sync === 'fdatasync'
      ? ['fdatasync', 'fdatasync', 'pwrite', 'short-pwrite']
      : sync === 'fsync'
        ? ['fsync', 'fsync', 'pwrite', 'short-pwrite']
        : ['pwrite'];
  const all: Kind[] = ['fdatasync', 'fsync', 'pwrite', 'short-pwrite', 'open', 'rename'];
  const kinds = new Set<Kind>([rng() < 0.6 ? pick(rng, batchKinds) : pick(rng, all)]);
  while (rng() < 0.35) kinds.add(pick(rng, all));
  // O_DIRECT needs aligned writes: a reduced pwrite would fail with EINVAL, which a disk never does.
  if (sync === 'direct' && kinds.delete('short-pwrite')) kinds.add('pwrite');
  const commands: string[] = [];
  const ordered = [...kinds].sort((a, b) => Number(a === 'open') - Number(b === 'open'));
  for (const kind of ordered) {
    // Expected failures in a run from 0.7 to 6 (some hit the preparer or a
    // checkpoint, which only retry later): usually some acknowledgements, then a failure.
    const p = Math.min(0.5, logUniform(rng, 0.7, 6) / LOG_CALLS[kind] / kinds.size);
    commands.push(...commandsFor(kind, p, rng() < 0.6 ? EIO : ENOSPC));
  }
  return { commands, early: rng() < 0.25, fiuSeed: Math.floor(rng() * 2 ** 31) };
}

// ---------------------------------------------------------------------------
// Running a child under fiu-run

interface ChildResult {
  lines: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The children run the production addon whatever this process runs on (npm
 * run test:asan points these at the sanitizer build and preloads its runtime).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.COMMITLOG_ADDON_DIR;
  delete env.COMMITLOG_TEST_ADDON;
  delete env.LD_PRELOAD;
  return env;
}

function fiuCtrl(prefix: string, pid: number, commands: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-f', prefix, ...commands.flatMap((c) => ['-c', c]), String(pid)];
    execFile(FIU_CTRL!, args, { env: cleanEnv() }, (err, stdout, stderr) => {
      // fiu-ctrl exits 0 even when a command fails; it says so on stdout.
      if (err || /error/i.test(stdout + stderr)) reject(new Error(`fiu-ctrl ${args.join(' ')}: ${err?.message ?? ''} ${stdout}${stderr}`));
      else resolve();
    });
  });
}

/**
 * Runs `script` under `fiu-run -x` with remote control on `prefix`. On each
 * line listed in `gates` the child waits for "go": the hook runs first (it
 * may enable failure points).
 */
function runUnderFiu(
  script: string,
  args: string[],
  prefix: string,
  fiuSeed: number,
  gates: Record<string, (pid: number) => Promise<void>>,
): Promise<ChildResult> {
  const env = { ...cleanEnv(), FIU_PRNG_SEED: String(fiuSeed) };
  return new Promise((resolve, reject) => {
    const child = spawn(FIU_RUN!, ['-x', '-f', prefix, process.execPath, script, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
    });
    const lines: string[] = [];
    let buf = '';
    let stderr = '';
    let hookError: unknown;
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.stdin!.on('error', () => {}); // the child may be gone already
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const gate = gates[line.split(' ')[0]];
        if (gate) {
          gate(child.pid!).then(
            () => child.stdin!.write('go\n'),
            (err) => {
              hookError = err;
              child.kill('SIGKILL');
            },
          );
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (hookError) reject(hookError);
      else resolve({ lines, stderr, code, signal });
    });
  });
}

// ---------------------------------------------------------------------------
// The log

interface Ack {
  seq: number;
  id: number;
  parts: number;
  line: number;
}
interface Rej {
  id: number;
  code: string;
  syscall: string;
  path: string;
  causeCode: string;
  issued: number;
  line: number;
}

interface Totals {
  runs: number;
  acked: number;
  appendsRejected: number;
  failedRuns: number;
  openFailures: number;
  failures: Record<string, number>; // "<syscall> <code>" of the error that stopped a log
  tornTails: number;
  unackedKept: number;
  segmentsRolled: number;
  preparedUsed: number;
  placeholderCauses: number;
}

function newTotals(): Totals {
  return {
    runs: 0,
    acked: 0,
    appendsRejected: 0,
    failedRuns: 0,
    openFailures: 0,
    failures: {},
    tornTails: 0,
    unackedKept: 0,
    segmentsRolled: 0,
    preparedUsed: 0,
    placeholderCauses: 0,
  };
}

/** Checks one child run's own report: ids, fail-stop, codes. Returns its acknowledgements. */
function checkLogReport(r: ChildResult, where: string, totals: Totals): Ack[] {
  if (r.code !== 0 || r.signal) {
    const why = r.signal === 'SIGKILL' ? ` (killed after ${CHILD_TIMEOUT_MS} ms?)` : '';
    throw new Error(`${where}: child exited ${r.code} ${r.signal}${why}\n${r.stderr}\n${r.lines.slice(-5).join('\n')}`);
  }
  const acks: Ack[] = [];
  const rejs: Rej[] = [];
  const seen = new Set<number>();
  let openFailed: string[] | undefined;
  let closed: string | undefined;
  r.lines.forEach((line, i) => {
    const f = line.split(' ');
    if (f[0] === 'ack') {
      acks.push({ seq: Number(f[1]), id: Number(f[2]), parts: Number(f[3]), line: i });
    } else if (f[0] === 'rej') {
      rejs.push({ id: Number(f[1]), code: f[2], syscall: f[3], path: f[4], causeCode: f[5], issued: Number(f[6]), line: i });
    } else if (f[0] === 'openfailed') {
      openFailed = f;
    } else if (f[0] === 'closed') {
      closed = line;
    } else if (f[0] === 'stats') {
      const s = JSON.parse(line.slice(6));
      totals.segmentsRolled += s.segmentsRolled;
      totals.preparedUsed += s.preparedSegmentsUsed;
    }
  });
  for (const id of [...acks.map((a) => a.id), ...rejs.map((x) => x.id)]) {
    if (seen.has(id)) throw new Error(`${where}: append ${id} settled twice`);
    seen.add(id);
  }
  totals.runs++;
  if (openFailed) {
    // Recovery or open under faults: the injected error, nothing acknowledged.
    totals.openFailures++;
    totals.failures[`open-log ${openFailed[2]} ${openFailed[1]}`] = (totals.failures[`open-log ${openFailed[2]} ${openFailed[1]}`] ?? 0) + 1;
    if (!INJECTED_CODES.has(openFailed[1])) throw new Error(`${where}: open failed with ${openFailed.join(' ')}`);
    if (acks.length + rejs.length > 0) throw new Error(`${where}: appends after a failed open`);
    return acks;
  }
  if (closed === undefined) throw new Error(`${where}: the child did not close the log`);
  // Every issued append settled exactly once.
  for (let id = 0; id < seen.size; id++) if (!seen.has(id)) throw new Error(`${where}: append ${id} never settled`);
  totals.acked += acks.length;
  totals.appendsRejected += rejs.length;
  if (rejs.length === 0) {
    if (acks.length !== MAX_APPENDS) throw new Error(`${where}: ${acks.length} of ${MAX_APPENDS} acknowledged and nothing rejected`);
    if (closed !== 'closed ok') throw new Error(`${where}: close of a healthy log: ${closed}`);
    return acks;
  }
  totals.failedRuns++;
  const first = rejs[0];
  // Fail-stop: once an append rejected, nothing issued after that moment
  // resolved. (An ack may still be printed after it: a batch made durable
  // before the failure, whose notification the JS thread had not yet run.)
  const late = acks.find((a) => a.id >= first.issued);
  if (late) {
    throw new Error(
      `${where}: FAIL-STOP VIOLATED: append ${late.id} (seq ${late.seq}) resolved after append ${first.id} rejected with ${first.code} (${first.issued} issued then)`,
    );
  }
  // One failure per instance: the appends in flight get its system error,
  // later ones ERR_LOG_FAILED with it as the cause.
  const system = rejs.filter((x) => x.code !== 'ERR_LOG_FAILED');
  if (system.length === 0) throw new Error(`${where}: no append rejected with the system error; first: ${JSON.stringify(first)}`);
  const { code, syscall } = system[0];
  if (!INJECTED_CODES.has(code)) throw new Error(`${where}: rejected with ${code} (${syscall}); injected only ${[...INJECTED_CODES]}`);
  for (const x of rejs) {
    // Every ERR_LOG_FAILED carries the system error as its cause (issue 9,
    // defect 13), also for an append made before JavaScript heard of it.
    const ok = x.code === 'ERR_LOG_FAILED' ? x.causeCode === code : x.code === code && x.syscall === syscall;
    if (x.code === 'ERR_LOG_FAILED' && x.causeCode === 'ERR_LOG_FAILED') totals.placeholderCauses++;
    if (!ok) throw new Error(`${where}: append ${x.id} rejected with ${x.code} (cause ${x.causeCode}); the log failed with ${code} in ${syscall}`);
  }
  // The probes, issued once the instance had failed.
  const probes = rejs.filter((x) => x.id >= seen.size - PROBES);
  if (probes.length !== PROBES || probes.some((x) => x.code !== 'ERR_LOG_FAILED')) {
    throw new Error(`${where}: appends after the failure: ${JSON.stringify(probes)}`);
  }
  const key = `${syscall} ${code}`;
  totals.failures[key] = (totals.failures[key] ?? 0) + 1;
  return acks;
}

/**
 * Reopens without faults on the production library and checks the log
 * against what the child acknowledged. `verified` holds the bytes of every
 * record checked in earlier phases; it grows with this phase's records.
 */
async function verifyLog(dir: string, options: object, tag: number, acks: Ack[], verified: Buffer[], where: string, totals: Totals) {
  let log: CommitLog;
  try {
    log = await CommitLog.open(dir, options);
  } catch (err) {
    const e = err as Error & { code?: string; path?: string; offset?: number };
    throw new Error(`${where}: REOPEN FAILED: ${e.code} ${e.message} (path ${e.path}, offset ${e.offset})`);
  }
  try {
    const rec = log.recovery;
    if (rec.corruption) throw new Error(`${where}: recovery reports corruption: ${JSON.stringify(rec)}`);
    if (rec.tornTail) totals.tornTails++;
    if (log.firstSeq !== 0) throw new Error(`${where}: firstSeq ${log.firstSeq}, nothing was truncated`);
    const known = verified.length;
    const ids = new Map<number, number>(); // id -> parts found
    let next = 0;
    for await (const r of log.read()) {
      if (r.seq !== next) throw new Error(`${where}: gap: record ${r.seq} after ${next - 1}`);
      next++;
      if (r.seq < known) {
        if (!r.data.equals(verified[r.seq])) throw new Error(`${where}: record ${r.seq}, checked in an earlier phase, changed`);
        continue;
      }
      const p = parseRecord(Buffer.from(r.data));
      if (!p || p.round !== tag) throw new Error(`${where}: record ${r.seq} was never appended by this phase`);
      ids.set(p.counter, (ids.get(p.counter) ?? 0) + 1);
      verified.push(Buffer.from(r.data));
    }
    if (next < known) throw new Error(`${where}: the log shrank from ${known} to ${next} records`);
    for (const a of acks) {
      for (let p = 0; p < a.parts; p++) {
        const got = verified[a.seq + p];
        if (!got || !got.equals(recordFor(tag, a.id % 64, a.id, p))) {
          throw new Error(`${where}: ACKNOWLEDGED RECORD ${a.seq + p} (append ${a.id}, part ${p}) ${got ? 'CHANGED' : 'MISSING'} after reopen (log has ${next})`);
        }
      }
    }
    const ackedIds = new Set(acks.map((a) => a.id));
    for (const [id, n] of ids) {
      const parts = id % 8 === 5 ? 3 : 1;
      if (n !== parts) throw new Error(`${where}: append ${id} has ${n} of ${parts} records`);
      if (!ackedIds.has(id)) totals.unackedKept++;
    }
    // The log takes appends again.
    const extra = recordFor(tag, 63, 1e6, 0);
    const seq = await log.append(extra);
    if (seq !== next) throw new Error(`${where}: append after recovery got seq ${seq}, expected ${next}`);
    verified.push(extra);
  } finally {
    await log.close();
  }
}

// ---------------------------------------------------------------------------
// ConfigFile

type ConfigKind = 'open' | 'pwrite' | 'fdatasync' | 'rename' | 'fsync';
const CONFIG_POINTS: Record<ConfigKind, string> = {
  open: 'posix/io/oc/open',
  pwrite: 'posix/io/rw/pwrite',
  fdatasync: 'posix/io/sync/fdatasync',
  rename: 'posix/io/dir/rename',
  fsync: 'posix/io/sync/fsync',
};

function configPlan(rng: Rng): Plan {
  const kinds = (Object.keys(CONFIG_POINTS) as ConfigKind[]).filter(() => rng() < 0.7);
  if (kinds.length === 0) kinds.push(pick(rng, Object.keys(CONFIG_POINTS) as ConfigKind[]));
  kinds.sort((a, b) => Number(a === 'open') - Number(b === 'open'));
  // A save makes about 8 of these calls (3 opens, 2 renames): a quarter to
  // half of the saves fail.
  const commands = kinds.map(
    (k) =>
      `enable_random name=${CONFIG_POINTS[k]},probability=${logUniform(rng, 0.02, 0.12).toPrecision(3)},failinfo=${rng() < 0.6 ? EIO : ENOSPC}`,
  );
  return { commands, early: true, fiuSeed: Math.floor(rng() * 2 ** 31) };
}

// ---------------------------------------------------------------------------

function directSupported(): boolean {
  // O_DIRECT needs file system support (tmpfs has none).
  const dir = tmpDir('commitlog-fiu-direct-');
  try {
    const fd = fs.openSync(path.join(dir, 'probe'), fs.constants.O_RDWR | fs.constants.O_CREAT | (fs.constants.O_DIRECT ?? 0));
    fs.closeSync(fd);
    return fs.constants.O_DIRECT !== undefined;
  } catch {
    return false;
  }
}

describe.skipIf(!HAVE_FIU)('libfiu: the production addon under failing system calls', () => {
  const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);

  it('log: a write or sync that always fails stops the log at its first batch, with that error', async () => {
    // Deterministic: the random rounds below cannot tell "errors propagate"
    // from "errors ignored" (the page cache keeps the data either way).
    const cases = [
      { sync: 'fdatasync', point: 'posix/io/sync/fdatasync', syscall: 'fdatasync', errno: EIO },
      { sync: 'fsync', point: 'posix/io/sync/fsync', syscall: 'fsync', errno: ENOSPC },
      { sync: 'fdatasync', point: 'posix/io/rw/pwrite', syscall: 'write', errno: ENOSPC },
      ...(directSupported() ? [{ sync: 'direct', point: 'posix/io/rw/pwrite', syscall: 'write', errno: EIO }] : []),
    ];
    for (const c of cases) {
      const base = tmpDir('commitlog-fiu-');
      const dir = path.join(base, 'log');
      const options = { sync: c.sync, segmentBytes: 64 * 1024 };
      const command = `enable name=${c.point},failinfo=${c.errno}`;
      const where = `sync ${c.sync}, after open: ${command}`;
      const args = [dir, '0', JSON.stringify(options), String(CALLERS), String(MAX_APPENDS), String(PROBES)];
      const r = await runUnderFiu(LOG_CHILD, args, path.join(base, 'fiu'), 1, {
        ready: async () => {},
        opened: (pid) => fiuCtrl(path.join(base, 'fiu'), pid, [command]),
      });
      const totals = newTotals();
      const acks = checkLogReport(r, where, totals);
      expect(acks.length, where).toBe(0);
      expect(totals.failures, where).toEqual({ [`${c.syscall} ${ERRNO_NAME[c.errno]}`]: 1 });
      await verifyLog(dir, options, 0, acks, [], where, totals);
    }
  });

  it(`log: ${LOG_ROUNDS} rounds x ${PHASES} runs of ${CALLERS} callers; fail-stop, nothing acknowledged lost, recovery`, async () => {
    const rng = mulberry32(seed);
    const syncModes = directSupported() ? ['fdatasync', 'fsync', 'direct'] : ['fdatasync', 'fsync'];
    const totals = newTotals();
    const t0 = Date.now();
    let where = '';
    console.log(`libfiu log test: seed ${seed} (COMMITLOG_SEED=${seed} replays the plans)`);
    try {
      for (let round = 0; round < LOG_ROUNDS; round++) {
        const base = tmpDir('commitlog-fiu-');
        const dir = path.join(base, 'log');
        const sync = pick(rng, syncModes);
        const options = {
          sync,
          segmentBytes: pick(rng, [64 * 1024, 128 * 1024]),
          preallocate: pick(rng, ['auto', 'auto', 'zero', 'fallocate', 'none']),
        };
        const verified: Buffer[] = [];
        for (let phase = 0; phase < PHASES; phase++) {
          const tag = round * PHASES + phase;
          const plan = logPlan(rng, sync);
          where = `round ${round} phase ${phase} (seed ${seed}; ${JSON.stringify(options)}; FIU_PRNG_SEED=${plan.fiuSeed}; ${plan.early ? 'before open' : 'after open'}: ${plan.commands.join(' ; ')})`;
          const enable = (pid: number) => fiuCtrl(path.join(base, 'fiu'), pid, plan.commands);
          const r = await runUnderFiu(
            LOG_CHILD,
            [dir, String(tag), JSON.stringify(options), String(CALLERS), String(MAX_APPENDS), String(PROBES)],
            path.join(base, 'fiu'),
            plan.fiuSeed,
            {
              ready: plan.early ? enable : async () => {},
              opened: plan.early ? async () => {} : enable,
            },
          );
          const acks = checkLogReport(r, where, totals);
          await verifyLog(dir, options, tag, acks, verified, where, totals);
        }
      }
    } catch (err) {
      console.error(`libfiu log test failed at ${where}\nreplay with COMMITLOG_SEED=${seed}`);
      throw err;
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(
      `libfiu log test: ${totals.runs} runs in ${secs} s, ${totals.acked} appends acknowledged, ${totals.appendsRejected} rejected; ` +
        `${totals.failedRuns} runs stopped by a failure, ${totals.openFailures} opens failed; failures: ${JSON.stringify(totals.failures)}; ` +
        `${totals.tornTails} torn tails cut, ${totals.unackedKept} unacknowledged appends found intact; ` +
        `${totals.segmentsRolled} segment rolls (${totals.preparedUsed} prepared); ` +
        `${totals.placeholderCauses} ERR_LOG_FAILED rejections without the system error as cause`,
    );
    expect(totals.acked).toBeGreaterThan(0);
    expect(totals.failedRuns).toBeGreaterThan(0);
  });

  it(`ConfigFile: ${CONFIG_ROUNDS} rounds of ${CONFIG_SAVES} saves; load() returns the last durable value, no temp files`, async () => {
    const rng = mulberry32(seed ^ 0x5bd1e995);
    const t0 = Date.now();
    let acked = 0;
    let rejected = 0;
    let leftAfterRename = 0;
    const codes: Record<string, number> = {};
    let where = '';
    console.log(`libfiu ConfigFile test: seed ${seed}`);
    try {
      for (let round = 0; round < CONFIG_ROUNDS; round++) {
        const base = tmpDir('commitlog-fiu-config-');
        const dir = path.join(base, 'cfg');
        fs.mkdirSync(dir);
        const file = path.join(dir, 'config.json');
        const checksum = rng() < 0.5;
        await new ConfigFile<{ v: number }>(file, { checksum }).save({ v: 0 });
        const plan = configPlan(rng);
        where = `config round ${round} (seed ${seed}; checksum ${checksum}; FIU_PRNG_SEED=${plan.fiuSeed}; ${plan.commands.join(' ; ')})`;
        const r = await runUnderFiu(CONFIG_CHILD, [file, '1', String(CONFIG_SAVES), checksum ? '1' : '0'], path.join(base, 'fiu'), plan.fiuSeed, {
          ready: (pid) => fiuCtrl(path.join(base, 'fiu'), pid, plan.commands),
        });
        if (r.code !== 0 || r.signal || r.lines[r.lines.length - 1] !== 'done') {
          throw new Error(`${where}: child exited ${r.code} ${r.signal}\n${r.stderr}\n${r.lines.slice(-5).join('\n')}`);
        }
        // The value on disk is the newest one whose rename happened: acknowledged,
        // or rejected by the directory fsync that follows the rename.
        const target = path.join(fs.realpathSync(dir), 'config.json');
        let expected = 0;
        const fails: string[] = [];
        for (const line of r.lines) {
          const f = line.split(' ');
          if (f[0] === 'ack') {
            acked++;
            expected = Math.max(expected, Number(f[1]));
          } else if (f[0] === 'rej') {
            rejected++;
            fails.push(line);
            codes[`${f[3]} ${f[2]}`] = (codes[`${f[3]} ${f[2]}`] ?? 0) + 1;
            // A stopped instance (a failed fsync: fail-stop) is replaced by the
            // child; ERR_CONFIG_FAILED must carry the injected error as cause.
            const code = f[2] === 'ERR_CONFIG_FAILED' ? f[5] : f[2];
            if (!INJECTED_CODES.has(code)) throw new Error(`${where}: save rejected with ${line}`);
            // Only step 4 (configCommit, the directory fsync after the
            // rename) leaves the new value in place.
            if (/configCommit/.test(f[6] ?? '')) {
              leftAfterRename++;
              expected = Math.max(expected, Number(f[1]));
            }
          }
        }
        // Failed saves clean up after themselves: no temp file is left.
        const left = fs.readdirSync(dir).filter((n) => n.includes('.tmp-') || n.endsWith('.bak.tmp'));
        if (left.length > 0) {
          const ino = (n: string) => {
            try {
              return fs.statSync(path.join(dir, n)).ino;
            } catch {
              return '-';
            }
          };
          const inodes = [...left, 'config.json', 'config.json.bak'].map((n) => `${n}: inode ${ino(n)}`).join(', ');
          throw new Error(`${where}: temp files left by failed saves: ${left.join(', ')} (${inodes}); rejections: ${fails.join(' | ')}`);
        }
        const cfg = new ConfigFile<{ v: number }>(file, { checksum });
        const got = await cfg.load();
        if (got.v !== expected || cfg.lastLoad?.source !== 'main') {
          throw new Error(
            `${where}: load() returned ${JSON.stringify(got)} from ${cfg.lastLoad?.source}, expected {"v":${expected}} from main; rejections: ${fails.join(' | ')}`,
          );
        }
      }
    } catch (err) {
      console.error(`libfiu ConfigFile test failed at ${where}\nreplay with COMMITLOG_SEED=${seed}`);
      throw err;
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(
      `libfiu ConfigFile test: ${CONFIG_ROUNDS} rounds in ${secs} s, ${acked} saves acknowledged, ${rejected} rejected ` +
        `(${leftAfterRename} after their rename, by the directory sync): ${JSON.stringify(codes)}`,
    );
    expect(acked).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});

// CI installs fiu-utils (.ci/run): there the layer must run, not skip.
if (!HAVE_FIU && process.env.CI === 'true') {
  it('libfiu: fiu-run is installed in CI', () => {
    throw new Error(`test/libfiu.test.ts cannot run in CI: ${SKIP_REASON}`);
  });
}
