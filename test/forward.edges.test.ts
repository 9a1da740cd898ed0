// forward() and the JetStream sink at the edges: a truncate gap at the target's last record, a log closed between attempts, an account limited to its own inbox prefix, a wall clock stepped back, max_payload, close() with publishes pending.
// Each runs against a real nats-server (no mock of NATS).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommitLog } from '../lib/index';
import { forward, jetStreamSink } from '../lib/forward';
import { parseBatches, segmentFiles, tmpDir } from './helpers';
import { NATS_SERVER, NO_NATS, freePort, natsFixtures, until } from './nats';

const { stops, server, natsClient } = natsFixtures();
afterEach(() => vi.restoreAllMocks());



/** A nats-server started from a config file (accounts, permissions). */
async function confServer(conf: (port: number, dir: string) => string): Promise<{ url: string }> {
  const dir = tmpDir('commitlog-nats-');
  const port = await freePort();
  const file = path.join(dir, 'n.conf');
  fs.writeFileSync(file, conf(port, dir));
  const p: ChildProcess = spawn(NATS_SERVER!, ['-c', file], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  stops.push(async () => {
    p.kill('SIGKILL');
    await exited;
  });
  await until('listening', () => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  }), 20_000);
  return { url: `nats://127.0.0.1:${port}` };
}

/**
 * A nats-server with JetStream and two users, `admin` (password a) and the one `user` line gives
 * (its permissions), with stream EV on ev.>; and a log of 10 records to forward.
 */
async function twoUsers(user: string) {
  const { url } = await confServer((port, dir) =>
    [
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${path.join(dir, 'js')}" }`,
      'authorization { users: [',
      '  { user: admin, password: a }',
      `  ${user}`,
      '] }',
      '',
    ].join('\n'),
  );
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const admin = await connect({ servers: url, user: 'admin', pass: 'a' });
  stops.push(() => admin.close());
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
  const log = await CommitLog.open(tmpDir());
  stops.push(() => log.close());
  await log.appendMany(Array.from({ length: 10 }, (_, i) => Buffer.from(`r${i}`)));
  return { url, jsm, log };
}

if (!NATS_SERVER) console.warn(NO_NATS);

