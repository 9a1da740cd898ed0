// Durable named cursors (consumer offsets): one small file per cursor in the
// log directory's `cursors/`, written with ConfigFile's protocol (temp file,
// fdatasync, `.bak`, rename, directory fsync; docs/FORMAT.md, "Cursors").
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigFile } from './config';
import { LogError, invalidArgType, invalidValue, outOfRange, seqArg } from './errors';
import { native } from './native';

export const CURSORS_DIR = 'cursors';
const SUFFIX = '.cursor';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// <name>.cursor, its backup and temp files: a crash during a first save can
// leave a temp file as the only copy, which load() promotes.
const FILE = /^(.+)\.cursor(?:\.bak|\.tmp-.+)?$/;
const EROFS = 30;

/** What a cursor file holds (JSON inside ConfigFile's checksum envelope). */
interface Stored {
  /** The next sequence number to read. */
  position: number;
  /** The log's identity: a cursor file copied from another log is refused. */
  logId: string;
  /** Changes at every write: how a commit tells that someone else wrote since it loaded. */
  version: number;
  /** Retention keeps what this cursor has not consumed (unless told not to). Absent: false. */
  hold?: boolean;
}

export interface CursorStoreOptions {
  /** The log directory; cursors live in its `cursors/` subdirectory. */
  dir: string;
  /** The log's identity (decimal), as the log's handle gives it. */
  logId: string;
  /** The durable end: no commit goes past it, and a stored position past it reads as it. */
  durableSeq: () => number;
  /** The oldest record: where a new cursor starts unless told otherwise. */
  firstSeq: () => number;
  /** For a process that may not write there: list() and minPosition() work, the rest rejects with EROFS. */
  readOnly?: boolean;
  /** Permission bits of new cursor files. Default 0o600; `cursors/` gets x wherever r is set. */
  mode?: number;
}

/** Options of `log.cursor(name, options)`. */
export interface CursorOptions {
  /** Where a new cursor starts. Default: the oldest record. Ignored if the cursor exists. */
  from?: number;
  /**
   * Whether retention keeps the records this cursor has not consumed even without
   * `retention.holdForCursors: true` (a forwarder's cursor does). Stored in the cursor's file;
   * given for an existing cursor with another value, the file is rewritten. Default: leave as
   * stored (false for a new cursor).
   */
  hold?: boolean;
}

/** One durable cursor as `log.cursors()` lists it. */
export interface CursorInfo {
  /** The cursor's name. */
  name: string;
  /** The stored position, or the durable end if it is past it. */
  position: number;
  /** Whether the cursor holds back retention (see CursorOptions.hold). */
  hold: boolean;
}

export function checkName(name: unknown): string {
  if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
  if (!NAME.test(name)) throw invalidValue('name', `must match ${NAME}`, name);
  return name;
}


function isStored(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  if (!Number.isSafeInteger(s.position) || (s.position as number) < 0) return false;
  if (!Number.isSafeInteger(s.version) || (s.version as number) < 1) return false;
  if (s.hold !== undefined && typeof s.hold !== 'boolean') return false;
  return typeof s.logId === 'string' && s.logId.length > 0;
}

// A new cursor's first version is random, not 1: a cursor deleted and made
// again must not pass for the one a Cursor object loaded before (ABA).
function firstVersion(): number {
  return 1 + Math.floor(Math.random() * 2 ** 40);
}

function conflict(file: string, why: string): LogError {
  return Object.assign(new LogError(`cursor ${path.basename(file, SUFFIX)}: ${why}`, 'ERR_CURSOR_CONFLICT'), { path: file });
}

