// The addon's interface, and the addon: the package's (lib/load.ts) or, in
// tests, a test build.
import path from 'node:path';
import { LogError } from './errors';
import { loadAddon } from './load';

export interface NativeReadResult {
  data: Buffer;
  ends: Uint32Array;
  first: number;
  cursorSeq: number;
  cursorSegment: number;
  cursorOffset: number;
}

/** The counters of `log.stats()` that the core keeps; "since open" means by this instance. */
export interface NativeStats {
  /** The next sequence number an append gets. */
  appendedSeq: number;
  /** Every record below it is durable (on stable storage, its append resolved or resolving). */
  durableSeq: number;
  /** The oldest record kept (moves with truncateBefore and retention). */
  firstSeq: number;
  /** Records written since open. */
  records: number;
  /** Batches written since open: each one write (and, with sync, one sync) shared by its records. */
  batches: number;
  /** fdatasync/fsync calls since open. */
  syncs: number;
  /** Bytes passed to write since open, headers and alignment padding included. */
  bytesWritten: number;
  /** Record bytes written since open. */
  payloadBytes: number;
  /** Alignment padding written since open (`alignBytes`): the cost of never tearing an acknowledged batch. */
  paddingBytes: number;
  /** Segment files the log has now. */
  segments: number;
  /** Rolls to a new segment since open. */
  segmentsRolled: number;
  /** Rolls that found the next segment already made by the background thread (see `preallocate`). */
  preparedSegmentsUsed: number;
  /** sync 'auto': batches written with O_DIRECT (no page-cache copy). */
  directBatches: number;
  /** Batches sealed while the previous batch was still syncing (two in flight). */
  overlappedBatches: number;
  /** Segments freed by truncateBefore or retention that became new segments instead of zero-filled files. */
  segmentsRecycled: number;
  /** Bytes staged but not yet durable (at most `maxPendingBytes`). */
  pendingBytes: number;
  /** Median fdatasync latency in µs (log-linear histogram, at most 6% error). */
  syncLatencyUsP50: number;
  /** 99th percentile fdatasync latency in µs. */
  syncLatencyUsP99: number;
  /** Slowest fdatasync in µs. */
  syncLatencyUsMax: number;
  /** Median time to write and sync one batch, in µs. */
  batchLatencyUsP50: number;
  /** 99th percentile time to write and sync one batch, in µs. */
  batchLatencyUsP99: number;
  /** Times the background thread failed to prepare the next segment (the roll then makes it). */
  prepareFailures: number;
  /** Times a CHECKPOINT write failed (recovery can then prove less; nothing is lost). */
  checkpointFailures: number;
  /** The last of those failures, or ''. */
  lastBackgroundError: string;
  /** Writes of HEAD (the durable end readers see) that failed; readers lag until the next one. */
  headFailures: number;
}

/** What open() found and did (`log.recovery`). */
export interface NativeRecovery {
  /** An unacknowledged partial batch (a write a crash interrupted) was cut off the end. */
  tornTail: boolean;
  /** Acknowledged data was damaged and cut (only with `recovery: 'truncate'`; 'strict' rejects open). */
  corruption: boolean;
  /** What was found, for humans; '' when the log ended cleanly. */
  reason: string;
  /** The segment file where the cut happened, or ''. */
  file: string;
  /** Byte offset in `file` where the valid log ends. */
  offset: number;
  /** Non-zero bytes cut from `file`. */
  bytesDropped: number;
  /** Whole segments after `file` removed by the cut. */
  segmentsDropped: number;
  /** Side file holding the cut bytes (up to 1 MiB) for inspection, or ''. */
  brokenFile: string;
  /** Why the cut bytes could not be copied to brokenFile (best effort), or ''. */
  brokenError: string;
  /** Numbers [gapFrom, gapTo) were acknowledged for content that recovery: 'truncate' cut: never reused, never read. */
  gapFrom: number;
  /** End (exclusive) of the numbers given up; equals `gapFrom` when none were. */
  gapTo: number;
  /** Segments left by an interrupted truncateBefore and deleted by this open. */
  truncationFinished: number;
  /** An interrupted truncateFrom was found (its intent in the CHECKPOINT) and finished by this open. */
  cutFinished: boolean;
}

