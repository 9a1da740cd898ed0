// Read-only readers (CommitLog.openReader) of a log that a writer, mostly in
// another process, appends to: what they read, how they follow, and what
// they do when the writer dies, restarts or cuts the log. What a reader may
// never return (bytes not synced) is tested under the crash model, in
// powerloss.reader.test.ts.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommitLog, LogReader, type LogRecord } from '../lib';
import { isRoot, parseBatches, segmentFiles, tmpDir, writeV1Log } from './helpers';

const CHILD = path.join(__dirname, 'fixtures', 'reader-writer-child.js');

function recordBody(tag: string, i: number, size: number): string {
  const head = `${tag}:${i}:`;
  return head + 'x'.repeat(Math.max(0, size - head.length));
}

type Reply = { op: string; seqs?: number[]; durable?: number; code?: string; message?: string };

/** A writer in another process (test/fixtures/reader-writer-child.js). */
class ChildWriter {
  /** seq -> body of every append whose promise resolved in the child. */
  readonly acked = new Map<number, string>();
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #waiting: Array<{ resolve: (m: Reply) => void; reject: (e: Error) => void }> = [];
  #streamSize = 0;

  constructor() {
    this.#child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(this.#child);
    this.#exited = new Promise((resolve) => this.#child.on('exit', () => resolve()));
    this.#child.on('message', (m: Reply & { seq: number; tag: string; i: number }) => {
      if (m.op === 'acked') {
        this.acked.set(m.seq, recordBody(m.tag, m.i, this.#streamSize));
        return;
      }
      const w = this.#waiting.shift();
      if (m.op === 'error') w?.reject(Object.assign(new Error(m.message), { code: m.code }));
      else w?.resolve(m);
    });
  }

  #request(msg: object): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#child.send(msg);
    });
  }

  open(dir: string, options: object = {}) {
    return this.#request({ op: 'open', dir, options });
  }

  async append(tag: string, from: number, n: number, size = 100): Promise<number[]> {
    const { seqs } = await this.#request({ op: 'append', tag, from, n, size });
    seqs!.forEach((seq, k) => this.acked.set(seq, recordBody(tag, from + k, size)));
    return seqs!;
  }

  /** Appends from `callers` concurrent callers until killed. */
  stream(tag: string, callers: number, size: number): void {
    this.#streamSize = size;
    this.#child.send({ op: 'stream', tag, callers, size });
  }

  async closeAndExit(): Promise<void> {
    await this.#request({ op: 'close' });
    this.#child.disconnect();
    await this.#exited;
  }

  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

/** Waits until `cond` holds: liveness only (the bound is generous; nothing here measures time). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 3000) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function readAll(reader: LogReader, from?: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const r of reader.read(from === undefined ? {} : { from })) out.set(r.seq, r.data.toString());
  return out;
}

/** The durable end HEAD holds now (docs/FORMAT.md, "HEAD": durable_seq at offset 32). */
function headDurable(dir: string): number {
  return Number(fs.readFileSync(path.join(dir, 'HEAD')).readBigUInt64LE(32));
}

/** Counts the native reads a reader makes (a pass-through, not a mock): how a test knows its followers are idle. */
function countReads(reader: LogReader): () => number {
  const sym = Object.getOwnPropertySymbols(reader).find((s) => s.description === 'commitlog.readerHandle')!;
  const handle = (reader as unknown as Record<symbol, { read: (...a: unknown[]) => Promise<unknown> }>)[sym];
  const read = handle.read.bind(handle);
  let reads = 0;
  Object.defineProperty(handle, 'read', { value: (...a: unknown[]) => read(...a).finally(() => reads++) });
  return () => reads;
}

