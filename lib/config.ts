import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LogError, invalidArgType, invalidValue } from './errors';
import { native } from './native';

/** Which copy load() used. */
export type LoadSource = 'main' | 'backup' | 'temp' | 'defaults';

/** What a load() used and why: `ConfigFile.lastLoad`, and the 'recovery' event's argument. */
export interface LoadInfo {
  /** The copy whose value load() returned. */
  source: LoadSource;
  /** True when the main file was missing or invalid and another copy was used. */
  recovered: boolean;
  /** Where an invalid main file was moved (`<name>.corrupt`), if one was. */
  corruptPath?: string;
  /** Why the main file was not used, for humans. */
  reason?: string;
  /**
   * True when load() could not take `<name>.lock` for lack of write access
   * (a read-only mount, EROFS; no write permission, EACCES or EPERM): it then
   * read without the lock and changed nothing (no file moved aside, removed
   * or synced), as peek() does.
   */
  readOnly?: boolean;
}

/** Events of a ConfigFile, for its typed `on`/`once`/`off`. */
export interface ConfigFileEvents {
  /** load() could not use the main file and fell back to another copy or to `defaults`. */
  recovery: [info: LoadInfo];
}

/** Options of `new ConfigFile(path, options)`; any other key is rejected (ERR_INVALID_ARG_VALUE). */
export interface ConfigFileOptions<T> {
  /** What load() returns when no valid copy exists. Without it, load() rejects then. */
  defaults?: T;
  /** Default: `JSON.stringify(value, null, 2)` plus a newline. */
  serialize?: (value: T) => string | Uint8Array;
  /** Default: `JSON.parse` of the UTF-8 text. Throw to reject the content. */
  parse?: (bytes: Buffer) => T;
  /** Rejects content that parses but is wrong: return false or throw. Runs on load and on save. */
  validate?: (value: T) => boolean | void;
  /**
   * Frame the content with a length and CRC32C that load() verifies, so that a torn or damaged
   * file is detected even when the format cannot tell (binary content). Default: true when a
   * custom `serialize` is given, false for JSON (which stays a plain, editable JSON file).
   */
  checksum?: boolean;
  /** Permission bits of a new file. Default 0o600; an existing file keeps its own. */
  mode?: number;
}

const ENVELOPE_HEADER = 16;

const OPTION_KEYS: ReadonlySet<string> = new Set(['defaults', 'serialize', 'parse', 'validate', 'checksum', 'mode']);

// Errors of taking `<name>.lock` that mean "no write access here": load()
// then reads without the lock, as a reader on a read-only mount must.
const READ_ONLY_CODES: ReadonlySet<string> = new Set(['EROFS', 'EACCES', 'EPERM']);

function serializeJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2) as string | undefined;
  // JSON.stringify(undefined) (or a function, or a symbol) is undefined, not
  // text: written as is, it would be the word "undefined", which no load() parses.
  if (text === undefined) throw new TypeError(`JSON cannot represent a value of type ${typeof value}`);
  return text + '\n';
}

function unwrap(bytes: Buffer): Buffer {
  const reason = native.configUnwrap(bytes);
  if (reason !== undefined) throw new Error(reason);
  return bytes.subarray(ENVELOPE_HEADER);
}

// One holder per target in this process before asking for the flock: the
// flock wait blocks a libuv pool thread, and enough blocked waiters could
// starve the holder of the pool threads it needs to finish.
const localLocks = new Map<string, Promise<void>>();

async function withLocalLock<R>(key: string, fn: () => Promise<R>): Promise<R> {
  const prev = localLocks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  localLocks.set(key, chained);
  await prev;
  try {
    return await fn();
  } finally {
    release();
    if (localLocks.get(key) === chained) localLocks.delete(key);
  }
}

type Copy<T> = { state: 'ok'; value: T } | { state: 'missing' } | { state: 'invalid'; reason: string };

