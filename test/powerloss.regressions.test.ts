// Deterministic crash-model cases for the defects of issue 9 that need a
// restart before the power loss. Each failed on the code before its fix.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { everyCrashPoint, parseBatches, recordBytes, segmentFiles, tmpDir, useFaultAddon } from './helpers';

const { lib, fault } = await useFaultAddon();

const EIO = 5;
const SMALL = { segmentBytes: 64 * 1024 };

async function readAll(dir: string, opts = {}) {
  const log = await lib.CommitLog.open(dir, opts);
  expect(log.recovery.corruption).toBe(false);
  const out = new Map<number, string>();
  for await (const r of log.read()) out.set(r.seq, r.data.toString());
  await log.close();
  return out;
}

/** Appends until the first failure; returns what was acknowledged. */
async function appendAll(log: InstanceType<typeof lib.CommitLog>, n: number, size: number, tag: string) {
  const acked = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const body = `${tag}-${i}-`.padEnd(size, 'x');
    const seq = await log.append(body).catch(() => -1);
    if (seq < 0) break;
    acked.set(seq, body);
  }
  return acked;
}

describe('restart before the power loss', () => {
  it.each([
    ['the directory', false],
    ['a log directory that open created, in its parent,', true],
  ])('makes %s durable on open before acknowledging, whatever step the previous open died at (defect 1)', async (_, nested) => {
    for (let crashAt = 0; crashAt < 24; crashAt++) {
      const dir = nested ? `${tmpDir()}/log` : tmpDir();
      fault.arm({ trackDurability: true, crashAt });
      const first = await lib.CommitLog.open(dir, { preallocate: 'none' }).catch(() => undefined);
      await first?.close().catch(() => {});
      fault.restart({});
      const log = await lib.CommitLog.open(dir, { preallocate: 'none' });
      const acked = await appendAll(log, 3, 10, `c${crashAt}`);
      expect(acked.size).toBe(3);
      fault.crash();
      await log.close().catch(() => {});
      fault.powerLoss({ seed: crashAt, keep: 1, dirKeep: 0 });
      fault.disarm();
      const got = await readAll(dir);
      for (const [seq, body] of acked) expect(got.get(seq), `crash at step ${crashAt}: record ${seq}`).toBe(body);
    }
  });

  it("makes a rolled segment's name durable on open when the process died before the roll's directory fsync (defect 1)", async () => {
    const opts = { preallocate: 'none' as const, segmentBytes: 64 * 1024, alignBytes: 512 };
    // Steps of a run that appends 30 records of 3000 bytes (it rolls at least once).
    const probe = tmpDir();
    fault.arm({ trackDurability: true });
    const p = await lib.CommitLog.open(probe, opts);
    const opened = fault.steps();
    await appendAll(p, 30, 3000, 'probe');
    const total = fault.steps();
    await p.close();
    fault.disarm();
    let crashes = 0;
    for (let crashAt = opened; crashAt < total; crashAt++) {
      const dir = tmpDir();
      fault.arm({ trackDurability: true, crashAt });
      const log = await lib.CommitLog.open(dir, opts);
      const acked = await appendAll(log, 30, 3000, 'a');
      await log.close().catch(() => {});
      fault.restart({});
      const again = await lib.CommitLog.open(dir, opts);
      for (const [seq, body] of await appendAll(again, 8, 3000, 'b')) acked.set(seq, body);
      fault.crash();
      await again.close().catch(() => {});
      fault.powerLoss({ seed: crashAt, keep: 1, dirKeep: 0 });
      fault.disarm();
      const got = await readAll(dir, opts);
      for (const [seq, body] of acked) expect(got.get(seq), `crash at step ${crashAt}: record ${seq}`).toBe(body);
      crashes++;
    }
    expect(crashes).toBeGreaterThan(20);
  });

  it('does not build on a batch whose fdatasync failed in the previous process, though the page cache still shows it (defect 5)', async () => {
    // No preparer thread: the failing sync is the batch's, not a prepared segment's.
    const QUIET = { ...SMALL, preallocate: 'none' as const };
    for (const keep of [0, 0.5, 1]) {
      for (let seed = 1; seed <= 6; seed++) {
        const dir = tmpDir();
        fault.arm({ trackDurability: true });
        const log = await lib.CommitLog.open(dir, QUIET);
        const acked = await appendAll(log, 3, 100, 'a');
        expect(acked.size).toBe(3);
        fault.restart({ failAt: 0, kind: 'sync', errno: EIO });
        const err = await log.append('never acknowledged').catch((e) => e);
        expect(err.code).toBe('EIO');
        await log.close().catch(() => {});
        // "Close and reopen": the pages of the failed batch are still cached.
        fault.restart({ seed, keep });
        const again = await lib.CommitLog.open(dir, QUIET);
        for (const [seq, body] of await appendAll(again, 3, 100, 'b')) acked.set(seq, body);
        fault.crash();
        await again.close().catch(() => {});
        fault.powerLoss({ seed, keep });
        fault.disarm();
        const got = await readAll(dir, QUIET);
        for (const [seq, body] of acked) expect(got.get(seq), `keep ${keep} seed ${seed}: record ${seq}`).toBe(body);
      }
    }
  });

  it("finishes a 'truncate' recovery that a crash interrupted, and never hands out a given-up number (defect 4)", async () => {
    const O = { alignBytes: 512, segmentBytes: 64 * 1024 };
    // A log of 15 records in 5 batches whose third batch is damaged.
    const template = tmpDir();
    const log = await lib.CommitLog.open(template, O);
    for (let g = 0; g < 5; g++) await log.appendMany([`${g}a`, `${g}b`, `${g}c`]);
    await log.close();
    const [seg] = segmentFiles(template);
    const b = parseBatches(seg);
    const bytes = fs.readFileSync(seg);
    bytes[b[2].offset + 80] ^= 0x40;
    fs.writeFileSync(seg, bytes);
    // Steps of an uninterrupted 'truncate' open.
    const probe = tmpDir();
    fs.cpSync(template, probe, { recursive: true });
    fault.arm({ trackDurability: true });
    await (await lib.CommitLog.open(probe, { ...O, recovery: 'truncate' as const })).close();
    const steps = fault.steps();
    fault.disarm();
    let strictOpened = 0;
    // The preparer ('auto') fills a segment beside the open and close: the
    // crash points go to the end of each run's own steps.
    await everyCrashPoint(steps, async (crashAt) => {
      const dir = tmpDir();
      fs.cpSync(template, dir, { recursive: true });
      fault.arm({ trackDurability: true, crashAt });
      const first = await lib.CommitLog.open(dir, { ...O, recovery: 'truncate' as const }).catch(() => undefined);
      await first?.close().catch(() => {});
      const reached = fault.crashed();
      fault.restart({});
      // A strict open refuses only while the loss was not yet accepted durably.
      const strict = await lib.CommitLog.open(dir, O).catch((e) => e);
      let again = strict;
      if (strict instanceof Error) {
        expect((strict as { code?: string }).code).toBe('ERR_LOG_CORRUPT');
        again = await lib.CommitLog.open(dir, { ...O, recovery: 'truncate' as const });
      } else if (reached) {
        // Only crashed runs count: one that ended before its crash point
        // finished its open.
        strictOpened++;
      }
      const seqs: number[] = [];
      for await (const r of again.read()) seqs.push(r.seq);
      expect(seqs, `crash at step ${crashAt}`).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await again.append('next'), `crash at step ${crashAt}`).toBe(15);
      fault.crash();
      await again.close().catch(() => {});
      fault.powerLoss({ seed: crashAt, keep: 0.5 });
      fault.disarm();
      const after = await lib.CommitLog.open(dir, O);
      const back: number[] = [];
      for await (const r of after.read()) back.push(r.seq);
      expect(back, `crash at step ${crashAt}, after power loss`).toEqual([0, 1, 2, 3, 4, 5, 15]);
      await after.close();
      return reached;
    });
    expect(strictOpened).toBeGreaterThan(0);
  });

  it("reads from the device every segment whose sync failed in an open after a 'none' run, not only the last (defect 5)", async () => {
    const O = { segmentBytes: 64 * 1024, preallocate: 'none' as const };
    let failures = 0;
    for (let failAt = 0; failAt < 8; failAt++) {
      const dir = tmpDir();
      fault.arm({ trackDurability: true });
      const none = await lib.CommitLog.open(dir, { ...O, sync: 'none' });
      await appendAll(none, 60, 3000, 'n'); // several segments, never synced
      fault.crash();
      await none.close().catch(() => {});
      // The next open's recovery syncs them; one of those syncs fails.
      fault.restart({ failAt, kind: 'sync', errno: EIO, keep: 0 });
      const failed = await lib.CommitLog.open(dir, O).catch((e) => e);
      if (failed instanceof Error) failures++;
      else await failed.close();
      fault.restart({ keep: 0 });
      const log = await lib.CommitLog.open(dir, O);
      const acked = await appendAll(log, 10, 3000, 'a');
      expect(acked.size).toBe(10);
      fault.crash();
      await log.close().catch(() => {});
      fault.powerLoss({ seed: failAt, keep: 0 });
      fault.disarm();
      const got = await readAll(dir, O);
      for (const [seq, body] of acked) expect(got.get(seq), `sync ${failAt} failed: record ${seq}`).toBe(body);
    }
    expect(failures).toBeGreaterThan(2);
  });

  it("judges a 'none' run's unsynced tail the same after opens that failed half-way through their recovery (defect 6)", async () => {
    const O = { segmentBytes: 64 * 1024, alignBytes: 512 };
    const refused: string[] = [];
    for (let k = 0; k < 8; k++) {
      for (let j = 2; j < 9; j++) {
        for (const keep of [0, 0.5]) {
          const dir = tmpDir();
          fault.arm({ trackDurability: true });
          const none = await lib.CommitLog.open(dir, { ...O, sync: 'none', preallocate: 'fallocate' });
          for (let i = 0; i < 61; i++) await none.append(Buffer.alloc(1500 + (i % 7) * 300, i));
          fault.crash();
          await none.close().catch(() => {});
          // Two opens, each failing at one of its syncs: the first dooms what
          // it syncs, the second cuts and records its decision, then fails.
          fault.restart({ failAt: k, kind: 'sync', errno: EIO, keep, seed: k * 100 + j });
          await lib.CommitLog.open(dir, { ...O, preallocate: 'zero' }).then((l) => l.close(), () => {});
          fault.restart({ failAt: j, kind: 'sync', errno: EIO, keep, seed: k * 100 + j + 7 });
          await lib.CommitLog.open(dir, { ...O, preallocate: 'zero' }).then((l) => l.close(), () => {});
          fault.restart({ keep });
          const err = await lib.CommitLog.open(dir, O).then((l) => l.close().then(() => undefined), (e) => e);
          if (err) refused.push(`sync ${k}, then ${j} failed, keep ${keep}: ${err.message}`);
        }
      }
    }
    expect(refused).toEqual([]);
  });

  it('keeps the start of the log that a truncateBefore on a full disk wrote in place (defect 3)', async () => {
    const O = { segmentBytes: 64 * 1024, preallocate: 'none' as const };
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, O);
    await appendAll(log, 70, 4000, 't');
    await log.close();
    const again = await lib.CommitLog.open(dir, O);
    fault.arm({ trackDurability: true, failAt: 0, kind: 'open', errno: 28 }); // no room for a temp file
    expect(await again.truncateBefore(40)).toBeGreaterThan(0);
    const first = again.firstSeq;
    fault.crash();
    await again.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 0, dirKeep: 1 });
    fault.disarm();
    const after = await lib.CommitLog.open(dir, O);
    expect(after.recovery.corruption).toBe(false);
    expect(after.firstSeq).toBe(first);
    await after.close();
  });
  it("makes a recovery's deletions after a cut durable before the checkpoint that clears a 'none' run's no-sync flag (defect 6)", async () => {
    const O = { segmentBytes: 64 * 1024, preallocate: 'none' as const };
    // A sync 'none' log of two segments whose first lost its last pages (they
    // never were synced) while the second survived: a cut in a sealed segment.
    const tpl = tmpDir();
    const p0 = await lib.CommitLog.open(tpl, { ...O, sync: 'none' });
    for (let i = 0; i < 30; i++) await p0.append(recordBytes(i, 3000));
    await p0.close();
    const segs = segmentFiles(tpl);
    expect(segs.length).toBe(2);
    const cutAt = parseBatches(segs[0])[10].offset;
    fs.truncateSync(segs[0], cutAt); // the pages past the durable size are gone
    const refused: string[] = [];
    let tried = 0;
    for (let crashAt = 8; crashAt < 30; crashAt++) {
      for (let seed = 1; seed <= 6; seed++) {
        const dir = tmpDir();
        fs.cpSync(tpl, dir, { recursive: true });
        // Open with sync 'fdatasync' (nothing was acknowledged durably: no
        // corruption); the process dies at step crashAt; then the power goes.
        fault.arm({ trackDurability: true, crashAt });
        const p1 = await lib.CommitLog.open(dir, O).catch(() => undefined);
        await p1?.close().catch(() => {});
        fault.crash();
        fault.powerLoss({ seed, keep: 1, dirKeep: 0.5 });
        fault.disarm();
        tried++;
        const err = await lib.CommitLog.open(dir, O).then((l) => l.close().then(() => undefined), (e) => e);
        if (err) refused.push(`crash at ${crashAt}, seed ${seed}: ${err.code}: ${err.message}`);
      }
    }
    expect(tried).toBeGreaterThan(0);
    expect(refused).toEqual([]);
  });
});

