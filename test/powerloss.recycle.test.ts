// Segment recycling under the crash model (native/core/fault_io.h): a crash
// at every step of a truncateBefore that recycles and of the rolls that
// reuse the freed files, then a power loss (sectors and directory entries
// kept or lost at random, renames undone), then a strict open; and power
// losses that tear the first new batches of a recycled segment full of
// older ones. After each: every acknowledged record reads back identical,
// every record read is one that was appended at that number (never an older
// use's), a reader in another process returns nothing else, and what
// recovery cuts as a torn tail in a recycled segment ends where a batch
// header of the new use says it wrote (an older use's bytes are not cut, but
// for the one case docs/FORMAT.md says is not told apart).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { everyCrashPoint, segmentFiles, tmpDir, useFaultAddon } from './helpers';

const { lib, fault } = await useFaultAddon();

type Log = Awaited<ReturnType<typeof lib.CommitLog.open>>;

const SEG = 64 * 1024;
const O = { segmentBytes: SEG, alignBytes: 4096, preallocate: 'zero' as const };
const OLD_LEN = 6000; // one 8 KiB batch each, 8 per segment
const NEW_LEN = 3000; // one 4 KiB batch each

function body(tag: 'OLD' | 'NEW', seq: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.write(`${tag}-${seq}-`);
  for (let i = 12; i < len; i++) b[i] = 1 + ((seq * 31 + i * 7) % 250);
  return b;
}

const ino = (file: string) => fs.statSync(file).ino;

/** 26 old records in segments 0, 8, 16 and 24, closed. */
async function template(): Promise<{ dir: string; old: Map<number, Buffer> }> {
  const dir = tmpDir();
  const log = await lib.CommitLog.open(dir, O);
  const old = new Map<number, Buffer>();
  for (let i = 0; i < 26; i++) {
    const b = body('OLD', i, OLD_LEN);
    old.set(await log.append(b), b);
  }
  await log.close();
  return { dir, old };
}

interface Run {
  dir: string;
  /** Inodes of the segments truncateBefore(16) frees. */
  freed: Set<number>;
  /** Their bytes before any reuse (the older use), by inode. */
  older: Map<number, Buffer>;
  /** What was appended at each number (acknowledged or not), old records included. */
  written: Map<number, Buffer>;
  acked: Map<number, Buffer>;
}

function copyOf(t: { dir: string; old: Map<number, Buffer> }): Run {
  const dir = tmpDir();
  fs.cpSync(t.dir, dir, { recursive: true });
  const first = segmentFiles(dir).slice(0, 2);
  const freed = new Set(first.map(ino));
  const older = new Map(first.map((f) => [ino(f), fs.readFileSync(f)]));
  return { dir, freed, older, written: new Map(t.old), acked: new Map(t.old) };
}

async function appendOne(log: Log, run: Run, len: number): Promise<boolean> {
  const seq = log.stats().appendedSeq;
  const data = body('NEW', seq, len);
  run.written.set(seq, data);
  try {
    expect(await log.append(data)).toBe(seq);
  } catch {
    return false;
  }
  run.acked.set(seq, data);
  return true;
}

const inRecycled = (run: Run) => {
  const last = segmentFiles(run.dir).at(-1);
  return last !== undefined && run.freed.has(ino(last));
};

/**
 * One process lifetime: a 60000-byte record, then truncateBefore(16) frees
 * segments 0 and 8, then appends until a segment made of a freed file holds
 * `k` new batches of NEW_LEN and the rest of it is the older use's; stops at
 * the first failure (the crash).
 */
async function recycleLife(run: Run, k: number): Promise<Log | undefined> {
  const log = await lib.CommitLog.open(run.dir, O).catch(() => undefined);
  if (!log) return undefined;
  // The 60000-byte record rolls into a new segment and fills it; appended
  // before any file is freed, it can never land in one (a freed file holding
  // only it is the case the last test but one pins).
  if (!(await appendOne(log, run, 60000))) return log;
  await log.truncateBefore(16).catch(() => {});
  // Which later roll takes a freed file depends on the preparer thread (a
  // roll that finds no prepared file makes a new one): the search is for a
  // NEW_LEN append that starts a segment made of a freed file.
  for (let n = 0; ; n++) {
    if (n === 100) throw new Error('no freed segment was reused');
    const seq = log.stats().appendedSeq;
    if (!(await appendOne(log, run, NEW_LEN))) return log;
    const last = segmentFiles(run.dir).at(-1);
    if (last !== undefined && run.freed.has(ino(last)) && Number(path.basename(last, '.log')) === seq) break;
  }
  for (let i = 1; i < k; i++) if (!(await appendOne(log, run, NEW_LEN))) return log;
  return log;
}