/** Collects what a following iteration yields, in the background. */
function follow(reader: LogReader, options: { from?: number } = {}) {
  const ac = new AbortController();
  const seen = new Map<number, string>();
  let error: unknown;
  const done = (async () => {
    for await (const r of reader.read({ ...options, follow: true, signal: ac.signal })) {
      expect(r.seq).toBeLessThan(headDurable(reader.dir));
      seen.set(r.seq, r.data.toString());
    }
  })().catch((e) => {
    error = e;
  });
  return {
    seen,
    error: () => error,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

describe('a reader in another process than the writer', () => {
  it('reads everything the writer made durable, then follows what it appends, across segment rolls', async () => {
    const dir = tmpDir();
    const w = new ChildWriter();
    await w.open(dir, { segmentBytes: 64 * 1024, alignBytes: 512 });
    // Groups of 10 concurrent appends: batches of up to 30 KB, two per segment.
    for (let k = 0; k < 5; k++) await w.append('a', k * 10, 10, 3000);
    const reader = await CommitLog.openReader(dir);
    expect(reader.durableSeq).toBe(50);
    expect(reader.firstSeq).toBe(0);
    expect(await readAll(reader)).toEqual(w.acked);
    const f = follow(reader, { from: 50 });
    for (let k = 0; k < 10; k++) await w.append('b', k * 10, 10, 3000);
    await w.append('c', 0, 50, 100);
    await until(() => f.seen.size === 150, 'the follower to see 150 records');
    await f.stop();
    expect(f.error()).toBeUndefined();
    for (const [seq, body] of f.seen) expect(body).toBe(w.acked.get(seq));
    expect(segmentFiles(dir).length).toBeGreaterThan(4);
    await reader.close();
    await w.closeAndExit();
  });

  it('keeps following across a kill -9 of the writer: all it acknowledged, then what a restarted writer appends', async () => {
    const dir = tmpDir();
    const O = { segmentBytes: 256 * 1024 };
    const first = new ChildWriter();
    await first.open(dir, O);
    const reader = await LogReader.open(dir);
    const f = follow(reader);
    first.stream('k', 8, 500);
    await until(() => first.acked.size >= 300, '300 acknowledgements');
    await first.kill();
    // HEAD says a batch is durable before its appends resolve: all of them reach the follower.
    const acked = new Map(first.acked);
    await until(() => [...acked.keys()].every((seq) => f.seen.has(seq)), 'every acknowledged record');
    for (const [seq, body] of acked) expect(f.seen.get(seq)).toBe(body);
    // A restarted writer recovers the log and publishes a new generation; the follower goes on.
    const second = new ChildWriter();
    await second.open(dir, O);
    const seqs = await second.append('r', 0, 100, 500);
    await until(() => seqs.every((seq) => f.seen.has(seq)), "the restarted writer's records");
    expect(f.error()).toBeUndefined();
    for (const seq of seqs) expect(f.seen.get(seq)).toBe(second.acked.get(seq));
    // Nothing it yielded contradicts the log as it is now.
    const now = await readAll(reader);
    for (const [seq, body] of f.seen) expect(now.get(seq)).toBe(body);
    await f.stop();
    await reader.close();
    await second.closeAndExit();
  });

  it('opens and follows on a read-only mount', async (ctx) => {
    if (!isRoot()) return ctx.skip('not running as root: cannot mount');
    const dir = tmpDir();
    const mnt = tmpDir('commitlog-ro-');
    const log = await CommitLog.open(dir);
    for (let i = 0; i < 20; i++) await log.append(`r${i}`);
    try {
      execFileSync('mount', ['--bind', dir, mnt], { stdio: 'pipe' });
    } catch (err) {
      await log.close();
      return ctx.skip(`mount not permitted: ${(err as Error).message.split('\n')[0]}`);
    }
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', mnt], { stdio: 'pipe' });
      expect(() => fs.writeFileSync(path.join(mnt, 'probe'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
      const reader = await LogReader.open(mnt);
      expect([...(await readAll(reader)).values()]).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
      const f = follow(reader, { from: 20 });
      for (let i = 20; i < 30; i++) await log.append(`r${i}`);
      await until(() => f.seen.size === 10, 'records appended through the writable path');
      await f.stop();
      expect(f.error()).toBeUndefined();
      expect(f.seen.get(29)).toBe('r29');
      await reader.close();
    } finally {
      execFileSync('umount', [mnt]);
      await log.close();
    }
  });
});

describe('what a reader may read', () => {
  it('without HEAD, reads what the files prove: not the last batch of a running writer until another follows it', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { preallocate: 'none' });
    for (let i = 0; i < 10; i++) await log.append(`r${i}`);
    const opened = await LogReader.open(dir);
    expect(opened.durableSeq).toBe(10);
    // The writer goes on writing HEAD through its open descriptor; readers no longer find it.
    fs.unlinkSync(path.join(dir, 'HEAD'));
    const reader = await LogReader.open(dir);
    // Batch 9 says records below 9 were durable when it was sealed; nothing says 9 is.
    expect(reader.durableSeq).toBe(9);
    expect(opened.durableSeq).toBe(9);
    await opened.close();
    expect([...(await readAll(reader)).keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    await log.append('r10');
    expect((await readAll(reader)).size).toBe(10);
    await log.close();
    // The clean CHECKPOINT records where the log ends.
    expect((await readAll(reader)).size).toBe(11);
    expect(reader.durableSeq).toBe(11);
    await reader.close();
  });

  it('reads a log written by version 1 code, which has no HEAD: up to its clean CHECKPOINT, or without one up to the last watermark', async () => {
    const groups = [[Buffer.from('a'), Buffer.from('b')], [Buffer.from('c')], [Buffer.from('d'), Buffer.from('e')]];
    const withCheckpoint = tmpDir();
    writeV1Log(withCheckpoint, groups, true);
    const reader = await LogReader.open(withCheckpoint);
    expect([...(await readAll(reader)).values()]).toEqual(['a', 'b', 'c', 'd', 'e']);
    await reader.close();
    // A version 1 batch's watermark is its base: the last group is not proven durable.
    const without = tmpDir();
    writeV1Log(without, groups, false);
    const bare = await LogReader.open(without);
    expect(bare.durableSeq).toBe(3);
    expect([...(await readAll(bare)).values()]).toEqual(['a', 'b', 'c']);
    await bare.close();
  });

  it("follows a sync 'none' writer: what it acknowledged, from the page cache", async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { sync: 'none' });
    const reader = await LogReader.open(dir);
    for (let i = 0; i < 5; i++) await log.append(`n${i}`);
    expect(reader.durableSeq).toBe(5);
    expect([...(await readAll(reader)).values()]).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    await log.close();
    await reader.close();
  });

  it("skips the numbers a 'truncate' recovery gave up, and fails with ERR_LOG_TRUNCATED an iteration that read some of them", async () => {
    const dir = tmpDir();
    const O = { alignBytes: 512, segmentBytes: 64 * 1024, preallocate: 'none' as const };
    const log = await CommitLog.open(dir, O);
    for (let i = 0; i < 6; i++) await log.append(`a${i}`);
    const reader = await LogReader.open(dir);
    const early = reader.read({ follow: true })[Symbol.asyncIterator]();
    for (let i = 0; i < 6; i++) expect((await early.next()).value.seq).toBe(i);
    for (let i = 6; i < 20; i++) await log.append(`a${i}`);
    await log.close();
    const late = reader.read()[Symbol.asyncIterator]();
    for (let i = 0; i < 15; i++) await late.next();
    // Acknowledged record 10 is damaged; recovery cuts there and gives up 10..19.
    const [seg] = segmentFiles(dir);
    const b10 = parseBatches(seg).find((b) => b.baseSeq === 10)!;
    const bytes = fs.readFileSync(seg);
    bytes[b10.offset + 72 + 4] ^= 1; // its record's first byte
    fs.writeFileSync(seg, bytes);
    const again = await CommitLog.open(dir, { ...O, recovery: 'truncate' });
    expect([again.recovery.gapFrom, again.recovery.gapTo]).toEqual([10, 20]);
    for (let i = 20; i < 23; i++) expect(await again.append(`b${i}`)).toBe(i);
    // `late` read past 10 in the old log: once the records it had fetched
    // before the cut are out, its next read finds them gone.
    const buffered: number[] = [];
    const err = await (async () => {
      for (;;) buffered.push((await late.next()).value.seq);
    })().catch((e) => e);
    expect(buffered).toEqual([15, 16, 17, 18, 19]);
    expect(err.code).toBe('ERR_LOG_TRUNCATED');
    // `early` read only what the log still holds: it goes on, over the gap.
    const next: number[] = [];
    for (let i = 0; i < 7; i++) next.push((await early.next()).value.seq);
    expect(next).toEqual([6, 7, 8, 9, 20, 21, 22]);
    expect([...(await readAll(reader)).keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22]);
    expect((await reader.get(12).catch((e) => e)).code).toBe('ERR_OUT_OF_RANGE');
    expect((await reader.get(21)).toString()).toBe('b21');
    await again.close();
    await reader.close();
  });

  it("skips numbers given up from the first record of a sealed segment on, whatever number a read starts at", async () => {
    const dir = tmpDir();
    const O = { segmentBytes: 64 * 1024, preallocate: 'none' as const };
    const log = await CommitLog.open(dir, O);
    for (let i = 0; i < 40; i++) await log.append(`r${i}-`.padEnd(4000, 'x'));
    await log.close();
    // Damage the first batch of the second segment (records 16..31): recovery cuts it
    // from its first byte on and gives up 16..39.
    const seg = segmentFiles(dir)[1];
    expect(path.basename(seg)).toBe('00000000000000000016.log');
    const bytes = fs.readFileSync(seg);
    bytes[72 + 4] ^= 1;
    fs.writeFileSync(seg, bytes);
    const again = await CommitLog.open(dir, { ...O, recovery: 'truncate' });
    expect([again.recovery.gapFrom, again.recovery.gapTo]).toEqual([16, 40]);
    const reader = await LogReader.open(dir);
    for (const from of [0, 16, 20, 39]) expect((await readAll(reader, from)).size).toBe(from === 0 ? 16 : 0);
    expect((await reader.get(20).catch((e) => e)).code).toBe('ERR_OUT_OF_RANGE');
    await again.append('after');
    for (const from of [16, 25]) expect([...(await readAll(reader, from)).entries()]).toEqual([[40, 'after']]);
    await again.close();
    await reader.close();
  });

  it('fails an iteration that retention left behind with ERR_LOG_TRUNCATED, and firstSeq follows retention', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 64 * 1024 });
    for (let i = 0; i < 300; i++) await log.append(`r${i}-`.padEnd(4000, 'x'));
    const reader = await LogReader.open(dir);
    const it = reader.read()[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) await it.next();
    await log.truncateBefore(290);
    expect(reader.firstSeq).toBe(288);
    let err: { code?: string } | undefined;
    for (let i = 3; i < 300 && !err; i++) err = await it.next().then(() => undefined, (e) => e);
    expect(err?.code).toBe('ERR_LOG_TRUNCATED');
    expect([...(await readAll(reader)).keys()][0]).toBe(288);
    await log.close();
    await reader.close();
  });

  it('returns a copy of the first, a middle and the last record with get, and rejects below firstSeq and at or past the durable end', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) await log.append(`r${i}-`.padEnd(4000, 'x'));
    await log.truncateBefore(20);
    const reader = await LogReader.open(dir);
    expect(reader.firstSeq).toBe(16);
    for (const seq of [16, 27, 39]) expect((await reader.get(seq)).toString()).toBe(`r${seq}-`.padEnd(4000, 'x'));
    const copy = await reader.get(27);
    copy.fill(0);
    expect((await reader.get(27)).toString()).toMatch(/^r27-/);
    const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e) => `${e.constructor.name} ${e.code}`);
    expect(await codeOf(reader.get(15))).toBe('LogError ERR_LOG_TRUNCATED');
    expect(await codeOf(reader.get(40))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(await codeOf(reader.get(1e9))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(await codeOf(reader.get(-1))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(await codeOf(reader.get('1' as unknown as number))).toBe('TypeError ERR_INVALID_ARG_TYPE');
    await log.append('r40');
    expect((await reader.get(40)).toString()).toBe('r40');
    await reader.close();
    expect(await codeOf(reader.get(16))).toBe('LogError ERR_LOG_CLOSED');
    await log.close();
  });
});

