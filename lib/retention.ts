// Retention in the background: when passes run, at most one at a time, and
// what they did. The decision and the deletion are the core's
// (Log::ApplyRetention, native/core/retention.h): a pass deletes through the
// same path as truncateBefore, so it is crash-safe the same way.
import { RETENTION_PERIOD_MAX_MS, RETENTION_PERIOD_MIN_MS } from './constants';
import type { NativeRetentionResult } from './native';

/** The `retention` option: delete old segments in the background. */
export interface RetentionOptions {
  /**
   * Delete the oldest segments while the log's batches take more than this many bytes. Counts
   * the bytes of batches (headers, records, padding) up to the end of each segment's last batch,
   * not the preallocated rest of the segment being written nor the one prepared ahead.
   */
  maxBytes?: number;
  /**
   * Delete segments whose newest batch was sealed more than this many milliseconds ago (by the
   * batch's timestamp; the file's mtime for segments written by format version 1). Also checks on
   * an unref'd timer, every maxAgeMs / 4 (at least every minute, at most every second).
   */
  maxAgeMs?: number;
  /**
   * Which durable cursors hold deletion back: retention never deletes records they have not
   * consumed yet. `true`: every cursor. Not given (the default): only cursors opened with
   * `hold: true`, such as a forwarder's (`commitlog/forward`), so that records not yet forwarded
   * are never deleted. `false`: none, not even those (the log is bounded by `maxBytes` and
   * `maxAgeMs` alone, and a forwarder that falls behind loses records; its stats say how many).
   */
  holdForCursors?: boolean;
}

/** RetentionOptions validated; a bound of 0 is off. */
export interface ResolvedRetention {
  maxBytes: number;
  maxAgeMs: number;
  holdForCursors: 'all' | 'held' | 'none';
}

/** What retention did since the log was opened (`stats().retention`). */
export interface RetentionStats {
  /** Passes run, failed ones included. */
  passes: number;
  /** Segment files deleted (left the log). */
  segmentsDeleted: number;
  /** Their bytes of batches (as `maxBytes` counts them). */
  bytesDeleted: number;
  /** How far `firstSeq` moved: records deleted, plus any numbers a 'truncate' recovery gave up in between. */
  recordsDeleted: number;
  /** Wall-clock time (ms since the epoch) the last pass judged ages by; 0 before the first. */
  lastPassAtMs: number;
  /**
   * Passes that failed (a failed unlink, CHECKPOINT write or directory sync, or a hold-back
   * function that threw). The log goes on: not deleting loses nothing; the next pass tries again,
   * and the next open finishes a deletion the CHECKPOINT already records.
   */
  failures: number;
  /** The last failure's message, or ''. */
  lastError: string;
}

/** What a Retention needs of its log. */
export interface RetentionHooks {
  /** One native pass (LogHandle#retain) with the policy's bounds. */
  pass(holdSeq: number | undefined, nowMs: number): Promise<NativeRetentionResult>;
  /** Segments added since open; a change means a roll. Called once per durable notification: must be cheap. */
  segmentsAdded(): number;
  /**
   * The first sequence number a pass must keep (the slowest cursor's position), or undefined for
   * none; returning undefined itself (not a promise) says there is nothing to consult, and the
   * native part starts at once.
   */
  holdBack?: () => Promise<number | undefined> | undefined;
}

/** Runs a pass now, after any running or queued one; resolves with the stats after it. Non-public, for tests. */
export const kRetentionPass = Symbol('commitlog.retentionPass');

export function emptyRetentionStats(): RetentionStats {
  return { passes: 0, segmentsDeleted: 0, bytesDeleted: 0, recordsDeleted: 0, lastPassAtMs: 0, failures: 0, lastError: '' };
}

/** How often the timer checks ages: a quarter of maxAgeMs, within [1 s, 60 s]. */
export function retentionPeriodMs(maxAgeMs: number): number {
  return Math.min(Math.max(Math.floor(maxAgeMs / 4), RETENTION_PERIOD_MIN_MS), RETENTION_PERIOD_MAX_MS);
}

