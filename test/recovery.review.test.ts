// Independent review (wt-review): reproductions of suspected bugs. Each test
// asserts the documented guarantee, so it FAILS while the bug is present.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFaultAddon, parseBatches, recordBytes, segmentFiles, tmpDir, writeV1Log } from './helpers';

const { lib, fault } = await useFaultAddon();

const SMALL = { segmentBytes: 64 * 1024 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpField(dir: string, off: number): number {
  return Number(fs.readFileSync(path.join(dir, 'CHECKPOINT')).readBigUInt64LE(off));
}

/** The process dies with the log open: no close() checkpoint. */
async function die(log: InstanceType<typeof lib.CommitLog>) {
  fault.arm({});
  fault.crash();
  await log.close().catch(() => {});
  fault.disarm();
}

describe('recovery, as an independent review attacked it', () => {
  it("F1: 'truncate' recovery after a crash gives up every acknowledged number (damage in a sealed segment)", async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, SMALL);
    const acked: number[] = [];
    // One 4000-byte record per batch (span 4096): 16 per segment.
    for (let i = 0; i < 50; i++) acked.push(await log.append(recordBytes(i, 4000)));
    await sleep(300); // the roll checkpoint of the last roll is written
    for (let i = 50; i < 60; i++) acked.push(await log.append(recordBytes(i, 4000)));
    await die(log); // kill -9: the CHECKPOINT is the last roll's
    const segs = segmentFiles(dir);
    expect(segs.length).toBe(4);
    const highestAcked = Math.max(...acked); // 59
    const cpDurable = cpField(dir, 16);
    expect(cpDurable).toBeLessThan(60);
    // Bit rot in an acknowledged batch of the first (sealed) segment.
    const b = parseBatches(segs[0]);
    const buf = fs.readFileSync(segs[0]);
    buf[b[3].offset + 100] ^= 0x10;
    fs.writeFileSync(segs[0], buf);
    const strict = await lib.CommitLog.open(dir, SMALL).catch((e) => e);
    expect(strict.code).toBe('ERR_LOG_CORRUPT');
    const again = await lib.CommitLog.open(dir, { ...SMALL, recovery: 'truncate' });
    const rep = again.recovery;
    const next = await again.append('new content');
    await again.close();
    // Docs: "Acknowledged numbers are never reused" -- every number up to 59 was acknowledged.
    expect({ gapTo: rep.gapTo, next, cpDurable }).toEqual({ gapTo: highestAcked + 1, next: highestAcked + 1, cpDurable });
  });

  it("F2: a second 'truncate' recovery drops the first gap from the CHECKPOINT; the empty segment after it then fails every later open", async () => {
    const dir = tmpDir();
    const T = { ...SMALL, recovery: 'truncate' as const };
    const corruptBatch = (file: string, k: number) => {
      const b = parseBatches(file);
      const buf = fs.readFileSync(file);
      buf[b[k].offset + 100] ^= 0x10;
      fs.writeFileSync(file, buf);
    };
    let log = await lib.CommitLog.open(dir, SMALL);
    for (let i = 0; i < 20; i++) await log.append(recordBytes(i, 4000));
    await log.close();
    corruptBatch(segmentFiles(dir)[0], 3); // damage 1: gap [3, 20), new segment 20
    log = await lib.CommitLog.open(dir, T);
    expect([log.recovery.gapFrom, log.recovery.gapTo]).toEqual([3, 20]);
    for (let i = 0; i < 5; i++) expect(await log.append(recordBytes(100 + i, 4000))).toBe(20 + i);
    await log.close();
    const g = segmentFiles(dir).find((f) => f.endsWith('00000000000000000020.log'))!;
    corruptBatch(g, 0); // damage 2, in the first batch after the gap: gap [20, 25), new segment 25
    log = await lib.CommitLog.open(dir, T);
    expect(log.recovery.gapTo).toBe(25); // gives up [20, 25) (a fix may report it merged with the first: [3, 25))
    const acked: number[] = [];
    for (let i = 0; i < 3; i++) acked.push(await log.append(recordBytes(200 + i, 4000)));
    expect(acked).toEqual([25, 26, 27]);
    await log.close();
    // Nothing was damaged since: a strict open must succeed and read 25..27.
    const strict = await lib.CommitLog.open(dir, SMALL).then(
      async (l) => {
        const seqs: number[] = [];
        for await (const r of l.read()) seqs.push(r.seq);
        await l.close();
        return seqs;
      },
      (e) => `${e.code}: ${e.message}`,
    );
    // And 'truncate' (the only way in once strict refuses) must not delete the acknowledged 25..27.
    const t = await lib.CommitLog.open(dir, T);
    const seqs: number[] = [];
    for await (const r of t.read()) seqs.push(r.seq);
    const rep = t.recovery;
    await t.close();
    expect({ strict, truncate: seqs, segmentsDropped: rep.segmentsDropped }).toEqual({
      strict: [0, 1, 2, 25, 26, 27],
      truncate: [0, 1, 2, 25, 26, 27],
      segmentsDropped: 0,
    });
  });

  it('F3: two truncateBefore calls in flight at once: the in-memory segment list loses live segments', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const dir = tmpDir();
      const log = await lib.CommitLog.open(dir, SMALL);
      for (let i = 0; i < 90; i++) await log.append(recordBytes(i, 4000)); // segments 0, 16, ..., 80
      expect(segmentFiles(dir).length).toBe(6);
      // Retention asks for "before 32" and "before 48" without awaiting the first.
      const [a, b] = await Promise.all([log.truncateBefore(32), log.truncateBefore(48)]);
      const first = log.firstSeq;
      const onDisk = segmentFiles(dir).map((f) => Number(path.basename(f, '.log')));
      const read = await (async () => {
        const seqs: number[] = [];
        for await (const r of log.read({ from: 48 })) seqs.push(r.seq);
        return `${seqs.length} records from ${seqs[0]}`;
      })().catch((e) => `${e.code}: ${e.message}`);
      await log.close();
      outcomes.push(JSON.stringify({ removed: [a, b], first, onDisk, read }));
    }
    // Whatever the order, the log must start at 48 and every record from 48 must read back.
    const want = JSON.stringify({ first: 48, onDisk: [48, 64, 80], read: '42 records from 48' });
    for (const o of outcomes) {
      const { first, onDisk, read } = JSON.parse(o);
      expect(JSON.stringify({ first, onDisk, read }), o).toBe(want);
    }
  });

  it('F3b: the same race aborts the process (assert in SegmentSet::RemoveFirst) with the production addon', () => {
    const dir = tmpDir();
    const script = `
      const { CommitLog } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.js'))});
      (async () => {
        const log = await CommitLog.open(${JSON.stringify(dir)}, { segmentBytes: 64 * 1024 });
        for (let i = 0; i < 90; i++) await log.append(Buffer.alloc(4000, 1));
        await Promise.all([log.truncateBefore(32), log.truncateBefore(64)]);
        await log.append('after retention');
        await log.close();
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, COMMITLOG_TEST_ADDON: '' } });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.trim().split('\n').pop() }).toEqual({ status: 0, signal: null, stderr: '' });
  });

  it('F4: an open that finds its decision already in a CHECKPOINT the page cache shows (not durable) skips writing it, then acts on it', async () => {
    const O = { ...SMALL, preallocate: 'none' as const }; // no preparer thread: steps are deterministic
    const refused: string[] = [];
    let tried = 0;
    for (let crashAt = 0; crashAt < 12; crashAt++) {
      for (let seed = 1; seed <= 4; seed++) {
        const dir = tmpDir();
        // P0: a closed log of 3 segments (0, 16, 32), durable.
        const p0 = await lib.CommitLog.open(dir, O);
        for (let i = 0; i < 40; i++) await p0.append(recordBytes(i, 4000));
        await p0.close();
        // P1: opens (CHECKPOINT {durable 40, first 0}), retention before 16: the
        // process dies at the directory fsync after the CHECKPOINT rename.
        fault.arm({ trackDurability: true });
        const p1 = await lib.CommitLog.open(dir, O);
        fault.restart({ crashAt: 4 }); // open tmp, write, fdatasync, rename, [SyncDir]
        const t = await p1.truncateBefore(16).then(String, (e) => e.code);
        await p1.close().catch(() => {});
        expect(t).toBe('ECANCELED');
        expect(cpField(dir, 48)).toBe(16); // first_seq 16, in the page cache only
        // P2: its decision equals that CHECKPOINT, so it is not rewritten; it
        // finishes the truncation (unlinks segment 0) and dies at step crashAt.
        fault.restart({ crashAt });
        const p2 = await lib.CommitLog.open(dir, O).catch(() => undefined);
        await p2?.close().catch(() => {});
        fault.crash();
        fault.powerLoss({ seed, keep: 1, dirKeep: 0.5 });
        fault.disarm();
        tried++;
        const err = await lib.CommitLog.open(dir, O).then((l) => l.close().then(() => undefined), (e) => e);
        if (err) refused.push(`P2 crash at ${crashAt}, seed ${seed}: ${err.code}: ${err.message}`);
      }
    }
    expect(tried).toBeGreaterThan(0);
    expect(refused).toEqual([]);
  });

  it('F4b: same with the full-disk in-place CHECKPOINT write: a kill -9 before its fdatasync, a normal open, a power loss', async () => {
    const O = { ...SMALL, preallocate: 'none' as const };
    const dir = tmpDir();
    const p0 = await lib.CommitLog.open(dir, O);
    for (let i = 0; i < 40; i++) await p0.append(recordBytes(i, 4000));
    await p0.close();
    fault.arm({ trackDurability: true });
    const p1 = await lib.CommitLog.open(dir, O);
    // The disk is full: the temp CHECKPOINT cannot be written (ENOSPC), so it is
    // written in place; the process is killed before that write's fdatasync.
    fault.restart({ failAt: 0, kind: 'write', errno: 28, crashAt: 5 }); // tmp open, [write], unlink, open, write, [fdatasync]
    const t = await p1.truncateBefore(16).then(String, (e) => e.code);
    await p1.close().catch(() => {});
    expect(t).toBe('ENOSPC'); // the in-place fallback's own failure (the crash) reports the first error
    expect(fault.crashed()).toBe(true);
    expect(cpField(dir, 48)).toBe(16);
    // P2 opens normally, finishes the truncation, appends and is acknowledged.
    fault.restart({});
    const p2 = await lib.CommitLog.open(dir, O);
    const acked = await p2.append('acknowledged after the open');
    expect(fs.existsSync(path.join(dir, '00000000000000000000.log'))).toBe(false);
    fault.crash();
    await p2.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 0 }); // every sector not made durable is lost
    fault.disarm();
    const got = await lib.CommitLog.open(dir, O).then(
      async (l) => {
        const seqs: number[] = [];
        for await (const r of l.read()) seqs.push(r.seq);
        await l.close();
        return seqs.includes(acked) ? 'ok' : `record ${acked} lost`;
      },
      (e) => `${e.code}: ${e.message}`,
    );
    expect(got).toBe('ok');
  });

  it('F5: a CHECKPOINT temp file left by a crashed process with the same pid (a restarted container) makes every open fail', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, SMALL);
    await log.append('acknowledged');
    await log.close();
    // The previous incarnation (same pid: PID namespaces restart at the same
    // number) died inside its first CHECKPOINT write, between creating the
    // temp file and renaming it. The open below is the new incarnation.
    const script = `
      const fs = require('fs');
      const { CommitLog } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.js'))});
      const dir = ${JSON.stringify(dir)};
      fs.writeFileSync(dir + '/CHECKPOINT.tmp-' + process.pid + '-0', 'partial');
      (async () => {
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await CommitLog.open(dir, { segmentBytes: 65536 }).then((l) => l.close().then(() => 'ok'), (e) => e.code + ': ' + e.message);
          console.log(r);
        }
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, COMMITLOG_TEST_ADDON: '' } });
    expect(r.stdout.trim().split('\n')).toEqual(['ok', 'ok']);
  });

  it("F6: a version 1 log whose last segment's FIRST batch is damaged: the acknowledged v1 batches after it are cut as a torn tail", async () => {
    const dir = tmpDir();
    // A version 1 log as a crashed version 1 process left it (no CHECKPOINT:
    // the v1 one lags or is absent; the test for v1 logs without it exists).
    writeV1Log(dir, [[Buffer.from('a')], [Buffer.from('b')], [Buffer.from('c')], [Buffer.from('d')]], false);
    const seg = segmentFiles(dir)[0];
    const buf = fs.readFileSync(seg);
    buf[44] ^= 1; // the first batch's record; batches 1..3 (acknowledged: written after it) follow
    fs.writeFileSync(seg, buf);
    const got = await lib.CommitLog.open(dir).then(
      async (l) => {
        const r = l.recovery;
        await l.close();
        return `opened: tornTail ${r.tornTail}, bytesDropped ${r.bytesDropped}`;
      },
      (e) => e.code,
    );
    // Version 1's own rule (and docs/FORMAT.md: version 1 batches are read "with the same decision"):
    // a valid batch after a damaged one proves the damaged one was acknowledged.
    expect(got).toBe('ERR_LOG_CORRUPT');
  });
});
