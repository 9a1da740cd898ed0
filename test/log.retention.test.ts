// Retention in the background (the `retention` option): what a pass deletes
// and keeps, its stats, its scheduling, and its crash safety on the crash
// model of native/core/fault_io.h (a pass interrupted at every step, then a
// restart and a power loss), plus failed passes that leave the log working.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseBatches, recordBytes, segmentFiles, tmpDir, useFaultAddon, writeV1Log } from './helpers';

const { lib, fault } = await useFaultAddon();
const { kRetentionPass, Retention } = await import('../lib/retention');
const { kHandle } = await import('../lib/log');

type Log = InstanceType<typeof lib.CommitLog>;

const SEG = 64 * 1024;
// 4000-byte records: one 4096-byte batch each, 16 to a segment. No
// preallocation: no preparer thread, so a pass's system calls are the only
// ones while it runs.
const O = { segmentBytes: SEG, preallocate: 'none' as const };
const PER_SEG = 16;
const EIO = 5;
const ENOSPC = 28;
const HOUR = 3_600_000;

const baseOf = (file: string) => Number(path.basename(file, '.log'));
const bases = (dir: string) => segmentFiles(dir).map(baseOf);

async function fill(log: Log, from: number, n: number) {
  for (let i = from; i < from + n; i++) expect(await log.append(recordBytes(i, 4000))).toBe(i);
}

/** Every record the log reads, checked against what fill() appended. */
async function readChecked(log: Log): Promise<number[]> {
  const out: number[] = [];
  for await (const r of log.read()) {
    expect(r.data.equals(recordBytes(r.seq, 4000)), `record ${r.seq}`).toBe(true);
    out.push(r.seq);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A closed log of n records (no retention), made before any fault is armed. */
async function template(n: number, opts = {}): Promise<string> {
  const dir = tmpDir();
  const log = await lib.CommitLog.open(dir, { ...O, ...opts });
  await fill(log, 0, n);
  await log.close();
  return dir;
}

function copyOf(dir: string): string {
  const to = tmpDir();
  fs.cpSync(dir, to, { recursive: true });
  return to;
}

/** Waits until the wall clock shows a later millisecond than `after` (no timing assumption). */
async function clockPast(after: number) {
  while (Date.now() <= after + 1) await new Promise((r) => setTimeout(r, 1));
}

describe('retention by size', () => {
  it('deletes the oldest segments while the log holds more than maxBytes, and reports them in stats()', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 3 * SEG } });
    await fill(log, 0, 100); // 7 segments: 6 full, the last holds 4 batches (16 KiB)
    const now = Date.now();
    const st = await log[kRetentionPass](now);
    // 6 * 64 KiB + 16 KiB > 192 KiB; without the oldest 4: 2 * 64 KiB + 16 KiB.
    expect(bases(dir)).toEqual([64, 80, 96]);
    expect(log.firstSeq).toBe(64);
    expect(st).toMatchObject({ segmentsDeleted: 4, bytesDeleted: 4 * SEG, recordsDeleted: 64, lastPassAtMs: now, failures: 0, lastError: '' });
    // One at open, one per roll at most (coalesced), and this one.
    expect(st.passes).toBeGreaterThanOrEqual(2);
    expect(st.passes).toBeLessThanOrEqual(8);
    expect(log.stats().retention).toEqual(st);
    expect(await readChecked(log)).toEqual(range(64, 100));
    await log.close();
    const again = await lib.CommitLog.open(dir, O);
    expect(again.recovery.corruption).toBe(false);
    expect(again.firstSeq).toBe(64);
    expect(again.stats().retention).toEqual({
      passes: 0, segmentsDeleted: 0, bytesDeleted: 0, recordsDeleted: 0, lastPassAtMs: 0, failures: 0, lastError: '',
    });
    await again.close();
  });

  it('never deletes the segment being written, whatever the bound', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 1 } });
    await fill(log, 0, 40); // segments 0, 16, 32
    await log[kRetentionPass]();
    expect(bases(dir)).toEqual([32]);
    expect(await readChecked(log)).toEqual(range(32, 40));
    await fill(log, 40, 1);
    await log[kRetentionPass]();
    expect(bases(dir)).toEqual([32]);
    await log.close();
    const again = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 1 } });
    expect(again.firstSeq).toBe(32);
    expect(await readChecked(again)).toEqual(range(32, 41));
    await again.close();
  });

  it('runs a pass after each segment roll, in the background', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 2 * SEG } });
    await fill(log, 0, 5 * PER_SEG + 1); // rolls to a 6th segment
    // No explicit pass: the rolls asked for them.
    // The files go before the pass reports back: wait for both.
    await vi.waitFor(
      () => {
        expect(bases(dir)).toEqual([4 * PER_SEG, 5 * PER_SEG]);
        expect(log.stats().retention.segmentsDeleted).toBe(4);
      },
      { timeout: 20_000, interval: 5 },
    );
    await log.close();
  });
});

