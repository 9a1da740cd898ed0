import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { parseBatches, recordBytes, segmentFiles, tmpDir } from './helpers';

const GROUP = 3;

async function readAll(log: CommitLog): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const r of log.read()) {
    expect(r.seq).toBe(out.length);
    out.push(Buffer.from(r.data));
  }
  return out;
}

/**
 * A log of `groups` appendMany groups of GROUP records, one batch each,
 * closed cleanly. Returns its only segment's bytes and batch layout.
 */
async function buildLog(dir: string, groups: number, opts = {}) {
  const log = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 64 * 1024, ...opts });
  for (let g = 0; g < groups; g++) {
    await log.appendMany(Array.from({ length: GROUP }, (_, k) => recordBytes(g * GROUP + k, 30 + g)));
  }
  await log.close();
  const [seg] = segmentFiles(dir);
  return { seg, bytes: fs.readFileSync(seg), batches: parseBatches(seg) };
}

/** Simulates a crash that happened before the last batches were acknowledged: no clean checkpoint. */
function forgetClose(dir: string) {
  fs.rmSync(path.join(dir, 'CHECKPOINT'), { force: true });
}

describe('recovery of a torn tail', () => {
  it('keeps exactly the whole batches before damage at every offset of the last two batches (truncate, garbage, zeros)', async () => {
    const dir = tmpDir();
    const groups = 6;
    const { seg, bytes, batches } = await buildLog(dir, groups);
    expect(batches.length).toBe(groups);
    const first = batches[groups - 2].offset;
    const end = batches[groups - 1].offset + batches[groups - 1].span;
    const intactBefore = (damageAt: number) => batches.filter((b) => b.offset + b.used <= damageAt).length;
    let cases = 0;
    for (const mode of ['truncate', 'garbage', 'zeros'] as const) {
      for (let at = first; at < end; at++) {
        let damaged: Buffer;
        if (mode === 'truncate') {
          damaged = bytes.subarray(0, at);
        } else {
          damaged = Buffer.from(bytes);
          for (let i = at; i < end; i++) damaged[i] = mode === 'zeros' ? 0 : bytes[i] ^ (1 + ((i * 7) % 255));
        }
        fs.writeFileSync(seg, damaged);
        forgetClose(dir);
        const log = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 64 * 1024 });
        const all = await readAll(log);
        const want = intactBefore(at) * GROUP;
        if (all.length !== want) throw new Error(`${mode} at ${at}: got ${all.length} records, want ${want}`);
        all.forEach((b, i) => expect(b.equals(recordBytes(i, 30 + Math.floor(i / GROUP)))).toBe(true));
        if (at % 97 === 0) {
          // The log accepts appends after the cut, and they survive a reopen.
          expect(await log.append('after')).toBe(want);
          await log.close();
          const again = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 64 * 1024 });
          const back = await readAll(again);
          expect(back.length).toBe(want + 1);
          expect(back[want].toString()).toBe('after');
          await again.close();
        } else {
          await log.close();
        }
        cases++;
      }
    }
    expect(cases).toBe(3 * (end - first));
  });

  it('reports the cut and keeps the cut bytes in a .broken side file', async () => {
    const dir = tmpDir();
    const { seg, bytes, batches } = await buildLog(dir, 4);
    const last = batches[3];
    const damaged = Buffer.from(bytes);
    damaged[last.offset + last.used - 1] ^= 0xff;
    fs.writeFileSync(seg, damaged);
    forgetClose(dir);
    const log = await CommitLog.open(dir);
    expect((await readAll(log)).length).toBe(3 * GROUP);
    const rep = log.recovery;
    expect(rep.tornTail).toBe(true);
    expect(rep.corruption).toBe(false);
    expect(rep.file).toBe(seg);
    expect(rep.offset).toBe(last.offset);
    expect(rep.bytesDropped).toBe(last.used);
    expect(fs.readFileSync(rep.brokenFile).subarray(0, last.used).equals(damaged.subarray(last.offset, last.offset + last.used))).toBe(true);
    await log.close();
  });

  it('opens a clean log without reporting anything', async () => {
    const dir = tmpDir();
    await buildLog(dir, 3);
    const log = await CommitLog.open(dir);
    expect(log.recovery.tornTail).toBe(false);
    expect(log.recovery.corruption).toBe(false);
    expect((await readAll(log)).length).toBe(9);
    await log.close();
  });
});