async function readAll(log: { read(o?: object): AsyncIterable<{ seq: number; data: Buffer }> }) {
  const got = new Map<number, Buffer>();
  for await (const r of log.read()) got.set(r.seq, Buffer.from(r.data));
  return got;
}

/** The batch headers (valid or torn) in a file's bytes: offset, first number, span. */
function headersIn(buf: Buffer): { off: number; base: bigint; span: number }[] {
  const out = [];
  for (let off = 0; off + 72 <= buf.length; off += 512) {
    if (buf.readUInt32LE(off + 4) !== 0x31424c43 || buf.readUInt16LE(off + 8) !== 2 || buf.readUInt16LE(off + 10) !== 72) continue;
    out.push({ off, base: buf.readBigUInt64LE(off + 16), span: buf.readUInt32LE(off + 36) });
  }
  return out;
}

/**
 * How far recovery may cut in a recycled segment (`buf`: its bytes before
 * the open; `older`: before the new use) whose walk stopped at `stop`: to
 * the end of the furthest batch header (valid or torn) of the new use, whose
 * first number is at or past the segment's. And the one case
 * docs/FORMAT.md ("Recycled segments") says is not told apart: when no
 * older header lies at or past the stop (the new use overwrote them, or the
 * stop lies inside the last older batch), recovery cannot tell the file is
 * recycled, and the rest of the older batch where the new use's bytes end
 * is cut as a torn tail (a report and a write too many, no record lost).
 */
function cutLimit(buf: Buffer, older: Buffer, file: string, stop: number): number {
  const segBase = BigInt(path.basename(file, '.log'));
  const hs = headersIn(buf);
  let end = 0;
  for (const h of hs) if (h.base >= segBase) end = Math.max(end, h.off + h.span);
  if (!hs.some((h) => h.base < segBase && h.off >= stop)) {
    const at = Math.max(stop, end);
    for (const h of headersIn(older)) if (h.off <= at && at < h.off + h.span) end = Math.max(end, h.off + h.span);
  }
  return end;
}

type Snapshot = Map<string, { ino: number; bytes: Buffer }>;

/** The recycled segments' bytes before an open, by name. */
function snapshot(run: Run): Snapshot {
  return new Map(segmentFiles(run.dir).filter((f) => run.freed.has(ino(f))).map((f) => [f, { ino: ino(f), bytes: fs.readFileSync(f) }]));
}

/**
 * After an open's recovery: in a recycled segment, what it cut (zeroed) ends
 * within cutLimit, and every byte past the zeroed range is as before (an
 * older use's bytes are not written over).
 */
function checkCut(run: Run, snap: Snapshot, report: { file: string; offset: number; bytesDropped: number }, fail: (what: string) => never): void {
  const s = snap.get(report.file);
  if (!s) return;
  const limit = cutLimit(s.bytes, run.older.get(s.ino)!, report.file, report.offset);
  if (report.bytesDropped > 0 && report.offset + report.bytesDropped > Math.max(limit, report.offset)) {
    fail(`recovery cut ${report.bytesDropped} bytes at ${report.offset} of a recycled segment where it may cut to ${limit}`);
  }
  const now = fs.readFileSync(report.file);
  const zeroEnd = Math.min(Math.ceil((report.offset + report.bytesDropped) / 512) * 512, now.length);
  if (!now.subarray(report.offset, zeroEnd).every((x) => x === 0)) fail(`recovery reported a cut at ${report.offset} it did not zero`);
  if (!now.subarray(zeroEnd).equals(s.bytes.subarray(zeroEnd))) fail(`recovery changed bytes past ${zeroEnd} of a recycled segment, past what it cut`);
}

