// Store-and-forward: ship a log's durable records to another system (a
// replicated stream) through a Sink, resuming after any crash from a durable
// cursor without loss and, with a sink that deduplicates or can say what it
// holds, without duplicates. Exported from the subpath `commitlog/forward`
// with the JetStream sink (lib/jetstream.ts); the log itself never imports
// this file, so users of the log alone load no NATS client.
import type { Cursor, CursorOptions } from './cursor';
import { LogError, invalidArgType, invalidValue, outOfRange, seqArg } from './errors';
import type { LogRecord } from './read';

export { jetStreamSink } from './jetstream';
export type { JetStreamSinkOptions, NatsConnectOptions } from './jetstream';

/** One record handed to a sink. */
export interface SinkRecord {
  /** The record's sequence number in the log. */
  readonly seq: number;
  /** Its bytes: valid until publish() settles; copy to keep them longer. */
  readonly data: Buffer;
  /**
   * `<logId>-<seq>`: the same for every re-send of this record from this log, and different from
   * every other record of every log. Use it as the target's idempotency key (JetStream's
   * `Nats-Msg-Id`, an HTTP `Idempotency-Key`).
   */
  readonly id: string;
}

/** What a sink learns of the log it forwards. */
export interface SinkLogInfo {
  /** The log's identity (decimal): the prefix of every record's `id`. */
  readonly logId: string;
  /** The forwarder's durable cursor position: every record below it was acknowledged by the target. */
  readonly position: number;
}

/** Where the target stands, as far as a sink can tell. */
export interface SinkPosition {
  /**
   * The first sequence number of this log the target does not hold: the forwarder resumes there
   * (also when its cursor is behind, which saves re-sends a deduplication window may no longer
   * catch). Leave it undefined if the target cannot tell; the forwarder then resumes from its
   * last acknowledged record and relies on the target's deduplication for what it re-sends.
   * Below that record, the forwarder sends again what the target lost.
   */
  next?: number;
  /**
   * The bytes the target holds for record `next - 1`, if it can tell. The forwarder compares them
   * with the log's record: different bytes under one number mean the log replaced records that
   * were forwarded (a truncateFrom, a 'truncate' recovery, a copied log directory), and it stops
   * with ERR_FORWARD_DIVERGED rather than skip the new ones.
   */
  last?: Uint8Array;
}

/**
 * The target of a forwarder. Small on purpose: a Kafka sink (kafkajs with `idempotent: true`,
 * publish = `producer.send({ topic, messages: [{ key: id, value: data }] })`) or an HTTP sink
 * (POST with an `Idempotency-Key: id` header) is a page of code; see README, "Forwarding".
 *
 * The forwarder calls publish() in sequence order with up to `maxInFlight` calls unsettled, and
 * after any failure waits until none is in flight, then calls resume() again before it publishes
 * anything else. It never calls two resume() at once, nor publish() while resume() runs.
 */
export interface Sink {
  /**
   * Connects (again) and says where the target stands. Called before the first publish and after
   * every failed one. A rejection is retried with backoff unless the error's `retryable` is
   * `false`, which stops the forwarder.
   */
  resume(log: SinkLogInfo): Promise<SinkPosition | undefined | void>;
  /**
   * Publishes one record. Resolves only once the target acknowledged it durably (as durable as
   * the target can make it): the forwarder's cursor passes it after that. A rejection makes the
   * forwarder re-send from the first unacknowledged record (after resume()), unless the error's
   * `retryable` is `false`, which stops the forwarder.
   */
  publish(record: SinkRecord): Promise<void>;
  /** Releases the connection. Called once, when the forwarder stops. */
  close(): Promise<void>;
}

