// Segment recycling (docs/FORMAT.md, "Recycled segments"): segments that
// truncateBefore or retention free become later segments instead of new
// zero-filled files, and their older batches are never read as records, as
// proof, as damage or as a torn tail.
//
// The layout most tests build: an "old" use of 6000-byte records (one batch
// of 8 KiB each, 8 per 64 KiB segment) fills segments 0 and 8, which
// truncateBefore(16) frees; a "new" use of 3000-byte records (4 KiB batches)
// or 9000-byte ones (12 KiB) then writes into one of those files, so that
// its batches end at an older batch's boundary or inside one.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { parseBatches, segmentFiles, tmpDir } from './helpers';

const SEG = 64 * 1024;
const O = { segmentBytes: SEG, alignBytes: 4096, preallocate: 'zero' as const };
const OLD_LEN = 6000; // span 8192
const NEW_LEN = 3000; // span 4096
const BIG_LEN = 9000; // span 12288

/** Record `seq` of a use: its tag and number, then bytes that are never zero. */
function body(tag: 'OLD' | 'NEW', seq: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.write(`${tag}-${seq}-`);
  for (let i = 12; i < len; i++) b[i] = 1 + ((seq * 31 + i * 7) % 250);
  return b;
}

const baseOf = (file: string) => Number(path.basename(file, '.log'));
const ino = (file: string) => fs.statSync(file).ino;
const recycledNames = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('prepared-recycled-'));

interface Built {
  dir: string;
  log: CommitLog;
  /** Expected content by sequence number, of every record appended. */
  want: Map<number, Buffer>;
  /** Inodes of the segments truncateBefore freed. */
  freed: Set<number>;
}

/** 26 old records in segments 0, 8, 16 and 24; truncateBefore(16) frees 0 and 8. */
async function oldLogTruncated(opts: object = {}): Promise<Built> {
  const dir = tmpDir();
  const log = await CommitLog.open(dir, { ...O, ...opts });
  const want = new Map<number, Buffer>();
  for (let i = 0; i < 26; i++) {
    const b = body('OLD', i, OLD_LEN);
    want.set(await log.append(b), b);
  }
  expect(segmentFiles(dir).map(baseOf)).toEqual([0, 8, 16, 24]);
  const freed = new Set(segmentFiles(dir).slice(0, 2).map(ino));
  expect(await log.truncateBefore(16)).toBe(2);
  return { dir, log, want, freed };
}

async function appendNew(b: Built, len: number): Promise<number> {
  const seq = b.log.stats().appendedSeq;
  const data = body('NEW', seq, len);
  expect(await b.log.append(data)).toBe(seq);
  b.want.set(seq, data);
  return seq;
}

/**
 * Appends `len`-byte records until a segment made from a freed file is
 * being written, then more until it holds `k` of them from offset 0;
 * returns that segment. (Which roll takes the freed file depends on the
 * preparer thread: the one prepared at open goes first.)
 */
async function intoRecycled(b: Built, k: number, len = NEW_LEN): Promise<string> {
  const tail = () => segmentFiles(b.dir).at(-1)!;
  for (let n = 0; !b.freed.has(ino(tail())); n++) {
    if (n === 400) throw new Error('no freed segment was reused');
    await appendNew(b, len);
  }
  const seg = tail();
  for (let i = 1; i < k; i++) await appendNew(b, len);
  expect(tail()).toBe(seg);
  expect(b.log.stats().segmentsRecycled).toBeGreaterThanOrEqual(1);
  return seg;
}

async function readAll(log: { read(o?: object): AsyncIterable<{ seq: number; data: Buffer }> }) {
  const got = new Map<number, Buffer>();
  for await (const r of log.read()) got.set(r.seq, Buffer.from(r.data));
  return got;
}

/** Every record read is the one appended at that number; every one appended from `from` on is read. */
function expectExactly(got: Map<number, Buffer>, want: Map<number, Buffer>, from: number) {
  for (const [seq, data] of got) {
    if (!want.get(seq)?.equals(data)) throw new Error(`record ${seq} is not what was appended: ${data.subarray(0, 12).toString()}`);
  }
  for (const [seq] of want) if (seq >= from && !got.has(seq)) throw new Error(`record ${seq} is missing`);
}

