import { DEFAULT_READ_CHUNK_BYTES } from './constants';
import { type LogError, closedError, invalidArgType, outOfRange } from './errors';
import {
  APPEND_FULL,
  native,
  type NativeLogHandle,
  type NativeRecovery,
  type NativeStats,
} from './native';
import { resolveOptions, type CommitLogOptions, type ResolvedOptions } from './options';
import { openReader, type LogReader, type LogReaderOptions } from './reader';

/** A record as read back: its sequence number and its bytes. */
export interface LogRecord {
  seq: number;
  data: Buffer;
}

export interface ReadOptions {
  /** First sequence number to read. Default: the oldest record in the log. */
  from?: number;
  /** Stop before this sequence number. Default: the durable end at each step. */
  to?: number;
}

export interface LogStats extends NativeStats {
  /** records / batches: how many appends shared one write and one sync. */
  meanRecordsPerBatch: number;
  /** Appends whose promise has not settled yet. */
  pendingAppends: number;
}

/** What open() found and did; see `recovery` in README. */
export type RecoveryReport = NativeRecovery;

export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView | string;

const kHandle = Symbol('commitlog.handle');
const COMPACT_AT = 4096;

interface Waiter {
  records: Uint8Array[];
  many: boolean;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

function toBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw invalidArgType(name, 'a string, Buffer, TypedArray, DataView or ArrayBuffer', value);
}

function seqArg(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a non-negative safe integer', value);
  return value;
}

/**
 * A durable append-only log in one directory. Appends from any number of
 * concurrent callers are committed together: one write and one fdatasync per
 * batch, and each append's promise resolves only once its record is on stable
 * storage.
 */
