/**
 * The codes of errors the library raises on its own, as `LogError.code`.
 * System errors keep Node's names instead (see {@link SystemErrorCode}).
 *
 * - `ERR_LOG_CORRUPT`: a log file holds damage recovery may not cut (`offset` and `path` say where).
 * - `ERR_LOG_LOCKED`: another process (or another CommitLog in this one) has the log open for writing.
 * - `ERR_LOG_CLOSED`: the log or reader was closed before or during the call.
 * - `ERR_LOG_FAILED`: the log stopped after a failed write or sync (fail-stop); `cause` is that error.
 * - `ERR_LOG_TRUNCATED`: the records asked for were truncated away (or a follow saw them cut).
 * - `ERR_LOG_BUSY`: the operation conflicts with others in flight (a handle closed while reads or
 *   truncations run), or a reader kept finding the writer restarting under it.
 * - `ERR_CONFIG_CORRUPT`: ConfigFile.load() found no valid copy and has no `defaults`.
 * - `ERR_CONFIG_FAILED`: an fsync of this ConfigFile failed earlier; it makes no more changes (`cause`).
 * - `ERR_CURSOR_CONFLICT`: a cursor commit lost to another change of the same cursor file.
 * - `ERR_FORWARD_FAILED`: a forwarder (`commitlog/forward`) stopped on what retrying cannot fix; `cause` says what.
 * - `ERR_FORWARD_DIVERGED`: the forwarding target holds records this log no longer has (cut or replaced).
 * - `ERR_SINK`: a sink's failure (`retryable` says whether the forwarder tries again).
 * - `ERR_INVALID_ARG_VALUE`: kept for compatibility; invalid arguments are RangeErrors with this code.
 */
export type LogErrorCode =
  | 'ERR_LOG_CORRUPT'
  | 'ERR_LOG_LOCKED'
  | 'ERR_LOG_CLOSED'
  | 'ERR_LOG_FAILED'
  | 'ERR_LOG_TRUNCATED'
  | 'ERR_LOG_BUSY'
  | 'ERR_CONFIG_CORRUPT'
  | 'ERR_CONFIG_FAILED'
  | 'ERR_CURSOR_CONFLICT'
  | 'ERR_FORWARD_FAILED'
  | 'ERR_FORWARD_DIVERGED'
  | 'ERR_SINK'
  | 'ERR_INVALID_ARG_VALUE';

/**
 * A system error's libuv name, as in errors from `node:fs` ('EIO', 'ENOSPC',
 * 'ENOENT', 'EACCES', 'EROFS', 'EMFILE', 'ENOMEM', ...): every name libuv
 * gives an errno (its resolver's EAI_* codes aside), and libuv's text for an
 * errno it has no name for (EDQUOT, for one). Such an error also has `errno`
 * (negative), `syscall` and, when a file is involved, `path`.
 */
export type SystemErrorCode =
  | 'E2BIG' | 'EACCES' | 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'EAFNOSUPPORT' | 'EAGAIN' | 'EALREADY'
  | 'EBADF' | 'EBUSY' | 'ECANCELED' | 'ECHARSET' | 'ECONNABORTED' | 'ECONNREFUSED' | 'ECONNRESET'
  | 'EDESTADDRREQ' | 'EEXIST' | 'EFAULT' | 'EFBIG' | 'EFTYPE' | 'EHOSTDOWN' | 'EHOSTUNREACH'
  | 'EILSEQ' | 'EINTR' | 'EINVAL' | 'EIO' | 'EISCONN' | 'EISDIR' | 'ELOOP' | 'EMFILE' | 'EMLINK'
  | 'EMSGSIZE' | 'ENAMETOOLONG' | 'ENETDOWN' | 'ENETUNREACH' | 'ENFILE' | 'ENOBUFS' | 'ENODATA'
  | 'ENODEV' | 'ENOENT' | 'ENOMEM' | 'ENONET' | 'ENOPROTOOPT' | 'ENOSPC' | 'ENOSYS' | 'ENOTCONN'
  | 'ENOTDIR' | 'ENOTEMPTY' | 'ENOTSOCK' | 'ENOTSUP' | 'ENOTTY' | 'ENXIO' | 'EOVERFLOW'
  | 'EPERM' | 'EPIPE' | 'EPROTO' | 'EPROTONOSUPPORT' | 'EPROTOTYPE' | 'ERANGE' | 'EREMOTEIO'
  | 'EROFS' | 'ESHUTDOWN' | 'ESOCKTNOSUPPORT' | 'ESPIPE' | 'ESRCH' | 'ETIMEDOUT' | 'ETXTBSY'
  | 'EUNATCH' | 'EXDEV' | 'UNKNOWN'
  | `Unknown system error ${number}`;