describe('retention by age', () => {
  it("deletes segments whose newest batch is older than maxAgeMs, by the batches' timestamps", async () => {
    const dir = tmpDir();
    const maxAgeMs = HOUR;
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxAgeMs } });
    // Three sealed segments whose newest batches are a millisecond or more apart, and a tail.
    for (let s = 0; s < 3; s++) {
      await fill(log, s * PER_SEG, PER_SEG);
      await clockPast(Date.now());
    }
    await fill(log, 3 * PER_SEG, 1);
    const segs = segmentFiles(dir);
    const newest = segs.map((f) => Math.max(...parseBatches(f).map((b) => b.timestampMs)));
    expect(newest[1]).toBeGreaterThan(newest[0]);
    expect(newest[2]).toBeGreaterThan(newest[1]);
    // File times play no part for format 2 segments.
    for (const f of segs) fs.utimesSync(f, 1000, 1000);
    // Sealed exactly maxAgeMs before now is not older than maxAgeMs.
    await log[kRetentionPass](newest[0] + maxAgeMs);
    expect(bases(dir)).toEqual([0, 16, 32, 48]);
    await log[kRetentionPass](newest[0] + maxAgeMs + 1);
    expect(bases(dir)).toEqual([16, 32, 48]);
    await log[kRetentionPass](newest[2] + maxAgeMs + 1);
    expect(bases(dir)).toEqual([48]);
    await log[kRetentionPass](Date.now() + 100 * maxAgeMs);
    expect(bases(dir)).toEqual([48]);
    expect(log.stats().retention.segmentsDeleted).toBe(3);
    await log.close();
  });

  it('after a reopen, judges ages by the timestamps recovery read from the batches', async () => {
    const dir = await template(2 * PER_SEG + 1); // segments 0, 16, 32
    const newest = segmentFiles(dir).map((f) => Math.max(...parseBatches(f).map((b) => b.timestampMs)));
    for (const f of segmentFiles(dir)) fs.utimesSync(f, 1000, 1000);
    // The pass at open runs at the real time: nothing is an hour old.
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxAgeMs: HOUR } });
    await log[kRetentionPass]();
    expect(bases(dir)).toEqual([0, 16, 32]);
    await log[kRetentionPass](newest[0] + HOUR + 1);
    expect(bases(dir)).toEqual(newest[1] > newest[0] ? [16, 32] : [32]);
    await log.close();
  });

  it('judges a segment written by format version 1 by its file mtime', async () => {
    const dir = tmpDir();
    writeV1Log(dir, [[recordBytes(0, 100)], [recordBytes(1, 100)]], true);
    const v1 = segmentFiles(dir)[0];
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxAgeMs: HOUR } });
    await log.append('v2'); // the v1 tail is not continued: a new segment at 2
    expect(bases(dir)).toEqual([0, 2]);
    const mtime = Math.floor(Date.now() / 1000) * 1000 - 5000;
    fs.utimesSync(v1, mtime / 1000, mtime / 1000);
    await log[kRetentionPass](mtime + HOUR - 1);
    expect(bases(dir)).toEqual([0, 2]);
    await log[kRetentionPass](mtime + HOUR + 1);
    expect(bases(dir)).toEqual([2]);
    expect(log.firstSeq).toBe(2);
    await log.close();
  });

  it("checks ages on a timer, without a roll", async () => {
    const dir = await template(3 * PER_SEG + 1);
    // maxAgeMs 1: everything sealed is old; the timer's period is then its minimum, 1 s.
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxAgeMs: 1 } });
    // Without appends nothing rolls: only the timer can run a second pass.
    await vi.waitFor(() => expect(log.stats().retention.passes).toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 20 });
    expect(bases(dir)).toEqual([48]);
    await log.close();
  });

  it("does not keep the process alive with its timer", () => {
    const dir = tmpDir();
    const script = `
      const { CommitLog } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      CommitLog.open(${JSON.stringify(dir)}, { retention: { maxAgeMs: 3600000 } })
        .then((log) => log.append('x'))
        .then(() => console.log('appended'));`;
    // The timer's period here is a minute: a referenced timer would hold the process past the limit.
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout.trim()).toBe('appended');
    expect(r.signal).toBe(null);
    expect(r.status).toBe(0);
  });
});