/** What one retention pass did (LogHandle#retain). */
export interface NativeRetentionResult {
  /** Segments that left the log: the CHECKPOINT records the new start (files left by a failed unlink go at the next open). */
  segmentsDeleted: number;
  /** Their bytes of batches (end of each one's last batch). */
  bytesDeleted: number;
  /** How far the log's first sequence number moved. */
  recordsDeleted: number;
  /** The log's first sequence number after the pass. */
  firstSeq: number;
  /** Why the pass stopped early (a failed unlink, checkpoint write or directory sync); the log goes on. */
  error?: LogError;
}

/** A batch as the core's one reader decodes it (inspectSegment). */
export interface NativeBatchInfo {
  offset: number;
  span: number;
  /** Header plus payload bytes. */
  used: number;
  version: number;
  epoch: number;
  baseSeq: number;
  count: number;
  commitSeq: number;
  timestampMs: number;
  crc: number;
  prevCrc: number;
  /** The log's identity (decimal; a u64), '0' for version 1 batches. */
  logId: string;
}

export interface NativeSegmentInspection {
  batches: NativeBatchInfo[];
  /** Offset just past the last valid batch. */
  end: number;
  size: number;
  /** Why the walk stopped there. */
  stop: string;
}

/** The CHECKPOINT as examineLog decodes it. */
export interface NativeCheckpoint {
  version: number;
  durableSeq: number;
  clean: boolean;
  noSync: boolean;
  tailBase: number;
  tailEnd: number;
  firstSeq: number;
  logId: string;
  gapFrom?: number;
  gapTo?: number;
  cutSeq?: number;
}

/** One segment's walk, as an open's recovery walks it. */
export interface NativeSegmentScan {
  path: string;
  baseSeq: number;
  /** Just past its last record that continues the log. */
  endSeq: number;
  fileSize: number;
  /** Offset just past its last batch that continues the log. */
  end: number;
  batches: number;
  epoch: number;
  /** Stopped at end of file or zeroed space. */
  cleanEnd: boolean;
  stop: string;
}

/** What an open in one recovery mode would decide (RecoveryPlan): the report's fields, and how. */
export interface NativeRecoveryPlan
  extends Pick<NativeRecovery, 'tornTail' | 'corruption' | 'reason' | 'file' | 'offset' | 'bytesDropped' | 'segmentsDropped' | 'gapFrom' | 'gapTo'> {
  keepSegments: number;
  cutOffset: number;
  zeroTo: number;
  nextSeq: number;
  /** Set when the open would refuse (strict mode, damage to acknowledged data). */
  refused?: string;
}

/** examineLog: an open's discovery and both decisions, with nothing changed. */
export interface NativeLogExamination {
  checkpoint?: NativeCheckpoint;
  checkpointCorrupt: boolean;
  logId: string;
  segments: NativeSegmentScan[];
  stopIndex: number;
  stopOffset: number;
  stopReason: string;
  leftovers: string[];
  belowFirst: string[];
  beyondCut: string[];
  strict: NativeRecoveryPlan;
  truncate: NativeRecoveryPlan;
}

/** append/appendMany: maxPendingBytes reached; retry once durableSeq advances. */
export const APPEND_FULL = -1;

export interface NativeLogHandle {
  /**
   * The first sequence number, APPEND_FULL, or (returned, not thrown) the
   * error: ERR_LOG_FAILED with the system error as `cause`, ERR_LOG_CLOSED or
   * ENOMEM; undefined when the environment is tearing down (worker.terminate())
   * and no error object can be made. Throws only for arguments of the wrong
   * type or size.
   */
  append(data: Uint8Array): number | LogError | undefined;
  /**
   * Wakes the flusher for what append/appendMany staged: they do not, below
   * a batch's worth, so that the appends of one tick make one batch.
   */
  kick(): void;
  appendMany(data: Uint8Array[]): number | LogError | undefined;
  durable(): number;
  /** The system error that stopped the log, or undefined while it works. */
  failure(): LogError | undefined;
  firstSeq(): number;
  /** The log's identity (a u64, decimal), as in the CHECKPOINT and every version 2 batch. */
  logId(): string;
  close(): Promise<void>;
  read(
    from: number,
    limit: number,
    maxBytes: number,
    cursorSeq: number | undefined,
    cursorSegment: number,
    cursorOffset: number,
  ): Promise<NativeReadResult>;
  truncateBefore(seq: number): Promise<number>;
  /**
   * One retention pass at `nowMs` (wall clock): deletes the oldest segments while their bytes
   * exceed `maxBytes` or their newest batch is older than `nowMs - maxAgeMs` (0: that bound is
   * off; one must be set), never the segment being written nor one that may hold `holdSeq` or
   * later. Rejects only if the log is closing; the pass's own failure is `error`.
   */
  retain(maxBytes: number, maxAgeMs: number, holdSeq: number | undefined, nowMs: number): Promise<NativeRetentionResult>;
  /** Permission bits the log creates its files with (the `mode` option, or the existing log's). */
  fileMode(): number;
  /** Segments added since open: one per roll. */
  segmentsAdded(): number;
  /**
   * Waits until everything staged is durable, then drops the records at and
   * after `seq`; resolves with the durable end before the cut. ERR_OUT_OF_RANGE
   * past that end, ERR_LOG_TRUNCATED below the first record (nothing changed);
   * any other error stopped the log.
   */
  truncateFrom(seq: number): Promise<number>;
  stats(): NativeStats;
  recovery(): NativeRecovery;
  ref(): void;
  unref(): void;
}

