/**
 * Every error the library raises on its own carries a stable `code`. System
 * errors keep Node's names ('EIO', 'ENOSPC', ...) with `errno`, `syscall`
 * and `path`, exactly like errors from `node:fs`.
 */
export type LogErrorCode =
  | 'ERR_LOG_CORRUPT'
  | 'ERR_LOG_LOCKED'
  | 'ERR_LOG_CLOSED'
  | 'ERR_LOG_FAILED'
  | 'ERR_LOG_TRUNCATED'
  | 'ERR_LOG_BUSY'
  | 'ERR_CONFIG_CORRUPT'
  | 'ERR_CURSOR_CONFLICT'
  | 'ERR_INVALID_ARG_VALUE';

export class LogError extends Error {
  /** One of {@link LogErrorCode}, or a system error name such as 'EIO'. */
  readonly code: LogErrorCode | (string & {});
  /** Negative errno of a system error, as in Node's fs errors. */
  errno?: number;
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

  constructor(message: string, code: string, options?: { cause?: unknown }) {
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
