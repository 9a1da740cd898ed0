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