/** After the power loss: a reader, then a strict open; returns the open's recovery report. */
async function verify(run: Run, where: string) {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  // The recycled segments' bytes as the power loss left them, before recovery.
  const before = snapshot(run);
  const reader = await lib.LogReader.open(run.dir);
  const byReader = await readAll(reader).finally(() => reader.close());
  const again = await lib.CommitLog.open(run.dir, O).catch((e) => fail(`strict open failed: ${e.code} ${e.message}`));
  const report = again.recovery;
  if (report.corruption) fail(`recovery reports corruption: ${report.reason}`);
  // Only truncateBefore(16) moves the start: past it, the check of
  // acknowledged records below would skip some.
  if (again.firstSeq !== 0 && again.firstSeq !== 16) fail(`the log starts at ${again.firstSeq}, not 0 or 16`);
  checkCut(run, before, report, fail);
  const got = await readAll(again);
  for (const [seq, data] of got) {
    if (!run.written.get(seq)?.equals(data)) fail(`record ${seq} is not what was appended there: ${data.subarray(0, 12)}`);
  }
  for (const [seq, data] of run.acked) {
    if (seq >= again.firstSeq && !got.get(seq)?.equals(data)) fail(`acknowledged record ${seq} lost`);
  }
  for (const [seq, data] of byReader) {
    if (!got.get(seq)?.equals(data)) fail(`a reader returned record ${seq}, which the log does not hold`);
  }
  // The log goes on: the next number, and a reopen that finds it.
  const next = got.size > 0 ? Math.max(...got.keys()) + 1 : again.firstSeq;
  const data = body('NEW', next, 100);
  const seq = await again.append(data);
  if (seq < next) fail('an append after recovery got a number already used');
  await again.close();
  const reopened = await lib.CommitLog.open(run.dir, O).catch((e) => fail(`reopen failed: ${e.code} ${e.message}`));
  const last = await readAll(reopened);
  await reopened.close();
  if (!last.get(seq)?.equals(data)) fail(`the record appended after recovery (${seq}) is not there after a reopen`);
  return report;
}

