// How appends become batches: the appends of one JavaScript tick are staged
// before the flusher is woken (native Wake::kLater plus one kick per tick,
// lib/log.ts), so callers resumed by the same batch share the next one; a
// long synchronous burst is still written while it goes on.
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { tmpDir } from './helpers';

const record = Buffer.alloc(1000, 0x61);

// A flusher that has just published takes what is staged without a kick
// (that is how it writes one batch right after another): a round starts once
// it had time to park, or a loaded machine lets it take half a round.
const parked = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('batching', () => {
  it('makes one batch of the appends of one tick, round after round', async () => {
    // Woken at the first append, the flusher used to take a few records and
    // sync them alone while the rest of the tick staged the others.
    const log = await CommitLog.open(tmpDir(), { sync: 'fdatasync' });
    // A flusher not parked yet (just started, or back from publishing the
    // last round) takes what is staged without a kick: one append first,
    // and a few split rounds allowed for a loaded machine (seen: 2 of 8
    // runs split one round with two CPU hogs running). Woken at the first
    // append, nearly every round split.
    await log.append(record);
    let split = 0;
    for (let round = 0; round < 30; round++) {
      await parked();
      const before = log.stats().batches;
      const seqs = await Promise.all(Array.from({ length: 48 }, () => log.append(record)));
      expect(seqs).toEqual(Array.from({ length: 48 }, (_, i) => 1 + round * 48 + i));
      const batches = log.stats().batches - before;
      expect(batches, `round ${round}`).toBeLessThanOrEqual(2);
      if (batches > 1) split++;
    }
    expect(split, 'rounds written as two batches').toBeLessThanOrEqual(3);
    await log.close();
  });

  it('waits for callers that append several microtask turns after the first', async () => {
    // Callers resumed together reach append after different numbers of
    // awaits: the kick waits for a turn that appended nothing.
    const log = await CommitLog.open(tmpDir(), { sync: 'fdatasync' });
    await log.append(record); // see above
    let split = 0;
    for (let round = 0; round < 10; round++) {
      await parked();
      const before = log.stats().batches;
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          for (let k = 0; k < i; k++) await null;
          return i % 2 ? log.append(record) : log.appendMany([record, record]);
        }),
      );
      const batches = log.stats().batches - before;
      expect(batches, `round ${round}`).toBeLessThanOrEqual(2);
      if (batches > 1) split++;
    }
    expect(split, 'rounds written as two batches').toBeLessThanOrEqual(1);
    expect(log.stats().appendedSeq).toBe(1 + 10 * 60);
    await log.close();
  });

  it('writes a long synchronous burst while it goes on, not only at its end', async () => {
    // From 64 KiB staged an append wakes the flusher itself: 16 MB appended
    // in one loop is not left for one kick after it.
    const log = await CommitLog.open(tmpDir(), { sync: 'fdatasync' });
    const all: Promise<number>[] = [];
    for (let i = 0; i < 16_000; i++) all.push(log.append(record));
    await Promise.all(all);
    expect(log.stats().batches).toBeGreaterThan(1);
    await log.close();
  });

  it('writes the records of a producer that appends in every microtask turn while it goes on', async () => {
    // `for (...) { log.append(x); await null; }` leaves no turn without an
    // append, so waiting for a quiet turn waits as long as the loop runs:
    // its 1,000 one-byte records (5 KB staged, far below 64 KiB) used to
    // stay unwritten for the whole second the loop took. The kick waits a
    // bounded number of turns instead.
    const log = await CommitLog.open(tmpDir(), { sync: 'fdatasync' });
    const all: Promise<number>[] = [];
    let writtenAt = -1;
    for (let turn = 0; turn < 1000 && writtenAt < 0; turn++) {
      all.push(log.append('x'));
      const until = performance.now() + 1; // the turn's own work
      while (performance.now() < until);
      // The native durable end: the façade's moves only between ticks.
      if (log.stats().durableSeq > 0) writtenAt = turn;
      await null;
    }
    await Promise.all(all);
    expect(writtenAt, 'the turn by which the first record was durable').toBeGreaterThanOrEqual(0);
    expect(writtenAt).toBeLessThan(500);
    await log.close();
  });

  it('writes one batch at a time by default, and the next while one syncs with batchesInFlight: 2', async () => {
    // Callers that each keep several 40 KB appends outstanding: whenever a
    // batch is syncing, more than 64 KiB is staged behind it. One flusher
    // (the default) leaves it for after the sync; two write it meanwhile.
    const big = Buffer.alloc(40_000, 0x62);
    const load = async (log: CommitLog) => {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 25; i++) await Promise.all([log.append(big), log.append(big)]);
        }),
      );
      return log.stats();
    };
    const one = await CommitLog.open(tmpDir(), { sync: 'fdatasync' });
    const s1 = await load(one);
    await one.close();
    expect(s1.batches).toBeGreaterThan(1);
    expect(s1.overlappedBatches, 'batches written while another synced, by default').toBe(0);
    // Whether a batch is staged while another syncs is timing (a loaded
    // machine can sync each batch first): up to five runs until one is.
    let overlapped = 0;
    for (let attempt = 0; attempt < 5 && overlapped === 0; attempt++) {
      const two = await CommitLog.open(tmpDir(), { sync: 'fdatasync', batchesInFlight: 2 });
      overlapped = (await load(two)).overlappedBatches;
      await two.close();
    }
    expect(overlapped, 'batches written while another synced, with batchesInFlight: 2').toBeGreaterThan(0);
  });

  it('a lone append is written: the kick at the end of its tick wakes the flusher', async () => {
    // One caller: its append is written without waiting for anything else
    // (no timer, nothing but the kick at the end of the tick).
    const log = await CommitLog.open(tmpDir(), { sync: 'none' });
    for (let i = 0; i < 200; i++) await log.append(record);
    expect(log.stats().batches).toBe(200);
    await log.close();
  });
});