/** What the forwarder needs of a log: a CommitLog, or a LogReader in another process. */
export interface ForwardSource {
  /** The log's identity: the prefix of every record's id. */
  readonly logId: string;
  /** Records below it are durable: the forwarder never reads past it. */
  readonly durableSeq: number;
  /** The oldest record: below it, records were deleted (counted as skipped). */
  readonly firstSeq: number;
  /** True once closed: the forwarder then stops with ERR_FORWARD_FAILED. */
  readonly closed: boolean;
  /** Durable records from `from`, waiting for more with `follow`. */
  read(options: { from?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterableIterator<LogRecord>;
  /** One record's bytes (to compare with the target's copy at resume). */
  get(seq: number): Promise<Buffer>;
  /** The forwarder's durable cursor. */
  cursor(name: string, options?: CursorOptions): Promise<Cursor>;
}

/** Options of forward(); every one has a default, unknown keys are rejected. */
export interface ForwardOptions {
  /** The durable cursor the forwarder resumes from. Default 'forward'. */
  cursor?: string;
  /** Where a new cursor starts. Default: the oldest record. */
  from?: number;
  /**
   * Whether retention keeps the records this forwarder has not forwarded (the cursor's `hold`).
   * Default true: retention never deletes them unless the log's `retention.holdForCursors` is false.
   */
  hold?: boolean;
  /** Records published and not yet acknowledged, at most. Default 256. */
  maxInFlight?: number;
  /** Bytes of those records, at most (one record may exceed it alone). Default 8 MiB. */
  maxInFlightBytes?: number;
  /** The cursor is committed at most this often while records are acknowledged. Default 200 ms. */
  commitIntervalMs?: number;
  /** First retry delay after a failure; doubles up to maxRetryDelayMs, with jitter. Default 100 ms. */
  minRetryDelayMs?: number;
  /** Default 10,000 ms. */
  maxRetryDelayMs?: number;
  /** Stops the forwarder as stop() does. */
  signal?: AbortSignal;
  /** Called on every retried failure, with the error and the delay before the next attempt. */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/**
 * `starting` (opening its cursor), `running`, `retrying` (waiting after a failure), `stopping`,
 * `stopped` (after stop() or the signal), `failed` (`done` rejected).
 */
export type ForwarderState = 'starting' | 'running' | 'retrying' | 'stopping' | 'stopped' | 'failed';

/** `forwarder.stats()`: progress and lag. */
export interface ForwardStats {
  /** What the forwarder is doing now. */
  state: ForwarderState;
  /** The cursor's committed position: what a restarted forwarder resumes from at the latest. */
  position: number;
  /** The first record the target has not acknowledged (at or past `position`). */
  acknowledged: number;
  /** Records acknowledged by the target since start (re-sends counted once each time). */
  forwarded: number;
  /** Their bytes. */
  forwardedBytes: number;
  /** Published and not yet acknowledged, now. */
  inFlight: number;
  /** Durable records the target has not acknowledged: `durableSeq - acknowledged`. */
  lagRecords: number;
  /**
   * Their bytes: exact for records the forwarder has read, estimated at the mean size of the
   * records read so far for the rest (the log keeps no per-record size index).
   */
  lagBytes: number;
  /**
   * Age of the oldest record not acknowledged, in ms, from when this forwarder first saw it
   * durable (checked every 100 ms); records that were durable when it started count from its start.
   * 0 when nothing lags.
   */
  oldestUnforwardedAgeMs: number;
  /** Failures retried (publish, resume or read). */
  retries: number;
  /** Records deleted (by retention with `holdForCursors: false`) before they were forwarded. */
  skipped: number;
  /**
   * Records the target had acknowledged and then no longer held (resume() said so), sent again.
   * Expect 0; a node that loses acknowledged writes in a crash makes it grow.
   */
  resent: number;
  /** Cursor writes made. */
  cursorCommits: number;
  /** The last failure's message ('' if none), retried or not. */
  lastError: string;
}

const DEFAULTS = {
  cursor: 'forward',
  maxInFlight: 256,
  maxInFlightBytes: 8 * 1024 * 1024,
  commitIntervalMs: 200,
  minRetryDelayMs: 100,
  maxRetryDelayMs: 10_000,
};
const AGE_SAMPLE_MS = 100;
const AGE_SAMPLES_MAX = 4096;
const KNOWN = new Set(['cursor', 'from', 'hold', 'maxInFlight', 'maxInFlightBytes', 'commitIntervalMs', 'minRetryDelayMs', 'maxRetryDelayMs', 'signal', 'onRetry']);

type Resolved = typeof DEFAULTS & { from: number | undefined; hold: boolean; signal: AbortSignal | undefined; onRetry: ForwardOptions['onRetry'] };

function intOption(o: Record<string, unknown>, key: keyof typeof DEFAULTS, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return DEFAULTS[key] as number;
  if (typeof v !== 'number') throw invalidArgType(`options.${key}`, 'of type number', v);
  if (!Number.isInteger(v) || v < min || v > max) throw outOfRange(`options.${key}`, `an integer from ${min} to ${max}`, v);
  return v;
}

function resolveForwardOptions(options: unknown): Resolved {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidArgType('options', 'an object', options);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) throw invalidValue('options', `unknown option "${key}"`, key);
  const cursor = o.cursor ?? DEFAULTS.cursor;
  if (typeof cursor !== 'string') throw invalidArgType('options.cursor', 'of type string', cursor);
  if (o.hold !== undefined && typeof o.hold !== 'boolean') throw invalidArgType('options.hold', 'of type boolean', o.hold);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', o.signal);
  if (o.onRetry !== undefined && typeof o.onRetry !== 'function') throw invalidArgType('options.onRetry', 'a function', o.onRetry);
  const r: Resolved = {
    cursor,
    from: o.from === undefined ? undefined : seqArg('options.from', o.from),
    hold: o.hold !== false,
    maxInFlight: intOption(o, 'maxInFlight', 1, 1 << 20),
    maxInFlightBytes: intOption(o, 'maxInFlightBytes', 1, 2 ** 40),
    commitIntervalMs: intOption(o, 'commitIntervalMs', 0, 3_600_000),
    minRetryDelayMs: intOption(o, 'minRetryDelayMs', 0, 3_600_000),
    maxRetryDelayMs: intOption(o, 'maxRetryDelayMs', 0, 3_600_000),
    signal: o.signal as AbortSignal | undefined,
    onRetry: o.onRetry as ForwardOptions['onRetry'],
  };
  if (r.maxRetryDelayMs < r.minRetryDelayMs) throw outOfRange('options.maxRetryDelayMs', `at least minRetryDelayMs (${r.minRetryDelayMs})`, r.maxRetryDelayMs);
  return r;
}

function checkSink(sink: unknown): Sink {
  if (sink === null || typeof sink !== 'object') throw invalidArgType('sink', 'an object with resume, publish and close', sink);
  for (const m of ['resume', 'publish', 'close'] as const) {
    if (typeof (sink as Record<string, unknown>)[m] !== 'function') throw invalidArgType(`sink.${m}`, 'a function', (sink as Record<string, unknown>)[m]);
  }
  return sink as Sink;
}

function checkSource(log: unknown): ForwardSource {
  const l = log as Partial<ForwardSource> | null;
  if (l === null || typeof l !== 'object' || typeof l.read !== 'function' || typeof l.get !== 'function' || typeof l.cursor !== 'function') {
    throw invalidArgType('log', 'a CommitLog or a LogReader', log);
  }
  return l as ForwardSource;
}

/** A failure that retrying cannot fix: the sink said so, or the log and the target disagree. */
function isFatal(err: unknown): boolean {
  return (err as { retryable?: unknown })?.retryable === false;
}

function fatal(message: string, code: 'ERR_FORWARD_FAILED' | 'ERR_FORWARD_DIVERGED', cause?: unknown): LogError {
  return Object.assign(new LogError(message, code, { cause }), { retryable: false });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The records of one attempt from its first publish on: which are settled (for the in-flight
 * bounds) and which acknowledged (the front: the first record not acknowledged).
 */
class InFlight {
  #base = 0;
  // Indexed by seq - base: 0 pending, 1 acknowledged, 2 failed.
  #state: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  /** Publishes not settled, and their bytes. */
  count = 0;
  bytes = 0;
  /** Bytes of the records published and not acknowledged, settled or not (for the lag). */
  unackedBytes = 0;

  reset(base: number): void {
    this.#base = base;
    this.#state = [];
    this.#sizes = [];
    this.#head = 0;
    this.count = 0;
    this.bytes = 0;
    this.unackedBytes = 0;
  }

  add(seq: number, size: number): void {
    if (seq !== this.#base + this.#state.length) throw new Error(`forward: internal: publish out of order (${seq})`);
    this.#state.push(0);
    this.#sizes.push(size);
    this.count++;
    this.bytes += size;
    this.unackedBytes += size;
  }

  /** Marks `seq` acknowledged; returns how many records and bytes the front advanced by. */
  ack(seq: number): { records: number; bytes: number } {
    const i = seq - this.#base;
    this.#settle(i, 1);
    let records = 0;
    let bytes = 0;
    while (this.#head < this.#state.length && this.#state[this.#head] === 1) {
      records++;
      bytes += this.#sizes[this.#head];
      this.#head++;
    }
    this.unackedBytes -= bytes;
    if (this.#head > 4096 && this.#head * 2 > this.#state.length) {
      this.#base += this.#head;
      this.#state = this.#state.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    return { records, bytes };
  }

  fail(seq: number): void {
    this.#settle(seq - this.#base, 2);
  }

  #settle(i: number, to: number): void {
    if (i < 0 || i >= this.#state.length || this.#state[i] !== 0) return; // of an earlier attempt
    this.#state[i] = to;
    this.count--;
    this.bytes -= this.#sizes[i];
  }

  /** The first record not acknowledged. */
  get front(): number {
    return this.#base + this.#head;
  }
}

/**
 * A running forwarder: `forward()` starts it. Stop it with stop() (or the `signal` option);
 * `done` settles when it has stopped: resolved after stop(), rejected with the error that
 * stopped it otherwise (ERR_FORWARD_FAILED with the cause, or ERR_FORWARD_DIVERGED).
 */
export class Forwarder {
  /** Settles when the forwarder has stopped (see the class). Never an unhandled rejection. */
  readonly done: Promise<void>;
  readonly #log: ForwardSource;
  readonly #logId: string;
  readonly #sink: Sink;
  readonly #o: Resolved;
  #cursor: Cursor | undefined;
  #state: ForwarderState = 'starting';
  #stop = new AbortController();
  // One promise for every race against stop(), not a listener per attempt.
  readonly #stopped = aborted(this.#stop.signal);
  #attempt: AbortController | undefined;
  #inFlight = new InFlight();
  #slotWaiter: (() => void) | undefined;
  #failure: unknown;
  #stats = { forwarded: 0, forwardedBytes: 0, retries: 0, skipped: 0, resent: 0, cursorCommits: 0, lastError: '' };
  #readBytes = 0;
  #readRecords = 0;
  #acked = 0;
  // Past the last record published in the current attempt.
  #sent = 0;
  #committed = 0;
  // A failure outside an attempt (the cursor's) that stops the forwarder.
  #fatal: unknown;
  #commitTimer: NodeJS.Timeout | undefined;
  #commitChain: Promise<void> = Promise.resolve();
  #ageTimer: NodeJS.Timeout | undefined;
  // (durable end, when first seen): a record below `end` was durable at `atMs`.
  #ages: Array<{ end: number; atMs: number }> = [];
  readonly #startedMs = Date.now();
  #startDurable: number;

  /** @internal Made by forward(). */
  constructor(log: ForwardSource, sink: Sink, options: Resolved) {
    this.#log = log;
    this.#logId = log.logId;
    this.#sink = sink;
    this.#o = options;
    this.#startDurable = log.durableSeq;
    const onAbort = () => void this.stop();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.done = this.#run().finally(() => options.signal?.removeEventListener('abort', onAbort));
    this.done.catch(() => {});
    if (options.signal?.aborted) onAbort();
  }

  /** Progress and lag, now. */
  stats(): ForwardStats {
    const durable = this.#durableSeq();
    const lagRecords = Math.max(0, durable - this.#acked);
    const unread = Math.max(0, durable - Math.max(this.#sent, this.#acked));
    const mean = this.#readRecords === 0 ? 0 : this.#readBytes / this.#readRecords;
    return {
      state: this.#state,
      position: this.#committed,
      acknowledged: this.#acked,
      ...this.#stats,
      inFlight: this.#inFlight.count,
      lagRecords,
      lagBytes: this.#inFlight.unackedBytes + Math.round(unread * mean),
      oldestUnforwardedAgeMs: lagRecords === 0 ? 0 : Date.now() - this.#durableSince(this.#acked),
    };
  }

  /**
   * Stops publishing, waits for the records in flight to settle, commits the cursor to what the
   * target acknowledged and closes the sink. Resolves when done (as `done`, but never rejects).
   */
  async stop(): Promise<void> {
    if (this.#state !== 'stopped' && this.#state !== 'failed') this.#state = 'stopping';
    this.#stop.abort();
    this.#attempt?.abort();
    this.#slotWaiter?.();
    await this.done.catch(() => {});
  }

  async #run(): Promise<void> {
    let stopError: unknown;
    try {
      this.#cursor = await this.#log.cursor(this.#o.cursor, { from: this.#o.from, hold: this.#o.hold });
      this.#acked = this.#committed = this.#cursor.position;
      this.#startAges();
      await this.#loop();
    } catch (err) {
      stopError = err;
    }
    stopError = this.#fatal ?? stopError;
    clearInterval(this.#ageTimer);
    clearTimeout(this.#commitTimer);
    try {
      // What the target acknowledged is kept even when stopping on a failure.
      if (this.#cursor) await this.#commit();
    } catch (err) {
      stopError ??= err;
    }
    try {
      await this.#sink.close();
    } catch (err) {
      stopError ??= err;
    }
    if (stopError === undefined) {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'failed';
    this.#stats.lastError = errorText(stopError);
    if (stopError instanceof LogError && stopError.code.startsWith('ERR_FORWARD_')) throw stopError;
    throw fatal(`forward: stopped: ${errorText(stopError)}`, 'ERR_FORWARD_FAILED', stopError);
  }

  async #loop(): Promise<void> {
    let delay = this.#o.minRetryDelayMs;
    while (!this.#stop.signal.aborted) {
      this.#failure = undefined;
      let progressed = false;
      try {
        const from = await this.#resume();
        if (this.#stop.signal.aborted) return;
        this.#state = 'running';
        progressed = await this.#publishFrom(from);
      } catch (err) {
        this.#failure ??= err;
      }
      if (this.#failure === undefined) return; // stopped
      const err = this.#failure;
      if (isFatal(err) || this.#stop.signal.aborted) {
        if (this.#stop.signal.aborted && !isFatal(err)) return;
        throw err;
      }
      if (progressed) delay = this.#o.minRetryDelayMs;
      const wait = Math.round(delay * (0.5 + Math.random() / 2));
      delay = Math.min(this.#o.maxRetryDelayMs, Math.max(1, delay * 2));
      this.#stats.retries++;
      this.#stats.lastError = errorText(err);
      this.#state = 'retrying';
      try {
        this.#o.onRetry?.(err, wait);
      } catch {
        // A listener's failure is not the forwarder's.
      }
      await sleep(wait, this.#stop.signal);
    }
  }

  /** Asks the sink where the target stands; returns where to publish from. */
  async #resume(): Promise<number> {
    // stop() does not wait for a connect that hangs: the sink's close() ends it.
    const asked = this.#sink.resume({ logId: this.#logId, position: this.#committed });
    asked.catch(() => {});
    const pos = await Promise.race([asked, this.#stopped]);
    if (this.#stop.signal.aborted) return this.#acked;
    if (this.#log.closed) throw fatal('forward: the log was closed', 'ERR_FORWARD_FAILED');
    const next = pos?.next;
    let from = this.#acked;
    if (next !== undefined) {
      seqArg('resume().next', next);
      const durable = this.#durableSeq();
      if (next > durable) {
        throw fatal(
          `forward: the target holds records of this log up to ${next - 1}, past its durable end ${durable}: ` +
            'the log lost or cut records that were forwarded (a truncateFrom, a \'truncate\' recovery or a power loss with sync \'none\')',
          'ERR_FORWARD_DIVERGED',
        );
      }
      if (pos?.last !== undefined && next > 0) await this.#checkSame(next - 1, pos.last);
      // Behind what it acknowledged: the target lost records (a node that
      // lost its unflushed writes, or a stale answer after a leader change,
      // which the target's own checks then refuse); they are sent again.
      if (next < from) this.#stats.resent += from - next;
      from = next;
    }
    if (from !== this.#acked) {
      this.#acked = from;
      this.#scheduleCommit();
    }
    return from;
  }

  /** Stops with ERR_FORWARD_DIVERGED if the log's record `seq` is not `held`, the target's copy. */
  async #checkSame(seq: number, held: Uint8Array): Promise<void> {
    if (seq < this.#log.firstSeq) return; // deleted since: nothing to compare
    let mine: Buffer;
    try {
      mine = await this.#log.get(seq);
    } catch (err) {
      // Deleted since, or a number a 'truncate' recovery gave up (next <= durable): nothing to compare.
      if ((err as LogError).code === 'ERR_LOG_TRUNCATED' || (err as { code?: string }).code === 'ERR_OUT_OF_RANGE') return;
      throw err;
    }
    if (!mine.equals(held)) {
      throw fatal(
        `forward: the target holds other bytes for record ${seq} than the log (${held.length} bytes, the log ${mine.length}): ` +
          'the log replaced records that were forwarded (a truncateFrom, a \'truncate\' recovery, or a copy of the log directory forwarding to the same subject)',
        'ERR_FORWARD_DIVERGED',
      );
    }
  }

  /** One attempt: publishes from `from` until a failure or stop. Returns whether anything was acknowledged. */
  async #publishFrom(from: number): Promise<boolean> {
    const attempt = new AbortController();
    this.#attempt = attempt;
    const startAcked = this.#acked;
    const first = this.#log.firstSeq;
    if (from < first) {
      // Deleted before they were forwarded (retention told not to hold).
      this.#stats.skipped += first - from;
      from = this.#acked = first;
      this.#scheduleCommit();
    }
    this.#inFlight.reset(from);
    let expected = (this.#sent = from);
    try {
      for await (const rec of this.#log.read({ from, follow: true, signal: attempt.signal })) {
        if (rec.seq !== expected) {
          // Deleted before it was forwarded (retention told not to hold, or a 'truncate'
          // recovery's gap): what was sent before the gap settles first, so that the front
          // never passes a record the target did not acknowledge.
          await this.#drain();
          if (this.#failure !== undefined) break;
          this.#stats.skipped += rec.seq - expected;
          this.#inFlight.reset(rec.seq);
          this.#acked = rec.seq;
          this.#scheduleCommit();
        }
        expected = this.#sent = rec.seq + 1;
        await this.#slot(rec.data.length);
        if (attempt.signal.aborted) break;
        this.#send(rec, attempt);
      }
    } catch (err) {
      if ((err as LogError).code === 'ERR_LOG_TRUNCATED' && this.#sent < this.#log.firstSeq) {
        // Retention deleted what was about to be read: the next attempt skips it.
        this.#failure ??= err;
      } else if ((err as LogError).code === 'ERR_LOG_TRUNCATED') {
        this.#failure ??= fatal(`forward: ${errorText(err)}: records already forwarded were cut from the log`, 'ERR_FORWARD_DIVERGED', err);
      } else {
        this.#failure ??= err;
      }
    }
    attempt.abort();
    await this.#drain();
    if (this.#failure === undefined && !this.#stop.signal.aborted) {
      // The read ended by itself: the log was closed under the forwarder.
      this.#failure = fatal('forward: the log was closed', 'ERR_FORWARD_FAILED');
    }
    return this.#acked > startAcked;
  }

  #send(rec: LogRecord, attempt: AbortController): void {
    const size = rec.data.length;
    this.#inFlight.add(rec.seq, size);
    this.#readRecords++;
    this.#readBytes += size;
    let p: Promise<void>;
    try {
      p = Promise.resolve(this.#sink.publish({ seq: rec.seq, data: rec.data, id: `${this.#logId}-${rec.seq}` }));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => this.#acknowledged(rec.seq, attempt),
      (err) => this.#failed(rec.seq, attempt, err),
    );
  }

  #acknowledged(seq: number, attempt: AbortController): void {
    if (attempt !== this.#attempt) return;
    const { records, bytes } = this.#inFlight.ack(seq);
    if (records > 0) {
      this.#acked = this.#inFlight.front;
      this.#stats.forwarded += records;
      this.#stats.forwardedBytes += bytes;
      this.#scheduleCommit();
    }
    this.#wakeSlot();
  }

  #failed(seq: number, attempt: AbortController, err: unknown): void {
    if (attempt !== this.#attempt) return;
    // The first failure decides; the attempt ends and the rest settle. An
    // acknowledgement that comes after a failed record still counts (the
    // target holds it), but the front stops at the failed one.
    this.#failure ??= err;
    this.#inFlight.fail(seq);
    attempt.abort();
    this.#wakeSlot();
  }

  #wakeSlot(): void {
    const w = this.#slotWaiter;
    this.#slotWaiter = undefined;
    w?.();
  }

  /** Waits until one more record of `size` bytes may be published (or the attempt ends). */
  async #slot(size: number): Promise<void> {
    while (
      !this.#attempt?.signal.aborted &&
      this.#inFlight.count > 0 &&
      (this.#inFlight.count >= this.#o.maxInFlight || this.#inFlight.bytes + size > this.#o.maxInFlightBytes)
    ) {
      await new Promise<void>((resolve) => (this.#slotWaiter = resolve));
    }
  }

  /** Waits until every publish of the attempt settled. */
  async #drain(): Promise<void> {
    while (this.#inFlight.count > 0) {
      await new Promise<void>((resolve) => (this.#slotWaiter = resolve));
    }
  }

  #scheduleCommit(): void {
    if (this.#commitTimer !== undefined) return;
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      this.#commit().catch((err) => {
        // A cursor that cannot be written (fsync failed, someone else owns it) stops the forwarder.
        this.#fatal ??= fatal(`forward: cursor ${this.#o.cursor}: ${errorText(err)}`, 'ERR_FORWARD_FAILED', err);
        this.#stop.abort();
        this.#attempt?.abort();
        this.#wakeSlot();
      });
    }, this.#o.commitIntervalMs);
    this.#commitTimer.unref?.();
  }

  /** Commits the acknowledged front, once at a time, in order. */
  #commit(): Promise<void> {
    const run = this.#commitChain.then(async () => {
      const target = this.#acked;
      if (target <= this.#committed) return;
      await this.#cursor!.commit(target);
      this.#committed = target;
      this.#stats.cursorCommits++;
    });
    this.#commitChain = run.catch(() => {});
    return run;
  }

  #durableSeq(): number {
    try {
      return this.#log.closed ? this.#acked : this.#log.durableSeq;
    } catch {
      return this.#acked;
    }
  }

  #startAges(): void {
    this.#ages.push({ end: this.#startDurable, atMs: this.#startedMs });
    this.#ageTimer = setInterval(() => this.#sampleAge(), AGE_SAMPLE_MS);
    this.#ageTimer.unref?.();
  }

  #sampleAge(): void {
    const end = this.#durableSeq();
    const last = this.#ages[this.#ages.length - 1];
    if (end <= last.end) return;
    this.#ages.push({ end, atMs: Date.now() });
    // Forget what is forwarded; thin out the rest if the target is away for long.
    let drop = 0;
    while (drop + 1 < this.#ages.length && this.#ages[drop].end <= this.#acked) drop++;
    if (drop > 0) this.#ages.splice(0, drop);
    if (this.#ages.length > AGE_SAMPLES_MAX) this.#ages = this.#ages.filter((_, i) => i % 2 === 0 || i === this.#ages.length - 1);
  }

  /** When record `seq` was first seen durable (at most one sample late). */
  #durableSince(seq: number): number {
    for (const s of this.#ages) if (seq < s.end) return s.atMs;
    return Date.now();
  }
}

/** Resolves (with undefined) once `signal` aborts. */
function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(undefined);
    signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Forwards `log`'s durable records to `sink` in sequence order, from the durable cursor
 * `options.cursor`, until stopped: the cursor is committed only after the target acknowledged,
 * so a forwarder killed at any moment and started again loses nothing; what it sends again is
 * what the target's deduplication (or resume()) drops. See README, "Forwarding".
 */
export function forward(log: ForwardSource, sink: Sink, options?: ForwardOptions): Forwarder {
  const source = checkSource(log);
  const s = checkSink(sink);
  return new Forwarder(source, s, resolveForwardOptions(options));
}
