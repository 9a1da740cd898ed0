// Loads the addon: a local build (build/Release) first, then a prebuild
// shipped in prebuilds/ (node-gyp-build's order).
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { LogError } from './errors';

export interface NativeReadResult {
  data: Buffer;
  ends: Uint32Array;
  first: number;
  cursorSeq: number;
  cursorSegment: number;
  cursorOffset: number;
}

export interface NativeStats {
  appendedSeq: number;
  durableSeq: number;
  firstSeq: number;
  records: number;
  batches: number;
  syncs: number;
  bytesWritten: number;
  payloadBytes: number;
  paddingBytes: number;
  segments: number;
  segmentsRolled: number;
  preparedSegmentsUsed: number;
  pendingBytes: number;
  syncLatencyUsP50: number;
  syncLatencyUsP99: number;
  syncLatencyUsMax: number;
  batchLatencyUsP50: number;
  batchLatencyUsP99: number;
}

export interface NativeRecovery {
  tornTail: boolean;
  corruption: boolean;
  reason: string;
  file: string;
  offset: number;
  bytesDropped: number;
  segmentsDropped: number;
  brokenFile: string;
}

/** append/appendMany: maxPendingBytes reached; retry once durableSeq advances. */
export const APPEND_FULL = -1;

export interface NativeLogHandle {
  /**
   * The first sequence number, APPEND_FULL, or (returned, not thrown) the
   * error: ERR_LOG_FAILED with the system error as `cause`, ERR_LOG_CLOSED or
   * ENOMEM. Throws only for arguments of the wrong type or size.
   */
  append(data: Uint8Array): number | LogError;
  appendMany(data: Uint8Array[]): number | LogError;
  durable(): number;
  /** The system error that stopped the log, or undefined while it works. */
  failure(): LogError | undefined;
  firstSeq(): number;
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
  stats(): NativeStats;
  recovery(): NativeRecovery;
  ref(): void;
  unref(): void;
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
  create: boolean;
}

export interface NativeFault {
  /** Arms a fault plan; see native/core/fault_io.h. */
  arm(plan: {
    crashAt?: number;
    failAt?: number;
    errno?: number;
    kind?: string;
    shortWrite?: boolean;
    trackDurability?: boolean;
  }): void;
  disarm(): void;
  /** Every later system call fails with ECANCELED, as if the process died. */
  crash(): void;
  /** With trackDurability: undo what was not durable, keeping a random subset of unsynced writes. */
  powerLoss(opts: { seed: number; keep: number; tear: boolean }): {
    writesLost: number;
    writesKept: number;
    writesTorn: number;
    dirOpsUndone: number;
  };
  steps(): number;
  crashed(): boolean;
}

export interface NativeAddon {
  open(
    dir: string,
    options: NativeOpenOptions,
    onDurable: (durableSeq: number, error: LogError | undefined) => void,
  ): Promise<NativeLogHandle>;
  setErrorClass(cls: typeof LogError): void;
  crc32c(data: Uint8Array, init?: number): number;
  crc32cHardware: boolean;
  writeFileDurable(path: string, data: Uint8Array, mode: number): Promise<void>;
  configResolve(path: string, mode: number): Promise<{ target: string; mode: number }>;
  configSave(target: string, data: Uint8Array, mode: number, backupCurrent: boolean): Promise<void>;
  moveDurable(from: string, to: string): Promise<void>;
  lockFile(target: string): Promise<number>;
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
export const native: NativeAddon = testDir
  ? require(path.resolve(testDir, 'commitlog_test.node'))
  : testAddon
    ? require(path.join(root, 'native', 'testing', 'build', 'Release', 'commitlog_test.node'))
    : nodeGypBuild(root);
native.setErrorClass(LogError);