describe('retention holding back', () => {
  it('holds back for the slowest durable cursor, also one committed by another owner (a reader process)', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 1, holdForCursors: true } });
    // The cursor exists before the records: the passes after each roll hold for it.
    const slow = await log.cursor('slow');
    await fill(log, 0, 100); // segments 0, 16, ..., 96
    expect(bases(dir)[0]).toBe(0);
    await slow.commit(40);
    await log[kRetentionPass]();
    // The segment holding 40 (base 32) and everything after it stay.
    expect(bases(dir)).toEqual([32, 48, 64, 80, 96]);
    // A store as another process makes it, on the same directory.
    const { CursorStore } = await import('../lib/cursor');
    const other = new CursorStore({ dir, logId: log[kHandle].logId(), durableSeq: () => 100, firstSeq: () => 32 });
    await (await other.open('slow')).commit(70);
    await log[kRetentionPass]();
    expect(bases(dir)).toEqual([64, 80, 96]);
    await log.deleteCursor('slow');
    await log[kRetentionPass]();
    expect(bases(dir)).toEqual([96]);
    await log.close();
  });

  it('holds back by default for cursors opened with hold (a forwarder), not for others; holdForCursors: false holds for none', async () => {
    for (const [holdForCursors, expected] of [
      [undefined, [32, 48, 64, 80, 96]],
      [false, [96]],
    ] as const) {
      const dir = tmpDir();
      const retention = holdForCursors === undefined ? { maxBytes: 1 } : { maxBytes: 1, holdForCursors };
      const log = await lib.CommitLog.open(dir, { ...O, retention });
      const held = await log.cursor('forwarder', { hold: true });
      const plain = await log.cursor('plain');
      await fill(log, 0, 100);
      await held.commit(40);
      await log[kRetentionPass]();
      expect(bases(dir)).toEqual(expected);
      expect(plain.position).toBe(0);
      expect((await log.cursors()).map((c) => [c.name, c.hold])).toEqual([
        ['forwarder', true],
        ['plain', false],
      ]);
      await log.close();
    }
  });

  it('a cursor reopened with another hold value rewrites its file, keeps its position, and its commits keep the flag', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 1 } });
    const c = await log.cursor('c');
    await fill(log, 0, 100);
    await c.commit(40);
    await log[kRetentionPass]();
    expect(bases(dir)).toEqual([96]); // not held yet
    const held = await log.cursor('c', { hold: true });
    expect(held.position).toBe(40);
    await expect(c.commit(50)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    await fill(log, 100, 100);
    await held.commit(150);
    await log[kRetentionPass]();
    expect(bases(dir)[0]).toBe(144);
    expect((await log.cursors())[0]).toEqual({ name: 'c', position: 150, hold: true });
    await expect(log.cursor('c', { hold: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await log.close();
  });

  it('never deletes a segment that may hold the hold-back position or later', async () => {
    const dir = await template(5 * PER_SEG + 1); // segments 0, 16, 32, 48, 64, 80
    const log = await lib.CommitLog.open(dir, O);
    const h = log[kHandle];
    let hold: number | undefined = 20;
    const calls: Array<number | undefined> = [];
    const r = new Retention(
      { maxBytes: 1, maxAgeMs: 0, holdForCursors: 'all' },
      {
        pass: (holdSeq, now) => {
          calls.push(holdSeq);
          return h.retain(1, 0, holdSeq, now);
        },
        segmentsAdded: () => h.segmentsAdded(),
        holdBack: async () => hold,
      },
    );
    await r.run(Date.now());
    expect(bases(dir)).toEqual([16, 32, 48, 64, 80]); // 16..31 holds 20
    hold = 48;
    await r.run(Date.now());
    expect(bases(dir)).toEqual([48, 64, 80]);
    expect(calls.at(-1)).toBe(48);
    // A hold-back function that fails, or answers nonsense: nothing is deleted, the failure is counted.
    const failuresBefore = r.stats().failures;
    hold = -1;
    let st = await r.run(Date.now());
    expect(st.failures).toBe(failuresBefore + 1);
    expect(st.lastError).toMatch(/hold-back position/);
    expect(bases(dir)).toEqual([48, 64, 80]);
    // No cursor: no hold.
    hold = undefined;
    st = await r.run(Date.now());
    expect(bases(dir)).toEqual([80]);
    expect(st.segmentsDeleted).toBe(5);
    await r.stop();
    expect(await readChecked(log)).toEqual(range(80, 81));
    await log.close();
  });
});