interface Pending {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A small file (settings, offsets, metrics) that survives power loss: save()
 * writes a temp file and forces it, keeps the previous good version as
 * `<name>.bak`, renames the temp file over `<name>` and forces the directory.
 * load() falls back to `.bak` when the main file is missing or corrupt, and
 * moves a corrupt main file aside to `<name>.corrupt` so that it can never
 * become the backup. Saves are serialized (also across processes, by a
 * `<name>.lock` file) and bursts coalesce into few writes.
 *
 * Fail-stop: after a failed fsync in save() or load() the instance rejects
 * every later save() and load() with `ERR_CONFIG_FAILED` (`err.cause` is the
 * fsync error); a new instance's load() re-reads what is on disk and makes
 * it durable. See save() for what a rejected save leaves.
 *
 * Events ({@link ConfigFileEvents}): 'recovery' (LoadInfo) when load() could
 * not use the main file.
 *
 * save() refuses, with a TypeError whose code is `ERR_CONFIG_UNSERIALIZABLE`
 * (`cause`: the serializer's or parser's error) and without writing, a
 * value that load() could not read back: `undefined`, a function, a cycle, a
 * BigInt, or anything whose serialized form `parse` or `validate` rejects.
 */
export class ConfigFile<T = unknown> extends EventEmitter<ConfigFileEvents> {
  /** The file's absolute path (a symbolic link is followed when saving). */
  readonly path: string;
  readonly #defaults: T | undefined;
  readonly #hasDefaults: boolean;
  readonly #serialize: (value: T) => string | Uint8Array;
  readonly #parse: (bytes: Buffer) => T;
  readonly #validate: ((value: T) => boolean | void) | undefined;
  readonly #checksum: boolean;
  readonly #mode: number;
  #target: Promise<{ target: string; mode: number }> | undefined;
  #next: Buffer | undefined;
  #nextWaiters: Pending[] = [];
  #writing = false;
  // Fail-stop, like the log (README "Fail-stop"): the fsync error that
  // stopped this instance. Set when an fsync of the directory, or of a file
  // that load() returns or save() backs up, fails (or a rename in load(),
  // which cannot be told apart from the fsync after it). Why not retry the
  // fsync at the next save: after a failed fsync, Linux may have dropped the
  // unwritten state or marked it clean, so a later fsync that succeeds proves
  // nothing about the earlier changes ("fsyncgate"), and the next save would
  // build on them — make the not-durable file the backup, replace the durable
  // one, and acknowledge. Going on is the caller's decision, as with the log
  // (close and reopen): a new instance's load() re-reads what is on disk and
  // makes the copy it returns durable. Not fatal: a failed fdatasync of the
  // temp file, which is unlinked and never used, and failures of renames and
  // links in save(), after which the current file is still the durable one.
  #failed: Error | undefined;
  // Identity (path, device, inode, ctime, size) of the copy load() would
  // return, as this instance last made it durable. A copy with another
  // identity may not be durable (another process wrote it, perhaps in a save
  // that failed at its directory fsync; a crash left it; or a failed save of
  // ours linked it to .bak) and is fsynced before a save builds on it.
  #durableId: string | undefined;
  // Whether the next commit lists the directory for leftover temp files: on
  // an instance's first save (a crash or another process may have left
  // some) and after any failed save of this one.
  #sweep = true;
  /** What the last load() used. */
  lastLoad: LoadInfo | undefined;
  /** Write cycles done by this instance (each one temp write, renames and syncs). */
  writes = 0;

