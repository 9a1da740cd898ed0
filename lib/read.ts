// The one record iterator: reading, following and random access for both the
// writer (CommitLog) and read-only readers of other processes (LogReader).
// Each supplies a ChunkSource; everything about chunks, follow waits, abort
// and truncation checks lives here once.
import { DEFAULT_READ_CHUNK_BYTES } from './constants';
import { LogError, closedError, invalidArgType, invalidValue, outOfRange } from './errors';
import type { NativeReadResult } from './native';

/** A record as read back: its sequence number and its bytes. */
export interface LogRecord {
  seq: number;
  data: Buffer;
}

export interface ReadOptions {
  /** First sequence number to read. Default: the oldest record in the log (or the cursor's position). */
  from?: number;
  /** Stop before this sequence number. Default: the durable end at each step (no end with `follow`). */
  to?: number;
  /**
   * Keep going at the durable end: wait for new records and yield each once it is durable, until
   * `to`, `signal` aborts or the log (reader) closes; the iterator then ends without an error.
   */
  follow?: boolean;
  /** Ends a read (and a follow) early, cleanly. */
  signal?: AbortSignal;
  /** Start at this cursor's committed position (`from` must not be given too). */
  cursor?: string;
}

export interface ParsedRead {
  from: number | undefined;
  to: number;
  follow: boolean;
  signal: AbortSignal | undefined;
  cursor: string | undefined;
}

const READ_KEYS = new Set(['from', 'to', 'follow', 'signal', 'cursor']);

export function seqArg(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a non-negative safe integer', value);
  return value;
}

export function parseReadOptions(options: unknown): ParsedRead {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgType('options', 'an object', options);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!READ_KEYS.has(key)) throw invalidValue('options', `unknown read option "${key}"`, key);
  }
  const from = o.from === undefined ? undefined : seqArg('options.from', o.from);
  const to = o.to === undefined ? Infinity : seqArg('options.to', o.to);
  if (o.follow !== undefined && typeof o.follow !== 'boolean') {
    throw invalidArgType('options.follow', 'of type boolean', o.follow);
  }
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an AbortSignal', signal);
  }
  if (o.cursor !== undefined && typeof o.cursor !== 'string') {
    throw invalidArgType('options.cursor', 'of type string', o.cursor);
  }
  if (o.cursor !== undefined && from !== undefined) {
    throw invalidValue('options', 'give "from" or "cursor", not both', 'from+cursor');
  }
  return { from, to, follow: o.follow === true, signal: signal as AbortSignal | undefined, cursor: o.cursor as string | undefined };
}

/** Where the previous chunk ended, so that the next read need not search. */
export interface ReadPosition {
  seq: number | undefined;
  segment: number;
  offset: number;
}

/** What a writer or a reader gives the iterator. */
export interface ChunkSource {
  /** Durable records from `seq` (below `to`), about `maxBytes` of them. */
  readChunk(seq: number, to: number, maxBytes: number, pos: ReadPosition): Promise<NativeReadResult>;
  firstSeq(): number;
  durableSeq(): number;
  /** 'open' while reads may go on. */
  isOpen(): boolean;
  /** The error that stopped the writer (no record will follow), if any. */
  failure(): Error | undefined;
  /**
   * Resolves once durableSeq() > seq, or when the source closes, or when
   * `signal` aborts (whichever first); never rejects. Costs nothing while
   * it waits: no timer, no polling.
   */
  waitForMore(seq: number, signal: AbortSignal | undefined): Promise<void>;
  /**
   * Throws ERR_LOG_TRUNCATED if records at or above `seq` were dropped
   * (truncateFrom, or a writer that restarted with less) since `since`, a
   * value of rewindMark() taken before they were read.
   */
  checkRewind(since: number, seq: number): void;
  rewindMark(): number;
}

/**
 * Yields durable records in order from `from` (default: the oldest). With
 * `follow`, waits at the durable end for more. One chunk is held at a time:
 * a slow consumer holds at most about DEFAULT_READ_CHUNK_BYTES.
 */
