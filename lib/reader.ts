// Read-only readers of a log that a writer in another process appends to
// (CommitLog.openReader). The writer publishes its durable end in the HEAD
// file after every batch it made durable; a reader never reads past it, so it
// never sees bytes the page cache holds but the disk may not (docs/FORMAT.md,
// "HEAD"; native/core/log_reader.h).
import fs from 'node:fs';
import { DEFAULT_READ_CHUNK_BYTES, DEFAULT_READER_POLL_MS } from './constants';
import { closedError, invalidArgType, invalidValue, outOfRange } from './errors';
import type { LogRecord, ReadOptions } from './log';
import { native, type NativeReaderChunk, type NativeReaderHandle, type NativeReaderView } from './native';

export interface LogReaderOptions {
  /**
   * Milliseconds between the re-checks that following reads make while they wait, besides the
   * file system's change notifications (fs.watch), which some file systems (network ones, some
   * container mounts) do not deliver. Default 1000. Lower: new records show sooner there, for one
   * small file read per check.
   */
  pollIntervalMs?: number;
}

export interface ReaderReadOptions extends ReadOptions {
  /**
   * Keep waiting for records the writer makes durable after the end is reached, instead of
   * ending the iteration there. Default false. Ends cleanly on `signal` or `close()`.
   */
  follow?: boolean;
  /** Ends the iteration, cleanly, once aborted. */
  signal?: AbortSignal;
}

/** Records as the native reads return them: consecutive, from `first`. */
export interface RecordChunk {
  data: Buffer;
  ends: Uint32Array;
  first: number;
}

/**
 * Where an iteration gets its records. The writer's read() and a LogReader's are the same loop
 * over two sources (to be merged with the writer's in lib/read.ts).
 */
export interface RecordSource<C extends RecordChunk> {
  /** Records from `seq`, below `to`; `state` is the previous chunk of the same iteration. */
  readChunk(seq: number, to: number, state: C | undefined): Promise<C>;
  /** Every record below it may be read now. */
  durableSeq(): number;
  /**
   * Resolves once there may be records that `after`, the chunk that came back empty at `seq`,
   * did not see; or once the source is closed or `signal` aborted. Never rejects.
   */
  waitForMore(seq: number, signal: AbortSignal | undefined, after: C): Promise<void>;
  readonly closed: boolean;
}

/** The one iteration loop: records in order, from `from` below `to`, following if asked. */
export async function* iterateRecords<C extends RecordChunk>(
  source: RecordSource<C>,
  from: number,
  to: number,
  follow: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<LogRecord, void, undefined> {
  let seq = from;
  let state: C | undefined;
  for (;;) {
    if (signal?.aborted) return;
    if (source.closed) {
      if (follow) return;
      throw closedError();
    }
    if (seq >= to) return;
    const chunk = await source.readChunk(seq, to, state);
    state = chunk;
    const n = chunk.ends.length;
    if (n > 0) {
      let start = 0;
      for (let i = 0; i < n; i++) {
        const end = chunk.ends[i];
        yield { seq: chunk.first + i, data: chunk.data.subarray(start, end) };
        start = end;
      }
      seq = chunk.first + n;
      continue;
    }
    // Nothing more is durable now (numbers given up were skipped: `first` is past them).
    seq = Math.max(seq, chunk.first);
    if (!follow) return;
    await source.waitForMore(seq, signal, chunk);
  }
}

const kHandle = Symbol('commitlog.readerHandle');
const HEAD_NAME = 'HEAD';

interface Waiter {
  seq: number;
  after: NativeReaderChunk;
  wake: () => void;
}

function seqArg(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a non-negative safe integer', value);
  return value;
}

function dirArg(dir: unknown): string {
  if (typeof dir !== 'string') throw invalidArgType('dir', 'of type string', dir);
  if (dir.length === 0 || dir.includes('\0')) throw outOfRange('dir', 'a non-empty path without NUL bytes', dir);
  return dir;
}

function pollArg(options: unknown): number {
  if (options === undefined) return DEFAULT_READER_POLL_MS;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgType('options', 'an object', options);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'pollIntervalMs') throw invalidValue('options', `unknown option "${key}"`, key);
  }
  const ms = o.pollIntervalMs;
  if (ms === undefined) return DEFAULT_READER_POLL_MS;
  if (typeof ms !== 'number') throw invalidArgType('options.pollIntervalMs', 'of type number', ms);
  if (!Number.isInteger(ms) || ms < 1 || ms > 2 ** 31 - 1) {
    throw outOfRange('options.pollIntervalMs', `an integer >= 1 and <= ${2 ** 31 - 1}`, ms);
  }
  return ms;
}

