import { existsSync } from 'node:fs';
import { type Cursor, type CursorInfo, type CursorOptions, CursorStore } from './cursor';
import { LogError, closedError, failedError, invalidArgType, outOfRange, dirArg, seqArg } from './errors';
import {
  APPEND_FULL,
  native,
  type NativeLogHandle,
  type NativeRecovery,
  type NativeStats,
} from './native';
import { resolveOptions, type CommitLogOptions, type ResolvedOptions } from './options';
import {
  type ChunkSource,
  DurableWaiters,
  emptyChunk,
  type LogRecord,
  type ReadOptions,
  RewindLog,
  getRecord,
  readRecords,
} from './read';
import { Retention, emptyRetentionStats, kRetentionPass, type RetentionStats } from './retention';
import { openReader, type LogReader, type LogReaderOptions } from './reader';

export type { LogRecord, ReadOptions } from './read';

/** `log.stats()`: counters since open and the log's current state. */
export interface LogStats extends NativeStats {
  /** records / batches: how many appends shared one write and one sync. */
  meanRecordsPerBatch: number;
  /** Appends whose promise has not settled yet. */
  pendingAppends: number;
  /** What the `retention` option's background passes did since open (zeros without it). */
  retention: RetentionStats;
}

/** What open() found and did (`log.recovery`); see `log.recovery` in README. */
// An interface rather than an alias so that the API reference lists the fields.
export interface RecoveryReport extends NativeRecovery {}

/** A record's bytes as append() takes them; a string is written as UTF-8. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** The native handle behind a CommitLog; not exported by the package (tests reach it). */
export const kHandle = Symbol('commitlog.handle');
const COMPACT_AT = 4096;
// The most microtask passes the kick waits for a quiet one (see #kickLater):
// callers resumed by one batch append within a few dozen awaits.
const KICK_MAX_PASSES = 64;

interface Waiter {
  records: Uint8Array[];
  many: boolean;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

/** A truncateFrom in the waiting queue: the appends queued after it wait for it. */
interface CutWaiter {
  cut: number;
  started: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

function toBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw invalidArgType(name, 'a string, Buffer, TypedArray, DataView or ArrayBuffer', value);
}

/**
 * A durable append-only log in one directory. Appends from any number of
 * concurrent callers are committed together: one write and one fdatasync per
 * batch, and each append's promise resolves only once its record is on stable
 * storage.
 */
export class CommitLog {
  /** The log directory, as given to open(). */
  readonly dir: string;
  /** @internal */
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
  // Appends not yet staged because maxPendingBytes was reached, or because
  // a truncateFrom before them has not finished: in order.
  #waiting: Array<Waiter | CutWaiter> = [];
  #waitHead = 0;
  #cutsQueued = 0;
  #drained: Array<() => void> = [];
  #reffed = false;
  // The flusher's wake-up for this tick's appends (kick): queued at the
  // first one, run once a whole pass of the microtask queue appended
  // nothing more. Callers resumed by the same batch reach append after
  // different numbers of awaits. A producer that appends in every pass
  // (`log.append(x); await null;` in a loop) never leaves one quiet: after
  // KICK_MAX_PASSES passes the kick runs all the same, or its records would
  // stay unwritten until the loop ends or 64 KiB is staged.
  #appends = 0;
  #kickQueued = false;
  #kickSeen = -1;
  #kickPasses = 0;
  readonly #kickLater = (): void => {
    if (this.#appends !== this.#kickSeen && this.#kickPasses < KICK_MAX_PASSES) {
      this.#kickSeen = this.#appends;
      this.#kickPasses++;
      queueMicrotask(this.#kickLater);
      return;
    }
    this.#kickQueued = false;
    if (this.#state !== 'closed') this[kHandle].kick();
  };
  #ops = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  // Live followers waiting at the durable end, woken by the flusher's notification.
  #followers = new DurableWaiters();
  #rewinds = new RewindLog();
  readonly #source: ChunkSource;
  #cursors: CursorStore | undefined;
  // Set when the façade itself must stop taking appends (a truncateFrom
  // whose cursor clamp failed): the native log works, but appending would
  // break a guarantee. Every later append rejects with ERR_LOG_FAILED.
  #stopped: LogError | undefined;
  readonly #retention: Retention | undefined;

  private constructor(dir: string, options: ResolvedOptions, handle: NativeLogHandle) {
    this.dir = dir;
    // The mode the core settled on: the option, or the existing log's.
    this.#options = { ...options, mode: handle.fileMode() };
    this[kHandle] = handle;
    this.#durable = handle.durable();
    this.#source = {
      readChunk: (seq, to, maxBytes, prev) => {
        // Never past the durable end this side has seen: a record is not
        // yielded before durableSeq (and its append's promise) says it is
        // durable, even when the native side knows more.
        const end = Math.min(to, this.#durable);
        if (seq >= end) return Promise.resolve(emptyChunk(seq));
        return this.#track(
          this[kHandle].read(seq, end, maxBytes, prev?.cursorSeq, prev?.cursorSegment ?? 0, prev?.cursorOffset ?? 0),
        );
      },
      firstSeq: () => this.firstSeq,
      isOpen: () => this.#state === 'open',
      failure: () => this.#failure && failedError(this.#failure),
      waitForMore: (seq, signal) => this.#waitForMore(seq, signal),
      checkRewind: (since, seen) => this.#rewinds.check(since, seen),
      rewindMark: () => this.#rewinds.mark(),
    };
    this.#retention = this.#startRetention();
  }