/**
 * What kill -9 leaves: the files as the page cache holds them, no clean
 * close. File by file: the background thread may be replacing the
 * CHECKPOINT meanwhile (a temp file can go before it is copied).
 */
function crashCopy(dir: string): string {
  const copy = tmpDir();
  for (const name of fs.readdirSync(dir)) {
    try {
      fs.copyFileSync(path.join(dir, name), path.join(copy, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return copy;
}

describe('segment recycling', () => {
  it('makes a segment freed by truncateBefore into a later segment, instead of a new file', async () => {
    const b = await oldLogTruncated();
    expect(recycledNames(b.dir)).toHaveLength(2);
    const seg = await intoRecycled(b, 3);
    expect(b.log.stats().segmentsRecycled).toBeGreaterThanOrEqual(1);
    expect(fs.statSync(seg).size).toBe(SEG);
    expectExactly(await readAll(b.log), b.want, 16);
    await b.log.close();
    expect(recycledNames(b.dir)).toEqual([]);
    const again = await CommitLog.open(b.dir, O);
    expect(again.recovery.tornTail).toBe(false);
    expect(again.firstSeq).toBe(16);
    expectExactly(await readAll(again), b.want, 16);
    await again.close();
  });

  it('makes segments freed by retention into later segments', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { ...O, retention: { maxBytes: 3 * SEG } });
    const want = new Map<number, Buffer>();
    for (let i = 0; i < 200; i++) {
      const data = body('NEW', i, NEW_LEN);
      want.set(await log.append(data), data);
    }
    const st = log.stats();
    expect(st.retention.segmentsDeleted).toBeGreaterThan(3);
    expect(st.segmentsRecycled).toBeGreaterThan(0);
    await log.close();
    const again = await CommitLog.open(dir, O);
    expect(again.recovery.tornTail).toBe(false);
    expectExactly(await readAll(again), want, again.firstSeq);
    await again.close();
  });

  it('keeps at most recycleSegments freed files and unlinks the others', async () => {
    const b = await oldLogTruncated({ recycleSegments: 1 });
    expect(recycledNames(b.dir)).toHaveLength(1);
    expect(segmentFiles(b.dir).map(baseOf)).toEqual([16, 24]);
    await b.log.close();
  });

  it('unlinks freed segments as before with recycleSegments: 0', async () => {
    const b = await oldLogTruncated({ recycleSegments: 0 });
    expect(recycledNames(b.dir)).toEqual([]);
    for (let i = 0; i < 40; i++) await appendNew(b, NEW_LEN);
    expect(b.log.stats().segmentsRolled).toBeGreaterThanOrEqual(2);
    expect(b.log.stats().segmentsRecycled).toBe(0);
    await b.log.close();
  });

  it("unlinks freed segments with preallocate: 'none', which prepares no segment to reuse them in", async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { ...O, preallocate: 'none' });
    // 16 batches of 4 KiB fill a segment exactly: the grown files are segmentBytes long.
    for (let i = 0; i < 40; i++) await log.append(body('NEW', i, NEW_LEN));
    expect(segmentFiles(dir).map((f) => fs.statSync(f).size)).toEqual([SEG, SEG, 8 * 4096]);
    expect(await log.truncateBefore(32)).toBe(2);
    expect(recycledNames(dir)).toEqual([]);
    await log.close();
  });

  it('unlinks a freed segment that is not exactly segmentBytes long', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, O);
    for (let i = 0; i < 26; i++) await log.append(body('OLD', i, OLD_LEN));
    await log.close();
    // Reopened with larger segments: the old files are too short to reuse.
    const bigger = await CommitLog.open(dir, { ...O, segmentBytes: 2 * SEG });
    expect(await bigger.truncateBefore(16)).toBe(2);
    expect(recycledNames(dir)).toEqual([]);
    await bigger.close();
  });

  it("never returns an older use's record: read(), get() and openReader() end at the new batches", async () => {
    const b = await oldLogTruncated();
    const seg = await intoRecycled(b, 3); // ends inside an old batch
    const base = baseOf(seg);
    const end = b.log.durableSeq;
    expect(end).toBe(base + 3);
    expectExactly(await readAll(b.log), b.want, 16);
    await expect(b.log.get(end)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    const reader = await CommitLog.openReader(b.dir);
    expectExactly(await readAll(reader), b.want, 16);
    await expect(reader.get(end)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await reader.close();
    await b.log.close();
    // Without HEAD a reader proves the end from the files.
    fs.rmSync(path.join(b.dir, 'HEAD'));
    const blind = await CommitLog.openReader(b.dir);
    expectExactly(await readAll(blind), b.want, 16);
    await blind.close();
  });

  for (const [where, k] of [
    ['at an older batch', 2],
    ['inside an older batch', 3],
  ] as const) {
    it(`after a crash, ends a recycled last segment whose new batches end ${where}: no torn tail, nothing saved or zeroed`, async () => {
      const b = await oldLogTruncated();
      const seg = await intoRecycled(b, k);
      const copy = crashCopy(b.dir);
      await b.log.close();
      const file = path.join(copy, path.basename(seg));
      const before = fs.readFileSync(file);
      const again = await CommitLog.open(copy, O);
      expect(again.recovery.corruption).toBe(false);
      expect(again.recovery.tornTail).toBe(false);
      expect(again.recovery.bytesDropped).toBe(0);
      expect(fs.readdirSync(copy).filter((n) => n.endsWith('.broken'))).toEqual([]);
      expect(fs.readFileSync(file).equals(before)).toBe(true);
      expectExactly(await readAll(again), b.want, 16);
      // Appends go on in that segment, and a reopen finds them.
      for (let i = 0; i < 2; i++) {
        const seq = again.stats().appendedSeq;
        const data = body('NEW', seq, NEW_LEN);
        expect(await again.append(data)).toBe(seq);
        b.want.set(seq, data);
      }
      await again.close();
      expect(segmentFiles(copy).at(-1)).toBe(file);
      const third = await CommitLog.open(copy, O);
      expectExactly(await readAll(third), b.want, 16);
      await third.close();
    });
  }

  it('cuts a torn batch in a recycled last segment as a torn tail, and no older batch with it', async () => {
    const b = await oldLogTruncated();
    const seg = await intoRecycled(b, 2); // batches at 0 and 4096; an older one at 8192
    const copy = crashCopy(b.dir);
    await b.log.close();
    // The next batch was being written when the machine stopped: its header
    // sector arrived, the rest did not (the older batch's bytes are there).
    const file = path.join(copy, path.basename(seg));
    const bytes = fs.readFileSync(file);
    const batches = parseBatches(file);
    const last = batches.find((x) => x.baseSeq === baseOf(seg) + 1)!;
    const end = last.offset + last.span;
    const next = Buffer.from(bytes.subarray(last.offset, last.offset + 512));
    next.writeBigUInt64LE(BigInt(last.baseSeq + 1), 16); // base_seq: the next number
    next.writeUInt32LE(last.crc, 32); // prev_crc: chains to the last batch
    next.writeBigUInt64LE(BigInt(end), 40); // file_offset
    next.copy(bytes, end);
    fs.writeFileSync(file, bytes);
    const again = await CommitLog.open(copy, O);
    expect(again.recovery.corruption).toBe(false);
    expect(again.recovery.tornTail).toBe(true);
    expect(again.recovery.offset).toBe(end);
    expect(again.recovery.bytesDropped).toBe(last.span);
    const broken = fs.readFileSync(again.recovery.brokenFile);
    expect(broken.includes('OLD-')).toBe(false);
    // Zeroed up to there, and no further.
    const after = fs.readFileSync(file);
    expect(after.subarray(end, end + last.span).every((x) => x === 0)).toBe(true);
    expect(after.subarray(end + last.span).equals(bytes.subarray(end + last.span))).toBe(true);
    expectExactly(await readAll(again), b.want, 16);
    await again.close();
  });

  it('needs no search after a clean close at a recycled last segment ending inside the last older batch', async () => {
    const b = await oldLogTruncated();
    // The 60000-byte record (15 blocks) ends at 61440, inside the older
    // batch at 57344, the last one: no older batch header lies past it.
    const seg = await intoRecycled(b, 1, 60000);
    expect(fs.readFileSync(seg).subarray(61440, 61440 + 4).toString()).not.toBe('\0\0\0\0');
    await b.log.close();
    const again = await CommitLog.open(b.dir, O);
    expect(again.recovery.tornTail).toBe(false);
    expect(again.recovery.bytesDropped).toBe(0);
    expectExactly(await readAll(again), b.want, 16);
    await again.close();
  });

  it('takes a sealed recycled segment whose last batch ends inside an older batch for whole', async () => {
    const b = await oldLogTruncated();
    // Five 12 KiB batches end at 61440, inside the older batch at 57344;
    // the sixth does not fit and rolls.
    const seg = await intoRecycled(b, 5, BIG_LEN);
    await appendNew(b, BIG_LEN);
    expect(segmentFiles(b.dir).at(-1)).not.toBe(seg);
    const copy = crashCopy(b.dir);
    await b.log.close();
    const again = await CommitLog.open(copy, O);
    expect(again.recovery.corruption).toBe(false);
    expect(again.recovery.tornTail).toBe(false);
    expectExactly(await readAll(again), b.want, 16);
    await again.close();
  });

  it('truncateFrom in a recycled segment zeroes its own batches past the cut, not older ones', async () => {
    const b = await oldLogTruncated();
    const seg = await intoRecycled(b, 2); // batches at 0 and 4096; older ones from 8192 on
    const base = baseOf(seg);
    const before = fs.readFileSync(seg);
    await b.log.truncateFrom(base + 1);
    for (const [seq] of b.want) if (seq > base) b.want.delete(seq);
    const after = fs.readFileSync(seg);
    expect(after.subarray(0, 4096).equals(before.subarray(0, 4096))).toBe(true);
    expect(after.subarray(4096, 8192).every((x) => x === 0)).toBe(true);
    expect(after.subarray(8192).equals(before.subarray(8192))).toBe(true);
    expectExactly(await readAll(b.log), b.want, 16);
    await b.log.close();
    const again = await CommitLog.open(b.dir, O);
    expectExactly(await readAll(again), b.want, 16);
    await again.close();
  });

  it("zeroes a recycled segment past the cut when a 'truncate' recovery gives numbers up after it, so that readers skip them", async () => {
    const b = await oldLogTruncated();
    const seg = await intoRecycled(b, 3); // batches at 0, 4096 and 8192; older ones from 16384 on
    const base = baseOf(seg);
    await b.log.close();
    // Damage to an acknowledged batch: the third one's header.
    const bytes = fs.readFileSync(seg);
    bytes.fill(0x55, 8192, 8192 + 40);
    fs.writeFileSync(seg, bytes);
    await expect(CommitLog.open(b.dir, O)).rejects.toMatchObject({ code: 'ERR_LOG_CORRUPT' });
    const cut = await CommitLog.open(b.dir, { ...O, recovery: 'truncate' });
    expect(cut.recovery.corruption).toBe(true);
    expect([cut.recovery.gapFrom, cut.recovery.gapTo]).toEqual([base + 2, base + 3]);
    b.want.delete(base + 2);
    const data = body('NEW', base + 3, NEW_LEN);
    expect(await cut.append(data)).toBe(base + 3);
    b.want.set(base + 3, data);
    expect(fs.readFileSync(seg).subarray(8192).every((x) => x === 0)).toBe(true);
    await cut.close();
    const reader = await CommitLog.openReader(b.dir);
    expectExactly(await readAll(reader), b.want, 16);
    await reader.close();
    const again = await CommitLog.open(b.dir, O);
    expectExactly(await readAll(again), b.want, 16);
    await again.close();
  });

  it("opens strictly when a power loss brought a recycled file's old name back beside its new segment name", async () => {
    const b = await oldLogTruncated();
    const copy = crashCopy(b.dir);
    await b.log.close();
    // What a power loss can leave of truncateBefore's rename and a roll's,
    // neither of them made durable yet: the file that was segment 0 is
    // segment 26 (no batch in it yet) and segment 0 again.
    const recycled = path.join(copy, 'prepared-recycled-0.tmp');
    const seg26 = path.join(copy, '00000000000000000026.log');
    const seg0 = path.join(copy, '00000000000000000000.log');
    fs.linkSync(recycled, seg26);
    fs.linkSync(recycled, seg0);
    fs.unlinkSync(recycled);
    expect(parseBatches(seg26)[0].baseSeq).toBe(0);
    const again = await CommitLog.open(copy, O);
    expect(again.recovery.corruption).toBe(false);
    expect(again.recovery.tornTail).toBe(false);
    expect(again.recovery.truncationFinished).toBe(1);
    expect(fs.existsSync(seg0)).toBe(false);
    expect(again.firstSeq).toBe(16);
    expectExactly(await readAll(again), b.want, 16);
    // Appends go into segment 26, over the older batches.
    const data = body('NEW', 26, NEW_LEN);
    expect(await again.append(data)).toBe(26);
    b.want.set(26, data);
    await again.close();
    expect(segmentFiles(copy).at(-1)).toBe(seg26);
    const third = await CommitLog.open(copy, O);
    expectExactly(await readAll(third), b.want, 16);
    await third.close();
  });

  it('removes freed segments waiting for reuse that a crash left', async () => {
    const b = await oldLogTruncated();
    const copy = crashCopy(b.dir);
    await b.log.close();
    expect(recycledNames(copy)).toHaveLength(2);
    const again = await CommitLog.open(copy, O);
    expect(recycledNames(copy)).toEqual([]);
    expect(again.firstSeq).toBe(16);
    await again.close();
  });

  it('validates recycleSegments', async () => {
    const dir = tmpDir();
    for (const [value, code] of [
      [-1, 'ERR_OUT_OF_RANGE'],
      [1.5, 'ERR_OUT_OF_RANGE'],
      [1025, 'ERR_OUT_OF_RANGE'],
      ['2', 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      await expect(CommitLog.open(dir, { recycleSegments: value as number })).rejects.toMatchObject({ code });
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  // From the review of issue 10 (each failed before its fix: the recycled
  // segments kept the old mode, and the snapshot was overwritten).
  it('does not recycle a freed segment whose mode differs from the mode option the log now runs with: new segments get the option', async () => {
    for (const [before, now] of [
      [0o640, 0o600],
      [0o600, 0o640],
    ]) {
      const dir = tmpDir();
      let log = await CommitLog.open(dir, { ...O, mode: before });
      for (let i = 0; i < 26; i++) await log.append(body('OLD', i, OLD_LEN));
      await log.close();
      log = await CommitLog.open(dir, { ...O, mode: now });
      await log.truncateBefore(16);
      for (let n = 0; n < 100; n++) await log.append(body('NEW', log.durableSeq, NEW_LEN));
      const made = segmentFiles(dir).filter((f) => baseOf(f) >= 26);
      expect(made.length).toBeGreaterThan(1);
      for (const f of made) expect(fs.statSync(f).mode & 0o777, path.basename(f)).toBe(now);
      await log.close();
    }
  });

  it('does not recycle a freed segment that has another hard link (a cp -al or rsync --link-dest backup stays intact)', async () => {
    const dir = tmpDir();
    const snap = tmpDir();
    const log = await CommitLog.open(dir, O);
    for (let i = 0; i < 26; i++) await log.append(body('OLD', i, OLD_LEN));
    for (const f of segmentFiles(dir).slice(0, 2)) fs.linkSync(f, path.join(snap, path.basename(f)));
    const before = segmentFiles(snap).map((f) => fs.readFileSync(f));
    await log.truncateBefore(16);
    for (let n = 0; n < 60; n++) await log.append(body('NEW', log.durableSeq, NEW_LEN));
    segmentFiles(snap).forEach((f, i) => expect(fs.readFileSync(f).equals(before[i]), path.basename(f)).toBe(true));
    await log.close();
  });
});
