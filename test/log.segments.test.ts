import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { recordBytes, segmentFiles, tmpDir } from './helpers';

const SEG = 64 * 1024;

async function fill(log: CommitLog, n: number, len = 3000) {
  for (let i = 0; i < n; i += 4) {
    await log.appendMany(Array.from({ length: Math.min(4, n - i) }, (_, k) => recordBytes(i + k, len)));
  }
}

describe('segments', () => {
  it('rolls to a new file named by its first sequence number and reads across files', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: SEG });
    await fill(log, 200);
    const segs = segmentFiles(dir);
    expect(segs.length).toBeGreaterThan(3);
    expect(path.basename(segs[0])).toBe('00000000000000000000.log');
    const st = log.stats();
    expect(st.segments).toBe(segs.length);
    expect(st.segmentsRolled).toBe(segs.length - 1);
    let i = 0;
    for await (const r of log.read()) {
      expect(r.data.equals(recordBytes(i, 3000))).toBe(true);
      i++;
    }
    expect(i).toBe(200);
    await log.close();
    // Each later file starts where the previous one ended.
    const again = await CommitLog.open(dir, { segmentBytes: SEG });
    let j = 0;
    for await (const r of again.read({ from: 150 })) expect(r.seq).toBe(150 + j++);
    expect(j).toBe(50);
    await again.close();
  });

  it('uses segments prepared ahead of time when preallocating', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: SEG, preallocate: 'zero' });
    for (let i = 0; i < 100; i++) {
      await log.append(recordBytes(i, 3000));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5)); // let the preparer run
    }
    expect(log.stats().preparedSegmentsUsed).toBeGreaterThan(0);
    for (const f of segmentFiles(dir).slice(0, -1)) expect(fs.statSync(f).size).toBe(SEG);
    await log.close();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('prepared-'))).toEqual([]);
  });

  it.each(['auto', 'zero', 'fallocate', 'none'] as const)('reopens and continues with preallocate: %s', async (preallocate) => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: SEG, preallocate });
    await fill(log, 60);
    await log.close();
    const again = await CommitLog.open(dir, { segmentBytes: SEG, preallocate });
    expect(await again.append('x')).toBe(60);
    let n = 0;
    for await (const _ of again.read()) n++;
    expect(n).toBe(61);
    await again.close();
  });
});

describe('CommitLog#truncateBefore()', () => {
  it('deletes whole segments below the sequence number, never the one being written', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: SEG });
    await fill(log, 200);
    const before = segmentFiles(dir);
    const removed = await log.truncateBefore(120);
    const after = segmentFiles(dir);
    expect(removed).toBe(before.length - after.length);
    expect(removed).toBeGreaterThan(0);
    const first = log.firstSeq;
    expect(first).toBeLessThanOrEqual(120);
    expect(first).toBeGreaterThan(0);
    expect(Number(path.basename(after[0]).slice(0, 20))).toBe(first);
    const seqs: number[] = [];
    for await (const r of log.read()) seqs.push(r.seq);
    expect(seqs[0]).toBe(first);
    expect(seqs[seqs.length - 1]).toBe(199);
    // Everything: still keeps the active segment.
    await log.truncateBefore(1e9);
    expect(segmentFiles(dir).length).toBe(1);
    expect(await log.append('still works')).toBe(200);
    await log.close();
    const again = await CommitLog.open(dir, { segmentBytes: SEG });
    expect(again.firstSeq).toBe(Number(path.basename(segmentFiles(dir)[0]).slice(0, 20)));
    expect(await again.append('and after reopen')).toBe(201);
    await again.close();
  });

  it('rejects reading from a sequence number that was truncated away with ERR_LOG_TRUNCATED', async () => {
    const log = await CommitLog.open(tmpDir(), { segmentBytes: SEG });
    await fill(log, 120);
    await log.truncateBefore(100);
    const it = log.read({ from: 0 });
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_LOG_TRUNCATED' });
    await log.close();
  });
});