async function loadOrMissing(cfg: ConfigFile<Stored>): Promise<Stored | undefined> {
  try {
    return await cfg.load();
  } catch (err) {
    if ((err as LogError).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** What a Cursor needs of its store. */
interface Context {
  logId: string;
  durableSeq: () => number;
}

/** Refuses a file of another log; clamps a position past the durable end. */
function visible(ctx: Context, file: string, stored: Stored): { position: number; clamped: boolean } {
  if (stored.logId !== ctx.logId) {
    const err = new LogError(
      `${file}: this cursor belongs to another log (logId ${stored.logId}, this log is ${ctx.logId})`,
      'ERR_CONFIG_CORRUPT',
    );
    throw Object.assign(err, { path: file });
  }
  const end = ctx.durableSeq();
  return stored.position > end ? { position: end, clamped: true } : { position: stored.position, clamped: false };
}

interface Pending {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A named position in the log, kept in a file: `position` is the next
 * sequence number to read, and commit() stores a new one durably.
 *
 * Concurrency is optimistic: a Cursor object remembers the version it last
 * loaded or wrote, and a commit first re-reads the file under its lock. If
 * someone else wrote it since (another process or Cursor object, a clamp by
 * truncateFrom, a delete), the commit rejects with ERR_CURSOR_CONFLICT, and
 * so does every commit still queued behind it, after the cursor reloaded:
 * `position` then shows the stored value (and a deleted cursor rejects every
 * later commit; open it again). The lock is held only for a write.
 *
 * Failures follow ConfigFile: a rejected commit leaves the old or the new
 * position; after a failed fsync, this Cursor rejects every later commit
 * with ERR_CONFIG_FAILED (`err.cause` is the fsync error), and opening it
 * again reads what is on disk.
 */
export class Cursor {
  /** The cursor's name (its file is `cursors/<name>.cursor`). */
  readonly name: string;
  readonly #ctx: Context;
  readonly #cfg: ConfigFile<Stored>;
  #position: number;
  #clamped: boolean;
  #version: number;
  #deleted = false;
  #writes = 0;
  // The newest position asked for while a write is in flight, and the
  // commits it will settle.
  #next: number | undefined;
  #nextWaiters: Pending[] = [];
  #writing = false;

  /** @internal Made by CursorStore.open(). */
  constructor(ctx: Context, name: string, cfg: ConfigFile<Stored>, stored: Stored) {
    this.name = name;
    this.#ctx = ctx;
    this.#cfg = cfg;
    this.#version = stored.version;
    ({ position: this.#position, clamped: this.#clamped } = visible(ctx, cfg.path, stored));
  }

  /** The next sequence number to read: the last committed (or loaded) position. */
  get position(): number {
    return this.#position;
  }

  /**
   * True when the stored position was past the durable end (a power loss
   * with `sync: 'none'`, a 'truncate' recovery, a raced truncation) and
   * `position` shows the durable end instead. Cleared by the next commit.
   */
  get clamped(): boolean {
    return this.#clamped;
  }

  /** Write cycles this object made (each one temp fdatasync and one directory fsync). */
  get writes(): number {
    return this.#writes;
  }

  /**
   * Stores `nextSeq` (at most the durable end) as the position. Resolves
   * once a write holding it, or a later commit's position, is durable.
   * Commits made while a write is in flight are written together next.
   */
  commit(nextSeq: number): Promise<void> {
    try {
      seqArg('nextSeq', nextSeq);
      const end = this.#ctx.durableSeq();
      if (nextSeq > end) throw outOfRange('nextSeq', `at most the durable end (${end})`, nextSeq);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#next = nextSeq;
    const done = new Promise<void>((resolve, reject) => this.#nextWaiters.push({ resolve, reject }));
    if (!this.#writing) void this.#pump();
    return done;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    while (this.#next !== undefined) {
      const position = this.#next;
      const waiters = this.#nextWaiters;
      this.#next = undefined;
      this.#nextWaiters = [];
      try {
        await this.#write(position);
        for (const w of waiters) w.resolve();
      } catch (err) {
        if ((err as LogError).code === 'ERR_CURSOR_CONFLICT') {
          // Commits queued meanwhile were meant for the value that is gone.
          await this.#reload();
          waiters.push(...this.#nextWaiters);
          this.#next = undefined;
          this.#nextWaiters = [];
        }
        for (const w of waiters) w.reject(err);
      }
    }
    this.#writing = false;
  }

  async #write(position: number): Promise<void> {
    const file = this.#cfg.path;
    if (this.#deleted) throw conflict(file, 'was deleted; open it again');
    // The durable end only moves back by a truncation, which also clamps
    // the stored cursors: a position checked at commit() may be past it now.
    const end = this.#ctx.durableSeq();
    if (position > end) throw outOfRange('nextSeq', `at most the durable end (${end})`, position);
    const expected = this.#version;
    let next: Stored | undefined;
    await this.#cfg.update((current) => {
      if (current === undefined) throw conflict(file, 'was deleted');
      if (current.version !== expected) {
        throw conflict(file, `was written by someone else (version ${current.version}, this cursor had ${expected})`);
      }
      // Again under the cursor's lock: a truncation's clamp (which takes
      // this lock too) may have run since the check above, lowering the end.
      const now = this.#ctx.durableSeq();
      if (position > now) throw outOfRange('nextSeq', `at most the durable end (${now})`, position);
      next = { ...current, position, version: expected + 1 };
      return next;
    });
    this.#version = next!.version;
    this.#position = position;
    this.#clamped = false;
    this.#writes++;
  }

  async #reload(): Promise<void> {
    try {
      const stored = await loadOrMissing(this.#cfg);
      if (stored === undefined) {
        this.#deleted = true;
        return;
      }
      const v = visible(this.#ctx, this.#cfg.path, stored);
      this.#version = stored.version;
      this.#position = v.position;
      this.#clamped = v.clamped;
    } catch {
      // The next commit meets the same error (or ERR_CONFIG_FAILED) itself.
    }
  }
}

/**
 * The cursors of one log directory, for the log's writer and for readers in
 * other processes alike: it knows the log only through the functions it is
 * given, and reads the files, so it sees every process's cursors.
 */
export class CursorStore {
  /** The `cursors/` directory. */
  readonly dir: string;
  readonly #ctx: Context;
  readonly #firstSeq: () => number;
  readonly #readOnly: boolean;
  readonly #mode: number;
  #dirReady: Promise<void> | undefined;

  constructor(options: CursorStoreOptions) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const { dir, logId, durableSeq, firstSeq, readOnly = false, mode = 0o600 } = options;
    if (typeof dir !== 'string' || dir.length === 0) throw invalidArgType('options.dir', 'a non-empty string', dir);
    if (typeof logId !== 'string' || logId.length === 0) throw invalidArgType('options.logId', 'a non-empty string', logId);
    if (typeof durableSeq !== 'function') throw invalidArgType('options.durableSeq', 'a function', durableSeq);
    if (typeof firstSeq !== 'function') throw invalidArgType('options.firstSeq', 'a function', firstSeq);
    if (typeof readOnly !== 'boolean') throw invalidArgType('options.readOnly', 'of type boolean', readOnly);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw invalidValue('options.mode', 'must be an integer from 0 to 0o7777', mode);
    }
    this.dir = path.join(path.resolve(dir), CURSORS_DIR);
    this.#ctx = { logId, durableSeq };
    this.#firstSeq = firstSeq;
    this.#readOnly = readOnly;
    this.#mode = mode;
  }

  /**
   * The cursor `name`. A missing one is created durably at `options.from`
   * (default: the oldest record); an existing one keeps its stored
   * position (shown clamped to the durable end). Open a cursor once per
   * consumer and keep the object: two objects on one cursor conflict.
   */
  async open(name: string, options: CursorOptions = {}): Promise<Cursor> {
    checkName(name);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const from = options.from === undefined ? this.#firstSeq() : seqArg('options.from', options.from);
    const hold = options.hold;
    if (hold !== undefined && typeof hold !== 'boolean') throw invalidArgType('options.hold', 'of type boolean', hold);
    const end = this.#ctx.durableSeq();
    if (from > end) throw outOfRange('options.from', `at most the durable end (${end})`, from);
    this.#writable('open');
    await this.#ensureDir();
    const cfg = this.#file(name);
    let stored = await loadOrMissing(cfg);
    if (stored === undefined) {
      const initial: Stored = { position: from, logId: this.#ctx.logId, version: firstVersion() };
      if (hold) initial.hold = true;
      // Another process may have made it since load(): create only if still missing.
      stored = await cfg.update((current) => (current === undefined ? initial : undefined));
    }
    if (hold !== undefined && (stored!.hold === true) !== hold) {
      // A new version: Cursor objects loaded before must reload before they commit.
      stored = await cfg.update((current) => {
        if (current === undefined) throw conflict(cfg.path, 'was deleted');
        if ((current.hold === true) === hold) return undefined;
        visible(this.#ctx, cfg.path, current);
        return { ...current, hold, version: current.version + 1 };
      });
    }
    return new Cursor(this.#ctx, name, cfg, stored!);
  }

  /**
   * Every cursor and its position, by name, as the files show them now
   * (without locking or syncing: another process's commit in flight may
   * show, or not yet).
   */
  async list(): Promise<CursorInfo[]> {
    const out: CursorInfo[] = [];
    for (const name of await this.#names()) {
      const cfg = this.#file(name);
      const stored = await cfg.peek();
      if (stored !== undefined) out.push({ name, position: visible(this.#ctx, cfg.path, stored).position, hold: stored.hold === true });
    }
    return out;
  }

  /**
   * Deletes the cursor durably. Resolves with whether it existed. After a
   * crash it is gone or holds the position it had, never an older one.
   */
  async delete(name: string): Promise<boolean> {
    checkName(name);
    this.#writable('delete');
    await this.#ensureDir();
    return this.#file(name).remove();
  }

  /**
   * The lowest position of all cursors (with `onlyHeld`, of those stored
   * with `hold`), each clamped to the durable end, or undefined if there is
   * none: what retention must keep. Reads every
   * cursor under its lock and makes the value it uses durable first, so
   * that a power loss cannot bring back a lower one (except on a read-only
   * store, which can do neither).
   */
  async minPosition(onlyHeld = false): Promise<number | undefined> {
    let min: number | undefined;
    for (const name of await this.#names()) {
      const cfg = this.#file(name);
      const stored = this.#readOnly ? await cfg.peek() : await loadOrMissing(cfg);
      if (stored === undefined || (onlyHeld && stored.hold !== true)) continue;
      const { position } = visible(this.#ctx, cfg.path, stored);
      if (min === undefined || position < min) min = position;
    }
    return min;
  }

  /**
   * For a truncation to `seq`, and at the log's open: every stored cursor
   * past `seq` is rewritten durably to `seq` (a new version, so that its
   * Cursor objects' next commit conflicts and reloads); the others are made
   * durable as they are, so that a power loss cannot bring back a value
   * past `seq` either. Cursors of another log are left alone. Resolves with
   * how many were rewritten.
   */
  async clampAbove(seq: number): Promise<number> {
    seqArg('seq', seq);
    this.#writable('clampAbove');
    let clamped = 0;
    for (const name of await this.#names()) {
      await this.#file(name).update((current) => {
        if (current === undefined || current.logId !== this.#ctx.logId || current.position <= seq) return undefined;
        clamped++;
        return { ...current, position: seq, version: current.version + 1 };
      });
    }
    return clamped;
  }

  #file(name: string): ConfigFile<Stored> {
    return new ConfigFile<Stored>(path.join(this.dir, name + SUFFIX), {
      checksum: true,
      validate: isStored,
      mode: this.#mode,
    });
  }

  /** Cursor names that have a file (main, backup or temp), sorted. */
  async #names(): Promise<string[]> {
    let files: string[];
    try {
      files = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const names = new Set<string>();
    for (const f of files) {
      const m = FILE.exec(f);
      if (m && NAME.test(m[1])) names.add(m[1]);
    }
    return [...names].sort();
  }

  // Made on first use, durably: a cursor acknowledged inside it must not
  // vanish with its directory entry.
  #ensureDir(): Promise<void> {
    const dirMode = this.#mode | ((this.#mode & 0o444) >> 2);
    this.#dirReady ??= native.makeDirDurable(this.dir, dirMode).catch((err: unknown) => {
      this.#dirReady = undefined;
      throw err;
    });
    return this.#dirReady;
  }

  #writable(op: string): void {
    if (!this.#readOnly) return;
    const err = new LogError(`${op}: EROFS: the cursor store was opened read-only, '${this.dir}'`, 'EROFS');
    throw Object.assign(err, { errno: -EROFS, syscall: op, path: this.dir });
  }
}
