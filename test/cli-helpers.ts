// Running the built `commitlog` binary (dist/cli/main.js) as a user does, and
// the damage the CLI tests apply to real logs.
import { type ChildProcess, execFile, fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { CommitLog } from '../lib';
import { parseBatches, segmentFiles } from './helpers';

export const BIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `commitlog ...args` to its end. */
export function run(...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr: stderr.toString() });
    });
  });
}

/** Parses stdout as one JSON value. */
export function json(r: RunResult): any {
  return JSON.parse(r.stdout.toString());
}

export const OPTS = { alignBytes: 512, segmentBytes: 64 * 1024 } as const;

export function body(i: number): string {
  return `record-${i}-${'x'.repeat(i % 40)}`;
}

/** A log of `groups` appendMany pairs (one batch each), closed cleanly: records body(0).. */
export async function makeLog(dir: string, groups: number): Promise<void> {
  const log = await CommitLog.open(dir, OPTS);
  for (let g = 0; g < groups; g++) await log.appendMany([body(2 * g), body(2 * g + 1)]);
  await log.close();
}

/** Every file of a log directory and its bytes, to show a command changed nothing. */
export function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/**
 * A crash while the last batch was being written: no clean CHECKPOINT, and a
 * byte of the last batch flipped (its write torn). Never acknowledged.
 */
export function tearTail(dir: string): void {
  fs.rmSync(path.join(dir, 'CHECKPOINT'));
  const segs = segmentFiles(dir);
  const last = segs[segs.length - 1];
  const batches = parseBatches(last);
  const b = batches[batches.length - 1];
  flip(last, b.offset + b.used - 3);
}

/** Flips a byte in the payload of batch `index` of the oldest segment: acknowledged data damaged. */
export function damageAcknowledged(dir: string, index: number): { file: string; offset: number; baseSeq: number } {
  const file = segmentFiles(dir)[0];
  const b = parseBatches(file)[index];
  flip(file, b.offset + 80);
  return { file, offset: b.offset, baseSeq: b.baseSeq };
}

function flip(file: string, at: number): void {
  const buf = fs.readFileSync(file);
  buf[at] ^= 0xff;
  fs.writeFileSync(file, buf);
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

/**
 * A writer in another process (test/fixtures/reader-writer-child.js) that
 * holds the log open; `stream` makes it append until killed.
 */
export class Writer {
  readonly child: ChildProcess;
  #replies: Array<(m: { op: string }) => void> = [];
  acked = 0;

  constructor() {
    this.child = fork(path.join(__dirname, 'fixtures', 'reader-writer-child.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(this.child);
    this.child.on('message', (m: { op: string }) => {
      if (m.op === 'acked') this.acked++;
      else this.#replies.shift()?.(m);
    });
  }

  #ask(msg: object): Promise<{ op: string }> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.child.send(msg);
    });
  }

  async open(dir: string, options: object = {}): Promise<void> {
    const r = await this.#ask({ op: 'open', dir, options: { ...OPTS, ...options } });
    if (r.op !== 'opened') throw new Error(`writer: ${JSON.stringify(r)}`);
  }

  append(tag: string, from: number, n: number): Promise<{ op: string }> {
    return this.#ask({ op: 'append', tag, from, n, size: 60 });
  }

  stream(tag: string): void {
    this.child.send({ op: 'stream', tag, callers: 4, size: 60 });
  }

  /** Resolves once `n` more appends of a stream were acknowledged. */
  async ackedMore(n: number): Promise<void> {
    const target = this.acked + n;
    while (this.acked < target) await new Promise((r) => this.child.once('message', r));
  }
}
