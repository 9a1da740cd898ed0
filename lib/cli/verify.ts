// commitlog verify <dir>: a full scan of every batch (checksums, chain,
// numbering) with the core's one batch reader and the decisions an open
// would make, changing nothing and taking no lock, so it runs beside a live
// writer. fsck-style exit codes (common.ts).
import path from 'node:path';
import type { Command } from 'commander';
import { native, type NativeLogExamination } from '../native';
import { EXIT_DAMAGED, EXIT_OK, EXIT_REPAIRABLE, lockHolder, logDir, out, outJson } from './common';

export type Verdict = 'clean' | 'torn-tail' | 'damaged';

export interface Verification {
  dir: string;
  verdict: Verdict;
  exitCode: number;
  /** What was found, for humans. */
  summary: string;
  /** Pid of the writer holding the log's lock; null if none; undefined if unknown. */
  writerPid: number | null | undefined;
  segments: number;
  batches: number;
  /** The oldest record and the end of the last batch that continues the log. */
  firstSeq: number;
  endSeq: number;
  /** What an open would tidy up by itself; not problems. */
  notes: string[];
  examination: NativeLogExamination;
}

// A live writer changes the log while it is read: a batch half copied into
// the page cache looks torn, and retention may unlink the oldest segment
// between the read of the CHECKPOINT and the listing (a missing segment looks
// like damage). On a live log, a problem is looked at again a few times
// before it counts; real damage stays.
const LIVE_RETRIES = 3;

export async function verifyLog(dir: string): Promise<Verification> {
  logDir(dir);
  const holder = lockHolder(dir);
  const live = holder !== null && holder !== undefined;
  let ex = await examine(dir, live);
  for (let i = 0; live && (ex.strict.tornTail || ex.strict.refused !== undefined) && i < LIVE_RETRIES; i++) {
    await pause();
    ex = await examine(dir, true);
  }
  return judge(dir, ex, holder);
}

function pause(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20));
}

// Retention or truncateBefore in a live writer can unlink a segment between
// the listing and its scan: looked at again (see LIVE_RETRIES).
export async function examine(dir: string, live: boolean): Promise<NativeLogExamination> {
  for (let i = 0; ; i++) {
    try {
      return native.examineLog(dir);
    } catch (err) {
      if (!live || (err as { code?: string }).code !== 'ENOENT' || i === LIVE_RETRIES) throw err;
    }
    await pause();
  }
}

function judge(dir: string, ex: NativeLogExamination, holder: { pid: number } | null | undefined): Verification {
  const segs = ex.segments;
  const v: Verification = {
    dir,
    verdict: 'clean',
    exitCode: EXIT_OK,
    summary: 'clean',
    writerPid: holder === undefined ? undefined : (holder?.pid ?? null),
    segments: segs.length,
    batches: segs.reduce((n, s) => n + s.batches, 0),
    firstSeq: segs.length > 0 ? segs[0].baseSeq : (ex.checkpoint?.firstSeq ?? 0),
    endSeq: segs.length > 0 ? segs[Math.min(ex.stopIndex, segs.length - 1)].endSeq : (ex.checkpoint?.durableSeq ?? 0),
    notes: notes(ex),
    examination: ex,
  };
  const s = ex.strict;
  if (s.refused !== undefined) {
    const t = ex.truncate;
    v.verdict = 'damaged';
    v.exitCode = EXIT_DAMAGED;
    v.summary =
      `damage to acknowledged data: ${s.reason || s.refused}. A strict open refuses this log; ` +
      `'commitlog repair' keeps the records below ${t.gapTo > t.gapFrom ? t.gapFrom : t.nextSeq}` +
      (t.gapTo > t.gapFrom ? ` and gives up ${t.gapFrom}..${t.gapTo - 1}` : '');
  } else if (s.tornTail) {
    v.verdict = 'torn-tail';
    v.exitCode = EXIT_REPAIRABLE;
    v.summary =
      `torn tail: ${s.bytesDropped} bytes at ${path.basename(s.file)} offset ${s.offset} were never acknowledged ` +
      `(${s.reason}); the next open cuts them`;
  }
  return v;
}

function notes(ex: NativeLogExamination): string[] {
  const n: string[] = [];
  const cp = ex.checkpoint;
  if (cp?.gapFrom !== undefined) n.push(`numbers ${cp.gapFrom}..${cp.gapTo! - 1} were given up by a 'truncate' recovery`);
  if (cp?.cutSeq !== undefined) n.push(`a truncateFrom(${cp.cutSeq}) was interrupted; the next open finishes it`);
  if (ex.belowFirst.length > 0) n.push(`${ex.belowFirst.length} segment(s) below the first record; the next open deletes them`);
  if (ex.leftovers.length > 0) n.push(`${ex.leftovers.length} leftover temporary file(s); the next open removes them`);
  if (ex.segments.length === 0) n.push('no segment files');
  return n;
}

function text(v: Verification): string {
  const lines = [
    `${v.dir}: ${v.summary}`,
    `  ${v.segments} segment(s), ${v.batches} batch(es) verified, log from record ${v.firstSeq} up to ${v.endSeq}` +
      (v.writerPid ? ` (a writer, pid ${v.writerPid}, is appending: its tail may grow while this runs)` : ''),
    ...v.notes.map((n) => `  note: ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('check every batch of a log (checksums, chain, numbering); changes nothing, works beside a live writer')
    .addHelpText(
      'after',
      '\nExit codes (as fsck):\n  0  clean\n  1  torn tail: bytes never acknowledged, which the next open cuts\n' +
        "  4  damage to acknowledged data: a strict open refuses; 'commitlog repair' keeps the valid prefix\n" +
        '  8  cannot check: no such directory, not a log, an I/O error\n 16  usage error',
    )
    .argument('<dir>', 'log directory')
    .option('--json', 'one JSON object on stdout')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const v = await verifyLog(dir);
      if (opts.json) {
        const { examination, ...rest } = v;
        await outJson({ ...rest, strict: examination.strict, truncate: examination.truncate, checkpoint: examination.checkpoint ?? null });
      } else {
        await out(text(v));
      }
      process.exitCode = v.exitCode;
    });
}
