// Read-only readers (CommitLog.openReader) under the crash model of
// native/core/fault_io.h. The page cache shows a reader every byte a writer
// wrote; the model knows which of them a power loss keeps. A reader must
// never return a record that a power loss can still take away, nor read on,
// after a writer restarted, in a log that no longer holds what it read.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { everyCrashPoint, parseBatches, segmentFiles, tmpDir, useFaultAddon } from './helpers';

const { lib, fault } = await useFaultAddon();

const EIO = 5;
type Reader = InstanceType<typeof lib.LogReader>;

async function readAll(reader: Reader, from?: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const r of reader.read(from === undefined ? {} : { from })) out.set(r.seq, r.data.toString());
  return out;
}

/** What a new reader of `dir` returns; empty when there is no log there yet. */
async function readerSees(dir: string): Promise<Map<number, string>> {
  const reader = await lib.LogReader.open(dir).catch((e) => {
    if (e.code !== 'ENOENT') throw e;
    return undefined;
  });
  if (!reader) return new Map();
  try {
    return await readAll(reader);
  } finally {
    await reader.close();
  }
}

/** What a strict writer open finds in `dir`. */
async function writerSees(dir: string, opts = {}): Promise<Map<number, string>> {
  const log = await lib.CommitLog.open(dir, opts);
  expect(log.recovery.corruption).toBe(false);
  const out = new Map<number, string>();
  for await (const r of log.read()) out.set(r.seq, r.data.toString());
  await log.close();
  return out;
}