describe('recovery of damaged acknowledged data', () => {
  it('rejects a damaged batch followed by a valid one with ERR_LOG_CORRUPT naming the file and offset, and changes nothing', async () => {
    const dir = tmpDir();
    const { seg, bytes, batches } = await buildLog(dir, 5);
    forgetClose(dir);
    const damaged = Buffer.from(bytes);
    damaged[batches[2].offset + 50] ^= 0x01;
    fs.writeFileSync(seg, damaged);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
    expect(err.path).toBe(seg);
    expect(err.offset).toBe(batches[2].offset);
    expect(fs.readFileSync(seg).equals(damaged)).toBe(true);
  });

  it('rejects a zeroed batch followed by a valid one', async () => {
    const dir = tmpDir();
    const { seg, bytes, batches } = await buildLog(dir, 5);
    forgetClose(dir);
    const damaged = Buffer.from(bytes);
    damaged.fill(0, batches[1].offset, batches[1].offset + batches[1].span);
    fs.writeFileSync(seg, damaged);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
    expect(err.offset).toBe(batches[1].offset);
  });

  it('rejects a log that ends before the checkpoint says it was acknowledged', async () => {
    const dir = tmpDir();
    const { seg, bytes, batches } = await buildLog(dir, 4);
    // Clean close wrote a checkpoint covering all 4 batches: the last one is acknowledged.
    fs.writeFileSync(seg, bytes.subarray(0, batches[3].offset + 10));
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
  });

  it("with recovery: 'truncate' keeps the valid prefix, reports the loss, never reuses an acknowledged number, and opens cleanly afterwards", async () => {
    const dir = tmpDir();
    const { seg, bytes, batches } = await buildLog(dir, 5);
    const damaged = Buffer.from(bytes);
    damaged[batches[2].offset + 45] ^= 0x80;
    fs.writeFileSync(seg, damaged);
    const log = await CommitLog.open(dir, { recovery: 'truncate' });
    expect(log.recovery.corruption).toBe(true);
    expect(log.recovery.offset).toBe(batches[2].offset);
    expect(log.recovery.brokenFile).not.toBe('');
    // Records 6..14 were acknowledged (the clean close's checkpoint says so):
    // their numbers are given up, never handed out again for new content.
    expect(log.recovery.gapFrom).toBe(2 * GROUP);
    expect(log.recovery.gapTo).toBe(5 * GROUP);
    expect((await readAll(log)).length).toBe(2 * GROUP);
    expect(await log.append('next')).toBe(5 * GROUP);
    await log.close();
    for (const recovery of ['strict', 'truncate'] as const) {
      const again = await CommitLog.open(dir, { recovery });
      expect(again.recovery.corruption).toBe(false);
      const seqs: number[] = [];
      for await (const r of again.read()) seqs.push(r.seq);
      expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 15]);
      const tail: number[] = [];
      for await (const r of again.read({ from: 7 })) tail.push(r.seq);
      expect(tail).toEqual([15]);
      await again.close();
    }
  });

  it('rejects damage in a sealed (not the last) segment', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) await log.append(recordBytes(i, 4000));
    await log.close();
    const segs = segmentFiles(dir);
    expect(segs.length).toBeGreaterThan(2);
    const b = parseBatches(segs[0]);
    const buf = fs.readFileSync(segs[0]);
    buf[b[b.length - 1].offset + 100] ^= 0x10;
    fs.writeFileSync(segs[0], buf);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
    expect(err.path).toBe(segs[0]);
  });

  it('rejects a missing segment in the middle', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 64 * 1024 });
    for (let i = 0; i < 50; i++) await log.append(recordBytes(i, 4000));
    await log.close();
    const segs = segmentFiles(dir);
    expect(segs.length).toBeGreaterThan(2);
    fs.rmSync(segs[1]);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
  });

  it('reports a corrupt checkpoint instead of trusting it', async () => {
    const dir = tmpDir();
    await buildLog(dir, 2);
    const cp = path.join(dir, 'CHECKPOINT');
    const b = fs.readFileSync(cp);
    b[20] ^= 1;
    fs.writeFileSync(cp, b);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_CORRUPT');
    const log = await CommitLog.open(dir, { recovery: 'truncate' });
    expect((await readAll(log)).length).toBe(2 * GROUP);
    await log.close();
  });
});