describe('retention and close()', () => {
  it('close() waits for a running pass, and no pass starts after it', async () => {
    const dir = await template(5 * PER_SEG + 1);
    // The pass at open is under way (its native part queued) when open resolves.
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxBytes: 1, maxAgeMs: 1 } });
    await log.close();
    const st = log.stats().retention;
    expect(st.passes).toBe(1);
    expect(st.segmentsDeleted).toBe(5);
    expect(bases(dir)).toEqual([80]);
    await expect(log[kRetentionPass]()).resolves.toEqual(st);
    const again = await lib.CommitLog.open(dir, O);
    expect(again.firstSeq).toBe(80);
    await again.close();
  });

  it('does not wait for a hold-back function that never answers', async () => {
    const dir = await template(3 * PER_SEG + 1);
    const log = await lib.CommitLog.open(dir, O);
    const h = log[kHandle];
    let answer!: (v: number | undefined) => void;
    let passes = 0;
    const r = new Retention(
      { maxBytes: 1, maxAgeMs: 0, holdForCursors: 'all' },
      {
        pass: (holdSeq, now) => {
          passes++;
          return h.retain(1, 0, holdSeq, now);
        },
        segmentsAdded: () => h.segmentsAdded(),
        holdBack: () => new Promise((resolve) => (answer = resolve)),
      },
    );
    await vi.waitFor(() => expect(answer).toBeDefined()); // the pass at construction waits on holdBack
    await r.stop();
    answer(undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(passes).toBe(0);
    expect(bases(dir)).toEqual([0, 16, 32, 48]);
    await log.close();
  });
});