/**
 * A read-only view of a log that a writer, usually in another process, appends to. It takes no
 * lock, writes nothing and never recovers: it reads what the writer published as durable (the
 * HEAD file), never more, so it never shows a record that a power loss could take away. It keeps
 * working across a crash and restart of the writer; if the restarted writer's log is shorter than
 * what an iteration already read (its recovery cut records that were never synced), that
 * iteration fails with ERR_LOG_TRUNCATED. See "Readers in other processes" in README.md.
 */
export class LogReader {
  readonly dir: string;
  readonly [kHandle]: NativeReaderHandle;
  readonly #pollMs: number;
  readonly #source: RecordSource<NativeReaderChunk>;
  #closed = false;
  #closing: Promise<void> | undefined;
  #ops = new Set<Promise<unknown>>();
  #last: NativeReaderView;
  // Followers waiting for the writer, and what wakes them: one watcher of the
  // directory for all of them, and a slow re-check for when it stays silent.
  #waiters = new Set<Waiter>();
  #watcher: fs.FSWatcher | undefined;
  #watchFailed = false;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  private constructor(dir: string, handle: NativeReaderHandle, pollMs: number) {
    this.dir = dir;
    this[kHandle] = handle;
    this.#pollMs = pollMs;
    this.#last = handle.view();
    const self = this;
    this.#source = {
      readChunk: (seq, to, state) => self.#readChunk(seq, to, state),
      durableSeq: () => self.durableSeq,
      waitForMore: (seq, signal, after) => self.#waitForMore(seq, signal, after),
      get closed() {
        return self.#closed;
      },
    };
  }

  /**
   * Opens the log in `dir` for reading. Rejects with ENOENT if `dir` does not exist or holds no
   * log. Works on a read-only mount.
   */
  static async open(dir: string, options?: LogReaderOptions): Promise<LogReader> {
    dirArg(dir);
    const pollMs = pollArg(options);
    return new LogReader(dir, await native.openReader(dir), pollMs);
  }

  /** Sequence number of the oldest record in the log, as the writer last published it. */
  get firstSeq(): number {
    return this.#view().first;
  }

  /** Every record below this sequence number is durable and may be read (see README for 'none'). */
  get durableSeq(): number {
    return this.#view().durable;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads durable records in sequence order, from `from` (default: the oldest) up to `to` or the
   * durable end; with `follow`, then waits for the writer to make more durable. Each record's data
   * is a view into a shared chunk: copy it to keep it long.
   */
  read(options: ReaderReadOptions = {}): AsyncIterableIterator<LogRecord> {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const from = options.from === undefined ? undefined : seqArg('options.from', options.from);
    const to = options.to === undefined ? Infinity : seqArg('options.to', options.to);
    if (options.follow !== undefined && typeof options.follow !== 'boolean') {
      throw invalidArgType('options.follow', 'of type boolean', options.follow);
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw invalidArgType('options.signal', 'an AbortSignal', signal);
    }
    return this.#read(from, to, options.follow ?? false, signal);
  }

  async *#read(from: number | undefined, to: number, follow: boolean, signal: AbortSignal | undefined) {
    yield* iterateRecords(this.#source, from ?? this.firstSeq, to, follow, signal);
  }

  /**
   * The bytes of record `seq` (a copy). Rejects with ERR_LOG_TRUNCATED below `firstSeq`, and with
   * a RangeError (ERR_OUT_OF_RANGE) at or past the durable end or at a number that holds no record
   * (given up by a 'truncate' recovery).
   */
  async get(seq: number): Promise<Buffer> {
    seqArg('seq', seq);
    if (this.#closed) throw closedError();
    const chunk = await this.#track(this[kHandle].read(seq, seq + 1, 1, undefined));
    if (chunk.ends.length === 1 && chunk.first === seq) return chunk.data;
    if (seq >= chunk.view.durable) {
      throw outOfRange('seq', `below the durable end (${chunk.view.durable})`, seq);
    }
    throw outOfRange('seq', 'a number that holds a record (a \'truncate\' recovery gave this one up)', seq);
  }

  /**
   * Ends every following iteration (cleanly) and releases the reader once its reads in flight are
   * done. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const w of [...this.#waiters]) w.wake();
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#idle();
    await Promise.allSettled([...this.#ops]);
    this[kHandle].close();
  }

  #view(): NativeReaderView {
    if (!this.#closed) this.#last = this[kHandle].view();
    return this.#last;
  }

  #readChunk(seq: number, to: number, state: NativeReaderChunk | undefined): Promise<NativeReaderChunk> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#track(this[kHandle].read(seq, to, DEFAULT_READ_CHUNK_BYTES, state));
  }

  #waitForMore(seq: number, signal: AbortSignal | undefined, after: NativeReaderChunk): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#closed || signal?.aborted) return resolve();
      const onAbort = () => w.wake();
      const w: Waiter = {
        seq,
        after,
        wake: () => {
          this.#waiters.delete(w);
          signal?.removeEventListener('abort', onAbort);
          if (this.#waiters.size === 0) this.#idle();
          resolve();
        },
      };
      this.#waiters.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#watch();
      // The writer may have published between the read and now.
      this.#check();
    });
  }

  // More may be readable than `after` saw: the durable end moved past both
  // it and `seq`, or a new generation began (a writer restarted: the next
  // read re-validates, and fails promptly if the log was cut under it).
  static #ready(w: Waiter, v: NativeReaderView): boolean {
    return v.generation !== w.after.view.generation || v.durable > Math.max(w.seq, w.after.view.durable);
  }

  #check(): void {
    if (this.#waiters.size === 0) return;
    let v: NativeReaderView;
    try {
      v = this.#view();
    } catch {
      // HEAD cannot be read: let the followers' next read report why.
      for (const w of [...this.#waiters]) w.wake();
      return;
    }
    for (const w of [...this.#waiters]) if (LogReader.#ready(w, v)) w.wake();
  }

  #watch(): void {
    if (this.#watcher === undefined && !this.#watchFailed) {
      try {
        // The directory, not HEAD itself: HEAD may not exist yet (a log of
        // older code, or a writer that has not opened it). The writer's one
        // pwrite of HEAD per batch is an inotify event here.
        this.#watcher = fs.watch(this.dir, { persistent: true }, (_event, name) => {
          if (name === null || name === HEAD_NAME) this.#check();
        });
        this.#watcher.on('error', () => {
          this.#watcher?.close();
          this.#watcher = undefined;
          this.#watchFailed = true;
        });
      } catch {
        this.#watchFailed = true;
      }
    }
    // Followers keep the process alive, as a socket being read does.
    this.#watcher?.ref();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#poll(), this.#pollMs);
      if (this.#watcher !== undefined) this.#timer.unref();
    }
  }

  #idle(): void {
    this.#watcher?.unref();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  // The slow path: also re-lists the directory and, without a HEAD, proves
  // the durable end from the files, off the JS thread.
  async #poll(): Promise<void> {
    if (this.#polling || this.#closed || this.#waiters.size === 0) return;
    this.#polling = true;
    try {
      await this.#track(this[kHandle].refresh());
    } catch {
      // The followers' next read reports it (#check wakes them if HEAD fails).
    } finally {
      this.#polling = false;
    }
    this.#check();
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#ops.add(p);
    const done = () => this.#ops.delete(p);
    p.then(done, done);
    return p;
  }
}

/** CommitLog.openReader. */
export function openReader(dir: string, options?: LogReaderOptions): Promise<LogReader> {
  return LogReader.open(dir, options);
}