/**
 * Codes of the TypeError and RangeError that argument checks throw (before
 * anything is done), as Node's own functions do. `ERR_CONFIG_UNSERIALIZABLE`
 * (a TypeError): ConfigFile.save() or update() was given a value that load()
 * could not read back (undefined, a function, a cycle, a BigInt, or what
 * `parse` or `validate` rejects once serialized); nothing was written.
 */
export type ArgumentErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_CONFIG_UNSERIALIZABLE';

/**
 * An error of the log, a reader, a cursor or a ConfigFile. Branch on `code`,
 * never on the message. An error of an asynchronous native operation (open,
 * read, truncate, close, a ConfigFile step) carries the stack of the
 * JavaScript call that started it; a failed write or sync of the flusher,
 * which rejects every append in flight at once, has no single caller.
 */
export class LogError extends Error {
  /** One of {@link LogErrorCode}, or a system error name such as 'EIO'. */
  readonly code: LogErrorCode | SystemErrorCode;
  /** Negative errno of a system error, as in Node's fs errors. */
  errno?: number;
  /** The system call that failed ('fdatasync', 'open', ...), for system errors. */
  syscall?: string;
  /** File the error is about. */
  path?: string;
  /** Byte offset in `path`, for ERR_LOG_CORRUPT. */
  offset?: number;
  /**
   * The step that failed, outermost first, as the message's prefix: the
   * operation ('open', 'read', 'close', 'configSave', ...) or, for the
   * flusher, 'commit', followed by any steps the core named
   * ('commit: roll: fsync directory').
   */
  step?: string;

  /**
   * @param message - What failed, prefixed by the step.
   * @param code - The stable code (see {@link LogError.code}).
   * @param options - `cause`: the error that led to this one.
   */
  constructor(message: string, code: LogErrorCode | SystemErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogError';
    this.code = code;
  }
}

type Coded<E> = E & { code: string };

function withCode<E extends Error>(err: E, code: string): Coded<E> {
  return Object.assign(err, { code });
}

export function invalidArgType(name: string, expected: string, actual: unknown): Coded<TypeError> {
  const got = actual === null ? 'null' : Array.isArray(actual) ? 'an array' : typeof actual;
  return withCode(new TypeError(`The "${name}" argument must be ${expected}. Received ${got}`), 'ERR_INVALID_ARG_TYPE');
}

export function outOfRange(name: string, range: string, actual: unknown): Coded<RangeError> {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${String(actual)}`),
    'ERR_OUT_OF_RANGE',
  );
}

export function invalidValue(name: string, reason: string, actual: unknown): Coded<RangeError> {
  return withCode(
    new RangeError(`The value of "${name}" is invalid: ${reason}. Received ${JSON.stringify(actual)}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

/** A sequence number argument: a non-negative safe integer. */
export function seqArg(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a non-negative safe integer', value);
  return value;
}

/** A log directory argument: a non-empty path without NUL bytes. */
export function dirArg(dir: unknown): string {
  if (typeof dir !== 'string') throw invalidArgType('dir', 'of type string', dir);
  if (dir.length === 0 || dir.includes('\0')) throw outOfRange('dir', 'a non-empty path without NUL bytes', dir);
  return dir;
}

/** ERR_LOG_FAILED: the log stopped earlier; `cause` is what stopped it. */
export function failedError(cause: Error): LogError {
  return new LogError(`log failed: ${cause.message}`, 'ERR_LOG_FAILED', { cause });
}

export function closedError(): LogError {
  return new LogError('log is closed', 'ERR_LOG_CLOSED');
}