/** What a read-only reader may read now: HEAD, or without one what the files prove. */
export interface NativeReaderView {
  /** Every record below it may be read. */
  durable: number;
  first: number;
  /** HEAD's generation; 0n without a usable HEAD. A new one at every writer open or cut. */
  generation: bigint;
  /** The writer runs with sync 'none': its durable end is the page cache's. */
  noSync: boolean;
}

/** A reader's chunk: LogHandle.read's, plus what the next read of the iteration needs. */
export interface NativeReaderChunk extends NativeReadResult {
  /** The view the records before cursorSeq were read under. */
  generation: bigint;
  /** The last record returned so far, and the crc of its batch: proof of continuity. */
  hasAnchor: boolean;
  anchorSeq: number;
  anchorCrc: number;
  /** The view this read read under. */
  view: NativeReaderView;
}

export interface NativeReaderHandle {
  /** `state`: the previous chunk of the same iteration, or undefined for its first read. */
  read(from: number, limit: number, maxBytes: number, state: NativeReaderChunk | undefined): Promise<NativeReaderChunk>;
  /** Reads HEAD (one small file) on the calling thread. */
  view(): NativeReaderView;
  /** The log's id (decimal), as its CHECKPOINT names it; '0' before one does. */
  logId(): string;
  /** Also re-lists the directory and, without a HEAD, proves the durable end again. */
  refresh(): Promise<NativeReaderView>;
  close(): void;
}

export interface NativeOpenOptions {
  sync: string;
  preallocate: string;
  recovery: string;
  alignBytes: number;
  segmentBytes: number;
  maxPendingBytes: number;
  maxBatchDelayMicros: number;
  brokenBytesMax: number;
  recycleSegments: number;
  batchesInFlight: number;
  create: boolean;
  /** Permission bits of new files; undefined: an existing log's, else 0o600. */
  mode?: number;
}

/** A fault plan; see native/core/fault_io.h. */
export interface NativeFaultPlan {
  /** Step index at which the process "dies": that step and all later ones fail with ECANCELED. */
  crashAt?: number;
  /** Fails this step (counting only steps of `kind`, if given) once, with `errno`, without effect. */
  failAt?: number;
  errno?: number;
  kind?: string;
  /** A failing write first writes half its bytes. */
  shortWrite?: boolean;
  /** Keep a record of what is not durable, for powerLoss(). */
  trackDurability?: boolean;
  /** Keep the record of an earlier arm (a restart without a power loss); implies trackDurability. */
  keepState?: boolean;
  /** Seed of the draws dropCache() makes for doomed sectors (default 1). */
  seed?: number;
  /** Probability that a doomed sector reached the disk, for dropCache() (default 0.5). */
  keep?: number;
}

/** Synchronous calls straight into the test Io; failures throw errors with `code`. */
export interface NativeFaultIo {
  open(path: string, flags: number, mode?: number): number;
  write(fd: number, data: Uint8Array, offset: number): void;
  /** fdatasync, or fsync with `full`. */
  sync(fd: number, full?: boolean): void;
  truncate(fd: number, size: number): void;
  dropCache(fd: number): void;
  close(fd: number): void;
  syncDir(path: string): void;
  rename(from: string, to: string): void;
  renameNoReplace(from: string, to: string): void;
  link(from: string, to: string): void;
  unlink(path: string): void;
  mkdir(path: string, mode?: number): void;
}

