// Read-only readers of a log that a writer in another process appends to
// (CommitLog.openReader). The writer publishes its durable end in the HEAD
// file after every batch it made durable; a reader never reads past it, so it
// never sees bytes the page cache holds but the disk may not (docs/FORMAT.md,
// "HEAD"; native/core/log_reader.h).
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_READER_POLL_MS } from './constants';
import { type Cursor, type CursorInfo, type CursorOptions, CursorStore } from './cursor';
import { closedError, invalidArgType, invalidValue, outOfRange, seqArg, dirArg } from './errors';
import { type ChunkSource, type LogRecord, type ReadOptions, getRecord, readRecords } from './read';
import { native, type NativeReaderChunk, type NativeReaderHandle, type NativeReaderView } from './native';

/** Options of `CommitLog.openReader(dir, options)` / `LogReader.open`. */
export interface LogReaderOptions {
  /**
   * Milliseconds between the re-checks that following reads make while they wait, besides the
   * file system's change notifications (fs.watch), which some file systems (network ones, some
   * container mounts) do not deliver. Default 1000. Lower: new records show sooner there, for one
   * small file read per check.
   */
  pollIntervalMs?: number;
}

/** read() options of a reader: as a writer's (`from`, `to`, `follow`, `signal`, `cursor`). */
export type ReaderReadOptions = ReadOptions;

const kHandle = Symbol('commitlog.readerHandle');

function logMode(dir: string): number {
  try {
    return (fs.statSync(path.join(dir, 'CHECKPOINT')).mode & 0o777) | 0o600;
  } catch {
    return 0o600;
  }
}
const HEAD_NAME = 'HEAD';

interface Waiter {
  seq: number;
  after: NativeReaderChunk;
  wake: () => void;
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
  /** The log directory, as given to open(). */
  readonly dir: string;
  /** @internal */
  readonly [kHandle]: NativeReaderHandle;
  readonly #pollMs: number;
  readonly #source: ChunkSource<NativeReaderChunk>;
  #cursors: CursorStore | undefined;
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
      readChunk: (seq, to, maxBytes, prev) => self.#readChunk(seq, to, maxBytes, prev),
      firstSeq: () => self.firstSeq,
      isOpen: () => !self.#closed,
      // A writer's failure is its own process's: a reader just sees no more.
      failure: () => undefined,
      waitForMore: (seq, signal, after) => self.#waitForMore(seq, signal, after),
      // Continuity across a writer's restart or cut is proven natively (each
      // chunk carries the crc of the batch of the last record returned).
      checkRewind: () => {},
      rewindMark: () => 0,
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

  /** The log's identity (decimal digits), as CommitLog#logId. */
  get logId(): string {
    return this[kHandle].logId();
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
    return readRecords(this.#source, options, (name) => this.cursor(name));
  }

  /**
   * The bytes of record `seq` (a copy). Rejects with ERR_LOG_TRUNCATED below `firstSeq`, and with
   * a RangeError (ERR_OUT_OF_RANGE) at or past the durable end or at a number that holds no record
   * (given up by a 'truncate' recovery).
   */
  async get(seq: number): Promise<Buffer> {
    seqArg('seq', seq);
    return getRecord(this.#source, seq, () => this.durableSeq);
  }

  /**
   * The durable cursor (consumer offset) `name` of this log, owned from this process: commits go
   * to the log directory under the cursor's own lock (not the writer's), and the writer's
   * retention sees them. Created at `options.from` (default: the oldest record) if missing. Not
   * on a read-only mount (EROFS).
   */
  cursor(name: string, options?: CursorOptions): Promise<Cursor> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#track(this.#cursorStore().open(name, options));
  }

  /** Every cursor of this log and its position, by name. */
  cursors(): Promise<CursorInfo[]> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#track(this.#cursorStore().list());
  }

  #cursorStore(): CursorStore {
    this.#cursors ??= new CursorStore({
      dir: this.dir,
      logId: this[kHandle].logId(),
      durableSeq: () => this.durableSeq,
      firstSeq: () => this.firstSeq,
      // The log's own mode, as the writer's files have it: a cursor this
      // process (maybe another account, in the log's group) creates must be
      // readable by the writer's retention.
      mode: logMode(this.dir),
    });
    return this.#cursors;
  }

  /**
   * Ends every following iteration (cleanly) and releases the reader once its reads in flight are
   * done. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  /** close(), for `await using` (TypeScript 5.2+, or Node 24+ without a compiler). */
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

  #readChunk(seq: number, to: number, maxBytes: number, prev: NativeReaderChunk | undefined): Promise<NativeReaderChunk> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#track(this[kHandle].read(seq, to, maxBytes, prev));
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
