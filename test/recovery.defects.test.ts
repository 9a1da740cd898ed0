// Regression tests for the recovery defects of issue 9 that plain file
// surgery can show (the ones that need a power loss with restarts are in
// powerloss.test.ts). Each failed on the code before its fix.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { isRoot, mountTmpfs, parseBatches, recordBytes, segmentFiles, tmpDir, writeV1Log } from './helpers';

const SMALL = { segmentBytes: 64 * 1024 };

async function seqs(log: CommitLog, from?: number): Promise<number[]> {
  const out: number[] = [];
  for await (const r of log.read(from === undefined ? {} : { from })) out.push(r.seq);
  return out;
}

/** A closed log of `n` records of 4000 bytes: one batch each, 16 per 64 KiB segment. */
async function multiSegmentLog(dir: string, n: number, opts = {}) {
  const log = await CommitLog.open(dir, { ...SMALL, ...opts });
  for (let i = 0; i < n; i++) await log.append(recordBytes(i, 4000));
  await log.close();
  return segmentFiles(dir);
}

const baseOf = (file: string) => Number(path.basename(file, '.log'));

describe('recovery after damage (issue 9)', () => {
  it("'truncate' recovery deletes every segment after the cut, so that later rolls and strict opens work (defect 2)", async () => {
    const dir = tmpDir();
    const segs = await multiSegmentLog(dir, 60);
    expect(segs.length).toBeGreaterThanOrEqual(4);
    const b = parseBatches(segs[0]);
    const buf = fs.readFileSync(segs[0]);
    buf[b[3].offset + 100] ^= 0x10; // acknowledged damage in a sealed segment
    fs.writeFileSync(segs[0], buf);
    const log = await CommitLog.open(dir, { ...SMALL, recovery: 'truncate' });
    expect(log.recovery.corruption).toBe(true);
    expect(log.recovery.segmentsDropped).toBe(segs.length - 1);
    // Records 3..59 were acknowledged: their numbers are given up.
    expect([log.recovery.gapFrom, log.recovery.gapTo]).toEqual([3, 60]);
    for (const s of segs.slice(1)) expect(fs.existsSync(s)).toBe(false);
    for (let i = 0; i < 40; i++) expect(await log.append(recordBytes(1000 + i, 4000))).toBe(60 + i);
    await log.close();
    const again = await CommitLog.open(dir, SMALL);
    expect(again.recovery.corruption).toBe(false);
    const want = [0, 1, 2, ...Array.from({ length: 40 }, (_, i) => 60 + i)];
    expect(await seqs(again)).toEqual(want);
    await again.close();
  });

  it('never lets a segment roll replace an existing file (defect 2)', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { ...SMALL, preallocate: 'zero' });
    // One 4000-byte record per batch (span 4096): the 17th record rolls to segment 16.
    const stray = path.join(dir, '00000000000000000016.log');
    fs.writeFileSync(stray, 'not yours');
    let failure: { code?: string } | undefined;
    for (let i = 0; i < 20 && !failure; i++) failure = await log.append(recordBytes(i, 4000)).then(() => undefined, (e) => e);
    expect(failure?.code).toBe('EEXIST');
    await log.close().catch(() => {});
    expect(fs.readFileSync(stray, 'utf8')).toBe('not yours');
  });

  it('rejects a strict open whose oldest segment is missing (defect 3)', async () => {
    const dir = tmpDir();
    const segs = await multiSegmentLog(dir, 40);
    fs.rmSync(segs[0]);
    const err = await CommitLog.open(dir, SMALL).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
  });

  it('finishes a truncateBefore of which only a later unlink reached the disk (defect 3)', async () => {
    const dir = tmpDir();
    const segs = await multiSegmentLog(dir, 70);
    expect(segs.length).toBeGreaterThanOrEqual(4);
    const first = fs.readFileSync(segs[0]);
    const log = await CommitLog.open(dir, SMALL);
    expect(await log.truncateBefore(baseOf(segs[2]))).toBe(2);
    await log.close();
    fs.writeFileSync(segs[0], first); // its unlink was lost, the next one's was not
    const again = await CommitLog.open(dir, SMALL);
    expect(again.recovery.truncationFinished).toBe(1);
    expect(again.recovery.corruption).toBe(false);
    expect(fs.existsSync(segs[0])).toBe(false);
    expect(again.firstSeq).toBe(baseOf(segs[2]));
    const got = await seqs(again);
    expect(got[0]).toBe(baseOf(segs[2]));
    expect(got.at(-1)).toBe(69);
    await again.close();
  });

  it("does not take another log's batch image inside a torn record for proof of acknowledgement (defect 7)", async () => {
    // Another log whose second batch sits at offset 4096.
    const other = tmpDir();
    const o = await CommitLog.open(other, { alignBytes: 512 });
    await o.append(Buffer.alloc(4000, 1));
    await o.append(Buffer.alloc(100, 2));
    await o.append(Buffer.alloc(100, 3));
    await o.close();
    const [oseg] = segmentFiles(other);
    const ob = parseBatches(oseg).find((b) => b.offset === 4096)!;
    expect(ob.commitSeq).toBeGreaterThan(0);
    const image = fs.readFileSync(oseg).subarray(ob.offset, ob.offset + ob.span);

    const dir = tmpDir();
    const log = await CommitLog.open(dir, { alignBytes: 512 });
    const durableCheckpoint = fs.readFileSync(path.join(dir, 'CHECKPOINT')); // nothing acknowledged yet
    // A record whose payload holds that image exactly at file offset 4096.
    const [seg] = segmentFiles(dir);
    const payloadAt = 72 + 4; // v2 header + record frame
    const record = Buffer.concat([Buffer.alloc(4096 - payloadAt, 7), image, Buffer.alloc(100, 7)]);
    await log.append(record);
    await log.close();
    // The machine lost power while that batch was being written: its first
    // sector never arrived, the rest did, and it was never acknowledged.
    const bytes = fs.readFileSync(seg);
    bytes.fill(0, 0, 512);
    fs.writeFileSync(seg, bytes);
    fs.writeFileSync(path.join(dir, 'CHECKPOINT'), durableCheckpoint);
    const again = await CommitLog.open(dir, { alignBytes: 512 });
    expect(again.recovery.tornTail).toBe(true);
    expect(again.recovery.corruption).toBe(false);
    expect(await seqs(again)).toEqual([]);
    await again.close();
  });

  it("appends with sync 'direct' after alignBytes grew, by rolling to a new segment (defect 10)", async () => {
    const dir = tmpDir();
    const a = await CommitLog.open(dir, { alignBytes: 512 });
    await a.append('small');
    await a.close();
    const log = await CommitLog.open(dir, { alignBytes: 4096, sync: 'direct' });
    expect(await log.append('after')).toBe(1);
    await log.close();
    expect(segmentFiles(dir).map(baseOf)).toEqual([0, 1]);
    const again = await CommitLog.open(dir);
    expect(await seqs(again)).toEqual([0, 1]);
    await again.close();
  });

  it.skipIf(!isRoot())('opens a log with a torn tail on a full disk, without the .broken copy (defect 9)', async () => {
    const m = mountTmpfs(512 * 1024);
    if ('reason' in m) throw new Error(m.reason);
    try {
      const dir = path.join(m.dir, 'log');
      const log = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 128 * 1024, preallocate: 'zero' });
      for (let i = 0; i < 5; i++) await log.append(recordBytes(i, 300));
      await log.close();
      const [seg] = segmentFiles(dir);
      const b = parseBatches(seg);
      const last = b[b.length - 1];
      // A torn batch after the last one: a copy of it whose checksum fails.
      const bytes = fs.readFileSync(seg);
      const torn = Buffer.from(bytes.subarray(last.offset, last.offset + last.span));
      torn[100] ^= 0xff;
      torn.copy(bytes, last.offset + last.span);
      fs.writeFileSync(seg, bytes);
      // Fill the disk.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${path.join(m.dir, 'filler')}`, 'bs=4096'], { stdio: 'pipe' });
      } catch {
        /* ENOSPC ends dd */
      }
      const again = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 128 * 1024 });
      expect(again.recovery.tornTail).toBe(true);
      expect(again.recovery.brokenFile).toBe('');
      expect(again.recovery.brokenError).toMatch(/ENOSPC|No space/);
      expect(await seqs(again)).toEqual([0, 1, 2, 3, 4]);
      await again.close().catch(() => {});
    } finally {
      m.unmount();
    }
  });
});