describe('segment recycling under power loss', () => {
  it('a crash at every step of a truncateBefore that recycles and of the rolls that reuse the files, then a power loss, keeps every acknowledged record and shows no older one', async () => {
    const t = await template();
    // Steps of an uninterrupted run.
    const probe = copyOf(t);
    fault.arm({ trackDurability: true });
    const p = await recycleLife(probe, 3);
    expect(inRecycled(probe)).toBe(true);
    const total = fault.steps();
    await p!.close();
    fault.disarm();
    const seen = { truncationFinished: 0, recycledTail: 0, tornTail: 0 };
    const points = await everyCrashPoint(total, async (crashAt) => {
      let reached = false;
      for (const [keep, dirKeep] of [
        [0, 0],
        [0.5, 0.5],
        [1, 1],
      ]) {
        const run = copyOf(t);
        fault.arm({ trackDurability: true, crashAt });
        const log = await recycleLife(run, 3);
        // A run that ended before its crash point is not a crash in a
        // recycled segment, though it ends in one: not counted below.
        const crashed = fault.crashed();
        reached ||= crashed;
        fault.crash();
        await log?.close().catch(() => {});
        fault.powerLoss({ seed: crashAt, keep, dirKeep });
        fault.disarm();
        if (crashed && inRecycled(run)) seen.recycledTail++;
        const report = await verify(run, `crash at step ${crashAt} (the probe took ${total}), keep ${keep}, dirKeep ${dirKeep}`);
        if (report.truncationFinished > 0) seen.truncationFinished++;
        if (report.tornTail) seen.tornTail++;
      }
      return reached;
    });
    console.log(`recycling, crash at every step: ${points} crash points (the probe took ${total} steps) x 3 power losses; ${JSON.stringify(seen)}`);
    // The crash points reach both ends: renames undone (the old names back,
    // which the open deletes), and a recycled segment being written.
    expect(seen.truncationFinished).toBeGreaterThan(0);
    expect(seen.recycledTail).toBeGreaterThan(0);
  });

  it('a crash at every step, a restart whose open recovers, appends, then a power loss, keeps what was acknowledged', async () => {
    const t = await template();
    const probe = copyOf(t);
    fault.arm({ trackDurability: true });
    await (await recycleLife(probe, 3))!.close();
    const total = fault.steps();
    fault.disarm();
    const points = await everyCrashPoint(total, async (crashAt) => {
      const where = `crash at step ${crashAt} (the probe took ${total}), then a restart`;
      const run = copyOf(t);
      fault.arm({ trackDurability: true, crashAt });
      const log = await recycleLife(run, 3);
      const reached = fault.crashed();
      fault.crash();
      await log?.close().catch(() => {});
      // The process restarts; the page cache is as the dead one left it.
      fault.restart({});
      const snap = snapshot(run);
      const restarted = await lib.CommitLog.open(run.dir, O);
      expect(restarted.recovery.corruption, where).toBe(false);
      checkCut(run, snap, restarted.recovery, (what) => {
        throw new Error(`${where}: ${what}`);
      });
      for (let i = 0; i < 2; i++) expect(await appendOne(restarted, run, NEW_LEN), where).toBe(true);
      fault.crash();
      await restarted.close().catch(() => {});
      fault.powerLoss({ seed: crashAt, keep: 0, dirKeep: 0.5 });
      fault.disarm();
      await verify(run, where);
      return reached;
    });
    console.log(`recycling, restart: ${points} crash points (the probe took ${total} steps)`);
  });

  it('a crash once a recycled segment holds one batch that ends inside the last older batch cuts at most the rest of that batch (the case FORMAT.md does not tell apart), never a record', async () => {
    const t = await template();
    const run = copyOf(t);
    fault.arm({ trackDurability: true });
    const log = await lib.CommitLog.open(run.dir, O);
    await log.truncateBefore(16);
    // A 60000-byte record fills a segment (15 blocks, to 61440): the one
    // that lands in a freed file ends inside its older batch at 57344, the
    // last one, so no older header lies past the stop.
    for (let n = 0; !inRecycled(run); n++) {
      if (n === 20) throw new Error('no freed segment was reused');
      expect(await appendOne(log, run, 60000)).toBe(true);
      // Every append rolls here, and the preparer writes a CHECKPOINT after
      // each roll before it prepares the next file: let it make a freed
      // file ready (under load it may otherwise never catch up).
      for (let w = 0; w < 500 && log.stats().segmentsRecycled === 0; w++) await new Promise((r) => setTimeout(r, 10));
    }
    fault.crash();
    await log.close().catch(() => {});
    fault.powerLoss({ seed: 1, keep: 1, dirKeep: 1 });
    fault.disarm();
    const report = await verify(run, 'a crash after a 60000-byte record in a recycled segment');
    expect(report.tornTail).toBe(true);
    expect(report.offset).toBe(61440);
    // The older record's frame ends at 57344 + 72 (header) + 4 + 6000.
    expect(report.bytesDropped).toBe(57344 + 72 + 4 + 6000 - 61440);
  });

  it('a power loss that tears the first new batches of a recycled segment full of older ones cuts them as a torn tail, and nothing older', async () => {
    const t = await template();
    const seen = { tornTail: 0, runs: 0 };
    for (const sync of ['fdatasync', 'none'] as const) {
      for (const keep of [0, 0.5, 1]) {
        for (let seed = 1; seed <= 12; seed++) {
          const where = `sync ${sync}, keep ${keep}, seed ${seed}`;
          const run = copyOf(t);
          fault.arm({ trackDurability: true, seed });
          const log = await recycleLife(run, 1 + (seed % 3));
          expect(inRecycled(run), where).toBe(true);
          await log!.close();
          // A session in that segment: appends of several sizes from many
          // callers, and the power goes as soon as the first is acknowledged.
          // They stay in its first half, so that older batches lie past them.
          const live = await lib.CommitLog.open(run.dir, { ...O, sync });
          const pending = Array.from({ length: 6 }, (_, i) => 500 + ((seed * 7919 + i * 3001) % 3500)).map((len) => {
            const seq = live.stats().appendedSeq;
            const p = live.append(body('NEW', seq, len));
            run.written.set(seq, body('NEW', seq, len));
            return p.then(
              (s) => {
                // With sync 'none' an acknowledgement survives a crash of the process, not a power loss.
                if (sync !== 'none') run.acked.set(s, body('NEW', s, len));
              },
              () => {},
            );
          });
          await pending[0];
          fault.crash();
          await Promise.all(pending);
          await live.close().catch(() => {});
          fault.powerLoss({ seed, keep, dirKeep: 1 });
          fault.disarm();
          const report = await verify(run, where);
          if (report.tornTail) seen.tornTail++;
          seen.runs++;
        }
      }
    }
    console.log(`recycling, torn first batches: ${JSON.stringify(seen)}`);
    expect(seen.tornTail).toBeGreaterThan(0);
  });
});
