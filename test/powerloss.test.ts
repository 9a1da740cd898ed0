// Randomized power-loss tests on the fault-injection addon (the crash model
// of native/core/fault_io.h). The I/O layer remembers what is not durable;
// each round is one machine session that ends in a power loss:
//  - several process lifetimes come before it: the process dies (a crash at
//    a random system call, or after some acknowledgements) or its log
//    fail-stops on an injected EIO and is closed; then the log is reopened
//    with the page cache as the dead process left it, appends more, and is
//    acknowledged again; only then the machine loses power;
//  - some lifetimes call truncateFrom at a random point while appending: the
//    numbers from its seq on name nothing acknowledged after it (whether it
//    finished or died half-way), and groups it may have cut in two are
//    exempt from the all-or-nothing check;
//  - a sync that fails loses its data (now, later, or in part), even if a
//    later sync of the file succeeds;
//  - at the power loss every sector not made durable survives or not at
//    random, and each directory entry changed since its directory's last
//    fsync keeps or loses its change independently of the others.
// After it, a strict open must succeed, and every record acknowledged by a
// syncing mode must read back identical; numbers never name two contents.
// A read-only reader (openReader) opened before that open must return only
// records the open then finds, identical.
// kill -9 cannot test this: it leaves the page cache.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useFaultAddon, tmpDir } from './helpers';

const { lib, fault } = await useFaultAddon();

const LOG_ROUNDS = Number(process.env.COMMITLOG_POWER_ROUNDS ?? 2000);
const CONFIG_ROUNDS = Number(process.env.COMMITLOG_CONFIG_POWER_ROUNDS ?? process.env.COMMITLOG_POWER_ROUNDS ?? 8000);
const EIO = 5;