describe('version 1 logs', () => {
  for (const checkpoint of [true, false]) {
    it(`open, read and continue a version 1 log ${checkpoint ? 'with' : 'without'} its CHECKPOINT, in a new version 2 segment`, async () => {
      const dir = tmpDir();
      const groups = [[Buffer.from('hello'), Buffer.from(''), Buffer.from('abc')], [Buffer.from('xyz')], [recordBytes(9, 700)]];
      writeV1Log(dir, groups, checkpoint);
      expect(parseBatches(segmentFiles(dir)[0]).map((b) => b.version)).toEqual([1, 1, 1]);
      const log = await CommitLog.open(dir);
      expect(log.recovery.corruption).toBe(false);
      const want = groups.flat();
      const got: Buffer[] = [];
      for await (const r of log.read()) got.push(Buffer.from(r.data));
      expect(got).toEqual(want);
      expect(await log.append('v2')).toBe(5);
      await log.close();
      const segs = segmentFiles(dir);
      expect(segs.map(baseOf)).toEqual([0, 5]);
      expect(parseBatches(segs[1]).map((b) => b.version)).toEqual([2]);
      const again = await CommitLog.open(dir);
      expect(await seqs(again)).toEqual([0, 1, 2, 3, 4, 5]);
      await again.close();
    });
  }

  it('rejects damage to an acknowledged version 1 batch with ERR_LOG_CORRUPT', async () => {
    const dir = tmpDir();
    writeV1Log(dir, [[Buffer.from('a')], [Buffer.from('b')], [Buffer.from('c')]], true);
    const seg = segmentFiles(dir)[0];
    const buf = fs.readFileSync(seg);
    buf[512 + 44] ^= 1; // the second batch's record
    fs.writeFileSync(seg, buf);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
  });
});
