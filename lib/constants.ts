/** Defaults of {@link CommitLogOptions}; each option's doc says what it trades. */
export const DEFAULT_SYNC = 'auto';
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_DELAY_MICROS = 0;
export const DEFAULT_ALIGN_BYTES = 4096;
export const DEFAULT_PREALLOCATE = 'auto';
export const DEFAULT_RECOVERY = 'strict';
export const DEFAULT_BROKEN_BYTES_MAX = 1024 * 1024;
export const DEFAULT_RECYCLE_SEGMENTS = 2;
export const DEFAULT_BATCHES_IN_FLIGHT = 1;
/** Bounds of the period of retention's age timer (a quarter of maxAgeMs). */
export const RETENTION_PERIOD_MIN_MS = 1000;
export const RETENTION_PERIOD_MAX_MS = 60_000;
/** Milliseconds between a LogReader's re-checks while followers wait (besides fs.watch). */
export const DEFAULT_READER_POLL_MS = 1000;
/** Bytes of records a read() fetches from disk per step. */
export const DEFAULT_READ_CHUNK_BYTES = 1024 * 1024;

/** Hard limits, set by the on-disk format (u32 lengths) and memory. */
export const MAX_RECORD_BYTES_LIMIT = 1024 * 1024 * 1024;
export const MAX_PENDING_BYTES_LIMIT = 1024 * 1024 * 1024;
export const MIN_SEGMENT_BYTES = 64 * 1024;
/** Freed segments kept for reuse at most (each takes segmentBytes of disk while it waits). */
export const MAX_RECYCLE_SEGMENTS = 1024;
