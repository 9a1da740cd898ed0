import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { tmpDir } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { recordFor, parseRecord } = require('./fixtures/records.js');

const ROUNDS = Number(process.env.COMMITLOG_KILL_ROUNDS ?? 20);
const CALLERS = 64;
const SEGMENT_BYTES = 256 * 1024;
const CHILD = path.join(__dirname, 'fixtures', 'kill9-child.js');

interface Ack {
  round: number;
  caller: number;
  counter: number;
  parts: number;
}

/** Runs the child until a random moment, kills it with SIGKILL, returns what it acknowledged. */
function runAndKill(dir: string, round: number, rng: () => number, extra: object = {}): Promise<Map<number, Ack>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(CALLERS), String(SEGMENT_BYTES), String(round), JSON.stringify(extra)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks = new Map<number, Ack>();
    let buf = '';
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') {
          setTimeout(() => child.kill('SIGKILL'), 20 + Math.floor(rng() * 400));
          continue;
        }
        const [seq, caller, counter, parts] = line.split(' ').map(Number);
        acks.set(seq, { round, caller, counter, parts });
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
      else resolve(acks);
    });
  });
}

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('kill -9', () => {
  it(`loses no acknowledged record over ${ROUNDS} rounds of SIGKILL at random moments`, async () => {
    const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);
    const rng = mulberry32(seed);
    const dir = tmpDir();
    // Records verified in earlier rounds: durable bytes must never change,
    // so later rounds compare against them (cheap) instead of regenerating.
    const verified: Buffer[] = [];
    let totalAcked = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const acks = await runAndKill(dir, round, rng);
        totalAcked += acks.size;
        const log = await CommitLog.open(dir, { segmentBytes: SEGMENT_BYTES });
        expect(log.recovery.corruption).toBe(false);
        const known = verified.length;
        const groups = new Map<string, number>();
        let next = 0;
        for await (const r of log.read()) {
          if (r.seq !== next++) throw new Error(`round ${round}: gap before ${r.seq} (seed ${seed})`);
          if (r.seq < known) {
            if (!r.data.equals(verified[r.seq])) throw new Error(`round ${round}: record ${r.seq} changed (seed ${seed})`);
            continue;
          }
          // Nothing that was never appended: every record is one the child made.
          const rec = parseRecord(r.data);
          if (!rec) throw new Error(`round ${round}: unknown record ${r.seq} (seed ${seed})`);
          verified.push(Buffer.from(r.data));
          if (rec.counter % 7 === 3) {
            const key = `${rec.round}:${rec.caller}:${rec.counter}`;
            groups.set(key, (groups.get(key) ?? 0) + 1);
          }
        }
        // Nothing durable went away.
        if (next < known) throw new Error(`round ${round}: log shrank from ${known} to ${next} (seed ${seed})`);
        // Every acknowledged record is there, byte for byte.
        for (const [s, a] of acks) {
          for (let p = 0; p < a.parts; p++) {
            const got = verified[s + p];
            if (!got || !got.equals(recordFor(a.round, a.caller, a.counter, p))) {
              throw new Error(`round ${round}: acknowledged record ${s + p} lost or wrong (seed ${seed})`);
            }
          }
        }
        // appendMany groups: all parts present or none.
        for (const [key, n] of groups) if (n !== 3) throw new Error(`round ${round}: group ${key} has ${n} of 3 records`);
        await log.close();
      }
    } catch (err) {
      console.error(`kill -9 test failed; replay with COMMITLOG_SEED=${seed}`);
      throw err;
    }
    expect(totalAcked).toBeGreaterThan(ROUNDS);
  });

  it(`loses no acknowledged record at or past the log's start over ${ROUNDS} rounds of SIGKILL while retention deletes in the background`, async () => {
    const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);
    const rng = mulberry32(seed ^ 0x2545f491);
    const dir = tmpDir();
    // Records verified in earlier rounds, by number: still there, unchanged, unless retention took them.
    const verified = new Map<number, Buffer>();
    let first = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const acks = await runAndKill(dir, round, rng, { retention: { maxBytes: 2 * SEGMENT_BYTES } });
        const log = await CommitLog.open(dir, { segmentBytes: SEGMENT_BYTES });
        expect(log.recovery.corruption).toBe(false);
        // The log's start never moves back, and is where its first file starts.
        if (log.firstSeq < first) throw new Error(`round ${round}: log start went back from ${first} to ${log.firstSeq} (seed ${seed})`);
        first = log.firstSeq;
        let next = first;
        for await (const r of log.read()) {
          if (r.seq !== next++) throw new Error(`round ${round}: gap before ${r.seq} (seed ${seed})`);
          const known = verified.get(r.seq);
          if (known ? !r.data.equals(known) : !parseRecord(r.data)) throw new Error(`round ${round}: record ${r.seq} changed or unknown (seed ${seed})`);
          verified.set(r.seq, Buffer.from(r.data));
        }
        for (const s of verified.keys()) if (s >= next) throw new Error(`round ${round}: record ${s} went away (seed ${seed})`);
        for (const [s, a] of acks) {
          for (let p = 0; p < a.parts; p++) {
            if (s + p < first) continue; // deleted by retention
            if (!verified.get(s + p)?.equals(recordFor(a.round, a.caller, a.counter, p))) {
              throw new Error(`round ${round}: acknowledged record ${s + p} lost or wrong (seed ${seed})`);
            }
          }
        }
        for (const s of [...verified.keys()]) if (s < first) verified.delete(s);
        await log.close();
      }
    } catch (err) {
      console.error(`kill -9 retention test failed; replay with COMMITLOG_SEED=${seed}`);
      throw err;
    }
    // Retention did delete: the log no longer starts at 0.
    expect(first).toBeGreaterThan(0);
  });
});