  constructor(filePath: string, options: ConfigFileOptions<T> = {}) {
    super();
    if (typeof filePath !== 'string') throw invalidArgType('path', 'of type string', filePath);
    if (filePath.length === 0 || filePath.includes('\0')) throw invalidValue('path', 'must be a non-empty path without NUL bytes', filePath);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw invalidValue('options', `unknown option "${key}"`, key);
    }
    for (const k of ['serialize', 'parse', 'validate'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'function') throw invalidArgType(`options.${k}`, 'a function', options[k]);
    }
    if (options.checksum !== undefined && typeof options.checksum !== 'boolean') {
      throw invalidArgType('options.checksum', 'of type boolean', options.checksum);
    }
    if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
      throw invalidValue('options.mode', 'must be an integer from 0 to 0o7777', options.mode);
    }
    this.path = path.resolve(filePath);
    this.#hasDefaults = 'defaults' in options && options.defaults !== undefined;
    this.#defaults = options.defaults;
    this.#serialize = options.serialize ?? serializeJson;
    this.#parse = options.parse ?? ((b: Buffer) => JSON.parse(b.toString('utf8')) as T);
    this.#validate = options.validate;
    this.#checksum = options.checksum ?? options.serialize !== undefined;
    this.#mode = options.mode ?? 0o600;
  }

  /**
   * Returns the content of the main file if it is valid; else of `.bak`;
   * else of a complete temp file left by a crash; else `defaults`.
   * `lastLoad` (and the 'recovery' event) say which one and why. The copy
   * returned is made durable first (fdatasync, directory fsync), so that its
   * value survives a power loss even if a crash or a failed save left it.
   *
   * Reading needs no write access: where `<name>.lock` cannot be taken for
   * that reason (a read-only mount, no write permission), load() reads
   * without it and changes nothing, as peek() does, and `lastLoad.readOnly`
   * is true; an invalid main file is then skipped, not moved aside.
   *
   * Rejects with `ENOENT` (with `errno`, `syscall`, `path`, as node:fs does)
   * when no copy exists and there are no `defaults`, and with
   * `ERR_CONFIG_CORRUPT` when copies exist but none is valid.
   */
  async load(): Promise<T> {
    if (this.#failed) throw this.#failedError();
    const { target } = await this.#resolve();
    return withLocalLock(target, async () => {
      const fd = await this.#tryLock(target);
      if (fd === undefined) return this.#loadCopy(target, false);
      try {
        return await this.#loadCopy(target, true);
      } finally {
        native.unlockFile(fd);
      }
    });
  }

  /** The lock's fd, or undefined where this process may not write (see READ_ONLY_CODES). */
  async #tryLock(target: string): Promise<number | undefined> {
    try {
      return await native.lockFile(target, this.#mode);
    } catch (err) {
      if (READ_ONLY_CODES.has((err as LogError).code)) return undefined;
      throw err;
    }
  }

  /**
   * load()'s choice of copy. `writable` (the lock is held): also moves an
   * invalid main file aside, removes temp files and makes the copy returned
   * durable; without it, nothing changes on disk.
   */
  async #loadCopy(target: string, writable: boolean): Promise<T> {
    const ro: Partial<LoadInfo> = writable ? {} : { readOnly: true };
    const main = await this.#read(target);
    if (main.state === 'ok') {
      if (writable) {
        await this.#removeTemps(target);
        await this.#settle(target);
      }
      return this.#loaded({ source: 'main', recovered: false, ...ro }, main.value);
    }
    const info: LoadInfo = { source: 'defaults', recovered: true, ...ro };
    if (main.state === 'invalid') {
      info.reason = `main file is invalid: ${main.reason}`;
      if (writable) {
        // Moved aside, never left in place: the next save would otherwise have
        // to decide again, and must never make it the backup.
        const corruptPath = `${target}.corrupt`;
        info.corruptPath = corruptPath;
        await this.#durably(() => native.moveDurable(target, corruptPath));
      }
    } else {
      info.reason = 'main file is missing';
    }
    const bak = await this.#read(`${target}.bak`);
    if (bak.state === 'ok') {
      if (writable) {
        await this.#removeTemps(target);
        await this.#settle(`${target}.bak`);
      }
      return this.#loaded({ ...info, source: 'backup' }, bak.value);
    }
    // A crash can leave the only complete copy under a temp name (for
    // example a first save, before any main file existed).
    for (const temp of await this.#temps(target)) {
      const t = await this.#read(temp);
      if (t.state !== 'ok') continue;
      if (writable) {
        await this.#durably(() => native.moveDurable(temp, target));
        await this.#removeTemps(target);
        await this.#settle(target);
      }
      return this.#loaded({ ...info, source: 'temp' }, t.value);
    }
    if (writable) await this.#removeTemps(target);
    this.#durableId = undefined;
    if (this.#hasDefaults) {
      return this.#loaded({ ...info, recovered: main.state === 'invalid' || bak.state === 'invalid' }, this.#defaults as T);
    }
    if (main.state === 'invalid' || bak.state === 'invalid') {
      throw Object.assign(new LogError(`no valid copy of ${target}: ${info.reason}`, 'ERR_CONFIG_CORRUPT'), { path: target });
    }
    // As node:fs reports a missing file: code, errno, syscall, path.
    const err = new LogError(`ENOENT: no such file or directory, open '${target}'`, 'ENOENT');
    throw Object.assign(err, { errno: -os.constants.errno.ENOENT, syscall: 'open', path: target });
  }

  /**
   * Saves `value`; resolves once a write containing it (or a newer value) is
   * durable. Concurrent saves coalesce: while one write is in flight, later
   * values wait and only the newest is written next.
   *
   * A rejected save leaves one of two values in place: the old one (what
   * load() would have returned when the write began) or the new one (this
   * save's value or, when saves coalesced, the newer value written with it).
   * load() (of a new instance, if this one stopped) returns that value now,
   * and the old or the new one after a power loss, never anything else.
   * Which one:
   *
   * - Only a failure of the last step, the directory fsync after the rename,
   *   leaves the new value: load() returns it, and after a power loss the
   *   old or the new one. It also stops the instance: later save() and
   *   load() calls reject with `ERR_CONFIG_FAILED` (`err.cause` is this
   *   error); a new instance's load() tells which value is in place.
   * - Every other failure (the lock, the temp file's create, write or
   *   fdatasync, the backup's link or rename, the final rename) leaves the
   *   old value, durable, and the instance usable: before changing anything
   *   a save fsyncs the copy load() would return (main file, else `.bak`,
   *   else a temp file left by a crash) unless this instance made it
   *   durable itself. If that fsync fails, the save rejects having changed
   *   nothing and stops the instance; a power loss may then still undo the
   *   value whoever wrote that copy left, as their own failure allowed.
   * - `ERR_CONFIG_FAILED`, and errors about `value` itself (validate,
   *   serialize, and `ERR_CONFIG_UNSERIALIZABLE` for a value load() could
   *   not read back), change nothing.
   *
   * No failure leaves a temp file (`<name>.tmp-*`, `<name>.bak.tmp`) behind
   * past the next successful save: a failed save removes its own, and if
   * that unlink fails too, the instance's next successful save removes it.
   * (A new instance's first save, and load(), remove those of crashes.)
   */
  save(value: T): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = this.#encode(value);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#next = bytes;
    const done = new Promise<void>((resolve, reject) => this.#nextWaiters.push({ resolve, reject }));
    if (!this.#writing) void this.#pump();
    return done;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    while (this.#next) {
      const bytes = this.#next;
      const waiters = this.#nextWaiters;
      this.#next = undefined;
      this.#nextWaiters = [];
      try {
        await this.#writeCycle(() => bytes);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.#writing = false;
  }

  /**
   * A read-modify-write, for values that depend on what is stored (a
   * version check, a clamp). Holding the lock, `fn` gets the value load()
   * would return now (undefined if there is no valid copy) and returns the
   * value to save, or undefined to save nothing. Resolves with the value in
   * place afterwards, durable: `fn`'s result once saved, else the current
   * one (fsynced first if this instance did not make it durable itself).
   * If `fn` throws, nothing changes and update() rejects with what it
   * threw. Not coalesced with other calls; a rejected write leaves what
   * save() documents, and the same fail-stop rule holds.
   */
  async update(fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'a function', fn);
    let result: T | undefined;
    await this.#writeCycle((current) => {
      const next = fn(current);
      result = next === undefined ? current : next;
      return next === undefined ? undefined : this.#encode(next);
    });
    return result;
  }

  /**
   * The value load() would return now, read without the lock and without
   * changing or syncing anything: for a process that may not write here (a
   * read-only mount). It may not be durable yet (another process's save in
   * flight, or one that died before its directory fsync). Undefined when no
   * valid copy exists.
   */
  async peek(): Promise<T | undefined> {
    const { target } = await this.#resolve();
    const main = await this.#read(target);
    if (main.state === 'ok') return main.value;
    return (await this.#fallback(target))?.value;
  }

  /**
   * Removes the file durably: first `.bak` and any temp files (what load()
   * falls back on), made durable by a directory fsync, then the file and
   * another directory fsync. Whatever step a crash stops it at, load()
   * afterwards returns the value the file had or nothing, never an older
   * one from the backup (a power loss reverts each name on its own). The
   * lock file stays: unlinking it could let two processes each lock a
   * different `<name>.lock`. Resolves with whether load() would have
   * returned a value (defaults aside). A failed directory fsync stops the
   * instance, as in save(); a failed unlink does not.
   */
  async remove(): Promise<boolean> {
    if (this.#failed) throw this.#failedError();
    const { target } = await this.#resolve();
    return this.#locked(target, async () => {
      const main = await this.#read(target);
      const existed = main.state === 'ok' || (await this.#fallback(target)) !== undefined;
      this.#durableId = undefined;
      await native.configRemove(target, false);
      await this.#durably(() => native.configCommit(target, false));
      await native.configRemove(target, true);
      await this.#durably(() => native.configCommit(target, false));
      return existed;
    });
  }

  /**
   * The bytes save() writes for `value` (validated, serialized, wrapped),
   * once they are known to load back: a save that load() would reject
   * would durably replace a good file with one load() moves aside.
   */
  #encode(value: T): Buffer {
    this.#check(value, 'value');
    let raw: unknown;
    try {
      raw = this.#serialize(value);
    } catch (err) {
      throw this.#unserializable(`serialize failed: ${(err as Error).message}`, err);
    }
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
      throw invalidArgType('serialize(value)', 'a string or Uint8Array', raw);
    }
    const payload = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw);
    try {
      this.#check(this.#parse(payload), 'content');
    } catch (err) {
      throw this.#unserializable(`load() would not read it back: ${(err as Error).message}`, err);
    }
    return this.#checksum ? native.configWrap(payload) : payload;
  }

  // A TypeError, as other errors about an argument are: nothing was done.
  #unserializable(why: string, cause: unknown): TypeError & { code: 'ERR_CONFIG_UNSERIALIZABLE'; path: string } {
    const err = new TypeError(`${this.path}: cannot save this value: ${why}`, { cause });
    return Object.assign(err, { code: 'ERR_CONFIG_UNSERIALIZABLE' as const, path: this.path });
  }

  /**
   * One write cycle; `decide` (save's bytes, or update's fn) runs under the
   * lock on the value load() would return and says what to write, if
   * anything.
   */
  async #writeCycle(decide: (current: T | undefined) => Buffer | undefined): Promise<void> {
    if (this.#failed) throw this.#failedError();
    const { target, mode } = await this.#resolve();
    await this.#locked(target, async () => {
      // Only a valid current file may become the backup (RocketMQ #9705).
      const current = await this.#read(target);
      const old = current.state === 'ok' ? { file: target, value: current.value } : await this.#fallback(target);
      const bytes = decide(old?.value);
      // The copy load() would return holds the value a failed save must
      // leave (and update() returns it when it saves nothing): make it
      // durable before changing anything.
      const id = old === undefined ? undefined : await this.#identity(old.file);
      if (old !== undefined && (id === undefined || id !== this.#durableId)) {
        await this.#durably(() => native.configSyncFile(old.file));
      }
      if (bytes === undefined) {
        this.#durableId = id;
        return;
      }
      // Steps 1-3 (temp file, backup, rename). A failure leaves the current
      // file in place, as durable as it was; the instance stays usable.
      await native.configSave(target, bytes, mode, current.state === 'ok');
      // Step 4, the directory fsync. A failure leaves the new value in place,
      // visible but not known to be durable, and stops the instance.
      this.#durableId = undefined;
      await this.#durably(() => native.configCommit(target, this.#sweep));
      this.#sweep = false;
      this.#durableId = await this.#identity(target);
      this.writes++;
    }).catch((err: unknown) => {
      // It may have left a temp file that it failed to remove.
      this.#sweep = true;
      throw err;
    });
  }

  /** Runs an fsync step; its failure stops the instance (see #failed). */
  async #durably(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.#failed ??= err as Error;
      throw err;
    }
  }

  /** Makes `file`, the copy load() returns, durable: content and name. */
  async #settle(file: string): Promise<void> {
    await this.#durably(() => native.configSyncFile(file));
    this.#durableId = await this.#identity(file);
  }

  /** The copy load() would use when the main file is not valid, if any. */
  async #fallback(target: string): Promise<{ file: string; value: T } | undefined> {
    const bak = `${target}.bak`;
    const b = await this.#read(bak);
    if (b.state === 'ok') return { file: bak, value: b.value };
    for (const temp of await this.#temps(target)) {
      const t = await this.#read(temp);
      if (t.state === 'ok') return { file: temp, value: t.value };
    }
    return undefined;
  }

  /** undefined if unknown: the next save then fsyncs the file first. */
  async #identity(file: string): Promise<string | undefined> {
    try {
      const st = await fs.stat(file, { bigint: true });
      return `${file}:${st.dev}:${st.ino}:${st.ctimeNs}:${st.size}`;
    } catch {
      return undefined;
    }
  }

  #failedError(): LogError {
    const cause = this.#failed as Error & { code?: string };
    const err = new LogError(
      `${this.path}: an fsync failed earlier (${cause.code ?? cause.message}); this ConfigFile makes no more changes, load() from a new one`,
      'ERR_CONFIG_FAILED',
      { cause },
    );
    return Object.assign(err, { path: this.path });
  }

  #resolve(): Promise<{ target: string; mode: number }> {
    if (!this.#target) {
      this.#target = native.configResolve(this.path, this.#mode);
      this.#target.catch(() => (this.#target = undefined));
    }
    return this.#target;
  }

  #locked<R>(target: string, fn: () => Promise<R>): Promise<R> {
    return withLocalLock(target, async () => {
      const fd = await native.lockFile(target, this.#mode);
      try {
        return await fn();
      } finally {
        native.unlockFile(fd);
      }
    });
  }

  async #read(file: string): Promise<Copy<T>> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
      throw err;
    }
    try {
      const value = this.#parse(this.#checksum ? unwrap(bytes) : bytes);
      this.#check(value, 'content');
      return { state: 'ok', value };
    } catch (err) {
      return { state: 'invalid', reason: (err as Error).message };
    }
  }

  #check(value: T, what: string): void {
    if (this.#validate && this.#validate(value) === false) {
      throw invalidValue(what, 'rejected by options.validate', typeof value === 'object' ? '[object]' : value);
    }
  }

  async #temps(target: string): Promise<string[]> {
    const dir = path.dirname(target);
    const prefix = `${path.basename(target)}.tmp-`;
    const names = (await fs.readdir(dir)).filter((n) => n.startsWith(prefix));
    // A temp file may go between readdir and stat: peek() holds no lock.
    const withTimes = await Promise.all(
      names.map(async (n) => ({ file: path.join(dir, n), mtime: (await fs.stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs })),
    );
    return withTimes
      .filter((x): x is { file: string; mtime: number } => x.mtime !== undefined)
      .sort((a, b) => b.mtime - a.mtime)
      .map((x) => x.file);
  }

  async #removeTemps(target: string): Promise<void> {
    for (const t of await this.#temps(target)) await fs.rm(t, { force: true });
    await fs.rm(`${target}.bak.tmp`, { force: true });
  }

  #loaded(info: LoadInfo, value: T): T {
    this.lastLoad = info;
    if (info.recovered) this.emit('recovery', info);
    return value;
  }
}

/**
 * Atomically and durably replaces the file at `filePath` with `data`: temp
 * file, fdatasync, rename, directory fsync. A symbolic link is followed (its
 * target is replaced, the link kept). Resolves once the new content is durable.
 * A rejection leaves the old content or, only when the directory fsync (the
 * last step) failed, the new one; after a power loss, either. Its temp file
 * is removed unless that unlink fails too.
 */
export async function writeFileDurable(
  filePath: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  if (typeof filePath !== 'string') throw invalidArgType('path', 'of type string', filePath);
  if (filePath.length === 0 || filePath.includes('\0')) throw invalidValue('path', 'must be a non-empty path without NUL bytes', filePath);
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw invalidArgType('data', 'a string or Uint8Array', data);
  const mode = options.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw invalidValue('options.mode', 'must be an integer from 0 to 0o7777', mode);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  await native.writeFileDurable(path.resolve(filePath), bytes, mode);
}