describe.skipIf(!NATS_SERVER)('forward() and the JetStream sink at the edges', () => {
  it("a 'truncate' recovery that gave up the target's last record: the forwarder goes on after it (it does not retry forever)", async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const dir = tmpDir();
    // Five batches of three records, forwarded, then the log closed cleanly.
    let log = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 64 * 1024 });
    for (let g = 0; g < 5; g++) await log.appendMany(Array.from({ length: 3 }, (_, k) => Buffer.from(`rec-${g * 3 + k}`)));
    const f1 = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one' }));
    await until('15 forwarded', () => f1.stats().acknowledged === 15);
    await f1.stop();
    const logId = log.logId;
    await log.close();
    // The disk damages batch 2: a 'truncate' recovery keeps 0..5 and gives up 6..14 (never reused).
    const [seg] = segmentFiles(dir);
    const bytes = fs.readFileSync(seg);
    bytes[parseBatches(seg)[2].offset + 45] ^= 0x80;
    fs.writeFileSync(seg, bytes);
    log = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 64 * 1024, recovery: 'truncate' });
    stops.push(() => log.close());
    expect(log.recovery).toMatchObject({ gapFrom: 6, gapTo: 15 });
    await log.append(Buffer.from('rec-15'));
    // The stream holds 0..14 (the true records the log lost to the damage); 15 is new.
    const f2 = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one' }), { minRetryDelayMs: 10, maxRetryDelayMs: 50 });
    stops.push(() => f2.stop());
    await until('15 forwarded, or stuck', () => f2.stats().acknowledged === 16 || f2.stats().retries >= 5, 10_000).catch(() => {});
    const st = f2.stats();
    expect({ acknowledged: st.acknowledged, retries: st.retries, lastError: st.lastError }).toEqual({ acknowledged: 16, retries: 0, lastError: '' });
    expect((await c.read('EV')).map((m) => m.id).slice(-1)).toEqual([`${logId}-15`]);
  }, 30_000);

  it('a log closed while the forwarder waits to retry stops it with ERR_FORWARD_FAILED (it does not retry forever)', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const log = await CommitLog.open(tmpDir());
    stops.push(() => log.close());
    await log.appendMany(Array.from({ length: 10 }, (_, i) => Buffer.from(`r${i}`)));
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 300 }), { minRetryDelayMs: 10, maxRetryDelayMs: 50 });
    stops.push(() => f.stop());
    await until('forwarded', () => f.stats().acknowledged === 10);
    await nats.stop();
    await log.append(Buffer.from('r10')); // its publish times out: the forwarder retries
    await until('retrying', () => f.stats().state === 'retrying', 10_000);
    await log.close();
    await nats.start();
    const settled = await Promise.race([
      f.done.then(() => 'stopped', (e: { code?: string }) => e.code),
      new Promise((r) => setTimeout(() => r('still running'), 5_000)),
    ]);
    expect(`${settled} (state ${f.stats().state}, retries ${f.stats().retries}, lastError ${f.stats().lastError})`).toMatch(/^ERR_FORWARD_FAILED/);
  }, 30_000);

  it("honours the connection's inboxPrefix for the acknowledgement inbox (accounts that may subscribe only under their own prefix)", async () => {
    const { url, log } = await twoUsers('{ user: fwd, password: f, permissions: { publish: { allow: [">"] }, subscribe: { allow: ["_INBOX_fwd.>"] } } }');
    const sink = jetStreamSink({ servers: url, stream: 'EV', subject: 'ev.one', connection: { user: 'fwd', pass: 'f', inboxPrefix: '_INBOX_fwd' } });
    const f = forward(log, sink, { minRetryDelayMs: 10, maxRetryDelayMs: 50 });
    stops.push(() => f.stop());
    await until('forwarded, or failed', () => f.stats().acknowledged === 10 || f.stats().state === 'failed', 10_000).catch(() => {});
    expect({ state: f.stats().state, acknowledged: f.stats().acknowledged, lastError: f.stats().lastError }).toEqual({ state: 'running', acknowledged: 10, lastError: '' });
  }, 30_000);

  it('a subject the account may not publish to stops the forwarder with a clear error, nothing stored and the cursor unmoved', async () => {
    const { url, jsm, log } = await twoUsers('{ user: ro, password: r, permissions: { publish: { allow: ["$JS.API.>"], deny: ["ev.>"] }, subscribe: { allow: ["_INBOX.>"] } } }');
    const f = forward(log, jetStreamSink({ servers: url, stream: 'EV', subject: 'ev.one', timeoutMs: 5_000, connection: { user: 'ro', pass: 'r' } }), {
      minRetryDelayMs: 10,
      maxRetryDelayMs: 50,
    });
    stops.push(() => f.stop());
    const err = await Promise.race([f.done.then(() => 'stopped', (e: unknown) => e), new Promise((r) => setTimeout(() => r('still running'), 4_000))]);
    expect(err).toMatchObject({ code: 'ERR_FORWARD_FAILED', cause: { code: 'ERR_SINK', retryable: false } });
    expect(String((err as Error).message)).toMatch(/Permissions Violation for Publish/);
    expect(f.stats().position).toBe(0);
    expect((await jsm.streams.info('EV')).state.messages).toBe(0);
  }, 30_000);

  it('an acknowledgement that never comes times out after timeoutMs even when the wall clock is stepped back (NTP)', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const sink = jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 300 });
    stops.push(() => sink.close());
    await sink.resume({ logId: '7', position: 0 });
    await nats.pause(); // the server hangs: no acknowledgement
    stops.push(async () => nats.signal('SIGCONT'));
    const real = Date.now.bind(Date);
    const p = sink.publish({ seq: 0, data: Buffer.from('x'), id: '7-0' });
    p.catch(() => {});
    // The clock is stepped back an hour just after the publish.
    vi.spyOn(Date, 'now').mockImplementation(() => real() - 3_600_000);
    const t0 = performance.now();
    const r = await Promise.race([p.then(() => 'acknowledged', (e: Error) => `rejected: ${e.message}`), new Promise((res) => setTimeout(() => res('still pending'), 3_000))]);
    expect(`${r} after ${Math.round(performance.now() - t0)} ms`).toMatch(/^rejected: jetstream: no acknowledgement/);
  }, 30_000);

  // What was checked and found sound (these pass before and after the fixes).
  it('a record larger than the server\'s max_payload stops the forwarder at once with a clear error, keeping what was acknowledged', async () => {
    const { url } = await confServer((port, dir) => [`listen: 127.0.0.1:${port}`, 'max_payload: 4096', `jetstream { store_dir: "${path.join(dir, 'js')}" }`, ''].join('\n'));
    const c = await natsClient(url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const log = await CommitLog.open(tmpDir());
    stops.push(() => log.close());
    await log.appendMany([Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(5000, 3), Buffer.alloc(100, 4)]);
    const f = forward(log, jetStreamSink({ servers: url, stream: 'EV', subject: 'ev.one' }), { commitIntervalMs: 1 });
    stops.push(() => f.stop());
    await expect(f.done).rejects.toMatchObject({ code: 'ERR_FORWARD_FAILED', cause: { code: 'ERR_SINK', retryable: false } });
    expect(f.stats().lastError).toMatch(/max_payload/);
    expect(f.stats().position).toBe(2);
    expect((await c.read('EV')).length).toBe(2);
  }, 30_000);

  it('close() with publishes pending on a hung server rejects them at once; a late resume() after close() makes no publisher', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const sink = jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 60_000 });
    await sink.resume({ logId: '9', position: 0 });
    await nats.pause();
    stops.push(async () => nats.signal('SIGCONT'));
    const ps = Array.from({ length: 100 }, (_, i) => sink.publish({ seq: i, data: Buffer.from(`x${i}`), id: `9-${i}` }));
    const t0 = performance.now();
    const late = sink.resume({ logId: '9', position: 0 }); // stuck on the hung server
    late.catch(() => {});
    await sink.close();
    const settled = await Promise.allSettled(ps);
    expect(settled.every((r) => r.status === 'rejected')).toBe(true);
    await expect(late).rejects.toMatchObject({ code: 'ERR_SINK' });
    expect(performance.now() - t0).toBeLessThan(2_000);
    await expect(sink.publish({ seq: 100, data: Buffer.from('y'), id: '9-100' })).rejects.toMatchObject({ code: 'ERR_SINK' });
  }, 30_000);
});