/**
 * Schedules retention passes for one log: one at open, one after each segment roll, and with
 * maxAgeMs one per period on a timer that never keeps the process alive. Passes run one at a
 * time; requests made while one is queued join it. A failed pass is counted, never thrown.
 */
export class Retention {
  readonly #hooks: RetentionHooks;
  readonly #stats = emptyRetentionStats();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  // The last pass queued; passes chain on it, so at most one runs.
  #tail: Promise<void> = Promise.resolve();
  #queued = false;
  // The native part of the running pass: what stop() waits for.
  #inFlight: Promise<unknown> | undefined;
  #segmentsSeen: number;

  constructor(policy: ResolvedRetention, hooks: RetentionHooks) {
    this.#hooks = hooks;
    this.#segmentsSeen = hooks.segmentsAdded();
    if (policy.maxAgeMs > 0) {
      this.#timer = setInterval(() => this.request(), retentionPeriodMs(policy.maxAgeMs));
      this.#timer.unref();
    }
    // An existing log may be over its bounds already (or they were lowered).
    this.request();
  }

  /** On each durable notification: a roll since the last look asks for a pass. */
  noteDurable(): void {
    if (this.#stopped) return;
    const added = this.#hooks.segmentsAdded();
    if (added === this.#segmentsSeen) return;
    this.#segmentsSeen = added;
    this.request();
  }

  /** Asks for a pass in the background. */
  request(): void {
    if (this.#stopped || this.#queued) return;
    this.#queued = true;
    this.#enqueue(() => {
      this.#queued = false;
      return this.#pass(Date.now());
    });
  }

  /** A pass at `nowMs`, after those queued; resolves with the stats after it. */
  async run(nowMs: number): Promise<RetentionStats> {
    await this.#enqueue(() => this.#pass(nowMs));
    return this.stats();
  }

  stats(): RetentionStats {
    return { ...this.#stats };
  }

  /**
   * Stops scheduling and waits for the native part of a running pass (not for a hold-back
   * function: a pass still waiting on it is dropped).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight?.then(
      () => {},
      () => {},
    );
  }

  #enqueue(fn: () => Promise<void>): Promise<void> {
    const p = this.#tail.then(fn);
    this.#tail = p.catch(() => {});
    return p;
  }

  async #pass(nowMs: number): Promise<void> {
    if (this.#stopped) return;
    let hold: number | undefined;
    // Without a hold-back function the native part starts at once, with no
    // turn of the event loop in which stop() could come first.
    const asked = this.#ask();
    if (asked) {
      try {
        hold = await this.#hold(asked);
      } catch (err) {
        // Not knowing what must be kept, delete nothing.
        if (!this.#stopped) this.#finish(nowMs, undefined, err);
        return;
      }
      if (this.#stopped) return;
    }
    const p = this.#hooks.pass(hold, nowMs);
    this.#inFlight = p;
    try {
      const r = await p;
      this.#finish(nowMs, r, r.error);
    } catch (err) {
      this.#finish(nowMs, undefined, err);
    } finally {
      this.#inFlight = undefined;
    }
  }

  // The hold-back function's answer, or undefined for none to wait for;
  // a function that throws is a failed pass like one that rejects.
  #ask(): Promise<number | undefined> | undefined {
    try {
      return this.#hooks.holdBack?.();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #hold(asked: Promise<number | undefined>): Promise<number | undefined> {
    const hold = await asked;
    if (hold !== undefined && !(Number.isSafeInteger(hold) && hold >= 0)) {
      throw new RangeError(`retention: the hold-back position must be a non-negative safe integer or undefined, got ${String(hold)}`);
    }
    return hold;
  }

  #finish(nowMs: number, r: NativeRetentionResult | undefined, err: unknown): void {
    const s = this.#stats;
    s.passes++;
    s.lastPassAtMs = nowMs;
    if (r) {
      s.segmentsDeleted += r.segmentsDeleted;
      s.bytesDeleted += r.bytesDeleted;
      s.recordsDeleted += r.recordsDeleted;
    }
    if (err !== undefined) {
      s.failures++;
      s.lastError = err instanceof Error ? err.message : String(err);
    }
  }
}