  /**
   * Opens the log in `dir`, creating it if needed, and recovers it: a torn
   * tail left by a crash is cut off; damage to acknowledged records rejects
   * with ERR_LOG_CORRUPT (or is cut with `recovery: 'truncate'`). A second
   * open of the same directory, from any process, rejects with ERR_LOG_LOCKED.
   */
  static async open(dir: string, options?: CommitLogOptions): Promise<CommitLog> {
    dirArg(dir);
    const opts = resolveOptions(options);
    let log: CommitLog | undefined;
    const early: Array<[number, LogError | undefined]> = [];
    const handle = await native.open(dir, opts, (durable, err) => {
      if (log) log.#onDurable(durable, err);
      else early.push([durable, err]);
    });
    log = new CommitLog(dir, opts, handle);
    for (const [d, e] of early) log.#onDurable(d, e);
    await log.#clampCursors();
    return log;
  }

  // Recovery may have cut records that a cursor was committed past (a power
  // loss after a sync 'none' run hands their numbers out again): such
  // cursors are clamped durably before any append can reuse the numbers,
  // which the cursor would otherwise skip. Costs a readdir without cursors.
  async #clampCursors(): Promise<void> {
    try {
      await this.#cursorStore().clampAbove(this.#durable);
    } catch (err) {
      await this.close().catch(() => {});
      throw err;
    }
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