export class CommitLog {
  readonly dir: string;
  readonly [kHandle]: NativeLogHandle;
  readonly #options: ResolvedOptions;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #failure: LogError | undefined;
  #durable = 0;
  // Appends staged in the native batch, waiting for durability: a FIFO of
  // parallel arrays (no object per append). An entry settles once the
  // durable sequence passes its last record.
  #pendLast: number[] = [];
  #pendFirst: number[] = [];
  #pendResolve: Array<(seq: number) => void> = [];
  #pendReject: Array<(err: Error) => void> = [];
  #pendHead = 0;
  // Appends not yet staged because maxPendingBytes was reached, in order.
  #waiting: Waiter[] = [];
  #waitHead = 0;
  #drained: Array<() => void> = [];
  #reffed = false;
  #ops = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(dir: string, options: ResolvedOptions, handle: NativeLogHandle) {
    this.dir = dir;
    this.#options = options;
    this[kHandle] = handle;
    this.#durable = handle.durable();
  }

  /**
   * Opens the log in `dir`, creating it if needed, and recovers it: a torn
   * tail left by a crash is cut off; damage to acknowledged records rejects
   * with ERR_LOG_CORRUPT (or is cut with `recovery: 'truncate'`). A second
   * open of the same directory, from any process, rejects with ERR_LOG_LOCKED.
   */
  static async open(dir: string, options?: CommitLogOptions): Promise<CommitLog> {
    if (typeof dir !== 'string') throw invalidArgType('dir', 'of type string', dir);
    if (dir.length === 0 || dir.includes('\0')) throw outOfRange('dir', 'a non-empty path without NUL bytes', dir);
    const opts = resolveOptions(options);
    let log: CommitLog | undefined;
    const early: Array<[number, LogError | undefined]> = [];
    const handle = await native.open(dir, opts, (durable, err) => {
      if (log) log.#onDurable(durable, err);
      else early.push([durable, err]);
    });
    log = new CommitLog(dir, opts, handle);
    for (const [d, e] of early) log.#onDurable(d, e);
    return log;
  }

  /**
   * Opens a read-only reader of the log in `dir`, for other processes than the writer's: no lock,
   * no writes, and only what the writer made durable. See LogReader.
   */
  static openReader(dir: string, options?: LogReaderOptions): Promise<LogReader> {
    return openReader(dir, options);
  }

  /** Sequence number of the oldest record still in the log. */
  get firstSeq(): number {
    return this[kHandle].firstSeq();
  }

  /** Every record below this sequence number is durable. */
  get durableSeq(): number {
    return this.#durable;
  }

  /** What recovery found when this log was opened. */
  get recovery(): RecoveryReport {
    return this[kHandle].recovery();
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  /**
   * Appends one record. Resolves with its sequence number once it is on
   * stable storage (as the `sync` option defines it). Strings are UTF-8.
   */
  append(data: Bytes): Promise<number> {
    let bytes: Uint8Array;
    try {
      bytes = toBytes(data, 'data');
      this.#checkSize(bytes.byteLength, 'data');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#submit([bytes], false);
  }

  /**
   * Appends records as one group: consecutive sequence numbers, one batch,
   * all durable or (after a crash) all absent. Resolves with the first
   * sequence number.
   */
  appendMany(records: readonly Bytes[]): Promise<number> {
    const list: Uint8Array[] = [];
    try {
      if (!Array.isArray(records)) throw invalidArgType('records', 'an array', records);
      if (records.length === 0) throw outOfRange('records.length', 'at least 1', 0);
      let total = 0;
      for (let i = 0; i < records.length; i++) {
        const b = toBytes(records[i], `records[${i}]`);
        this.#checkSize(b.byteLength, `records[${i}]`);
        total += b.byteLength + 4;
        list.push(b);
      }
      if (total > this.#options.maxPendingBytes) {
        throw outOfRange('records', `at most maxPendingBytes (${this.#options.maxPendingBytes}) bytes in all`, total);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#submit(list, true);
  }

  /**
   * Reads durable records in sequence order, from `from` (default: the
   * oldest) to the durable end. Records appended while reading are included
   * once durable. Each record's data is a view into a shared chunk: copy it
   * to keep it long.
   */
  read(options: ReadOptions = {}): AsyncIterableIterator<LogRecord> {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const from = options.from === undefined ? undefined : seqArg('options.from', options.from);
    const to = options.to === undefined ? Infinity : seqArg('options.to', options.to);
    return this.#read(from, to);
  }

  async *#read(from: number | undefined, to: number): AsyncIterableIterator<LogRecord> {
    let seq = from ?? this.firstSeq;
    let cursorSeq: number | undefined;
    let cursorSegment = 0;
    let cursorOffset = 0;
    for (;;) {
      if (this.#state !== 'open') throw closedError();
      const chunk = await this.#track(
        this[kHandle].read(seq, to, DEFAULT_READ_CHUNK_BYTES, cursorSeq, cursorSegment, cursorOffset),
      );
      const n = chunk.ends.length;
      if (n === 0) return;
      let start = 0;
      for (let i = 0; i < n; i++) {
        const end = chunk.ends[i];
        yield { seq: chunk.first + i, data: chunk.data.subarray(start, end) };
        start = end;
      }
      seq = chunk.first + n;
      cursorSeq = chunk.cursorSeq;
      cursorSegment = chunk.cursorSegment;
      cursorOffset = chunk.cursorOffset;
    }
  }

  /**
   * Retention: deletes the segment files all of whose records are below
   * `seq`. The segment being written is never deleted, so some records below
   * `seq` may remain. Resolves with the number of files deleted.
   */
  truncateBefore(seq: number): Promise<number> {
    try {
      seqArg('seq', seq);
      if (this.#state !== 'open') throw closedError();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#track(this[kHandle].truncateBefore(seq));
  }

  /** Counters and latencies of this instance; see README for each field. */
  stats(): LogStats {
    const s = this[kHandle].stats();
    return {
      ...s,
      meanRecordsPerBatch: s.batches === 0 ? 0 : s.records / s.batches,
      pendingAppends: this.#pendLast.length - this.#pendHead + this.#waiting.length - this.#waitHead,
    };
  }

  /**
   * Waits until everything appended before it is durable (and resolves those
   * appends), then stops the flusher and releases the directory lock.
   * Appends after close() reject with ERR_LOG_CLOSED. Calling it again
   * returns the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#state = 'closing';
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    while (this.#waiting.length > this.#waitHead && !this.#failure) {
      await new Promise<void>((resolve) => this.#drained.push(resolve));
    }
    await Promise.allSettled([...this.#ops]);
    let closeError: unknown;
    try {
      await this[kHandle].close();
    } catch (err) {
      closeError = err;
    }
    // The flusher has stopped: settle everything with the final state, even
    // if its last notification is still queued.
    this.#onDurable(this[kHandle].durable(), this.#failure ?? this[kHandle].failure());
    this.#rejectAll(this.#failure ?? closedError());
    this.#setRef(false);
    this.#state = 'closed';
    if (closeError) throw closeError;
  }

  #checkSize(n: number, name: string): void {
    if (n > this.#options.maxRecordBytes) {
      throw outOfRange(`${name}.byteLength`, `at most maxRecordBytes (${this.#options.maxRecordBytes})`, n);
    }
  }

  #submit(records: Uint8Array[], many: boolean): Promise<number> {
    if (this.#state !== 'open') return Promise.reject(closedError());
    if (this.#waiting.length === this.#waitHead) {
      const h = this[kHandle];
      const r = many ? h.appendMany(records) : h.append(records[0]);
      if (typeof r !== 'number') {
        // ERR_LOG_FAILED (its cause is the system error), ERR_LOG_CLOSED or
        // ENOMEM. Appends made before this one settle first.
        if (r.code === 'ERR_LOG_FAILED') this.#fail(r.cause as LogError);
        return Promise.reject(r);
      }
      if (r >= 0) {
        return new Promise<number>((resolve, reject) => this.#pend(r, r + records.length - 1, resolve, reject));
      }
      // APPEND_FULL: wait for room, in order.
    }
    return new Promise<number>((resolve, reject) => {
      this.#waiting.push({ records, many, resolve, reject });
      this.#setRef(true);
    });
  }

  #pend(first: number, last: number, resolve: (seq: number) => void, reject: (err: Error) => void): void {
    this.#pendFirst.push(first);
    this.#pendLast.push(last);
    this.#pendResolve.push(resolve);
    this.#pendReject.push(reject);
    if (!this.#reffed) this.#setRef(true);
  }

  // Runs on the JS thread once per batch made durable (coalesced), and once
  // if the log fails.
  #onDurable(durable: number, err: LogError | undefined): void {
    this.#resolveDurable(durable);
    if (err) this.#fail(err);
    this.#drainWaiting();
    if (this.#pendHead === this.#pendLast.length && this.#waitHead === this.#waiting.length) this.#setRef(false);
  }

  #resolveDurable(durable: number): void {
    if (durable > this.#durable) this.#durable = durable;
    const last = this.#pendLast;
    let head = this.#pendHead;
    while (head < last.length && last[head] < this.#durable) {
      const resolve = this.#pendResolve[head];
      const first = this.#pendFirst[head];
      head++;
      resolve(first);
    }
    this.#pendHead = head;
    this.#compactPending();
  }

  // The log failed (fail-stop) with `cause`, the system error. Called by the
  // flusher's notification, or earlier by an append that the native side
  // refused with ERR_LOG_FAILED before that notification ran: either way,
  // what became durable resolves and everything else appended so far
  // rejects with the cause, in order, before any later append settles.
  #fail(cause: LogError): void {
    if (this.#failure) return;
    this.#resolveDurable(this[kHandle].durable());
    this.#failure = cause;
    this.#rejectAll(cause);
  }

  #drainWaiting(): void {
    const h = this[kHandle];
    while (this.#waitHead < this.#waiting.length && !this.#failure) {
      const w = this.#waiting[this.#waitHead];
      const r = w.many ? h.appendMany(w.records) : h.append(w.records[0]);
      if (r === APPEND_FULL) break;
      if (typeof r !== 'number' && r.code === 'ERR_LOG_FAILED') {
        // w was appended while the log worked: it fails with the rest.
        this.#fail(r.cause as LogError);
        break;
      }
      this.#waitHead++;
      if (typeof r === 'number') this.#pend(r, r + w.records.length - 1, w.resolve, w.reject);
      else w.reject(r);
    }
    if (this.#waitHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitHead = 0;
      for (const d of this.#drained.splice(0)) d();
    }
  }

  // Rejects every append not yet settled: on failure with the system error
  // that stopped the log (EIO, ENOSPC, ...).
  #rejectAll(err: Error): void {
    for (let i = this.#pendHead; i < this.#pendLast.length; i++) this.#pendReject[i](err);
    this.#pendFirst = [];
    this.#pendLast = [];
    this.#pendResolve = [];
    this.#pendReject = [];
    this.#pendHead = 0;
    for (let i = this.#waitHead; i < this.#waiting.length; i++) this.#waiting[i].reject(err);
    this.#waiting = [];
    this.#waitHead = 0;
    for (const d of this.#drained.splice(0)) d();
  }

  #compactPending(): void {
    const head = this.#pendHead;
    if (head === this.#pendLast.length) {
      this.#pendFirst.length = 0;
      this.#pendLast.length = 0;
      this.#pendResolve.length = 0;
      this.#pendReject.length = 0;
      this.#pendHead = 0;
    } else if (head >= COMPACT_AT && head * 2 >= this.#pendLast.length) {
      this.#pendFirst.splice(0, head);
      this.#pendLast.splice(0, head);
      this.#pendResolve.splice(0, head);
      this.#pendReject.splice(0, head);
      this.#pendHead = 0;
    }
  }

  // Keeps the process alive while appends wait for durability, and only then.
  #setRef(on: boolean): void {
    if (on === this.#reffed || this.#state === 'closed') return;
    this.#reffed = on;
    if (on) this[kHandle].ref();
    else this[kHandle].unref();
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#ops.add(p);
    const done = () => this.#ops.delete(p);
    p.then(done, done);
    return p;
  }
}
