import {
  DEFAULT_ALIGN_BYTES,
  DEFAULT_BROKEN_BYTES_MAX,
  DEFAULT_MAX_BATCH_DELAY_MICROS,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_PREALLOCATE,
  DEFAULT_RECOVERY,
  DEFAULT_RECYCLE_SEGMENTS,
  DEFAULT_BATCHES_IN_FLIGHT,
  DEFAULT_SEGMENT_BYTES,
  DEFAULT_SYNC,
  MAX_PENDING_BYTES_LIMIT,
  MAX_RECORD_BYTES_LIMIT,
  MAX_RECYCLE_SEGMENTS,
  MIN_SEGMENT_BYTES,
} from './constants';
import { invalidArgType, invalidValue, outOfRange } from './errors';
import type { NativeOpenOptions } from './native';
import type { ResolvedRetention, RetentionOptions } from './retention';

/** How a batch is made durable: see {@link CommitLogOptions.sync}. */
export type SyncMode = 'auto' | 'fdatasync' | 'fsync' | 'direct' | 'none';
/** How new segment files are made: see {@link CommitLogOptions.preallocate}. */
export type PreallocateMode = 'auto' | 'zero' | 'fallocate' | 'none';
/** What open() does with damaged acknowledged data: see {@link CommitLogOptions.recovery}. */
export type RecoveryMode = 'strict' | 'truncate';

/** Options of `CommitLog.open(dir, options)`; any other key is rejected (ERR_INVALID_ARG_VALUE). */
export interface CommitLogOptions {
  /**
   * How a batch is made durable. Default 'auto'.
   * - 'auto': as 'fdatasync', but batches of 64 KiB and more are written with O_DIRECT (no copy
   *   into the page cache) where the filesystem accepts it (probed per segment; elsewhere, such as
   *   tmpfs before Linux 6.6, through the page cache), then fdatasync'd. Survives power loss.
   * - 'fdatasync': write, then fdatasync (F_FULLFSYNC on macOS). Survives power loss.
   * - 'fsync': write, then fsync: also flushes metadata such as mtime. Survives power loss.
   * - 'direct': O_DIRECT | O_DSYNC writes, bypassing the page cache. Survives power loss;
   *   needs a filesystem that accepts O_DIRECT at open (tmpfs does since Linux 6.6; where one
   *   does not, opening the segment fails with EINVAL).
   * - 'none': page cache only. Survives a crash of the process (kill -9), NOT of the machine.
   */
  sync?: SyncMode;
  /** Segment files roll at this size. Default 64 MiB. Larger: fewer files, coarser retention. */
  segmentBytes?: number;
  /**
   * Bytes staged or being written but not yet durable. Past it, appends wait for room, so memory
   * stays bounded whatever the number of callers. Default 64 MiB.
   */
  maxPendingBytes?: number;
  /** Largest record accepted. Default 16 MiB, at most 1 GiB. */
  maxRecordBytes?: number;
  /**
   * Microseconds the flusher waits after the first record before writing a batch. Default 0: no
   * artificial delay; batches form naturally while the previous sync runs. Higher: larger batches,
   * higher latency.
   */
  maxBatchDelayMicros?: number;
  /**
   * Batches are padded to this many bytes (a power of two, 512 to 65536). Default 4096: a torn
   * write can only damage the batch being written, never one already acknowledged. 512 wastes less
   * space for lone small records, and is safe only on disks whose physical sector is 512 bytes.
   */
  alignBytes?: number;
  /**
   * How new segment files are prepared, ahead of time, off the append path. 'zero': write zeros so
   * that appends overwrite written blocks (fdatasync then flushes no metadata: lowest latency, but
   * every byte is written twice). 'fallocate': reserve unwritten extents (no double write, costlier
   * per sync). 'none': grow files. Default 'auto': 'zero', switching to 'fallocate' for the next
   * segment while the log writes faster than 100 MB/s (bandwidth-bound).
   */
  preallocate?: PreallocateMode;
  /**
   * Segments that truncateBefore or retention free are kept, up to this many at a time, and
   * become new segments instead of new files being zero-filled: under sustained load with
   * retention that halves the bytes written to the disk. Their old records stay in the files
   * until overwritten, never readable (docs/FORMAT.md, "Recycled segments"), so they take disk
   * space while they wait (up to this many times `segmentBytes`) and their data is not erased
   * by deleting it. Only files of exactly `segmentBytes`, and only with a `preallocate` mode
   * that prepares segments (not 'none'). Default 2; 0: unlink freed segments.
   */
  recycleSegments?: number;
  /**
   * Batches being written or synced at once with a separate sync ('auto', 'fdatasync', 'fsync'):
   * 1 or 2. Default 1: each batch is written and synced before the next is written. 2: while one
   * batch syncs, the next is written as soon as 64 KiB are staged; acknowledgements stay in order
   * and crash safety is the same. On the disk measured (README, "Two batches in flight") 2 was
   * slower in nearly every side-by-side run: the write in flight delayed the other batch's cache
   * flush, and callers split into more, smaller batches. It may pay on a device whose flush does
   * not wait for writes in flight; measure with `npm run bench` before choosing it.
   */
  batchesInFlight?: 1 | 2;
  /**
   * What open() does when acknowledged data is damaged. Default 'strict': reject with
   * ERR_LOG_CORRUPT and change nothing. 'truncate': keep the valid prefix, cut the rest, and
   * report it in `log.recovery`. A torn tail (never acknowledged) is cut in both modes.
   */
  recovery?: RecoveryMode;
  /** Create the directory if it does not exist (its parent must). Default true. */
  create?: boolean;
  /**
   * Delete old segments in the background: while the log's batches take more than `maxBytes`,
   * or those whose newest batch is older than `maxAgeMs`; never the segment being written, and
   * with `holdForCursors` never past the slowest cursor. Deletion is crash-safe like
   * truncateBefore. Default: none (truncateBefore by hand).
   */
  retention?: RetentionOptions;
  /**
   * Permission bits of the files the log creates (the umask applies, as for ConfigFile); a
   * directory it creates gets the same plus x where r is set (0o600 -> 0o700, 0o640 -> 0o750).
   * Must include 0o600. Default: an existing log's (its CHECKPOINT's), else 0o600: records are
   * often personal data. Give a group mode such as 0o640 on purpose, for a reader in another
   * account. Existing files keep their modes.
   */
  mode?: number;
}