  /**
   * The log's identity (decimal digits): random, made when the log was created, kept by every
   * open. Cursors and forwarded records' ids carry it, so that they are never taken for another
   * log's.
   */
  get logId(): string {
    return this[kHandle].logId();
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
   * Permission bits the log creates its files with (before the umask): the `mode` option, or
   * the existing log's. For files kept next to the log, so that they are no more readable than it.
   */
  get fileMode(): number {
    return this.#options.mode!;
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
   * oldest) to the durable end; with `follow: true`, then waits for new ones
   * and yields each once it is durable, until `to`, `signal` or close() ends
   * it (cleanly). Records appended while reading are included once durable.
   * Each record's data is a view into a shared chunk (about 1 MiB): copy it
   * to keep it long.
   */
  read(options: ReadOptions = {}): AsyncIterableIterator<LogRecord> {
    return readRecords(this.#source, options, (name) => this.cursor(name));
  }

  /**
   * One record's bytes, in a buffer of its own. Rejects with
   * ERR_LOG_TRUNCATED below firstSeq, and with a RangeError
   * (ERR_OUT_OF_RANGE) at or past the durable end.
   */
  get(seq: number): Promise<Buffer> {
    try {
      seqArg('seq', seq);
    } catch (err) {
      return Promise.reject(err);
    }
    return getRecord(this.#source, seq, () => this.#durable);
  }

  #waitForMore(seq: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#durable > seq || this.#state !== 'open' || this.#failure) return Promise.resolve();
    return this.#followers.wait(signal);
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

  /**
   * The durable cursor (consumer offset) `name`, created at `options.from`
   * (default: the oldest record) if it does not exist; see Cursor. Names
   * match /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.
   */
  cursor(name: string, options?: CursorOptions): Promise<Cursor> {
    if (this.#state !== 'open') return Promise.reject(closedError());
    return this.#track(this.#cursorStore().open(name, options));
  }

  /** Every cursor of this log and its position, by name. */
  cursors(): Promise<CursorInfo[]> {
    if (this.#state !== 'open') return Promise.reject(closedError());
    return this.#track(this.#cursorStore().list());
  }

  /** Deletes a cursor durably; resolves with whether it existed. */
  deleteCursor(name: string): Promise<boolean> {
    if (this.#state !== 'open') return Promise.reject(closedError());
    return this.#track(this.#cursorStore().delete(name));
  }

  #cursorStore(): CursorStore {
    this.#cursors ??= new CursorStore({
      dir: this.dir,
      logId: this[kHandle].logId(),
      durableSeq: () => this.#durable,
      firstSeq: () => this.firstSeq,
      mode: this.#options.mode,
    });
    return this.#cursors;
  }

  /**
   * Raft-style truncation: durably drops every record at or after `seq` (a
   * leader's uncommitted suffix); appends then continue at `seq`. It first
   * waits until every append made before it is durable; appends made while
   * it runs wait and get numbers from `seq` on. After it, `durableSeq` is
   * `seq`. `seq` must be in `[firstSeq, durableSeq]` once those appends are
   * durable: below, it rejects with ERR_LOG_TRUNCATED; above, with a
   * RangeError (ERR_OUT_OF_RANGE); at `durableSeq` it changes nothing. A
   * crash at any point leaves the old log or the truncated one, never a mix.
   * An I/O error during it stops the log (fail-stop), like a failed sync.
   */
  truncateFrom(seq: number): Promise<void> {
    try {
      seqArg('seq', seq);
      if (this.#state !== 'open') throw closedError();
      // The façade stopped (a truncation whose cursor clamp failed): a cut
      // would clamp again and let appends through behind it.
      if (this.#stopped) throw failedError(this.#stopped);
    } catch (err) {
      return Promise.reject(err);
    }
    // A failed log: the native call rejects with ERR_LOG_FAILED and its cause.
    if (this.#failure) return this.#track(this[kHandle].truncateFrom(seq)).then(() => undefined);
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ cut: seq, started: false, resolve, reject });
      this.#cutsQueued++;
      this.#setRef(true);
      this.#drainWaiting();
    });
  }

  /** Counters and latencies of this instance; see README for each field. */
  stats(): LogStats {
    const s = this[kHandle].stats();
    return {
      ...s,
      meanRecordsPerBatch: s.batches === 0 ? 0 : s.records / s.batches,
      pendingAppends:
        this.#pendLast.length - this.#pendHead + this.#waiting.length - this.#waitHead - this.#cutsQueued,
      retention: this.#retention?.stats() ?? emptyRetentionStats(),
    };
  }

  /** Non-public, for tests: a retention pass at `nowMs` after those queued; resolves with the stats after it. */
  [kRetentionPass](nowMs: number = Date.now()): Promise<RetentionStats> {
    if (!this.#retention) return Promise.reject(new Error('the log has no retention option'));
    return this.#retention.run(nowMs);
  }

  #startRetention(): Retention | undefined {
    const policy = this.#options.retention;
    if (!policy) return undefined;
    const h = this[kHandle];
    // The cursors were read before the pass runs: a truncateFrom in between
    // clamps them to its cut, and records appended at the cut's numbers
    // must not go before they are consumed. So the hold is lowered to every
    // cut since it was read, and to every cut queued or running (native
    // passes and cuts run one at a time, in order).
    let holdMark = 0;
    return new Retention(policy, {
      pass: (hold, now) => {
        if (hold !== undefined) {
          for (const cut of [this.#rewinds.cutsSince(holdMark), this.#queuedCuts()].flat()) hold = Math.min(hold, cut);
        }
        return h.retain(policy.maxBytes, policy.maxAgeMs, hold, now);
      },
      segmentsAdded: () => h.segmentsAdded(),
      holdBack:
        policy.holdForCursors === 'none'
          ? undefined
          : () => {
              const onlyHeld = policy.holdForCursors === 'held';
              // By default only held cursors count, and a log that never had a
              // cursor (most) should not pay a turn of the event loop per pass.
              if (onlyHeld && !existsSync(this.#cursorStore().dir)) return undefined;
              holdMark = this.#rewinds.mark();
              return this.#slowestCursor(onlyHeld);
            },
    });
  }

  #queuedCuts(): number[] {
    const out: number[] = [];
    for (let i = this.#waitHead; i < this.#waiting.length; i++) {
      const w = this.#waiting[i];
      if ('cut' in w) out.push(w.cut);
    }
    return out;
  }

  // The first sequence number the slowest durable cursor (or held cursor)
  // has not consumed: read from the files, so cursors of reader processes
  // count too.
  #slowestCursor(onlyHeld: boolean): Promise<number | undefined> {
    return this.#cursorStore().minPosition(onlyHeld);
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
      this.#followers.wake();
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  /** close(), for `await using` (TypeScript 5.2+, or Node 24+ without a compiler). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    // No pass starts from now on; a running one finishes before the handle closes.
    const retentionStopped = this.#retention?.stop();
    while (this.#waiting.length > this.#waitHead && !this.#failure) {
      await new Promise<void>((resolve) => this.#drained.push(resolve));
    }
    await retentionStopped;
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
    if (this.#stopped) return Promise.reject(failedError(this.#stopped));
    if (this.#waiting.length === this.#waitHead) {
      const h = this[kHandle];
      const r = many ? h.appendMany(records) : h.append(records[0]);
      // No value at all: the environment is tearing down (worker.terminate()),
      // and the native layer could make no error object; the log is closing.
      if (r === undefined) return Promise.reject(closedError());
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
    // Staged: the flusher is woken once this tick's appends are in (see kick).
    this.#appends++;
    if (!this.#kickQueued) {
      // The first run always passes the queue once: jobs queued after this
      // one (callers still awaiting) may append yet.
      this.#kickQueued = true;
      this.#kickSeen = -1;
      this.#kickPasses = 0;
      queueMicrotask(this.#kickLater);
    }
    this.#pendFirst.push(first);
    this.#pendLast.push(last);
    this.#pendResolve.push(resolve);
    this.#pendReject.push(reject);
    if (!this.#reffed) this.#setRef(true);
  }

  // Runs on the JS thread once per batch made durable (coalesced), and once
  // if the log fails.
  #onDurable(durable: number, err: LogError | undefined): void {
    const before = this.#durable;
    this.#resolveDurable(durable);
    if (this.#durable > before || err) this.#followers.wake();
    if (err) this.#fail(err);
    this.#retention?.noteDurable();
    this.#drainWaiting();
    this.#unrefIfIdle();
  }

  // Lets the process exit once nothing waits for durability or a truncation.
  #unrefIfIdle(): void {
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
    // Fail-stop: the instance does no more I/O of its own, housekeeping included.
    void this.#retention?.stop();
    this.#rejectAll(cause);
  }

  #drainWaiting(): void {
    const h = this[kHandle];
    while (this.#waitHead < this.#waiting.length && !this.#failure) {
      const w = this.#waiting[this.#waitHead];
      if ('cut' in w) {
        // Everything appended before it is staged; it starts once all of it
        // has settled (durable), and what follows waits for it.
        if (!w.started && this.#pendHead === this.#pendLast.length) this.#startCut(w);
        break;
      }
      const r = w.many ? h.appendMany(w.records) : h.append(w.records[0]);
      if (r === APPEND_FULL) break;
      if (r === undefined) {
        // Tearing down (see #submit): the log is closing.
        this.#waitHead++;
        w.reject(closedError());
        continue;
      }
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

  #startCut(w: CutWaiter): void {
    w.started = true;
    this.#track(this[kHandle].truncateFrom(w.cut)).then(
      (durableBefore) => {
        this.#resolveDurable(durableBefore);
        this.#rewind(w.cut);
        // Durable cursors past the cut would skip the records appended at
        // those numbers next: they are clamped to it, durably, BEFORE any
        // append queued behind the cut is staged. If the process dies first,
        // the next open clamps them (nothing was appended past the cut, so
        // its durable end is the cut: see #clampCursors). If the clamp
        // fails, the log stops taking appends (fail-stop): appending would
        // let a cursor past the cut skip them for good.
        this.#track(this.#cursorStore().clampAbove(w.cut)).then(
          () => {
            this.#cutDone(w);
            w.resolve();
            this.#drainWaiting();
            this.#unrefIfIdle();
          },
          (err: LogError) => {
            this.#cutDone(w);
            this.#stopped = err;
            w.reject(err);
            this.#fail(err);
            this.#unrefIfIdle();
          },
        );
      },
      (err: Error) => {
        this.#cutDone(w);
        w.reject(err);
        // ERR_OUT_OF_RANGE and ERR_LOG_TRUNCATED changed nothing; anything
        // else stopped the log, and what waits behind the cut fails with it.
        const failure = this[kHandle].failure();
        if (failure) this.#fail(failure);
        this.#drainWaiting();
        this.#unrefIfIdle();
      },
    );
  }

  #cutDone(w: CutWaiter): void {
    // Unless a failure already rejected the whole queue.
    if (this.#waiting[this.#waitHead] !== w) return;
    this.#waitHead++;
    this.#cutsQueued--;
  }

  // The one place the durable end goes down: truncateFrom(seq) made seq the
  // end of the log. Nothing is pending: the cut waited for every append
  // before it, and those after it are not staged yet.
  #rewind(seq: number): void {
    this.#durable = seq;
    this.#rewinds.note(seq);
    this.#afterRewind(seq);
  }

  // Hook for what must not outlive a truncation: live followers positioned
  // past `seq` end here, and durable cursors past it are clamped. Runs on the
  // JS thread once the cut is durable, before any append made after the
  // truncateFrom() call is staged.
  #afterRewind(seq: number): void {
    // Followers re-check where they are: one past seq rejects with
    // ERR_LOG_TRUNCATED (lib/read.ts), one at or below it goes on.
    void seq;
    this.#followers.wake();
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
    this.#cutsQueued = 0;
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
