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

/** Results of append/appendMany below zero. */
export const APPEND_FULL = -1;
export const APPEND_FAILED = -2;
export const APPEND_CLOSED = -3;
export const APPEND_NO_MEMORY = -4;

export interface NativeLogHandle {
  append(data: Uint8Array): number;
  appendMany(data: Uint8Array[]): number;
  durable(): number;
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

export interface NativeAddon {
  open(
    dir: string,
    options: NativeOpenOptions,
    onDurable: (durableSeq: number, error: LogError | undefined) => void,
  ): Promise<NativeLogHandle>;
  setErrorClass(cls: typeof LogError): void;
  crc32c(data: Uint8Array, init?: number): number;
  crc32cHardware: boolean;
}

export const native: NativeAddon = nodeGypBuild(path.join(__dirname, '..'));
native.setErrorClass(LogError);