export interface ResolvedOptions extends NativeOpenOptions {
  maxRecordBytes: number;
  retention: ResolvedRetention | undefined;
}

const SYNC_MODES: readonly string[] = ['auto', 'fdatasync', 'fsync', 'direct', 'none'];
const PREALLOCATE_MODES: readonly string[] = ['auto', 'zero', 'fallocate', 'none'];
const RECOVERY_MODES: readonly string[] = ['strict', 'truncate'];
const KNOWN = new Set([
  'sync',
  'segmentBytes',
  'maxPendingBytes',
  'maxRecordBytes',
  'maxBatchDelayMicros',
  'alignBytes',
  'preallocate',
  'recycleSegments',
  'batchesInFlight',
  'recovery',
  'create',
  'retention',
  'mode',
]);
const RETENTION_KNOWN = new Set(['maxBytes', 'maxAgeMs', 'holdForCursors']);

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(`options.${name}`, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(`options.${name}`, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

function oneOf(name: string, value: unknown, fallback: string, allowed: readonly string[]): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalidArgType(`options.${name}`, 'of type string', value);
  if (!allowed.includes(value)) throw invalidValue(`options.${name}`, `must be one of ${allowed.join(', ')}`, value);
  return value;
}

function resolveRetention(value: unknown): ResolvedRetention | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType('options.retention', 'an object', value);
  }
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!RETENTION_KNOWN.has(key)) throw invalidValue('options.retention', `unknown option "${key}"`, key);
  }
  const maxBytes = integer('retention.maxBytes', r.maxBytes, 0, 1, Number.MAX_SAFE_INTEGER);
  const maxAgeMs = integer('retention.maxAgeMs', r.maxAgeMs, 0, 1, Number.MAX_SAFE_INTEGER);
  if (maxBytes === 0 && maxAgeMs === 0) {
    throw invalidValue('options.retention', 'must set maxBytes or maxAgeMs', value);
  }
  if (r.holdForCursors !== undefined && typeof r.holdForCursors !== 'boolean') {
    throw invalidArgType('options.retention.holdForCursors', 'of type boolean', r.holdForCursors);
  }
  const holdForCursors = r.holdForCursors === undefined ? 'held' : r.holdForCursors ? 'all' : 'none';
  return { maxBytes, maxAgeMs, holdForCursors };
}

function resolveMode(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const mode = integer('mode', value, 0, 0, 0o777);
  if ((mode & 0o600) !== 0o600) {
    throw invalidValue('options.mode', 'must include 0o600 (the log reads and writes its own files)', mode);
  }
  return mode;
}

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgType('options', 'an object', options);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw invalidValue('options', `unknown option "${key}"`, key);
  }
  const alignBytes = integer('alignBytes', o.alignBytes, DEFAULT_ALIGN_BYTES, 512, 65536);
  if ((alignBytes & (alignBytes - 1)) !== 0) {
    throw invalidValue('options.alignBytes', 'must be a power of two', alignBytes);
  }
  const maxPendingBytes = integer('maxPendingBytes', o.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES, 4096, MAX_PENDING_BYTES_LIMIT);
  const maxRecordBytes = integer('maxRecordBytes', o.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES, 0, MAX_RECORD_BYTES_LIMIT);
  const segmentBytes = integer('segmentBytes', o.segmentBytes, DEFAULT_SEGMENT_BYTES, MIN_SEGMENT_BYTES, 2 ** 40);
  if (segmentBytes % alignBytes !== 0) {
    throw invalidValue('options.segmentBytes', `must be a multiple of alignBytes (${alignBytes})`, segmentBytes);
  }
  if (o.create !== undefined && typeof o.create !== 'boolean') {
    throw invalidArgType('options.create', 'of type boolean', o.create);
  }
  const sync = oneOf('sync', o.sync, DEFAULT_SYNC, SYNC_MODES);
  if (sync === 'direct' && alignBytes < 4096) {
    throw invalidValue('options.alignBytes', "must be at least 4096 with sync: 'direct'", alignBytes);
  }
  return {
    sync,
    preallocate: oneOf('preallocate', o.preallocate, DEFAULT_PREALLOCATE, PREALLOCATE_MODES),
    recovery: oneOf('recovery', o.recovery, DEFAULT_RECOVERY, RECOVERY_MODES),
    alignBytes,
    segmentBytes,
    maxPendingBytes,
    maxRecordBytes,
    maxBatchDelayMicros: integer('maxBatchDelayMicros', o.maxBatchDelayMicros, DEFAULT_MAX_BATCH_DELAY_MICROS, 0, 1_000_000),
    brokenBytesMax: DEFAULT_BROKEN_BYTES_MAX,
    recycleSegments: integer('recycleSegments', o.recycleSegments, DEFAULT_RECYCLE_SEGMENTS, 0, MAX_RECYCLE_SEGMENTS),
    batchesInFlight: integer('batchesInFlight', o.batchesInFlight, DEFAULT_BATCHES_IN_FLIGHT, 1, 2),
    create: o.create ?? true,
    retention: resolveRetention(o.retention),
    mode: resolveMode(o.mode),
  } as ResolvedOptions;
}
