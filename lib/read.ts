// The one record iterator: reading, following and random access for both the
// writer (CommitLog) and read-only readers of other processes (LogReader).
// Each supplies a ChunkSource; everything about chunks, follow waits, abort
// and truncation checks lives here once.
import { DEFAULT_READ_CHUNK_BYTES } from './constants';
import { checkName } from './cursor';
import { LogError, closedError, invalidArgType, invalidValue, outOfRange, seqArg } from './errors';
import type { NativeReadResult } from './native';

/** A record as read back: its sequence number and its bytes. */
export interface LogRecord {
  /** The record's sequence number. */
  seq: number;
  /** Its bytes: a view into a shared chunk of about 1 MiB; copy it to keep it long. */
  data: Buffer;
}

/** Options of `read()`; any other key is rejected (RangeError, ERR_INVALID_ARG_VALUE). */
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

/** What a writer or a reader gives the iterator. `C` is its native chunk. */
export interface ChunkSource<C extends NativeReadResult = NativeReadResult> {
  /**
   * Durable records from `seq` (below `to`), about `maxBytes` of them. `prev` is the previous
   * chunk of the same iteration (where it ended, so that the next read need not search; for a
   * reader, also its proof of continuity), undefined for a first read.
   */
  readChunk(seq: number, to: number, maxBytes: number, prev: C | undefined): Promise<C>;
  firstSeq(): number;
  /** 'open' while reads may go on. */
  isOpen(): boolean;
  /** The error that stopped the writer (no record will follow), if any. */
  failure(): Error | undefined;
  /**
   * Resolves once there may be records that `after` (the chunk that came
   * back empty at `seq`) did not see, or when the source closes, or when
   * `signal` aborts; never rejects. Costs nothing while it waits: no timer
   * per follower, no polling.
   */
  waitForMore(seq: number, signal: AbortSignal | undefined, after: C): Promise<void>;
  /**
   * Throws ERR_LOG_TRUNCATED if a truncation since `since` (a value of
   * rewindMark()) dropped a record below `seen` (one the caller was given).
   */
  checkRewind(since: number, seen: number): void;
  rewindMark(): number;
}

/**
 * Yields durable records in order from `from` (default: the oldest). With
 * `follow`, waits at the durable end for more. One chunk is held at a time:
 * a slow consumer holds at most about DEFAULT_READ_CHUNK_BYTES.
 */
export async function* iterate<C extends NativeReadResult>(
  src: ChunkSource<C>,
  from: number | undefined,
  to: number,
  follow: boolean,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<LogRecord> {
  let seq = from ?? src.firstSeq();
  let prev: C | undefined;
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
      // The previous chunk may name a batch a truncation rewrote or removed.
      prev = undefined;
      mark = src.rewindMark();
    }
    const chunk = await src.readChunk(seq, to, DEFAULT_READ_CHUNK_BYTES, prev);
    const n = chunk.ends.length;
    if (n === 0) {
      // Nothing more is durable now; numbers given up by a 'truncate'
      // recovery were skipped (`first` is past them).
      seq = Math.max(seq, chunk.first);
      if (!follow) return;
      // A failed log makes nothing durable any more: a follower would wait forever.
      const failure = src.failure();
      if (failure) throw failure;
      await src.waitForMore(seq, signal, chunk);
      continue;
    }
    prev = chunk;
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
  }
}

/**
 * read(options) on a writer or a reader: validates the options and iterates
 * from `from`, or from the committed position of the cursor `cursor` names
 * (`openCursor` creates a missing one at the oldest record).
 */
export function readRecords<C extends NativeReadResult>(
  src: ChunkSource<C>,
  options: unknown,
  openCursor: (name: string) => Promise<{ position: number }>,
): AsyncIterableIterator<LogRecord> {
  const o = parseReadOptions(options);
  if (o.cursor === undefined) return iterate(src, o.from, o.to, o.follow, o.signal);
  checkName(o.cursor);
  return fromCursor(src, openCursor(o.cursor), o.to, o.follow, o.signal);
}

async function* fromCursor<C extends NativeReadResult>(
  src: ChunkSource<C>,
  cursor: Promise<{ position: number }>,
  to: number,
  follow: boolean,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<LogRecord> {
  yield* iterate(src, (await cursor).position, to, follow, signal);
}

/** One record's bytes (its own buffer), or the error saying why there is none. */
export async function getRecord<C extends NativeReadResult>(
  src: ChunkSource<C>,
  seq: number,
  durableSeq: () => number,
): Promise<Buffer> {
  if (!src.isOpen()) throw closedError();
  const mark = src.rewindMark();
  const chunk = await src.readChunk(seq, seq + 1, 1, undefined);
  src.checkRewind(mark, seq + 1);
  if (chunk.ends.length === 1 && chunk.first === seq) {
    // The native read copied exactly this record into a buffer of its own.
    return chunk.data.subarray(0, chunk.ends[0]);
  }
  const durable = durableSeq();
  if (seq >= durable) throw outOfRange('seq', `below the durable end (${durable})`, seq);
  throw outOfRange('seq', "a number that holds a record (a 'truncate' recovery gave this one up)", seq);
}

/** A chunk with no records, at `seq`: what a read at the durable end returns. */
export function emptyChunk(seq: number): NativeReadResult {
  return { data: Buffer.alloc(0), ends: new Uint32Array(0), first: seq, cursorSeq: seq, cursorSegment: 0, cursorOffset: 0 };
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

  /** The cuts made since `since` (a mark()). */
  cutsSince(since: number): number[] {
    return this.#cuts.slice(since);
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
