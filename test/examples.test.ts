// Runs each example as a user would (node examples/<file>), so that they cannot rot.
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
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
