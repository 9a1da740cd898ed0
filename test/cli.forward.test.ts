// `commitlog forward` run as a user runs it, against a real nats-server:
// forwards a log another process writes, stops cleanly on SIGTERM, resumes
// after kill -9 without duplicates, and fails clearly on what it cannot do.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CommitLog } from '../lib/index';
import { BIN, run } from './cli-helpers';
import { tmpDir } from './helpers';
import { NATS_SERVER, NO_NATS, type NatsNode, client, expectExactly, natsServer, payload, until } from './nats';

const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => {});
});

if (!NATS_SERVER) console.warn(NO_NATS);

describe.skipIf(!NATS_SERVER)('commitlog forward', () => {
  async function setup() {
    const nats: NatsNode = await natsServer(tmpDir('commitlog-nats-'));
    stops.push(() => nats.kill());
    const c = await client(nats.url);
    stops.push(() => c.close());
    await c.jsm.streams.add({ name: 'ORDERS', subjects: ['ORDERS', 'orders.>'] });
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    stops.push(() => log.close());
    return { nats, c, dir, log };
  }

  function start(...args: string[]) {
    const child = spawn(process.execPath, [BIN, 'forward', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    stops.push(async () => child.kill('SIGKILL'));
    return { child, exited, stderr: () => stderr };
  }

  it('forwards a live log exactly once across a kill -9, and exits 0 on SIGTERM after committing its cursor', async () => {
    const { nats, c, dir, log } = await setup();
    await log.appendMany(Array.from({ length: 200 }, (_, i) => payload(i)));
    const first = start(dir, '--nats', nats.url, '--stream', 'ORDERS');
    await until('200 in the stream', async () => (await c.jsm.streams.info('ORDERS')).state.messages === 200);
    first.child.kill('SIGKILL');
    await first.exited;
    await log.appendMany(Array.from({ length: 300 }, (_, i) => payload(200 + i)));
    const second = start(dir, '--nats', nats.url, '--stream', 'ORDERS', '--subject', 'ORDERS');
    await until('500 in the stream', async () => (await c.jsm.streams.info('ORDERS')).state.messages === 500);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stderr()).toMatch(/stopped at 500/);
    expectExactly(await c.read('ORDERS'), log.logId, 500);
    expect((await log.cursors()).find((x) => x.name === 'forward')).toMatchObject({ position: 500, hold: true });
  });

  it('exits non-zero with one clear line on a bad URL, a missing stream, a subject the stream does not capture, a missing directory', async () => {
    const { nats, dir } = await setup();
    let r = await run('forward', dir, '--nats', 'http://nope:1', '--stream', 'ORDERS');
    expect(r.code).toBe(16);
    expect(r.stderr).toMatch(/commitlog: .*servers.*nats:\/\/host/);
    r = await run('forward', dir, '--nats', nats.url, '--stream', 'NOPE', '-q');
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/stream NOPE does not exist/);
    r = await run('forward', dir, '--nats', nats.url, '--stream', 'ORDERS', '--subject', 'other.x', '-q');
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/does not capture subject other\.x/);
    r = await run('forward', '/nonexistent/log', '--nats', nats.url, '--stream', 'ORDERS');
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/no such directory/);
    r = await run('forward', dir, '--stream', 'ORDERS');
    expect(r.code).toBe(16);
    for (const x of [r.stderr]) expect(x).not.toMatch(/\n\s+at /);
  });
});