// A truncateFrom writes its intent (a durable CHECKPOINT) before it zeroes
// the dropped suffix and syncs the segment it keeps. With sync 'none' the
// records below the cut are in the page cache only until that sync: a power
// loss, or a failed fdatasync whose pages are later dropped, can take all of
// them. Recovery then finished the cut on a kept segment that held no batch
// by rolling to a new segment of the same name, and open failed with EEXIST
// (seen once in powerloss.test.ts, round 680 of seed 497886050).
describe("a sync 'none' run's truncateFrom that loses the records below the cut", () => {
  const O = { segmentBytes: 64 * 1024, alignBytes: 512 };
  const shapes = [
    { name: 'one segment', records: 6, size: 100, cut: 3 },
    { name: 'three segments', records: 60, size: 3000, cut: 55 },
  ];

  /** A sync 'none' log with one batch per record; the content of each number. */
  async function noneLog(dir: string, shape: (typeof shapes)[number]) {
    const log = await lib.CommitLog.open(dir, { ...O, sync: 'none' });
    const written = new Map<number, string>();
    for (let i = 0; i < shape.records; i++) {
      const body = `${shape.name}-${i}-`.padEnd(shape.size, 'r');
      written.set(await log.append(body), body);
    }
    return { log, written };
  }

  /**
   * The strict open that finishes the cut, on the fault plan the caller
   * armed (its error, if it fails): what it reads is what was written under
   * that number, and three appends are then acknowledged and survive a
   * power loss that keeps nothing unsynced. `reused` counts opens that went
   * on in the kept segment that held no batch, the same file (the EEXIST case).
   */
  async function openAfter(dir: string, written: Map<number, string>, what: string, counts: { reused: number }) {
    // The same file, not only the same name: a roll to a new segment at the
    // durable end would look the same by name.
    const inodes = new Map(segmentFiles(dir).map((f) => [f, fs.statSync(f).ino]));
    const log = await lib.CommitLog.open(dir, O).catch((e) => e);
    if (log instanceof Error) {
      fault.disarm();
      return log;
    }
    expect(log.recovery.corruption, what).toBe(false);
    const segs = segmentFiles(dir);
    const tail = segs[segs.length - 1];
    if (log.recovery.cutFinished && Number(tail.slice(-24, -4)) === log.durableSeq && inodes.get(tail) === fs.statSync(tail).ino) {
      counts.reused++;
    }
    const seen = new Map<number, string>();
    for await (const r of log.read()) seen.set(r.seq, r.data.toString());
    for (const [seq, body] of seen) expect(body, `${what}: record ${seq}`).toBe(written.get(seq));
    const acked = await appendAll(log, 3, 200, 'after');
    expect(acked.size, what).toBe(3);
    fault.crash();
    await log.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 0, dirKeep: 0 });
    fault.disarm();
    const got = await readAll(dir, O);
    for (const [seq, body] of [...seen, ...acked]) expect(got.get(seq), `${what}: record ${seq} after a power loss`).toBe(body);
    return undefined;
  }

  it.each(shapes)('opens after a power loss at any step of the cut ($name)', async (shape) => {
    const probe = tmpDir();
    fault.arm({ trackDurability: true });
    const p = await noneLog(probe, shape);
    const before = fault.steps();
    await p.log.truncateFrom(shape.cut);
    const steps = fault.steps() - before;
    await p.log.close();
    fault.disarm();
    expect(steps).toBeGreaterThan(5);
    const failed: string[] = [];
    const counts = { reused: 0 };
    // The preparer's fill and CHECKPOINT interleave with the cut ('auto'):
    // the crash points go on to the end of every run's own cut.
    const points = await everyCrashPoint(steps, async (crashAt) => {
      let reached = false;
      for (const keep of [0, 0.5]) {
        const what = `crash at step ${crashAt} of the cut, keep ${keep}`;
        const dir = tmpDir();
        fault.arm({ trackDurability: true });
        const { log, written } = await noneLog(dir, shape);
        fault.restart({ crashAt });
        await log.truncateFrom(shape.cut).catch(() => {});
        reached ||= fault.crashed();
        fault.crash();
        await log.close().catch(() => {});
        fault.powerLoss({ seed: crashAt, keep, dirKeep: keep });
        fault.arm({ trackDurability: true });
        const err = await openAfter(dir, written, what, counts);
        if (err) failed.push(`${what}: ${err.code}: ${err.message}`);
      }
      return reached;
    });
    console.log(`sync 'none' cut (${shape.name}): ${points} crash points (the probe took ${steps} steps), ${counts.reused} reused names`);
    expect(failed).toEqual([]);
    expect(counts.reused).toBeGreaterThan(0);
  });

  it.each(shapes)('opens after any fdatasync of the cut failed, without a power loss ($name)', async (shape) => {
    const probe = tmpDir();
    fault.arm({ trackDurability: true });
    const p = await noneLog(probe, shape);
    const before = fault.steps('sync');
    await p.log.truncateFrom(shape.cut);
    const syncs = fault.steps('sync') - before;
    await p.log.close();
    fault.disarm();
    expect(syncs).toBeGreaterThan(1);
    const failed: string[] = [];
    const counts = { reused: 0 };
    for (let failAt = 0; failAt < syncs; failAt++) {
      for (const keep of [0, 0.5]) {
        const what = `sync ${failAt} of the cut failed, keep ${keep}`;
        const dir = tmpDir();
        fault.arm({ trackDurability: true });
        const { log, written } = await noneLog(dir, shape);
        fault.restart({ failAt, kind: 'sync', errno: EIO, keep, seed: failAt });
        await log.truncateFrom(shape.cut).catch(() => {});
        await log.close().catch(() => {});
        // A restart, no power loss: the open's recovery drops the pages a
        // failed sync doomed, and reads what the disk has.
        fault.restart({ keep, seed: failAt + 100 });
        const err = await openAfter(dir, written, what, counts);
        if (err) failed.push(`${what}: ${err.code}: ${err.message}`);
      }
    }
    expect(failed).toEqual([]);
    expect(counts.reused).toBeGreaterThan(0);
  });
});