export async function* iterate(
  src: ChunkSource,
  from: number | undefined,
  to: number,
  follow: boolean,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<LogRecord> {
  let seq = from ?? src.firstSeq();
  const pos: ReadPosition = { seq: undefined, segment: 0, offset: 0 };
  // Truncations before this mark cannot have dropped anything yielded.
  let mark = src.rewindMark();
  // Just past the last record yielded: a truncation at or below it dropped
  // one the caller has seen.
  let seen = 0;
  for (;;) {
    if (signal?.aborted) return;
    if (!src.isOpen()) {
      if (follow) return;
      throw closedError();
    }
    if (seq >= to) return;
    src.checkRewind(mark, seen);
    if (src.rewindMark() !== mark) {
      // The cached position may name a batch a truncation rewrote or removed.
      pos.seq = undefined;
      mark = src.rewindMark();
    }
    if (seq >= src.durableSeq()) {
      if (!follow) return;
      // A failed log makes nothing durable any more: a follower would wait forever.
      const failure = src.failure();
      if (failure) throw failure;
      await src.waitForMore(seq, signal);
      continue;
    }
    // Bounded by the durable end this side has seen, so that a record is
    // never yielded before durableSeq (and, on a writer, its append's
    // promise) says it is durable, even when the native side knows more.
    const chunk = await src.readChunk(seq, Math.min(to, src.durableSeq()), DEFAULT_READ_CHUNK_BYTES, pos);
    const n = chunk.ends.length;
    if (n === 0) {
      // Numbers given up by a 'truncate' recovery, skipped: go on after them.
      if (chunk.first > seq) {
        seq = chunk.first;
        continue;
      }
      // The durable end moved down to seq while reading (a truncation at
      // seq exactly) or the source closed: the loop top decides. Anything
      // else would be a durable record the native read did not find, which
      // it reports as corruption itself.
      if (src.isOpen() && seq < src.durableSeq()) {
        throw new LogError(`durable record ${seq} could not be read`, 'ERR_LOG_CORRUPT');
      }
      continue;
    }
    let start = 0;
    for (let i = 0; i < n; i++) {
      const s = chunk.first + i;
      // A truncation that ran while the chunk was read, or while the
      // consumer held the previous record, may have dropped this one.
      if (src.rewindMark() !== mark) src.checkRewind(mark, s + 1);
      const end = chunk.ends[i];
      seen = s + 1;
      yield { seq: s, data: chunk.data.subarray(start, end) };
      start = end;
      if (signal?.aborted) return;
    }
    seq = chunk.first + n;
    pos.seq = chunk.cursorSeq;
    pos.segment = chunk.cursorSegment;
    pos.offset = chunk.cursorOffset;
  }
}

/** One record's bytes (its own buffer), or the error saying why there is none. */
export async function getRecord(src: ChunkSource, seq: number): Promise<Buffer> {
  if (!src.isOpen()) throw closedError();
  const durable = src.durableSeq();
  if (seq >= durable) {
    throw outOfRange('seq', `below the durable end (${durable})`, seq);
  }
  const mark = src.rewindMark();
  const chunk = await src.readChunk(seq, seq + 1, 1, { seq: undefined, segment: 0, offset: 0 });
  src.checkRewind(mark, seq + 1);
  if (chunk.ends.length === 0) {
    // The durable end moved below seq while reading (a truncation).
    throw outOfRange('seq', `below the durable end (${src.durableSeq()})`, seq);
  }
  if (chunk.first !== seq) {
    throw new LogError(
      `sequence number ${seq} names no record: recovery gave it up (see recovery.gapFrom/gapTo)`,
      'ERR_LOG_TRUNCATED',
    );
  }
  // The native read copied exactly this record into a buffer of its own.
  return chunk.data.subarray(0, chunk.ends[0]);
}

/**
 * Wakes waiters when the durable end advances: one list, no per-waiter timer.
 * Used by a source's waitForMore.
 */
export class DurableWaiters {
  #waiters: Array<() => void> = [];

  get size(): number {
    return this.#waiters.length;
  }

  /** Resolves on the next wake() (or abort); the caller re-checks its condition. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(finish);
        if (i >= 0) this.#waiters.splice(i, 1);
        finish();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(finish);
    });
  }

  wake(): void {
    if (this.#waiters.length === 0) return;
    const list = this.#waiters;
    this.#waiters = [];
    for (const w of list) w();
  }
}

/** Remembers truncations so that iterators started before one can tell whether it hit them. */
export class RewindLog {
  #count = 0;
  // cuts[i] is the seq of the (i+1)-th truncation.
  #cuts: number[] = [];

  mark(): number {
    return this.#count;
  }

  note(seq: number): void {
    this.#count++;
    this.#cuts.push(seq);
  }

  check(since: number, seq: number): void {
    for (let i = since; i < this.#count; i++) {
      const cut = this.#cuts[i];
      if (seq > cut) {
        throw new LogError(
          `records from ${cut} were dropped (truncateFrom) while this read was at ${seq}`,
          'ERR_LOG_TRUNCATED',
        );
      }
    }
  }
}