describe('a reader never returns what a power loss can take away', () => {
  it('does not return a batch whose fdatasync failed, though the page cache holds it, and returns it once a later writer made it durable', async () => {
    const dir = tmpDir();
    const O = { preallocate: 'none' as const };
    fault.arm({ trackDurability: true });
    const w = await lib.CommitLog.open(dir, O);
    for (let i = 0; i < 3; i++) await w.append(`acked-${i}`);
    const reader = await lib.LogReader.open(dir);
    const follower = reader.read({ follow: true })[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) expect((await follower.next()).value.data.toString()).toBe(`acked-${i}`);
    fault.restart({ failAt: 0, kind: 'sync', errno: EIO });
    expect((await w.append('written, never synced').catch((e) => e)).code).toBe('EIO');
    // The page cache holds the batch: the one batch reader finds it valid there.
    expect(parseBatches(segmentFiles(dir)[0]).map((b) => b.baseSeq)).toEqual([0, 1, 2, 3]);
    expect(reader.durableSeq).toBe(3);
    expect([...(await readAll(reader)).keys()]).toEqual([0, 1, 2]);
    expect((await reader.get(3).catch((e) => e)).code).toBe('ERR_OUT_OF_RANGE');
    await w.close().catch(() => {});
    // The next writer's recovery reads the device, which (keep: 1) has the batch.
    fault.restart({ keep: 1 });
    const again = await lib.CommitLog.open(dir, O);
    expect(again.durableSeq).toBe(4);
    expect((await reader.get(3)).toString()).toBe('written, never synced');
    // The follower goes on across the restart: what it read is still the log.
    expect((await follower.next()).value).toMatchObject({ seq: 3 });
    await again.close();
    await reader.close();
    expect((await follower.next()).done).toBe(true);
  });

  it('returns, whatever step the writer died at, only records that a power loss right after keeps, before it and after it', async () => {
    const O = { preallocate: 'none' as const, segmentBytes: 64 * 1024, alignBytes: 512 };
    const session = async (dir: string) => {
      const acked = new Map<number, string>();
      const log = await lib.CommitLog.open(dir, O).catch(() => undefined);
      if (!log) return acked;
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          Array.from({ length: 4 }, async (_, k) => {
            const body = `r${round}-${k}-`.padEnd(2000 + k * 3000, 'x');
            const seq = await log.append(body).catch(() => -1);
            if (seq >= 0) acked.set(seq, body);
          }),
        );
      }
      await log.close().catch(() => {});
      return acked;
    };
    fault.arm({ trackDurability: true });
    await session(tmpDir());
    const steps = fault.steps();
    fault.disarm();
    let unsyncedSeen = 0;
    // A batch that splits (a flusher preempted between two appends) adds
    // steps: the crash points go to the end of each run's own session.
    await everyCrashPoint(steps, async (crashAt) => {
      const dir = tmpDir();
      fault.arm({ trackDurability: true, crashAt });
      const acked = await session(dir);
      const reached = fault.crashed();
      // The page cache shows all that was written: more than the disk keeps.
      const written = segmentFiles(dir).flatMap((f) => parseBatches(f)).reduce((n, b) => Math.max(n, b.baseSeq + b.count), 0);
      const before = await readerSees(dir);
      if (reached && written > before.size) unsyncedSeen++;
      fault.crash();
      fault.powerLoss({ seed: crashAt, keep: 0, dirKeep: 0 });
      fault.disarm();
      const after = await readerSees(dir);
      const durable = await writerSees(dir, O);
      for (const [seq, body] of before) expect(durable.get(seq), `crash at step ${crashAt}: record ${seq}, read before the power loss`).toBe(body);
      for (const [seq, body] of after) expect(durable.get(seq), `crash at step ${crashAt}: record ${seq}, read after it`).toBe(body);
      for (const [seq, body] of acked) expect(durable.get(seq), `crash at step ${crashAt}: acknowledged record ${seq}`).toBe(body);
      return reached;
    });
    // The page cache held batches no reader returned (and the power loss took).
    expect(unsyncedSeen).toBeGreaterThan(5);
  });

  it("after a power loss, readers see the last writer open's HEAD, never an older session's: damage to what that open made durable is ERR_LOG_CORRUPT, not the end of the log", async () => {
    const dir = tmpDir();
    const O = { preallocate: 'none' as const, alignBytes: 512 };
    // A sync 'none' session, whose last HEAD (with its no-sync flag) the
    // kernel's writeback has since put on the disk: untracked, so durable.
    const none = await lib.CommitLog.open(dir, { ...O, sync: 'none' });
    for (let i = 0; i < 10; i++) await none.append(`page cache only-${i}`);
    await none.close();
    fault.arm({ trackDurability: true });
    // The next open syncs the 10 records, and publishes that they are durable.
    const log = await lib.CommitLog.open(dir, O);
    for (let i = 0; i < 2; i++) await log.append(`synced-${i}`);
    fault.crash();
    await log.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 0 });
    fault.disarm();
    // A bit of acknowledged record 3 flips.
    const [seg] = segmentFiles(dir);
    const b3 = parseBatches(seg).find((b) => b.baseSeq === 3)!;
    const bytes = fs.readFileSync(seg);
    bytes[b3.offset + 72 + 4] ^= 1;
    fs.writeFileSync(seg, bytes);
    const reader = await lib.LogReader.open(dir);
    expect(reader.durableSeq).toBeGreaterThanOrEqual(10);
    expect((await readAll(reader).catch((e) => e)).code).toBe('ERR_LOG_CORRUPT');
    await reader.close();
  });
});