describe('finding records', () => {
  it('finds any record of a large segment through its index, and the durable end moves it on', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { preallocate: 'none', segmentBytes: 16 << 20 });
    const body = (i: number) => `r${i}-`.padEnd(1000 + (i % 7) * 500, 'x');
    for (let k = 0; k < 40; k++) await log.appendMany(Array.from({ length: 100 }, (_, j) => body(k * 100 + j)));
    expect(segmentFiles(dir).length).toBe(1);
    const reader = await LogReader.open(dir);
    for (const seq of [3999, 0, 2048, 1, 3001, 777, 3998]) expect((await reader.get(seq)).toString()).toBe(body(seq));
    const from2500 = await readAll(reader, 2500);
    expect(from2500.size).toBe(1500);
    for (const [seq, data] of from2500) expect(data).toBe(body(seq));
    await log.appendMany([body(4000), body(4001)]);
    expect((await reader.get(4001)).toString()).toBe(body(4001));
    await log.close();
    await reader.close();
  });
});

describe('reader lifecycle', () => {
  it('takes no lock and creates no file: a writer opens while it reads, and the directory is as it was', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    await log.append('x');
    await log.close();
    fs.rmSync(path.join(dir, 'LOCK'));
    const before = fs.readdirSync(dir).sort();
    const reader = await LogReader.open(dir);
    expect((await readAll(reader)).size).toBe(1);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    const writer = await CommitLog.open(dir);
    await writer.append('y');
    expect((await readAll(reader)).size).toBe(2);
    await writer.close();
    await reader.close();
  });

  it('ends every following iteration cleanly on close(), and rejects reads after it with ERR_LOG_CLOSED', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    await log.append('x');
    await log.append('y');
    const reader = await LogReader.open(dir);
    const reads = countReads(reader);
    const followers = Array.from({ length: 3 }, async () => {
      const seqs: number[] = [];
      for await (const r of reader.read({ follow: true })) seqs.push(r.seq);
      return seqs;
    });
    // Each read the two records, then found nothing more: all three wait for the writer.
    await until(() => reads() === 6, 'the followers to wait');
    const closing = reader.close();
    expect(reader.close()).toBe(closing);
    await closing;
    expect(reader.closed).toBe(true);
    for (const seqs of await Promise.all(followers)) expect(seqs).toEqual([0, 1]);
    expect((await reader.read().next().catch((e) => e)).code).toBe('ERR_LOG_CLOSED');
    await log.close();
  });

  it('gives 1000 idle followers one watcher, and one append wakes them all', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    await log.append('first');
    const reader = await LogReader.open(dir);
    const reads = countReads(reader);
    const watch = vi.spyOn(fs, 'watch');
    try {
      const ac = new AbortController();
      const its = Array.from({ length: 1000 }, () => reader.read({ from: 1, follow: true, signal: ac.signal })[Symbol.asyncIterator]());
      const next = its.map((it) => it.next());
      await until(() => reads() === 1000, 'every follower to find nothing to read');
      expect(watch).toHaveBeenCalledTimes(1);
      await log.append('second');
      const got = await Promise.all(next);
      expect(got.every((r) => !r.done && (r.value as LogRecord).data.toString() === 'second')).toBe(true);
      expect(watch).toHaveBeenCalledTimes(1);
      ac.abort();
      for (const r of await Promise.all(its.map((it) => it.next()))) expect(r.done).toBe(true);
    } finally {
      watch.mockRestore();
      await reader.close();
      await log.close();
    }
  });

  it('validates its arguments before touching the files', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    await log.close();
    const codeOf = (f: () => unknown) =>
      Promise.resolve()
        .then(f)
        .then(() => 'ok', (e) => `${e.constructor.name} ${e.code}`);
    expect(await codeOf(() => LogReader.open(42 as unknown as string))).toBe('TypeError ERR_INVALID_ARG_TYPE');
    expect(await codeOf(() => LogReader.open(''))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(await codeOf(() => LogReader.open(dir, { bogus: 1 } as object))).toBe('RangeError ERR_INVALID_ARG_VALUE');
    expect(await codeOf(() => LogReader.open(dir, { pollIntervalMs: 0 }))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(await codeOf(() => LogReader.open(dir, { pollIntervalMs: '5' as unknown as number }))).toBe('TypeError ERR_INVALID_ARG_TYPE');
    expect(await codeOf(() => LogReader.open(path.join(dir, 'missing')))).toBe('LogError ENOENT');
    expect(await codeOf(() => LogReader.open(tmpDir()))).toBe('LogError ENOENT');
    expect(await codeOf(() => LogReader.open(path.join(dir, 'CHECKPOINT')))).toBe('LogError ENOTDIR');
    const reader = await LogReader.open(dir, { pollIntervalMs: 50 });
    expect(await codeOf(() => reader.read({ follow: 'yes' as unknown as boolean }))).toBe('TypeError ERR_INVALID_ARG_TYPE');
    expect(await codeOf(() => reader.read({ signal: {} as AbortSignal }))).toBe('TypeError ERR_INVALID_ARG_TYPE');
    expect(await codeOf(() => reader.read({ from: -1 }))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(await codeOf(() => reader.read(null as unknown as object))).toBe('TypeError ERR_INVALID_ARG_TYPE');
    await reader.close();
  });
});
