import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { recordBytes, tmpDir } from './helpers';

async function readAll(log: CommitLog, from?: number) {
  const out: { seq: number; data: Buffer }[] = [];
  for await (const r of log.read(from === undefined ? {} : { from })) out.push({ seq: r.seq, data: Buffer.from(r.data) });
  return out;
}

describe('CommitLog#append()', () => {
  it('numbers records 0, 1, 2, ... and reads them back in order', async () => {
    const log = await CommitLog.open(tmpDir());
    expect(await log.append(Buffer.from('a'))).toBe(0);
    expect(await log.append(Buffer.from('b'))).toBe(1);
    expect(await log.append('c')).toBe(2);
    const all = await readAll(log);
    expect(all.map((r) => [r.seq, r.data.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    await log.close();
  });

  it('accepts empty records, strings as UTF-8, typed arrays and ArrayBuffers', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.append(Buffer.alloc(0));
    await log.append('héllo ✓');
    await log.append(new Uint16Array([1, 2]));
    await log.append(new Uint8Array([9, 8, 7]).buffer);
    await log.append(new DataView(new Uint8Array([5, 6, 7, 8]).buffer, 1, 2));
    const all = await readAll(log);
    expect(all[0].data.length).toBe(0);
    expect(all[1].data.toString('utf8')).toBe('héllo ✓');
    expect([...all[2].data]).toEqual([...Buffer.from(new Uint16Array([1, 2]).buffer)]);
    expect([...all[3].data]).toEqual([9, 8, 7]);
    expect([...all[4].data]).toEqual([6, 7]);
    await log.close();
  });

  it('resolves only once the durable sequence has passed the record', async () => {
    const log = await CommitLog.open(tmpDir());
    const seqs = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(recordBytes(i))));
    for (const s of seqs) expect(log.durableSeq).toBeGreaterThan(s);
    expect(log.stats().durableSeq).toBeGreaterThanOrEqual(100);
    await log.close();
  });

  it('gives 10,000 appends from 1,000 concurrent callers unique gap-free numbers, with far fewer syncs, and reads them back identical after reopen', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 1 << 20 });
    const bySeq = new Map<number, Buffer>();
    let next = 0;
    const callers = Array.from({ length: 1000 }, async () => {
      for (let k = 0; k < 10; k++) {
        const i = next++;
        const data = recordBytes(i, 1 + (i % 300));
        const seq = await log.append(data);
        expect(bySeq.has(seq)).toBe(false);
        bySeq.set(seq, data);
      }
    });
    await Promise.all(callers);
    const stats = log.stats();
    expect(stats.records).toBe(10_000);
    expect(stats.syncs).toBeGreaterThan(0);
    // How much the closed-loop rounds share depends on how fast this (shared,
    // 2-core) machine runs the JS thread against the flusher; the bound is
    // loose on purpose. The one-tick burst below is the strict check.
    expect(stats.syncs).toBeLessThan(10_000 / 4);
    expect(stats.segmentsRolled).toBeGreaterThan(0);
    await log.close();
    expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));

    const again = await CommitLog.open(dir);
    const all = await readAll(again);
    expect(all.length).toBe(10_000);
    for (const r of all) expect(r.data.equals(bySeq.get(r.seq)!)).toBe(true);
    expect(await again.append('more')).toBe(10_000);
    await again.close();
  });

  it('commits 1,000 appends issued in one tick with a handful of syncs', async () => {
    const log = await CommitLog.open(tmpDir());
    await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(recordBytes(i))));
    const stats = log.stats();
    expect(stats.records).toBe(1000);
    expect(stats.syncs).toBeLessThanOrEqual(50);
    expect(stats.meanRecordsPerBatch).toBeGreaterThanOrEqual(20);
    await log.close();
  });

  it('keeps memory bounded by maxPendingBytes: appends wait for room and still resolve in order', async () => {
    const log = await CommitLog.open(tmpDir(), { maxPendingBytes: 8192, segmentBytes: 1 << 20 });
    const order: number[] = [];
    const ps = Array.from({ length: 500 }, (_, i) => log.append(recordBytes(i, 1000)).then((s) => order.push(s)));
    // While appends wait, nothing beyond the limit is staged.
    expect(log.stats().pendingBytes).toBeLessThanOrEqual(8192);
    await Promise.all(ps);
    expect(order).toEqual(Array.from({ length: 500 }, (_, i) => i));
    const all = await readAll(log);
    expect(all.length).toBe(500);
    all.forEach((r, i) => expect(r.data.equals(recordBytes(i, 1000))).toBe(true));
    await log.close();
  });

  it('accepts a record larger than maxPendingBytes allows when nothing else is pending', async () => {
    const log = await CommitLog.open(tmpDir(), { maxPendingBytes: 4096, maxRecordBytes: 100_000 });
    const big = recordBytes(7, 100_000);
    const seq = await log.append(big);
    const all = await readAll(log);
    expect(all[seq].data.equals(big)).toBe(true);
    await log.close();
  });
});

describe('CommitLog#appendMany()', () => {
  it('gives a group consecutive numbers and resolves with the first', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.append('x');
    const first = await log.appendMany(['a', Buffer.from('b'), new Uint8Array([99])]);
    expect(first).toBe(1);
    expect(await log.append('y')).toBe(4);
    const all = await readAll(log);
    expect(all.map((r) => r.data.toString())).toEqual(['x', 'a', 'b', 'c', 'y']);
    await log.close();
  });

  it('puts a whole group in one batch', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.appendMany(Array.from({ length: 1000 }, (_, i) => recordBytes(i)));
    expect(log.stats().batches).toBe(1);
    await log.close();
  });
});

describe('CommitLog#read()', () => {
  it('starts at `from` and stops before `to`', async () => {
    const log = await CommitLog.open(tmpDir());
    for (let i = 0; i < 50; i++) await log.append(String(i));
    const part: string[] = [];
    for await (const r of log.read({ from: 10, to: 15 })) part.push(r.data.toString());
    expect(part).toEqual(['10', '11', '12', '13', '14']);
    const tail = await readAll(log, 48);
    expect(tail.map((r) => r.seq)).toEqual([48, 49]);
    expect(await readAll(log, 50)).toEqual([]);
    await log.close();
  });

  it('reads more records than one chunk holds', async () => {
    const log = await CommitLog.open(tmpDir(), { segmentBytes: 1 << 20 });
    const n = 3000;
    for (let i = 0; i < n; i += 100) {
      await log.appendMany(Array.from({ length: 100 }, (_, k) => recordBytes(i + k, 1500)));
    }
    let count = 0;
    for await (const r of log.read()) {
      expect(r.seq).toBe(count);
      expect(r.data.equals(recordBytes(count, 1500))).toBe(true);
      count++;
    }
    expect(count).toBe(n);
    await log.close();
  });
});