describe('a reader after a power loss', () => {
  it("starts at the CHECKPOINT's first segment when truncateBefore's HEAD did not survive (found by powerloss.test.ts)", async () => {
    const dir = tmpDir();
    const O = { preallocate: 'none' as const, segmentBytes: 64 * 1024 };
    const first = await lib.CommitLog.open(dir, O);
    for (let i = 0; i < 40; i++) await first.append(`r${i}-`.padEnd(4000, 'x'));
    await first.close();
    fault.arm({ trackDurability: true });
    // This open's HEAD (synced) says the log starts at 0.
    const log = await lib.CommitLog.open(dir, O);
    expect(await log.truncateBefore(32)).toBeGreaterThan(0);
    const start = log.firstSeq;
    fault.crash();
    await log.close().catch(() => {});
    // The CHECKPOINT (synced) says where the log starts; the HEAD saying so and the unlinks are lost.
    fault.powerLoss({ seed: 1, keep: 0, dirKeep: 0 });
    fault.disarm();
    expect(fs.existsSync(segmentFiles(dir)[0])).toBe(true);
    const reader = await lib.LogReader.open(dir);
    expect(reader.firstSeq).toBe(start);
    const got = await readAll(reader);
    expect(Math.min(...got.keys())).toBe(start);
    expect(got.get(39)).toMatch(/^r39-/);
    await reader.close();
  });

  it('reads everything acknowledged before a clean close, though no writer opened the log since', async () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const log = await lib.CommitLog.open(dir, { preallocate: 'none' });
    for (let i = 0; i < 5; i++) await log.append(`acked-${i}`);
    await log.close();
    fault.crash();
    fault.powerLoss({ seed: 1, keep: 0 });
    fault.disarm();
    const reader = await lib.LogReader.open(dir);
    expect(reader.durableSeq).toBe(5);
    expect([...(await readAll(reader)).values()]).toEqual([0, 1, 2, 3, 4].map((i) => `acked-${i}`));
    await reader.close();
  });
});

describe('a reader across a writer restart', () => {
  it('fails an iteration with ERR_LOG_TRUNCATED when the restarted writer gives numbers it read to other records', async () => {
    // Numbers name new records only after what they named was lost: here a
    // sync 'none' writer's page cache, to a power loss the reader outlives,
    // as it outlives a deliberate cut.
    const dir = tmpDir();
    const O = { preallocate: 'none' as const, alignBytes: 512 };
    fault.arm({ trackDurability: true });
    const none = await lib.CommitLog.open(dir, { ...O, sync: 'none' });
    for (let i = 0; i < 10; i++) await none.append(`lost-${i}`);
    const reader = await lib.LogReader.open(dir);
    const follower = reader.read({ follow: true })[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) expect((await follower.next()).value.data.toString()).toBe(`lost-${i}`);
    fault.crash();
    await none.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 0 });
    fault.disarm();
    const log = await lib.CommitLog.open(dir, O);
    expect(log.durableSeq).toBe(0);
    for (let i = 0; i < 15; i++) await log.append(`new-${i}`);
    // Its position (10) is below the new durable end (15), but 0..9 are other records now.
    expect((await follower.next().catch((e) => e)).code).toBe('ERR_LOG_TRUNCATED');
    expect((await readAll(reader)).get(3)).toBe('new-3');
    await log.close();
    await reader.close();
  });
});

describe('readers of a sync none log after a power loss', () => {
  it("stop where recovery ends the log when the oldest segment lost its unsynced batches and a later one was synced (by a cut)", async () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const log = await lib.CommitLog.open(dir, { segmentBytes: 64 * 1024, preallocate: 'none', sync: 'none' });
    // 4000-byte records, 16 to a segment: segments 0 and 16.
    for (let i = 0; i < 20; i++) await log.append(Buffer.alloc(4000, i + 1));
    // The cut syncs segment 16 (its zeroed end); segment 0 was never synced.
    await log.truncateFrom(18);
    fault.crash();
    await log.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 0, dirKeep: 1 });
    fault.disarm();
    const reader = await lib.CommitLog.openReader(dir);
    const byReader: number[] = [];
    for await (const r of reader.read()) byReader.push(r.seq);
    await reader.close();
    const again = await lib.CommitLog.open(dir, { segmentBytes: 64 * 1024 });
    const held: number[] = [];
    for await (const r of again.read()) held.push(r.seq);
    await again.close();
    // Whatever recovery keeps, the reader returned nothing it does not.
    expect(byReader.filter((s) => !held.includes(s))).toEqual([]);
  });
});