export interface NativeFault {
  /** Arms a fault plan; see native/core/fault_io.h. Starts a new record unless keepState. */
  arm(plan: NativeFaultPlan): void;
  /** arm({ ...plan, keepState: true }): a new plan, same record of what is not durable. */
  restart(plan?: NativeFaultPlan): void;
  /** Forgets the plan and the record: everything becomes durable. */
  disarm(): void;
  /** Every later system call fails with ECANCELED, as if the process died. */
  crash(): void;
  /**
   * With trackDurability: makes the files what the disk has. Each pending sector survives with
   * probability `keep` (default 0), each changed name with probability `dirKeep` (default `keep`);
   * `tear` is accepted and ignored (sectors tear writes).
   */
  powerLoss(opts?: { seed?: number; keep?: number; dirKeep?: number; tear?: boolean; wholeWrites?: boolean }): {
    /** Pending writes none of whose pending sectors survived. */
    writesLost: number;
    /** Pending writes all of whose pending sectors survived. */
    writesKept: number;
    /** Pending writes of which some sectors survived. */
    writesTorn: number;
    /** Changed names reverted to their durable entry. */
    dirOpsUndone: number;
    sectorsLost: number;
    sectorsKept: number;
    /** Pending sectors (lost or kept) that a failed sync had doomed. */
    doomedSectors: number;
    /** Changed names that kept their current entry. */
    namesKept: number;
  };
  /** Steps since arm(); with `kind` ('sync', 'rename', ...), only those of that kind. */
  steps(kind?: string): number;
  crashed(): boolean;
  io: NativeFaultIo;
}

export interface NativeAddon {
  open(
    dir: string,
    options: NativeOpenOptions,
    onDurable: (durableSeq: number, error: LogError | undefined) => void,
  ): Promise<NativeLogHandle>;
  openReader(dir: string): Promise<NativeReaderHandle>;
  setErrorClass(cls: typeof LogError): void;
  crc32c(data: Uint8Array, init?: number): number;
  crc32cHardware: boolean;
  inspectSegment(path: string): NativeSegmentInspection;
  /** Synchronous, read-only, no lock: what an open would find and decide (native/core/recovery.h). */
  examineLog(dir: string): NativeLogExamination;
  writeFileDurable(path: string, data: Uint8Array, mode: number): Promise<void>;
  configResolve(path: string, mode: number): Promise<{ target: string; mode: number }>;
  configSave(target: string, data: Uint8Array, mode: number, backupCurrent: boolean): Promise<void>;
  moveDurable(from: string, to: string): Promise<void>;
  /** fsyncs the directory after a save and, with sweep, removes leftovers of failed saves. */
  configCommit(target: string, sweep: boolean): Promise<void>;
  /** fdatasyncs a file and fsyncs its directory. */
  configSyncFile(file: string): Promise<void>;
  /** ConfigFile.remove()'s unlink steps: the fallback copies (main false), then the file (main true). */
  configRemove(target: string, main: boolean): Promise<void>;
  /** mkdir (an existing directory is fine), fsync of it and of its parent. */
  makeDirDurable(path: string, mode: number): Promise<void>;
  /** Locks `<target>.lock` (created with `mode`), waiting for other holders. */
  lockFile(target: string, mode: number): Promise<number>;
  unlockFile(fd: number): void;
  configWrap(payload: Uint8Array): Buffer;
  /** undefined when intact (content from byte 16 on), else why not. */
  configUnwrap(bytes: Uint8Array): string | undefined;
  /** Only in the test addon (COMMITLOG_TEST_ADDON=1). */
  fault?: NativeFault;
}

const root = path.join(__dirname, '..');

// Test-only switches, never set by users: COMMITLOG_TEST_ADDON=1 runs the
// same API on the fault-injection build (native/testing), and
// COMMITLOG_ADDON_DIR points at another build of the test addon, used for
// every test (the sanitizer build of `npm run test:asan`; unarmed, its fault
// layer passes every call through). Packages contain neither build.
const testDir = process.env.COMMITLOG_ADDON_DIR;
const testAddon = process.env.COMMITLOG_TEST_ADDON === '1';
const addon: NativeAddon = testDir
  ? require(path.resolve(testDir, 'commitlog_test.node'))
  : testAddon
    ? require(path.join(root, 'native', 'testing', 'build', 'Release', 'commitlog_test.node'))
    : loadAddon<NativeAddon>(root);
