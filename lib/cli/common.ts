// What every command shares: exit codes, expected errors, argument parsers,
// output with backpressure, and the checks a log directory gets first.
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';

/**
 * Exit codes, fsck's convention (fsck(8)): they add up as bits there, here
 * one is chosen, the most severe.
 */
export const EXIT_OK = 0;
/** Problems an open repairs by itself (a torn tail, never acknowledged), or that `repair` fixed. */
export const EXIT_REPAIRABLE = 1;
/** Damage to acknowledged data: a strict open refuses; `repair` gives the damaged records up. */
export const EXIT_DAMAGED = 4;
/** Operational error: no such directory, not a log, locked, an I/O error. */
export const EXIT_ERROR = 8;
/** Usage error: unknown command or option, bad argument. */
export const EXIT_USAGE = 16;

/** An expected failure: reported as one line on stderr, no stack, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

// Codes of errors the library raises for conditions a user causes (a
// missing file, a damaged log), as opposed to bugs: shown without a stack.
const EXPECTED_CODES = new Set([
  'ENOENT',
  'ENOTDIR',
  'EACCES',
  'EPERM',
  'EROFS',
  'EIO',
  'ENOSPC',
  'ERR_LOG_LOCKED',
  'ERR_LOG_CORRUPT',
  'ERR_LOG_TRUNCATED',
  'ERR_CONFIG_CORRUPT',
]);

/** The exit code and one-line message for an error, or undefined for an unexpected one (a bug). */
export function describeError(err: unknown): { exitCode: number; message: string } | undefined {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && EXPECTED_CODES.has(code)) {
    return { exitCode: code === 'ERR_LOG_CORRUPT' ? EXIT_DAMAGED : EXIT_ERROR, message: `${(err as Error).message} (${code})` };
  }
  return undefined;
}

/** commander parser of a sequence number option. */
export function parseSeq(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer.');
  return n;
}

/** commander parser of a count (at least 1). */
export function parseCount(value: string): number {
  const n = parseSeq(value);
  if (n < 1) throw new InvalidArgumentError('must be at least 1.');
  return n;
}

/** Writes to stdout, waiting while its buffer is full (a slow pipe must not grow memory). */
export async function out(chunk: string | Uint8Array): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

/** Writes a value as one line of JSON. */
export function outJson(value: unknown): Promise<void> {
  return out(`${JSON.stringify(value)}\n`);
}

/**
 * Checks that `dir` exists and holds a log (a CHECKPOINT, a LOCK or a
 * segment), so that a typo is "not a log directory", never an empty log.
 */
export function logDir(dir: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${dir}: no such directory`);
    throw new CliError(`${dir}: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new CliError(`${dir}: not a directory`);
  const names = fs.readdirSync(dir);
  const isLog = names.some((n) => n === 'CHECKPOINT' || n === 'LOCK' || /^\d{20}\.log$/.test(n));
  if (!isLog) throw new CliError(`${dir}: not a log directory (no CHECKPOINT, LOCK or segment file)`);
  return dir;
}

/**
 * The process holding the writer's lock (flock on `<dir>/LOCK`), read from
 * /proc/locks without touching the lock: taking it, even briefly, would make
 * a writer starting at that moment fail with ERR_LOG_LOCKED. `null` when no
 * one holds it, undefined where /proc/locks does not exist (not Linux).
 */
export function lockHolder(dir: string): { pid: number } | null | undefined {
  let locks: string;
  let st: fs.BigIntStats;
  try {
    locks = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  try {
    st = fs.statSync(path.join(dir, 'LOCK'), { bigint: true });
  } catch {
    return null;
  }
  // Linux's dev_t encoding, as /proc/locks prints it: major:minor in hex.
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  const want = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  for (const line of locks.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK ADVISORY WRITE <pid> <maj:min:ino> 0 EOF"; "1: -> FLOCK ..." are waiters.
    if (f[1] === 'FLOCK' && f[3] === 'WRITE' && f[5] === want) return { pid: Number(f[4]) };
  }
  return null;
}

/** `n` bytes for humans: 512 B, 4.0 KiB, 64.0 MiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
