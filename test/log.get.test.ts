import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { recordBytes, tmpDir } from './helpers';

describe('CommitLog#get()', () => {
  it('returns any record by number across segments and batches, as a buffer of its own', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 1 << 16 });
    const n = 3000;
    for (let i = 0; i < n; i += 100) {
      await log.appendMany(Array.from({ length: 100 }, (_, k) => recordBytes(i + k, 1 + ((i + k) * 7) % 400)));
    }
    expect(log.stats().segments).toBeGreaterThan(5);
    for (const seq of [0, 1, 99, 100, 1234, 2047, n - 1]) {
      const got = await log.get(seq);
      expect(got.equals(recordBytes(seq, 1 + (seq * 7) % 400))).toBe(true);
    }
    const a = await log.get(5);
    a.fill(0);
    expect((await log.get(5)).equals(recordBytes(5, 1 + 35))).toBe(true);
    expect(a.buffer.byteLength).toBeLessThan(4096);
    await log.close();
    // And after a reopen, from the index recovery rebuilt.
    const again = await CommitLog.open(dir, { segmentBytes: 1 << 16 });
    expect((await again.get(2999)).equals(recordBytes(2999, 1 + (2999 * 7) % 400))).toBe(true);
    await again.close();
  });

  it('rejects at or past the durable end with ERR_OUT_OF_RANGE and below firstSeq with ERR_LOG_TRUNCATED', async () => {
    const log = await CommitLog.open(tmpDir(), { segmentBytes: 1 << 16 });
    await expect(log.get(0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError' });
    for (let i = 0; i < 40; i++) await log.appendMany(Array.from({ length: 10 }, (_, k) => recordBytes(i * 10 + k, 1000)));
    await expect(log.get(400)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(await log.truncateBefore(300)).toBeGreaterThan(0);
    expect(log.firstSeq).toBeGreaterThan(0);
    await expect(log.get(log.firstSeq - 1)).rejects.toMatchObject({ code: 'ERR_LOG_TRUNCATED' });
    expect((await log.get(log.firstSeq)).length).toBe(1000);
    await expect(log.get(-1)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(log.get('1' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await log.close();
    await expect(log.get(350)).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
  });

  it('reads a record appended a moment ago while appends continue', async () => {
    const log = await CommitLog.open(tmpDir());
    const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(recordBytes(i))));
    const gets = seqs.map((s, i) => log.get(s).then((b) => b.equals(recordBytes(i))));
    const more = Array.from({ length: 200 }, (_, i) => log.append(recordBytes(200 + i)));
    expect((await Promise.all(gets)).every(Boolean)).toBe(true);
    await Promise.all(more);
    await log.close();
  });
});