describe('kill -9 with a cursor commit and truncateFrom', () => {
  const CONSUMER_CHILD = path.join(__dirname, 'fixtures', 'kill9-consumer-child.js');
  // Few appenders, so that the consumer keeps up with the tail, where the
  // cuts are: its reads, commits and restarts then meet them.
  const CONSUMER_CALLERS = Number(process.env.COMMITLOG_KILL_CALLERS ?? 4);

  /** Runs kill9-consumer-child.js until a random moment, kills it with SIGKILL, returns its lines in the order printed. */
  function runAndKillLines(dir: string, round: number, rng: () => number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CONSUMER_CHILD, dir, String(CONSUMER_CALLERS), String(SEGMENT_BYTES), String(round)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      let buf = '';
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const got = buf.split('\n');
        buf = got.pop()!;
        for (const line of got) {
          if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), 20 + Math.floor(rng() * 400));
          else lines.push(line);
        }
      });
      // A torn last line (no '\n') was cut by the kill mid-write: ignored, as if not printed.
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
        else resolve(lines);
      });
    });
  }

  interface Expected {
    round: number;
    caller: number;
    counter: number;
    part: number;
    /** A truncation at or below it started after its append was issued: it may be gone. */
    exempt: boolean;
  }

  it(`loses no acknowledged record or cursor commit over ${ROUNDS} rounds of SIGKILL while a consumer commits a cursor and truncateFrom cuts the tail`, async () => {
    const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);
    const rng = mulberry32(seed ^ 0x5bd1e995);
    const dir = tmpDir();
    const fail = (round: number, why: string): never => {
      throw new Error(`round ${round}: ${why} (seed ${seed})`);
    };
    // What the last reopen read, by number (bytes and who made it): stays
    // unless a truncation at or below it started since.
    const verified = new Map<number, Buffer>();
    const made = new Map<number, { round: number; caller: number; counter: number; part: number }>();
    // Every cut ever started: the one way an appendMany group is partly there.
    const cutsEver = new Set<number>();
    // The stored cursor may not be below this: the position the last reopen
    // saw, then lowered or raised by the child's lines.
    let cursorFloor = 0;
    let cursorSeen = false;
    const totals = { acks: 0, cutstarts: 0, cuts: 0, roundsWithCuts: 0, killedMidCut: 0, cutFinishedAtOpen: 0, commits: 0, restarts: 0, exempt: 0, clampedBelowCommit: 0, lag: 0 };
    const restartsBy: Record<string, number> = {};
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const lines = await runAndKillLines(dir, round, rng);

        // Replay the child's lines in the order printed. The child is one JS
        // thread, and each of these pairs runs without a turn in between:
        // printing "cutstart X" and calling truncateFrom(X); printing a
        // caller's ack and issuing its next append. So the lines tell which
        // cuts an append was issued before (they may drop it) and which
        // after (it is queued behind them and numbered after them).
        const expected = new Map<number, Expected>();
        const cuts: number[] = []; // this round's cuts, in the order started
        const issuedAfter = new Map<number, number>(); // caller -> cuts started before its pending append was issued
        const lastCounter = new Map<number, number>();
        let inflight: number | undefined; // the cut between its "cutstart" and its "cut" line
        let minCut = Infinity; // the lowest cut started this round
        let floor = cursorFloor;
        let lastCommit: number | undefined;
        // Every value the cursor may have been written with since the last
        // reopen: the position that reopen saw, the commits called (from their
        // "commit" line on, resolved or not), and the cuts' clamps.
        const written = new Set<number>([cursorFloor]);
        for (const line of lines) {
          const w = line.split(' ');
          if (w[0] === 'cutstart') {
            const x = Number(w[1]);
            if (inflight !== undefined) fail(round, `"cutstart ${x}" while cut ${inflight} runs`);
            inflight = x;
            cuts.push(x);
            written.add(x);
            totals.cutstarts++;
            minCut = Math.min(minCut, x);
            cutsEver.add(x);
            // Whatever was acknowledged at or past x may be dropped now, and a
            // stored cursor past x clamped to it.
            for (const [s, e] of expected) if (s >= x) e.exempt = true;
            floor = Math.min(floor, x);
          } else if (w[0] === 'cut') {
            const x = Number(w[1]);
            if (inflight !== x) fail(round, `"cut ${x}" without its "cutstart"`);
            inflight = undefined;
            totals.cuts++;
          } else if (w[0] === 'commit') {
            written.add(Number(w[1]));
          } else if (w[0] === 'cursor') {
            // Durable from here on, unless a cut not finished at this line
            // (its clamp may come after this write) or started later clamps it.
            const n = Number(w[1]);
            if (!written.has(n)) fail(round, `"cursor ${n}" without its "commit"`);
            floor = inflight === undefined ? n : Math.min(n, inflight);
            lastCommit = n;
            totals.commits++;
            cursorSeen = true;
          } else if (w[0] === 'restart') {
            totals.restarts++;
            restartsBy[w[1]] = (restartsBy[w[1]] ?? 0) + 1;
          } else {
            const [s, caller, counter, parts] = w.map(Number);
            if (!(w.length === 4 && Number.isSafeInteger(s) && (parts === 1 || parts === 3))) fail(round, `bad line '${line}'`);
            if (counter !== (lastCounter.get(caller) ?? -1) + 1) fail(round, `caller ${caller}: counter ${counter} out of order`);
            lastCounter.set(caller, counter);
            totals.acks++;
            // Cuts started after this append was issued ran after it was
            // durable: one at or below a record dropped it. Cuts started
            // before it numbered it after them: they cannot have.
            const raced = cuts.slice(issuedAfter.get(caller) ?? 0);
            for (let p = 0; p < parts; p++) {
              const prev = expected.get(s + p);
              // A number is handed out again only after a cut at or below it started.
              if (prev && !prev.exempt) fail(round, `record ${s + p} acknowledged twice without a cut below it`);
              const exempt = raced.some((x) => s + p >= x);
              expected.set(s + p, { round, caller, counter, part: p, exempt });
            }
            issuedAfter.set(caller, cuts.length);
          }
        }

        if (inflight !== undefined) totals.killedMidCut++;

        const log = await CommitLog.open(dir, { segmentBytes: SEGMENT_BYTES });
        try {
          expect(log.recovery.corruption).toBe(false);
          if (log.recovery.cutFinished) {
            // Only a cut the child started and did not see finish, and the log ends there.
            if (inflight === undefined) fail(round, 'the open finished a cut that was not running');
            if (log.durableSeq !== inflight) fail(round, `the open finished cut ${inflight} but the log ends at ${log.durableSeq}`);
            totals.cutFinishedAtOpen++;
          }
          // Everything below the last cut was durable when it was called.
          if (cuts.length > 0 && log.durableSeq < cuts[cuts.length - 1]) {
            fail(round, `the log ends at ${log.durableSeq}, below the last cut ${cuts[cuts.length - 1]}`);
          }
          // 1. Dense from firstSeq, every record one the child made; 3. what
          // earlier rounds verified is unchanged below every cut started since.
          let next = log.firstSeq;
          for await (const r of log.read()) {
            if (r.seq !== next++) fail(round, `gap before ${r.seq}`);
            const known = verified.get(r.seq);
            if (known && r.seq < minCut) {
              if (!r.data.equals(known)) fail(round, `record ${r.seq} changed without a cut at or below it`);
              continue;
            }
            const rec = parseRecord(r.data);
            if (!rec) fail(round, `unknown record ${r.seq}`);
            verified.set(r.seq, Buffer.from(r.data));
            made.set(r.seq, rec);
          }
          for (const s of verified.keys()) {
            if (s < next) continue;
            if (s < minCut) fail(round, `record ${s} went away (log ends at ${next}, lowest cut ${minCut})`);
            verified.delete(s);
            made.delete(s);
          }
          if (next !== log.durableSeq) fail(round, `read ended at ${next}, durableSeq is ${log.durableSeq}`);
          // 2. Every acknowledged record no cut may have voided is there, byte for byte.
          for (const [s, e] of expected) {
            if (e.exempt) {
              totals.exempt++;
              continue;
            }
            if (!verified.get(s)?.equals(recordFor(e.round, e.caller, e.counter, e.part))) {
              fail(round, `acknowledged record ${s} (caller ${e.caller}, counter ${e.counter}, part ${e.part}) lost or wrong`);
            }
          }
          // appendMany groups: all parts or none, unless a cut fell inside.
          const groups = new Map<string, number[]>();
          for (const [s, m] of made) {
            if (m.counter % 7 !== 3) continue;
            const key = `${m.round}:${m.caller}:${m.counter}`;
            const g = groups.get(key) ?? [];
            g[m.part] = s;
            groups.set(key, g);
          }
          for (const [key, g] of groups) {
            const k = g.filter((s) => s !== undefined).length;
            for (let p = 0; p < k; p++) if (g[p] !== g[0] + p) fail(round, `group ${key} is not a prefix at consecutive numbers`);
            if (k < 3 && !cutsEver.has(g[0] + k)) fail(round, `group ${key} has ${k} of 3 records and no cut at ${g[0] + k}`);
          }
          // 4. The cursor: durable, not past the durable end, and not below what was committed.
          const info = (await log.cursors()).find((c) => c.name === 'c');
          if (info) {
            const cur = await log.cursor('c');
            // The open clamped a stored position past the durable end durably: none is shown clamped.
            if (cur.clamped || cur.position !== info.position) fail(round, `cursor shown clamped (${cur.position}, listed ${info.position})`);
            if (info.position > log.durableSeq) fail(round, `cursor ${info.position} past the durable end ${log.durableSeq}`);
            if (info.position < floor) fail(round, `cursor ${info.position} below ${floor} (last commit printed ${lastCommit})`);
            // Nobody wrote any other value: in particular, not the open's clamp
            // to the durable end of a position that a cut made void, past
            // records appended after the cut that the consumer never read.
            // (Seen when this test was written: truncateFrom stages the appends
            // queued behind it before its clampAbove is durable, so a kill in
            // between leaves the cursor past the cut, and the next open clamps
            // it only to the durable end, past those appends.)
            if (!written.has(info.position)) {
              const last = cuts[cuts.length - 1];
              const skipped = [...expected].filter(([s, e]) => !e.exempt && s >= last && s < info.position).length;
              fail(
                round,
                `cursor ${info.position} is a value no commit or cut wrote (durableSeq ${log.durableSeq}, last cut ${last}` +
                  `${inflight !== undefined ? ' (killed during it)' : ''}, last commit printed ${lastCommit}; ` +
                  `${skipped} record(s) acknowledged after that cut lie below it, never read from the cursor)`,
              );
            }
            if (lastCommit !== undefined && info.position < lastCommit) totals.clampedBelowCommit++;
            cursorFloor = info.position;
            cursorSeen = true;
            totals.lag += log.durableSeq - info.position;
          } else if (cursorSeen) {
            fail(round, 'cursor c went away');
          }
          totals.roundsWithCuts += minCut < Infinity ? 1 : 0;
        } finally {
          await log.close();
        }
      }
    } catch (err) {
      console.error(`kill -9 cursor/truncateFrom test failed; replay with COMMITLOG_SEED=${seed}`);
      throw err;
    }
    console.log(`kill -9 cursor/truncateFrom: ${ROUNDS} rounds, seed ${seed}, ${JSON.stringify(totals)}, restarts ${JSON.stringify(restartsBy)}`);
    // The test exercised what it is about.
    expect(totals.acks).toBeGreaterThan(ROUNDS);
    expect(totals.cuts).toBeGreaterThan(0);
    expect(totals.commits).toBeGreaterThan(0);
  });
});
