// Durable named cursors (lib/cursor.ts): the API through CommitLog, and the
// CursorStore as two processes (or a writer and a reader) share it. Crash
// safety is in powerloss.cursor.test.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { CursorStore } from '../lib/cursor';
import { tmpDir } from './helpers';

const CHILD = path.join(__dirname, 'fixtures', 'cursor-child.js');

async function logWith(records: number, dir = tmpDir()) {
  const log = await CommitLog.open(dir);
  for (let i = 0; i < records; i++) await log.append(`r${i}`);
  return log;
}

/** A store as another process would make it, on a log it cannot see. */
function storeOn(dir: string, durable: { seq: number }, extra: Partial<ConstructorParameters<typeof CursorStore>[0]> = {}) {
  return new CursorStore({ dir, logId: '42', durableSeq: () => durable.seq, firstSeq: () => 0, ...extra });
}

const settle = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e) => e.code as string,
  );

describe('CommitLog cursors', () => {
  it('creates a cursor at the oldest record, and a reopened log finds the committed position', async () => {
    const dir = tmpDir();
    const log = await logWith(10, dir);
    const c = await log.cursor('billing');
    expect(c.position).toBe(0);
    expect(c.clamped).toBe(false);
    await c.commit(7);
    expect(c.position).toBe(7);
    await log.close();
    const again = await CommitLog.open(dir);
    expect((await again.cursor('billing')).position).toBe(7);
    expect(await again.cursors()).toEqual([{ name: 'billing', position: 7, hold: false }]);
    await again.close();
  });

  it('creates a new cursor at options.from; an existing one keeps its position', async () => {
    const log = await logWith(10);
    expect((await log.cursor('a', { from: 4 })).position).toBe(4);
    expect((await log.cursor('a', { from: 9 })).position).toBe(4);
    await expect(log.cursor('b', { from: 11 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(log.cursor('b', { from: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(log.cursor('b', { from: '1' as unknown as number })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(await log.cursors()).toEqual([{ name: 'a', position: 4, hold: false }]);
    await log.close();
  });

  it('refuses a commit past the durable end, or not a non-negative safe integer, and keeps the stored position', async () => {
    const dir = tmpDir();
    const log = await logWith(5, dir);
    const c = await log.cursor('c');
    await c.commit(5);
    for (const bad of [6, -1, 1.5, NaN, 2 ** 53]) {
      await expect(c.commit(bad)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    }
    await expect(c.commit('3' as unknown as number)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(c.position).toBe(5);
    await log.close();
    const again = await CommitLog.open(dir);
    expect((await again.cursor('c')).position).toBe(5);
    await again.close();
  });

  it('accepts a position below the oldest record (a consumer behind retention)', async () => {
    const log = await CommitLog.open(tmpDir(), { segmentBytes: 64 * 1024, alignBytes: 512 });
    for (let i = 0; i < 200; i++) await log.append('x'.repeat(1000));
    const c = await log.cursor('slow');
    expect(await log.truncateBefore(150)).toBeGreaterThan(0);
    expect(log.firstSeq).toBeGreaterThan(0);
    await c.commit(1);
    expect(c.position).toBe(1);
    await log.close();
  });

  it('coalesces 5,000 commits fired without awaiting into a handful of writes; all resolve and the last one is stored', async () => {
    const log = await logWith(5000);
    const c = await log.cursor('burst');
    const commits = Array.from({ length: 5000 }, (_, i) => c.commit(i + 1));
    await Promise.all(commits);
    expect(c.position).toBe(5000);
    expect(c.writes).toBeLessThan(25);
    expect(await log.cursors()).toEqual([{ name: 'burst', position: 5000, hold: false }]);
    await log.close();
  });

  it('lists cursors by name and deletes them durably: true once, then false, and only the lock file stays', async () => {
    const dir = tmpDir();
    const log = await logWith(10, dir);
    for (const [name, pos] of [['b', 2], ['a', 5], ['c.v2', 9]] as const) await (await log.cursor(name)).commit(pos);
    expect(await log.cursors()).toEqual([
      { name: 'a', position: 5, hold: false },
      { name: 'b', position: 2, hold: false },
      { name: 'c.v2', position: 9, hold: false },
    ]);
    expect(await log.deleteCursor('b')).toBe(true);
    expect(await log.deleteCursor('b')).toBe(false);
    expect(await log.deleteCursor('never')).toBe(false);
    expect((await log.cursors()).map((c) => c.name)).toEqual(['a', 'c.v2']);
    expect(fs.readdirSync(path.join(dir, 'cursors')).filter((f) => f.startsWith('b.'))).toEqual(['b.cursor.lock']);
    // A deleted cursor comes back new, at the oldest record.
    expect((await log.cursor('b')).position).toBe(0);
    await log.close();
  });

  it('read({ cursor }) starts at the committed position and follows from there', async () => {
    const log = await logWith(10);
    const c = await log.cursor('consumer');
    await c.commit(7);
    const seen: number[] = [];
    for await (const r of log.read({ cursor: 'consumer' })) seen.push(r.seq);
    expect(seen).toEqual([7, 8, 9]);
    const ac = new AbortController();
    const it = log.read({ cursor: 'consumer', follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value.seq).toBe(7);
    // A cursor that does not exist yet starts at the oldest record.
    const fresh = log.read({ cursor: 'new-one', to: 2 });
    const got: number[] = [];
    for await (const r of fresh) got.push(r.seq);
    expect(got).toEqual([0, 1]);
    ac.abort();
    expect(() => log.read({ cursor: '../x' })).toThrow(RangeError);
    expect(() => log.read({ cursor: 'c', from: 1 })).toThrow(/not both/);
    await log.close();
  });

  it('a reader (CommitLog.openReader) owns a cursor from its process: it commits, reads from it, and the writer lists it and its retention holds for it', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { segmentBytes: 64 * 1024, retention: { maxBytes: 1, holdForCursors: true } });
    const reader = await CommitLog.openReader(dir);
    const c = await reader.cursor('remote');
    expect(c.position).toBe(0);
    for (let i = 0; i < 64; i++) await log.append(Buffer.alloc(4000, i));
    await c.commit(20);
    expect((await log.cursors()).find((x) => x.name === 'remote')?.position).toBe(20);
    const seen: number[] = [];
    for await (const r of reader.read({ cursor: 'remote', to: 23 })) seen.push(r.seq);
    expect(seen).toEqual([20, 21, 22]);
    // The writer's passes (one per roll) never went past the segment holding 20.
    expect(log.firstSeq).toBeLessThanOrEqual(20);
    await expect(c.commit(reader.durableSeq + 1)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await reader.close();
    await log.close();
  });

  it('rejects invalid cursor names with a coded error and touches nothing', async () => {
    const dir = tmpDir();
    const log = await logWith(1, dir);
    const bad = ['', '.hidden', '-x', 'a/b', '../x', 'a b', 'é', 'x'.repeat(129), 'a\0b'];
    for (const name of bad) {
      await expect(log.cursor(name)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(log.deleteCursor(name)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
    await expect(log.cursor(7 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(log.cursor('ok', null as unknown as object)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(fs.existsSync(path.join(dir, 'cursors'))).toBe(false);
    expect((await log.cursor('x'.repeat(128))).position).toBe(0);
    await log.close();
  });

  it('rejects cursor calls after close with ERR_LOG_CLOSED', async () => {
    const log = await logWith(1);
    await log.close();
    await expect(log.cursor('a')).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
    await expect(log.cursors()).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
    await expect(log.deleteCursor('a')).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
  });

  it("refuses a cursor file of another log (a copied cursors/ directory) with ERR_CONFIG_CORRUPT", async () => {
    const a = await logWith(3);
    await (await a.cursor('x')).commit(2);
    const b = await logWith(3);
    fs.cpSync(path.join(a.dir, 'cursors'), path.join(b.dir, 'cursors'), { recursive: true });
    await expect(b.cursor('x')).rejects.toMatchObject({ code: 'ERR_CONFIG_CORRUPT' });
    await expect(b.cursors()).rejects.toMatchObject({ code: 'ERR_CONFIG_CORRUPT' });
    await a.close();
    await b.close();
  });
});

describe('CursorStore shared by several owners', () => {
  it('detects a commit by another owner: the stale commit and those queued behind it reject with ERR_CURSOR_CONFLICT, and the cursor reloads', async () => {
    const dir = tmpDir();
    const durable = { seq: 100 };
    const mine = await storeOn(dir, durable).open('c');
    const theirs = await storeOn(dir, durable).open('c');
    await mine.commit(10);
    await expect(theirs.commit(20)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    expect(theirs.position).toBe(10);
    await theirs.commit(30);
    // Three commits against the value that is gone: all three reject.
    const stale = [mine.commit(11), mine.commit(12), mine.commit(13)].map(settle);
    expect(await Promise.all(stale)).toEqual(['ERR_CURSOR_CONFLICT', 'ERR_CURSOR_CONFLICT', 'ERR_CURSOR_CONFLICT']);
    expect(mine.position).toBe(30);
    expect((await storeOn(dir, durable).list())[0].position).toBe(30);
    await mine.commit(31);
    expect((await storeOn(dir, durable).open('c')).position).toBe(31);
  });

  it('a cursor deleted by another owner rejects commits until opened again, also when it was made again meanwhile', async () => {
    const dir = tmpDir();
    const durable = { seq: 100 };
    const a = await storeOn(dir, durable).open('c');
    const other = storeOn(dir, durable);
    expect(await other.delete('c')).toBe(true);
    await expect(a.commit(5)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    await expect(a.commit(6)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    expect(await other.list()).toEqual([]);
    // Deleted and made again: a fresh cursor, not the one `b` loaded.
    const b = await storeOn(dir, durable).open('d');
    await other.delete('d');
    const fresh = await other.open('d');
    await expect(b.commit(7)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    expect(b.position).toBe(0);
    await fresh.commit(8);
    expect((await other.list()).map((c) => c.position)).toEqual([8]);
  });

  it('rejects a queued commit whose position the durable end has moved back past before its write', async () => {
    const dir = tmpDir();
    const durable = { seq: 100 };
    const c = await storeOn(dir, durable).open('c');
    const first = c.commit(10); // written at once
    const second = c.commit(40); // queued behind it
    durable.seq = 20; // a truncation, as truncateFrom does
    await first;
    await expect(second).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(c.position).toBe(10);
    expect((await storeOn(dir, durable).open('c')).position).toBe(10);
  });

  it('clampAbove(seq) rewrites every cursor past seq durably, and their owners reload at the next commit', async () => {
    const dir = tmpDir();
    const durable = { seq: 100 };
    const store = storeOn(dir, durable);
    const owners = new Map<string, Awaited<ReturnType<CursorStore['open']>>>();
    for (const [name, pos] of [['a', 3], ['b', 7], ['c', 9]] as const) {
      const c = await store.open(name);
      await c.commit(pos);
      owners.set(name, c);
    }
    expect(await storeOn(dir, durable).clampAbove(5)).toBe(2);
    expect(await store.list()).toEqual([
      { name: 'a', position: 3, hold: false },
      { name: 'b', position: 5, hold: false },
      { name: 'c', position: 5, hold: false },
    ]);
    await owners.get('a')!.commit(4); // untouched: no conflict
    await expect(owners.get('c')!.commit(9)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    expect(owners.get('c')!.position).toBe(5);
    expect(await store.clampAbove(5)).toBe(0);
  });

  it('shows a stored position past the durable end as the durable end (clamped), in open, list and minPosition', async () => {
    const dir = tmpDir();
    await (await storeOn(dir, { seq: 100 }).open('c')).commit(90);
    await (await storeOn(dir, { seq: 100 }).open('d')).commit(30);
    const shrunk = storeOn(dir, { seq: 50 });
    const c = await shrunk.open('c');
    expect(c.position).toBe(50);
    expect(c.clamped).toBe(true);
    expect(await shrunk.list()).toEqual([
      { name: 'c', position: 50, hold: false },
      { name: 'd', position: 30, hold: false },
    ]);
    expect(await storeOn(dir, { seq: 20 }).minPosition()).toBe(20);
    await c.commit(45);
    expect(c.clamped).toBe(false);
  });

  it('minPosition() is the slowest cursor, or undefined without cursors', async () => {
    const dir = tmpDir();
    const durable = { seq: 100 };
    const store = storeOn(dir, durable);
    expect(await store.minPosition()).toBeUndefined();
    await (await store.open('fast')).commit(80);
    await (await store.open('slow')).commit(12);
    expect(await storeOn(dir, durable).minPosition()).toBe(12);
    await store.delete('slow');
    expect(await store.minPosition()).toBe(80);
  });

  it('a read-only store lists and finds the minimum without writing anything; open, delete and clampAbove reject with EROFS', async () => {
    const dir = tmpDir();
    const durable = { seq: 100 };
    const ro = storeOn(dir, durable, { readOnly: true });
    expect(await ro.list()).toEqual([]);
    expect(await ro.minPosition()).toBeUndefined();
    expect(fs.existsSync(path.join(dir, 'cursors'))).toBe(false);
    await (await storeOn(dir, durable).open('c')).commit(9);
    const before = fs.readdirSync(path.join(dir, 'cursors')).sort();
    expect(await ro.list()).toEqual([{ name: 'c', position: 9, hold: false }]);
    expect(await ro.minPosition()).toBe(9);
    for (const op of [ro.open('c'), ro.open('new'), ro.delete('c'), ro.clampAbove(1)]) {
      await expect(op).rejects.toMatchObject({ code: 'EROFS', errno: -30 });
    }
    // No lock file for the new name, nothing removed or rewritten.
    expect(fs.readdirSync(path.join(dir, 'cursors')).sort()).toEqual(before);
  });

  it('creates cursors/ and its files with the given mode (0o600 files, 0o700 directory by default)', async () => {
    const a = tmpDir();
    await storeOn(a, { seq: 1 }).open('c');
    expect(fs.statSync(path.join(a, 'cursors')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(a, 'cursors', 'c.cursor')).mode & 0o777).toBe(0o600);
    const b = tmpDir();
    await storeOn(b, { seq: 1 }, { mode: 0o640 }).open('c');
    expect(fs.statSync(path.join(b, 'cursors')).mode & 0o777).toBe(0o750);
    expect(fs.statSync(path.join(b, 'cursors', 'c.cursor')).mode & 0o777).toBe(0o640);
    // Its lock too: an owner in another account of the log's group (a reader
    // process) creates it, and the writer must open it all the same (found
    // by a review: a 0o600 lock of the reader's account made the writer's
    // open fail with EACCES).
    await (await storeOn(b, { seq: 1 }, { mode: 0o640 }).open('c')).commit(1);
    expect(fs.statSync(path.join(b, 'cursors', 'c.cursor.lock')).mode & 0o777).toBe(0o640);
    expect(() => storeOn(b, { seq: 1 }, { mode: 0o10000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it("a consumer in another process commits its cursor while this process holds the log open and reads the cursor", async () => {
    const log = await logWith(300);
    const logId = await readLogId(log);
    const mine = await log.cursor('shared');
    const child = spawn(process.execPath, [CHILD, log.dir, logId, String(log.durableSeq), 'shared', '300'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let running = true;
    void exited.then(() => (running = false));
    // While it commits, every position this process sees is a whole value,
    // never going back.
    const seen: number[] = [];
    while (running) {
      const list = await log.cursors();
      expect(list.map((c) => c.name)).toEqual(['shared']);
      seen.push(list[0].position);
    }
    expect(await exited, stderr).toBe(0);
    expect(stdout.trim().split('\n').pop()).toBe('done');
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(new Set(seen).size).toBeGreaterThan(2);
    expect(await log.cursors()).toEqual([{ name: 'shared', position: 300, hold: false }]);
    // The other process owns the cursor now: this object's commit conflicts.
    await expect(mine.commit(1)).rejects.toMatchObject({ code: 'ERR_CURSOR_CONFLICT' });
    expect(mine.position).toBe(300);
    await log.close();
  });
});

/** The log's identity as its cursor files record it. */
async function readLogId(log: CommitLog): Promise<string> {
  await log.cursor('probe');
  const file = fs.readFileSync(path.join(log.dir, 'cursors', 'probe.cursor'));
  await log.deleteCursor('probe');
  return JSON.parse(file.subarray(16).toString('utf8')).logId;
}