addon.setErrorClass(LogError);

// ---- The one error path of asynchronous native calls ----
//
// An error the addon makes when a worker finishes is created with no
// JavaScript on the stack, so `err.stack` would name no caller (an ENOENT
// from CommitLog.open pointed nowhere). Every native call goes through the
// wrappers below; a call that returns a promise records its caller's stack
// and a rejection gets it in place of the empty one. Synchronous throws
// already carry the caller's stack and are left alone, and sync calls pay no
// capture: only a returned promise does (append stays at its cost).

// Calls whose promise resolves with a handle: its methods are wrapped too.
const HANDLE_MAKERS: ReadonlySet<PropertyKey> = new Set(['open', 'openReader']);
// Calls that return a promise. They return nothing at all when the
// environment is tearing down (worker.terminate()) and no promise could be
// made; the caller then gets a rejected one, never undefined to call .then on.
// Not `close`: a LogHandle's returns a promise (awaited, where undefined is
// harmless), a ReaderHandle's returns nothing.
const PROMISE_CALLS: ReadonlySet<PropertyKey> = new Set([
  ...HANDLE_MAKERS,
  'read',
  'truncateBefore',
  'retain',
  'truncateFrom',
  'refresh',
  'writeFileDurable',
  'configResolve',
  'configSave',
  'moveDurable',
  'configRemove',
  'configCommit',
  'configSyncFile',
  'makeDirDurable',
  'lockFile',
]);

/** Gives `err` the stack of `site` (the caller's), keeping its own first line(s). */
export function withCallerStack(err: unknown, site: Error): unknown {
  if (!(err instanceof Error) || typeof site.stack !== 'string') return err;
  const own = typeof err.stack === 'string' ? err.stack : `${err.name}: ${err.message}`;
  const cut = own.indexOf('\n    at ');
  const head = cut === -1 ? own : own.slice(0, cut);
  const frames = site.stack.indexOf('\n    at ');
  if (frames !== -1) err.stack = head + site.stack.slice(frames);
  return err;
}

function traceCall(target: object, key: PropertyKey, fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  const makesHandle = HANDLE_MAKERS.has(key);
  const promised = PROMISE_CALLS.has(key);
  const wrapped = function (): unknown {
    // `arguments` rather than a rest array: V8 forwards it without a copy,
    // and append() runs through here once per record.
    const result = Reflect.apply(fn, target, arguments);
    if (result === undefined && promised) {
      return Promise.reject(new LogError('the environment is shutting down (worker terminated)', 'ERR_LOG_CLOSED'));
    }
    if (!(result instanceof Promise)) return result;
    // Still in the caller's synchronous frame: this is its stack.
    const site = new Error();
    Error.captureStackTrace(site, wrapped);
    return result.then(
      (value: unknown) => (makesHandle && value !== null && typeof value === 'object' ? traced(value) : value),
      (err: unknown) => {
        throw withCallerStack(err, site);
      },
    );
  };
  return wrapped;
}

/**
 * `target` with every method bound to it and traced (an own property each,
 * not a Proxy, so that hot synchronous calls cost one bound call). Native
 * methods of class handles live on the prototype chain.
 */
// Methods that never return a promise and run once per append or per
// notification: nothing to trace.
const SYNC_HOT: ReadonlySet<PropertyKey> = new Set(['append', 'appendMany', 'kick', 'durable', 'failure', 'firstSeq']);

function traced<T extends object>(target: T): T {
  const out: Record<PropertyKey, unknown> = {};
  for (let o: object | null = target; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Reflect.ownKeys(o)) {
      if (key === 'constructor' || key in out) continue;
      const value = (target as Record<PropertyKey, unknown>)[key];
      if (typeof value !== 'function') out[key] = value;
      // The append path returns synchronously: bound as it is, with no wrapper to run per record.
      else if (SYNC_HOT.has(key)) out[key] = (value as (...args: unknown[]) => unknown).bind(target);
      else out[key] = traceCall(target, key, value as (...args: unknown[]) => unknown);
    }
  }
  return out as T;
}

export const native: NativeAddon = traced(addon);
// ---- end of the error path ----