describe('retention options', () => {
  it.each([
    [null, 'ERR_INVALID_ARG_TYPE'],
    [[], 'ERR_INVALID_ARG_TYPE'],
    [5, 'ERR_INVALID_ARG_TYPE'],
    [{}, 'ERR_INVALID_ARG_VALUE'],
    [{ holdForCursors: true }, 'ERR_INVALID_ARG_VALUE'],
    [{ maxBytes: 10, maxBites: 10 }, 'ERR_INVALID_ARG_VALUE'],
    [{ maxBytes: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ maxBytes: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ maxBytes: 1.5 }, 'ERR_OUT_OF_RANGE'],
    [{ maxBytes: 2 ** 53 }, 'ERR_OUT_OF_RANGE'],
    [{ maxBytes: '1000' }, 'ERR_INVALID_ARG_TYPE'],
    [{ maxAgeMs: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ maxAgeMs: Infinity }, 'ERR_OUT_OF_RANGE'],
    [{ maxAgeMs: 1000, holdForCursors: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
  ])('rejects retention: %j with %s, before touching the directory', async (retention, code) => {
    const dir = path.join(tmpDir(), 'log');
    await expect(lib.CommitLog.open(dir, { retention } as never)).rejects.toMatchObject({ code });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('accepts each bound alone, both, and holdForCursors', async () => {
    for (const retention of [{ maxBytes: 1 }, { maxAgeMs: 1 }, { maxBytes: 1, maxAgeMs: 1, holdForCursors: false }, { maxBytes: 1, holdForCursors: true }]) {
      const log = await lib.CommitLog.open(tmpDir(), { ...O, retention });
      await log.close();
    }
  });
});

describe('retention under faults', () => {
  /** Steps a log's open and its pass at open take, and the first sequence number after it. */
  async function probe(dir: string, opts: object) {
    fault.arm({ trackDurability: true });
    const log = await lib.CommitLog.open(copyOf(dir), opts);
    await log[kRetentionPass]();
    const steps = fault.steps();
    const first = log.firstSeq;
    await log.close();
    fault.disarm();
    return { steps, first };
  }

  it('keeps every record at or past the log start when a pass is interrupted at every step, through a restart and a power loss', async () => {
    const n = 6 * PER_SEG + 3; // segments 0 .. 96
    const tpl = await template(n);
    const before = bases(tpl);
    const opts = { ...O, retention: { maxBytes: 2 * SEG } };
    const { steps, first: decided } = await probe(tpl, opts);
    expect(decided).toBe(5 * PER_SEG);
    let cases = 0;
    const truncatedStarts = new Set<number>();
    for (let crashAt = 0; crashAt <= steps; crashAt++) {
      for (const [seed, dirKeep, restart] of [[1, 0, false], [2, 0.5, true], [3, 1, false], [4, 0.5, false], [5, 0, true]] as const) {
        const dir = copyOf(tpl);
        const where = `crash at step ${crashAt} of ${steps}, seed ${seed}, dirKeep ${dirKeep}, restart ${restart}`;
        fault.arm({ trackDurability: true, crashAt, seed });
        const log = await lib.CommitLog.open(dir, opts).catch(() => undefined);
        if (log) await log[kRetentionPass]();
        fault.crash();
        await log?.close().catch(() => {});
        let appended: number | undefined;
        if (restart) {
          // kill -9 and a new process, on the page cache the dead one left: it must open strictly.
          fault.restart({ seed });
          const mid = await lib.CommitLog.open(dir, O);
          expect(mid.recovery.corruption, where).toBe(false);
          appended = await mid.append(recordBytes(n, 4000));
          fault.crash();
          await mid.close().catch(() => {});
        }
        fault.powerLoss({ seed, keep: 0.5, dirKeep });
        fault.disarm();
        const again = await lib.CommitLog.open(dir, O);
        expect(again.recovery.corruption, where).toBe(false);
        const first = again.firstSeq;
        expect(before, where).toContain(first);
        expect(first, where).toBeLessThanOrEqual(decided);
        expect(bases(dir)[0], where).toBe(first);
        const end = appended === undefined ? n : appended + 1;
        expect(await readChecked(again), where).toEqual(range(first, end));
        await again.close();
        truncatedStarts.add(first);
        cases++;
      }
    }
    // The crashes landed both before and after the decision became durable.
    expect(truncatedStarts.has(0)).toBe(true);
    expect(truncatedStarts.has(decided)).toBe(true);
    console.log(`retention crash: ${cases} cases over ${steps + 1} crash points, log starts seen: ${[...truncatedStarts].join(",")}`);
    expect(cases).toBeGreaterThan(50);
  });

  it.each([
    ['an unlink', { failAt: 0, kind: 'unlink', errno: EIO }, 'EIO'],
    ["the CHECKPOINT's fdatasync", { failAt: 0, kind: 'sync', errno: EIO }, 'EIO'],
    ['the final directory sync', { failAt: 2, kind: 'sync', errno: EIO }, 'EIO'],
  ])('counts a pass that fails on %s, and the log goes on', async (_, plan, code) => {
    const dir = await template(3 * PER_SEG + 1); // segments 0, 16, 32, 48
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxAgeMs: HOUR } });
    await log[kRetentionPass](); // the pass at open: nothing is an hour old
    fault.arm(plan);
    const st = await log[kRetentionPass](Date.now() + 2 * HOUR);
    fault.disarm();
    expect(st.failures).toBe(1);
    expect(st.lastError).toContain(code);
    expect(st.lastError).toMatch(/^retention: /);
    // Not fail-stop: appends and reads go on.
    expect(await log.append(recordBytes(49, 4000))).toBe(49);
    const after = await log[kRetentionPass](Date.now() + 2 * HOUR);
    expect(after.failures).toBe(1);
    expect(log.firstSeq).toBe(48);
    expect(after.segmentsDeleted).toBe(3);
    expect(await readChecked(log)).toEqual([48, 49]);
    await log.close();
    const again = await lib.CommitLog.open(dir, O);
    expect(again.recovery.corruption).toBe(false);
    expect(again.firstSeq).toBe(48);
    expect(bases(dir)).toEqual([48]);
    await again.close();
  });

  it('still deletes on a full disk: the CHECKPOINT is then written in place', async () => {
    const dir = await template(3 * PER_SEG + 1);
    const log = await lib.CommitLog.open(dir, { ...O, retention: { maxAgeMs: HOUR } });
    await log[kRetentionPass]();
    fault.arm({ failAt: 0, kind: 'write', errno: ENOSPC });
    const st = await log[kRetentionPass](Date.now() + 2 * HOUR);
    fault.disarm();
    expect(st.failures).toBe(0);
    expect(bases(dir)).toEqual([48]);
    await log.close();
    const again = await lib.CommitLog.open(dir, O);
    expect(again.firstSeq).toBe(48);
    await again.close();
  });
});
