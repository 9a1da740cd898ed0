// Runs each example as a user would (node examples/<file>), so that they cannot rot.
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tmpDir } from './helpers';

const root = path.join(__dirname, '..');
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

function start(file: string, args: string[]): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, [path.join(root, 'examples', file), ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { child, lines };
}

async function line(lines: AsyncIterator<string>, re: RegExp): Promise<RegExpExecArray> {
  for (;;) {
    const r = await lines.next();
    if (r.done) throw new Error(`output ended before ${re}`);
    const m = re.exec(r.value);
    if (m) return m;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('examples/ingest-service.js', () => {
  it('acknowledges POSTs only when durable, streams and follows over GET, and keeps every acknowledged record across kill -9', async () => {
    const dir = tmpDir();
    let svc = start('ingest-service.js', [dir]);
    let port = Number((await line(svc.lines, /listening on (\d+)/))[1]);
    const post = async (body: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/records`, { method: 'POST', body });
      expect(res.status).toBe(201);
      return ((await res.json()) as { seq: number }).seq;
    };
    const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => post(`record ${i}`)));
    expect(new Set(seqs).size).toBe(200);

    // A follower sees the existing records, then one posted after it started.
    const req = http.get(`http://127.0.0.1:${port}/records?from=190&follow=1`);
    const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
    req.on('error', () => {});
    res.on('error', () => {});
    const got: number[] = [];
    const followed = (async () => {
      const rl = readline.createInterface({ input: res });
      rl.on('error', () => {});
      for await (const l of rl) {
        got.push(JSON.parse(l).seq);
        if (got.length === 11) break;
      }
    })();
    const late = await post('late');
    await followed;
    req.destroy();
    expect(got).toEqual([...Array.from({ length: 10 }, (_, i) => 190 + i), late]);

    const one = await fetch(`http://127.0.0.1:${port}/records/${seqs[7]}`);
    expect(await one.text()).toBe('record 7');
    expect((await fetch(`http://127.0.0.1:${port}/records/99999`)).status).toBe(404);

    // kill -9: every acknowledged record is there after a restart.
    const dead = exited(svc.child);
    svc.child.kill('SIGKILL');
    await dead;
    svc = start('ingest-service.js', [dir]);
    port = Number((await line(svc.lines, /listening on (\d+)/))[1]);
    const all = (await (await fetch(`http://127.0.0.1:${port}/records?from=0`)).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(all.length).toBe(201);
    for (let i = 0; i < 200; i++) {
      expect(Buffer.from(all[seqs[i]].data, 'base64').toString()).toBe(`record ${i}`);
    }
    const clean = exited(svc.child);
    svc.child.kill('SIGTERM');
    expect(await clean).toBe(0);
  });
});

describe('examples/consumer-with-cursor.js', () => {
  it('processes each record at least once across kill -9, resuming at the committed position, never skipping one', async () => {
    const dir = tmpDir();
    const { CommitLog } = await import('../lib');
    const log = await CommitLog.open(dir);
    for (let i = 0; i < 1000; i += 100) await log.appendMany(Array.from({ length: 100 }, (_, k) => `r${i + k}`));
    const { kHandle } = await import('../lib/log');
    const logId = log[kHandle].logId();
    await log.close();

    // First run: follow, then killed in the middle.
    let c = start('consumer-with-cursor.js', [dir, 'billing', '--follow', '--batch', '50']);
    const seen = new Set<number>();
    await line(c.lines, /starting at 0/);
    for (;;) {
      const m = await line(c.lines, /^(\d+) r(\d+)$/);
      expect(m[1]).toBe(m[2]);
      seen.add(Number(m[1]));
      if (seen.size === 420) break;
    }
    // Kill it once a commit past 300 is durable (commits are not awaited by the example).
    const { CursorStore } = await import('../lib/cursor');
    const peek = new CursorStore({ dir, logId, durableSeq: () => 1000, firstSeq: () => 0, readOnly: true });
    let committed = 0;
    await vi.waitFor(
      async () => {
        committed = (await peek.list()).find((x) => x.name === 'billing')?.position ?? 0;
        expect(committed).toBeGreaterThanOrEqual(300);
      },
      { timeout: 20_000, interval: 10 },
    );
    const dead = exited(c.child);
    c.child.kill('SIGKILL');
    await dead;
    // What it printed before it died was processed too.
    for (let r = await c.lines.next(); !r.done; r = await c.lines.next()) {
      const m = /^(\d+) r(\d+)$/.exec(r.value);
      if (m) seen.add(Number(m[1]));
    }

    // Second run: resumes at a committed position at or below where it was, reads to the end.
    c = start('consumer-with-cursor.js', [dir, 'billing']);
    const resumed = Number((await line(c.lines, /starting at (\d+)/))[1]);
    expect(resumed).toBeGreaterThanOrEqual(committed);
    for (;;) {
      const r = await c.lines.next();
      if (r.done) break;
      const m = /^(\d+) r(\d+)$/.exec(r.value);
      if (m) seen.add(Number(m[1]));
      if (/committed 1000/.test(r.value)) break;
    }
    expect(await exited(c.child)).toBe(0);
    expect(seen.size).toBe(1000);
  });
});

describe('examples/cross-process-follower.js', () => {
  it('follows what a writer in another process makes durable, across a kill -9 and restart of the writer', async () => {
    const dir = tmpDir();
    let svc = start('ingest-service.js', [dir]);
    let port = Number((await line(svc.lines, /listening on (\d+)/))[1]);
    const post = async (body: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/records`, { method: 'POST', body });
      expect(res.status).toBe(201);
      return ((await res.json()) as { seq: number }).seq;
    };
    for (let i = 0; i < 5; i++) await post(`a${i}`);
    const f = start('cross-process-follower.js', [dir]);
    await line(f.lines, /following from 0/);
    const got: string[] = [];
    const want = async (n: number) => {
      while (got.length < n) got.push((await line(f.lines, /^\d+ \S+$/))[0]);
    };
    await want(5);
    for (let i = 0; i < 5; i++) await post(`b${i}`);
    await want(10);
    const dead = exited(svc.child);
    svc.child.kill('SIGKILL');
    await dead;
    svc = start('ingest-service.js', [dir]);
    port = Number((await line(svc.lines, /listening on (\d+)/))[1]);
    for (let i = 0; i < 5; i++) await post(`c${i}`);
    await want(15);
    expect(got).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `${i} a${i}`),
      ...Array.from({ length: 5 }, (_, i) => `${5 + i} b${i}`),
      ...Array.from({ length: 5 }, (_, i) => `${10 + i} c${i}`),
    ]);
    const stopped = exited(f.child);
    f.child.kill('SIGTERM');
    expect(await stopped).toBe(0);
  });
});
