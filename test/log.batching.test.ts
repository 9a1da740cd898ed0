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
    for (let round = 0; round < 30; round++) {
      await parked();
      const before = log.stats().batches;
      const seqs = await Promise.all(Array.from({ length: 48 }, () => log.append(record)));
      expect(seqs).toEqual(Array.from({ length: 48 }, (_, i) => round * 48 + i));
      expect(log.stats().batches - before, `round ${round}`).toBe(1);
    }
    await log.close();
  });

  it('waits for callers that append several microtask turns after the first', async () => {
    // Callers resumed together reach append after different numbers of
    // awaits: the kick waits for a turn that appended nothing.
    const log = await CommitLog.open(tmpDir(), { sync: 'fdatasync' });
    for (let round = 0; round < 10; round++) {
      await parked();
      const before = log.stats().batches;
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          for (let k = 0; k < i; k++) await null;
          return i % 2 ? log.append(record) : log.appendMany([record, record]);
        }),
      );
      expect(log.stats().batches - before, `round ${round}`).toBe(1);
    }
    expect(log.stats().appendedSeq).toBe(10 * 60);
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

  it('a lone append is written: the kick at the end of its tick wakes the flusher', async () => {
    // One caller: its append is written without waiting for anything else
    // (no timer, nothing but the kick at the end of the tick).
    const log = await CommitLog.open(tmpDir(), { sync: 'none' });
    for (let i = 0; i < 200; i++) await log.append(record);
    expect(log.stats().batches).toBe(200);
    await log.close();
  });
});