function rngFrom(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Record bytes as a pure function of (round, life, id, part of parts), so any record read back can be checked. */
function rec(round: number, id: number, part: number, len: number, parts = 1): Buffer {
  const head = Buffer.from(`${round}:${id}:${part}/${parts}|`);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (round * 31 + id * 7 + part * 3 + i) & 0xff;
  return Buffer.concat([head, body]);
}

function parse(buf: Buffer) {
  const m = /^(\d+):(\d+):(\d+)\/(\d+)\|/.exec(buf.subarray(0, 48).toString('latin1'));
  if (!m) return undefined;
  const [r, id, part, parts] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  const len = buf.length - m[0].length;
  return rec(r, id, part, len, parts).equals(buf) ? { r, id, part, parts } : undefined;
}

type Rand = () => number;
type Plan = { crashAt?: number; failAt?: number; kind?: string; errno?: number };

/** How one process lifetime ends: a crash at a random step, an EIO on a random sync or write, or neither. */
function lifePlan(rand: Rand): Plan {
  const r = rand();
  if (r < 0.45) return { crashAt: 3 + Math.floor(rand() * 150) };
  if (r < 0.65) return { failAt: Math.floor(rand() * 12), kind: 'sync', errno: EIO };
  if (r < 0.75) return { failAt: Math.floor(rand() * 12), kind: 'write', errno: EIO };
  return {};
}

function logOptions(rand: Rand, big: boolean) {
  const r = rand();
  return {
    // A big life's batches pass 64 KiB: with batchesInFlight 2, two of them
    // in flight, and (with 'auto') written with O_DIRECT.
    segmentBytes: big ? 512 * 1024 : 64 * 1024,
    alignBytes: rand() < 0.5 ? 512 : 4096,
    preallocate: (['zero', 'none', 'fallocate', 'auto'] as const)[Math.floor(rand() * 4)],
    sync: r < 0.35 ? ('auto' as const) : r < 0.65 ? ('fdatasync' as const) : r < 0.8 ? ('fsync' as const) : ('none' as const),
    // Segments freed by truncateBefore and retention reused (the default, 2), or not.
    recycleSegments: [0, 1, 2][Math.floor(rand() * 3)],
    // One batch in flight (the default) or two: a big life with two writes
    // the next batch while the previous one syncs.
    batchesInFlight: rand() < 0.5 ? (1 as const) : (2 as const),
  };
}

/** Batches written while the one before them was still syncing, and batches written with O_DIRECT. */
const inflight = { overlapped: 0, direct: 0 };

/** Segments retention passes deleted (in lives that did not crash before counting). */
let retentionDeleted = 0;
/** Freed segments made into later ones (docs/FORMAT.md, "Recycled segments"). */
let segmentsRecycled = 0;

interface LogState {
  dir: string;
  /** Content of every number acknowledged by a syncing mode (or made durable since): must never change. */
  durable: Map<number, Buffer>;
  maxTruncate: number;
  /** Groups (round:id) that a truncateFrom may have cut in two: exempt from the all-or-nothing check. */
  cutGroups: Set<string>;
}

/**
 * truncateFrom(to) at a random point in [firstSeq, durableSeq]: once it is
 * done (or may be, after a failure), the numbers from `to` on name nothing
 * acknowledged any more, and appends may give them new content.
 */
const cuts = { done: 0, interrupted: 0, refused: 0 };

async function cutSuffix(log: InstanceType<typeof lib.CommitLog>, st: LogState, weak: Map<number, Buffer>, rand: Rand) {
  const first = log.firstSeq;
  const to = first + Math.floor(rand() * (Math.max(log.durableSeq, first) - first + 1));
  // A group that straddles `to` keeps its records below it. The maps know
  // only groups acknowledged in this round; one that an earlier lifetime
  // wrote but never saw acknowledged (it crashed) and this open recovered is
  // found by reading what lies just below `to` (groups have at most 5 parts).
  try {
    for await (const r of log.read({ from: Math.max(first, to - 4), to })) {
      const p = parse(r.data);
      if (p && p.parts > 1) st.cutGroups.add(`${p.r}:${p.id}`);
    }
  } catch {
    // The process died or the log failed: the cut below fails the same way.
  }
  const err = await log.truncateFrom(to).then(
    () => undefined,
    (e) => e,
  );
  if (process.env.COMMITLOG_POWER_TRACE) console.log(`truncateFrom(${to}): ${err ? err.code : 'done'}`);
  // Refused arguments change nothing; any other failure may have cut.
  if (err && (err.code === 'ERR_OUT_OF_RANGE' || err.code === 'ERR_LOG_TRUNCATED')) {
    cuts.refused++;
    return err;
  }
  if (err) cuts.interrupted++;
  else cuts.done++;
  // Every append made before the call has been recorded by now (they settle
  // first): a group with a record at or past `to` may have lost it.
  for (const m of [st.durable, weak]) {
    for (const [seq, b] of [...m]) {
      if (seq < to) continue;
      const p = parse(b);
      if (p && p.parts > 1) st.cutGroups.add(`${p.r}:${p.id}`);
      m.delete(seq);
    }
  }
  return err;
}

/** One process lifetime: open, append from many callers until the plan ends it, maybe retention, close. */
async function live(st: LogState, round: number, rand: Rand, ids: { next: number }, weak: Map<number, Buffer>) {
  // Some lives delete in the background too (passes at open, after rolls, and by age).
  const retention = rand() < 0.25 ? { retention: rand() < 0.5 ? { maxBytes: 3 * 64 * 1024 } : { maxBytes: 4 * 64 * 1024, maxAgeMs: 1 } } : {};
  const big = rand() < 0.3;
  const opts = { ...logOptions(rand, big), ...retention };
  if (process.env.COMMITLOG_POWER_TRACE) console.log(`round ${round}: open ${JSON.stringify(opts)}`);
  const log = await lib.CommitLog.open(st.dir, opts).catch((e) => {
    // The process died (ECANCELED) or an injected EIO: never anything else.
    if (e.code !== 'ECANCELED' && e.code !== 'EIO') throw new Error(`round ${round}: open failed: ${e.message}`);
    return undefined;
  });
  if (!log) return;
  // The open synced everything it found: what 'none' lives acknowledged is durable now.
  for (const [seq, b] of weak) if (seq < log.durableSeq) st.durable.set(seq, b);
  weak.clear();
  const crashAfter = Math.floor(rand() * 60);
  let acks = 0;
  const truncateAt = rand() < 0.2 ? Math.floor(rand() * 40) : -1;
  const cutAt = rand() < 0.25 ? Math.floor(rand() * 40) : -1;
  const callers = Array.from({ length: 1 + Math.floor(rand() * 16) }, async () => {
    for (;;) {
      if (fault.crashed() || acks >= crashAfter) return;
      const myId = ids.next++;
      const parts = rand() < 0.2 ? 2 + Math.floor(rand() * 4) : 1;
      const recs = Array.from({ length: parts }, (_, p) => rec(round, myId, p, Math.floor(rand() * (big ? 24000 : 3000)), parts));
      let seq: number;
      try {
        seq = parts === 1 ? await log.append(recs[0]) : await log.appendMany(recs);
      } catch {
        return; // ECANCELED (the process is dead), EIO, then ERR_LOG_FAILED
      }
      const into = opts.sync === 'none' ? weak : st.durable;
      recs.forEach((b, k) => into.set(seq + k, b));
      if (++acks === truncateAt) {
        const to = Math.floor(rand() * (seq + 1));
        st.maxTruncate = Math.max(st.maxTruncate, to);
        log.truncateBefore(to).catch(() => {});
      }
      if (acks === cutAt && (await cutSuffix(log, st, weak, rand))) return;
    }
  });
  await Promise.all(callers);
  // A pass never deletes the segment being written, which starts at or below
  // the next number to hand out (the stats stay readable after a crash).
  if ('retention' in opts) {
    st.maxTruncate = Math.max(st.maxTruncate, log.stats().appendedSeq);
    retentionDeleted += log.stats().retention.segmentsDeleted;
  }
  inflight.overlapped += log.stats().overlappedBatches;
  inflight.direct += log.stats().directBatches;
  segmentsRecycled += log.stats().segmentsRecycled;
  if (process.env.COMMITLOG_POWER_TRACE) console.log(`round ${round}: ${acks} acks, durable ${log.durableSeq}, crashed ${fault.crashed()}, recovery ${JSON.stringify(log.recovery)}`);
  if (rand() < 0.7) fault.crash(); // the process dies; else a clean close
  await log.close().catch(() => {});
}

/** What a read-only reader returns from `dir` (nothing if no log was made there yet). */
async function readerSees(dir: string): Promise<Map<number, Buffer>> {
  const seen = new Map<number, Buffer>();
  const reader = await lib.LogReader.open(dir).catch((e) => {
    if (e.code !== 'ENOENT') throw e;
    return undefined;
  });
  if (!reader) return seen;
  try {
    for await (const r of reader.read()) seen.set(r.seq, Buffer.from(r.data));
  } finally {
    await reader.close();
  }
  return seen;
}

/** After the power loss: a strict open, every durable record intact, groups whole, nothing unknown. */
async function verify(st: LogState, round: number, seed: number): Promise<number> {
  const fail = (what: string) => {
    throw new Error(`round ${round}: ${what} (seed ${seed}; replay with COMMITLOG_SEED=${seed})`);
  };
  const byReader = await readerSees(st.dir).catch((e) => fail(`a reader failed: ${e.code}: ${e.message}`));
  const again = await lib.CommitLog.open(st.dir, { segmentBytes: 64 * 1024 });
  if (again.recovery.corruption) fail(`recovery reports corruption: ${again.recovery.reason}`);
  const first = again.firstSeq;
  if (first > st.maxTruncate) fail(`log starts at ${first}, retention asked for at most ${st.maxTruncate}`);
  const seen = new Map<number, Buffer>();
  const groups = new Map<string, { n: number; parts: number }>();
  let prev = -1;
  for await (const r of again.read()) {
    if (r.seq <= prev) fail(`sequence ${r.seq} after ${prev}`);
    prev = r.seq;
    const p = parse(r.data);
    if (!p) fail(`record ${r.seq} was never appended`);
    seen.set(r.seq, Buffer.from(r.data));
    const key = `${p!.r}:${p!.id}`;
    const g = groups.get(key) ?? { n: 0, parts: p!.parts };
    g.n++;
    groups.set(key, g);
  }
  for (const [seq, b] of st.durable) {
    if (seq < first) continue;
    const got = seen.get(seq);
    if (!got) fail(`acknowledged record ${seq} lost`);
    if (!got!.equals(b)) fail(`number ${seq} names other content than was acknowledged`);
  }
  for (const [key, g] of groups) {
    if (g.n !== g.parts && !st.cutGroups.has(key)) fail(`group ${key} has ${g.n} of ${g.parts} records`);
  }
  for (const [seq, b] of byReader!) {
    if (!seen.get(seq)?.equals(b)) fail(`a reader returned record ${seq}, which the log does not hold after recovery`);
  }
  // Everything read now is durable: the open synced it.
  for (const [seq, b] of seen) st.durable.set(seq, b);
  const next = await again.append(rec(round, 1e6, 0, 10));
  if (next < (prev < 0 ? 0 : prev + 1)) fail(`append after recovery got ${next}, log ends at ${prev}`);
  st.durable.set(next, rec(round, 1e6, 0, 10));
  await again.close();
  return byReader!.size;
}

describe('power loss', () => {
  it(`CommitLog: every acknowledged record survives ${LOG_ROUNDS} power losses, each after up to 4 process lifetimes`, async () => {
    const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);
    const rand = rngFrom(seed);
    let st: LogState = { dir: tmpDir(), durable: new Map(), maxTruncate: 0, cutGroups: new Set() };
    const totals = { lives: 0, sectorsLost: 0, doomed: 0, namesReverted: 0, readByReaders: 0 };
    try {
      for (let round = 0; round < LOG_ROUNDS; round++) {
        if (round % 20 === 0) st = { dir: tmpDir(), durable: new Map(), maxTruncate: 0, cutGroups: new Set() };
        const lives = 1 + Math.floor(rand() * 4);
        const weak = new Map<number, Buffer>();
        const ids = { next: 0 };
        for (let life = 0; life < lives; life++) {
          // A restart keeps what the dead process left unsynced: only the
          // power loss at the end of the round takes it away.
          const plan = lifePlan(rand);
          if (process.env.COMMITLOG_POWER_TRACE) console.log(`round ${round} life ${life}: ${JSON.stringify(plan)}`);
          fault.arm({ trackDurability: true, keepState: life > 0, seed: seed + round * 8 + life, ...plan });
          await live(st, round, rand, ids, weak);
        }
        totals.lives += lives;
        fault.crash();
        const keep = [0, 0.5, 1][round % 3];
        const pl = fault.powerLoss({ seed: seed + round, keep, dirKeep: rand() < 0.5 ? 0.5 : keep, tear: true });
        totals.sectorsLost += pl.sectorsLost;
        totals.doomed += pl.doomedSectors;
        totals.namesReverted += pl.dirOpsUndone;
        fault.disarm();
        totals.readByReaders += await verify(st, round, seed);
      }
    } catch (err) {
      console.error(`power-loss test failed; replay with COMMITLOG_SEED=${seed}`);
      throw err;
    }
    console.log(
      `power loss (log): ${LOG_ROUNDS} crash states after ${totals.lives} process lifetimes ` +
        `(${(totals.lives / LOG_ROUNDS).toFixed(2)} per crash); ${totals.sectorsLost} sectors lost, ` +
        `${totals.doomed} doomed by failed syncs, ${totals.namesReverted} directory entries reverted, ` +
        `${retentionDeleted} segments deleted by retention, ${segmentsRecycled} freed segments reused; ` +
        `${inflight.overlapped} batches written while the previous one synced, ${inflight.direct} with O_DIRECT; ` +
        `truncateFrom: ${cuts.done} done, ${cuts.interrupted} interrupted, ${cuts.refused} refused; 0 acknowledged records lost; ` +
        `readers returned ${totals.readByReaders} records before recovery, all of them in the log after it`,
    );
    if (LOG_ROUNDS >= 200) expect(cuts.done).toBeGreaterThan(0);
    if (LOG_ROUNDS >= 200) expect(inflight.overlapped).toBeGreaterThan(0);
    if (LOG_ROUNDS >= 200) expect(segmentsRecycled).toBeGreaterThan(0);
    expect(totals.sectorsLost).toBeGreaterThan(0);
    expect(totals.namesReverted).toBeGreaterThan(0);
    expect(totals.readByReaders).toBeGreaterThan(0);
    // A budget, not a speed goal: 46-154 s seen on a 2-core machine shared with other work.
  }, 600_000);

  it(`ConfigFile: load() returns the last acknowledged value or a newer one after ${CONFIG_ROUNDS} power losses with restarts`, async () => {
    const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);
    const rand = rngFrom(seed ^ 0x5bd1e995);
    let states = 0;
    let lives = 0;
    for (let round = 0; round < CONFIG_ROUNDS; round++) {
      const file = `${tmpDir()}/state.json`;
      const warm = Math.floor(rand() * 3);
      for (let i = 1; i <= warm; i++) await new lib.ConfigFile<{ v: number }>(file).save({ v: i });
      let lastAcked = warm; // 0: nothing saved yet
      let v = warm;
      const n = 1 + Math.floor(rand() * 3);
      for (let life = 0; life < n; life++) {
        const plan: Plan = rand() < 0.7 ? { crashAt: Math.floor(rand() * 20) } : { failAt: Math.floor(rand() * 4), kind: 'sync', errno: EIO };
        fault.arm({ trackDurability: true, keepState: life > 0, seed: seed + round * 4 + life, ...plan });
        const cfg = new lib.ConfigFile<{ v: number }>(file, { defaults: { v: 0 } });
        if (life > 0) await cfg.load().catch(() => {});
        for (let k = 0; k < 4 && !fault.crashed(); k++) {
          v++;
          const ok = await cfg.save({ v }).then(
            () => true,
            () => false,
          );
          if (ok) lastAcked = v;
        }
        fault.crash();
        lives++;
      }
      fault.powerLoss({ seed: seed + round, keep: [0, 0.5, 1][round % 3], dirKeep: rand() < 0.5 ? 0.5 : undefined, tear: true });
      fault.disarm();
      const loaded = await new lib.ConfigFile<{ v: number }>(file, { defaults: { v: 0 } }).load();
      if (loaded.v < lastAcked || loaded.v > v) {
        throw new Error(`round ${round}: loaded ${loaded.v}, last acknowledged ${lastAcked}, last attempted ${v} (seed ${seed})`);
      }
      states++;
      expect(fs.existsSync(file + '.bak.tmp')).toBe(false);
    }
    console.log(`power loss (config): ${states} crash states after ${lives} process lifetimes`);
    expect(states).toBe(CONFIG_ROUNDS);
  });
});
