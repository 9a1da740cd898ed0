// commitlog inspect <dir>: what a log holds, read-only and without the lock:
// its CHECKPOINT, each segment as an open walks it (the core's one batch
// reader), the durable end readers see, and the cursors.
import path from 'node:path';
import type { Command } from 'commander';
import { LogReader } from '../reader';
import { native, type NativeBatchInfo, type NativeCheckpoint, type NativeSegmentScan } from '../native';
import { bytes, lockHolder, logDir, out, outJson } from './common';
import { examine } from './verify';

export interface SegmentInfo {
  name: string;
  fileBytes: number;
  /** Bytes up to the end of its last batch that continues the log. */
  usedBytes: number;
  /** First and last record; lastSeq is firstSeq - 1 when it holds none. */
  firstSeq: number;
  lastSeq: number;
  batches: number;
  epoch: number;
  /**
   * Valid batches in the file, chained or not, when the walk stopped before its end at something
   * other than zeroed space (after damage, the later segments' batches no longer chain).
   */
  batchesInFile?: number;
  /** Alignment padding / bytes of its batches (spans), 0 without batches. */
  paddingRatio: number;
  /** Why its walk ended where it did, when not at zeroed space or the end of the file. */
  stop?: string;
}

export interface Inspection {
  dir: string;
  logId: string;
  writerPid: number | null | undefined;
  checkpoint: NativeCheckpoint | null;
  checkpointCorrupt: boolean;
  /** What readers see (HEAD, else what the files prove); null with the reason if it cannot be read. */
  view: { firstSeq: number; durableSeq: number } | null;
  viewError?: string;
  segments: SegmentInfo[];
  cursors: Array<{ name: string; position: number; hold: boolean }>;
}

// undefined when the segment is gone: a live writer's retention deleted it
// since the examination listed it.
function segmentInfo(seg: NativeSegmentScan): SegmentInfo | undefined {
  let all: NativeBatchInfo[];
  try {
    all = native.inspectSegment(seg.path).batches;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  // Only batches that continue the log count: past seg.end lie torn bytes or,
  // in a recycled file, an older use's batches.
  const batches = all.filter((b) => b.offset < seg.end);
  const span = batches.reduce((n, b) => n + b.span, 0);
  const padding = batches.reduce((n, b) => n + b.span - b.used, 0);
  return {
    name: path.basename(seg.path),
    fileBytes: seg.fileSize,
    usedBytes: seg.end,
    firstSeq: seg.baseSeq,
    lastSeq: seg.endSeq - 1,
    batches: seg.batches,
    epoch: seg.epoch,
    paddingRatio: span > 0 ? padding / span : 0,
    ...(seg.cleanEnd ? {} : { stop: seg.stop, batchesInFile: all.filter((b) => b.baseSeq >= seg.baseSeq).length }),
  };
}

export async function inspectLog(dir: string): Promise<Inspection> {
  logDir(dir);
  const holder = lockHolder(dir);
  const ex = await examine(dir, holder !== null && holder !== undefined);
  const info: Inspection = {
    dir,
    logId: ex.logId,
    writerPid: holder === undefined ? undefined : (holder?.pid ?? null),
    checkpoint: ex.checkpoint ?? null,
    checkpointCorrupt: ex.checkpointCorrupt,
    view: null,
    segments: ex.segments.map(segmentInfo).filter((s): s is SegmentInfo => s !== undefined),
    cursors: [],
  };
  try {
    const reader = await LogReader.open(dir);
    try {
      info.view = { firstSeq: reader.firstSeq, durableSeq: reader.durableSeq };
      info.cursors = await reader.cursors();
    } finally {
      await reader.close();
    }
  } catch (err) {
    info.viewError = `${(err as Error).message}`;
  }
  return info;
}

function text(i: Inspection): string {
  const L: string[] = [`log ${i.dir}`, `  id ${i.logId}`];
  L.push(`  writer: ${i.writerPid ? `pid ${i.writerPid} holds the lock` : i.writerPid === null ? 'none' : 'unknown'}`);
  if (i.view) L.push(`  readers see records ${i.view.firstSeq} up to ${i.view.durableSeq} (durable end)`);
  else L.push(`  readers' view: unavailable (${i.viewError})`);
  const cp = i.checkpoint;
  if (cp) {
    L.push(
      `  CHECKPOINT v${cp.version}: durableSeq ${cp.durableSeq}, firstSeq ${cp.firstSeq}, ` +
        `${cp.clean ? `clean close (tail ${cp.tailBase} at ${cp.tailEnd})` : 'not closed cleanly'}` +
        `${cp.noSync ? ", sync 'none'" : ''}` +
        `${cp.gapFrom !== undefined ? `, gap ${cp.gapFrom}..${cp.gapTo! - 1}` : ''}` +
        `${cp.cutSeq !== undefined ? `, pending cut at ${cp.cutSeq}` : ''}`,
    );
  } else {
    L.push(`  CHECKPOINT: ${i.checkpointCorrupt ? 'damaged (fails its checksum)' : 'none'}`);
  }
  L.push(`  segments: ${i.segments.length}`);
  for (const s of i.segments) {
    const recs = s.lastSeq >= s.firstSeq ? `${s.firstSeq}..${s.lastSeq}` : `none from ${s.firstSeq}`;
    L.push(
      `    ${s.name}  ${bytes(s.usedBytes)} of ${bytes(s.fileBytes)}  records ${recs}  ${s.batches} batches  ` +
        `epoch ${s.epoch}  padding ${(s.paddingRatio * 100).toFixed(1)}%` +
        `${s.stop ? `  stops: ${s.stop} (${s.batchesInFile} valid batches in the file)` : ''}`,
    );
  }
  L.push(`  cursors: ${i.cursors.length === 0 ? 'none' : i.cursors.map((c) => `${c.name}=${c.position}${c.hold ? ' (holds retention)' : ''}`).join(', ')}`);
  return `${L.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show segments, batches, CHECKPOINT, durable end and cursors of a log (read-only, no lock)')
    .argument('<dir>', 'log directory')
    .option('--json', 'one JSON object on stdout')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const i = await inspectLog(dir);
      await (opts.json ? outJson(i) : out(text(i)));
    });
}
