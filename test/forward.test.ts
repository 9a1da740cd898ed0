// forward() with the JetStream sink against a real nats-server (one node):
// every acknowledged record reaches the stream exactly once, in order,
// byte-identical, across stops, restarts, kill -9 of the forwarder, a server
// outage and a server kill -9.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog, type LogReader } from '../lib/index';
import { type Sink, type SinkRecord, forward, jetStreamSink } from '../lib/forward';
import { kRetentionPass } from '../lib/retention';
import { tmpDir } from './helpers';
import { NATS_SERVER, NO_NATS, expectExactly, natsFixtures, payload, until } from './nats';

const FIXTURE = path.join(__dirname, 'fixtures', 'forward-child.js');
const { stops, server, natsClient, openLog } = natsFixtures();




if (!NATS_SERVER) console.warn(NO_NATS);

describe.skipIf(!NATS_SERVER)('forward() to JetStream (one nats-server)', () => {
  it('forwards every record in order, byte-identical, with the log id and sequence as message id; records appended while it runs follow', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const log = await openLog();
    await log.appendMany(Array.from({ length: 500 }, (_, i) => payload(i)));
    await log.append(Buffer.alloc(200_000, 7)); // one large record (500)
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one' }), { commitIntervalMs: 10 });
    stops.push(() => f.stop());
    for (let i = 501; i < 1000; i++) await log.append(payload(i));
    await until('everything forwarded', () => f.stats().acknowledged === 1000);
    const st = f.stats();
    expect(st).toMatchObject({ state: 'running', forwarded: 1000, lagRecords: 0, lagBytes: 0, inFlight: 0, retries: 0, skipped: 0 });
    await f.stop();
    expect(f.stats()).toMatchObject({ state: 'stopped', position: 1000 });
    await expect(f.done).resolves.toBeUndefined();
    const data = (i: number) => (i === 500 ? Buffer.alloc(200_000, 7) : payload(i));
    expectExactly(await c.read('EV'), log.logId, 1000, data);
    expect((await log.cursors()).find((x) => x.name === 'forward')).toEqual({ name: 'forward', position: 1000, hold: true });
  });

  it('resumes after a stop without sending anything twice, even with its cursor behind and a duplicate window long past', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    // A 100 ms duplicate window (the least JetStream takes): exactly-once must not rest on it.
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'], duplicate_window: 100_000_000 });
    const log = await openLog();
    await log.appendMany(Array.from({ length: 300 }, (_, i) => payload(i)));
    const sink = () => jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one' });
    const f1 = forward(log, sink(), { cursor: 'a' });
    await until('first 300', () => f1.stats().acknowledged === 300);
    await f1.stop();
    await new Promise((r) => setTimeout(r, 300)); // past the duplicate window
    // A new cursor at 0: the stream says it holds up to 299, so nothing is sent again.
    await log.appendMany(Array.from({ length: 100 }, (_, i) => payload(300 + i)));
    const f2 = forward(log, sink(), { cursor: 'b', from: 0 });
    await until('the rest', () => f2.stats().acknowledged === 400);
    await f2.stop();
    expect(f2.stats().forwarded).toBe(100);
    expectExactly(await c.read('EV'), log.logId, 400);
  });

  it('exactly once across 50 kill -9 of a forwarder process that follows a log another process appends to', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'], duplicate_window: 100_000_000 });
    const dir = tmpDir();
    const log = await openLog(dir);
    let appended = 0;
    let appending = true;
    const writer = (async () => {
      while (appending) {
        const n = 1 + (appended % 17);
        await log.appendMany(Array.from({ length: n }, (_, k) => payload(appended + k)));
        appended += n;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    let kills = 0;
    let progressed = 0;
    for (let round = 0; round < 50; round++) {
      const child = spawn(process.execPath, [FIXTURE, dir, nats.url, 'EV', 'ev.one'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await until(`round ${round}: started`, () => out.includes('started') || child.exitCode !== null, 20_000);
      // Killed at a random moment: every other round while it connects and resumes, the others
      // once it is publishing (it has moved its front), while publishes and commits are in flight.
      const acked = () => [...out.matchAll(/acked (\d+)/g)].map((m) => Number(m[1]));
      if (round % 2 === 1) await until(`round ${round}: progress`, () => new Set(acked()).size > 1 || child.exitCode !== null, 20_000);
      await new Promise((r) => setTimeout(r, Math.random() * (round % 2 === 1 ? 30 : 150)));
      child.kill('SIGKILL');
      await exited;
      expect(err, `round ${round}: the forwarder failed`).toBe('');
      if (new Set(acked()).size > 1) progressed++;
      kills++;
    }
    appending = false;
    await writer;
    // A last forwarder runs to the end.
    const reader = await CommitLog.openReader(dir);
    stops.push(() => reader.close());
    const f = forward(reader as LogReader, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one' }), { cursor: 'fwd' });
    stops.push(() => f.stop());
    await until('the end', () => f.stats().acknowledged === appended, 60_000);
    await f.stop();
    expect(kills).toBe(50);
    expect(progressed).toBeGreaterThanOrEqual(25);
    expectExactly(await c.read('EV'), log.logId, appended);
  });

  it('keeps accepting appends while the server is down, reports the lag, and forwards everything exactly once when it is back', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    await c.close();
    const log = await openLog();
    const retries: unknown[] = [];
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 500 }), {
      minRetryDelayMs: 10,
      maxRetryDelayMs: 100,
      onRetry: (err) => retries.push(err),
    });
    stops.push(() => f.stop());
    await log.appendMany(Array.from({ length: 100 }, (_, i) => payload(i)));
    await until('first 100', () => f.stats().acknowledged === 100);
    await nats.stop();
    for (let i = 100; i < 600; i++) await log.append(payload(i)); // durable: the log does not wait for the stream
    await until('retrying', () => f.stats().state === 'retrying');
    await new Promise((r) => setTimeout(r, 300));
    const st = f.stats();
    expect(st.acknowledged).toBeLessThan(600);
    expect(st.lagRecords).toBe(600 - st.acknowledged);
    expect(st.lagBytes).toBeGreaterThan(0);
    expect(st.oldestUnforwardedAgeMs).toBeGreaterThanOrEqual(200);
    expect(st.lastError).not.toBe('');
    await nats.start();
    await until('the rest', () => f.stats().acknowledged === 600, 60_000);
    expect(f.stats()).toMatchObject({ lagRecords: 0, lagBytes: 0, oldestUnforwardedAgeMs: 0 });
    expect(retries.length).toBeGreaterThan(0);
    expect((retries[0] as { code?: string }).code).toBe('ERR_SINK');
    const c2 = await natsClient(nats.url);
    expectExactly(await c2.read('EV'), log.logId, 600);
  });

  it('a server killed (kill -9) and restarted five times mid-stream: nothing lost, nothing twice', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    await c.close();
    const log = await openLog();
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 500 }), { minRetryDelayMs: 10, maxRetryDelayMs: 100 });
    stops.push(() => f.stop());
    let n = 0;
    for (let round = 0; round < 5; round++) {
      await log.appendMany(Array.from({ length: 400 }, (_, i) => payload(n + i)));
      n += 400;
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      await nats.kill();
      await nats.start();
    }
    await until('everything', () => f.stats().acknowledged === n, 60_000);
    const c2 = await natsClient(nats.url);
    expectExactly(await c2.read('EV'), log.logId, n);
  });

  it('a shared stream (exclusive: false): in order and once while another client publishes on another subject', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const log = await openLog();
    await log.appendMany(Array.from({ length: 300 }, (_, i) => payload(i)));
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.mine', exclusive: false }));
    stops.push(() => f.stop());
    for (let i = 0; i < 200; i++) await c.js.publish('ev.other', Buffer.from(`other ${i}`));
    await until('all', () => f.stats().acknowledged === 300);
    await f.stop();
    expectExactly(await c.read('EV', 'ev.mine'), log.logId, 300);
    expect((await c.read('EV', 'ev.other')).length).toBe(200);
  });

  it('retention never deletes records the forwarder has not forwarded; with holdForCursors: false it does, and the forwarder counts them as skipped', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    await c.close();
    for (const holdForCursors of [undefined, false] as const) {
      const retention = holdForCursors === undefined ? { maxBytes: 1 } : { maxBytes: 1, holdForCursors };
      const log = await CommitLog.open(tmpDir(), { segmentBytes: 64 * 1024, retention });
      stops.push(() => log.close());
      // The forwarder's cursor exists (and holds) before the records; the stream is unreachable.
      await nats.stop();
      const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: `ev.r${holdForCursors}`, timeoutMs: 300 }), { minRetryDelayMs: 10, maxRetryDelayMs: 50 });
      stops.push(() => f.stop());
      await until('cursor', async () => (await log.cursors()).length === 1);
      const big = (i: number) => Buffer.alloc(3000, i & 0xff);
      for (let i = 0; i < 100; i++) await log.append(big(i));
      await log[kRetentionPass]();
      if (holdForCursors === undefined) expect(log.firstSeq).toBe(0);
      else expect(log.firstSeq).toBeGreaterThan(0);
      const first = log.firstSeq;
      await nats.start();
      await until('forwarded', () => f.stats().acknowledged === 100, 20_000).catch((e) => { console.log(holdForCursors, log.firstSeq, f.stats()); throw e; });
      expect(f.stats().skipped).toBe(first);
      await f.stop();
      const c2 = await natsClient(nats.url);
      const stored = await c2.read('EV', `ev.r${holdForCursors}`);
      expect(stored.map((m) => m.id)).toEqual(Array.from({ length: 100 - first }, (_, i) => `${log.logId}-${first + i}`));
      expect(stored.every((m, i) => m.data.equals(big(first + i)))).toBe(true);
    }
  });

  it('stops with a clear error on what retrying cannot fix: no such stream, a subject the stream does not capture, a record larger than the stream allows', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'SMALL', subjects: ['small.>'], max_msg_size: 1024 });
    const log = await openLog();
    await log.append(Buffer.alloc(10));
    const cases: Array<[string, string, RegExp]> = [
      ['NOPE', 'small.a', /stream NOPE does not exist/],
      ['SMALL', 'other.a', /does not capture subject other\.a/],
    ];
    for (const [stream, subject, why] of cases) {
      const f = forward(log, jetStreamSink({ servers: nats.url, stream, subject }), { cursor: `c-${stream}-${subject.replace('.', '_')}` });
      const err = await f.done.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ERR_FORWARD_FAILED', cause: { code: 'ERR_SINK', retryable: false } });
      expect(String((err as Error).message)).toMatch(why);
      expect(f.stats().state).toBe('failed');
    }
    await log.append(Buffer.alloc(2000));
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'SMALL', subject: 'small.a' }), { cursor: 'big' });
    await expect(f.done).rejects.toMatchObject({ code: 'ERR_FORWARD_FAILED', cause: { code: 'ERR_SINK', retryable: false } });
    // What was acknowledged before the failure is committed.
    expect(f.stats().position).toBe(1);
  });

  it('never stores a record whose predecessor the stream refused, though both were in flight (exclusive and shared)', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'], max_msg_size: 400 }); // headers count too
    for (const exclusive of [true, false]) {
      const subject = `ev.x${exclusive}`;
      const sink = jetStreamSink({ servers: nats.url, stream: 'EV', subject, exclusive });
      stops.push(() => sink.close());
      const logId = exclusive ? '42' : '43'; // ids are the stream's, across subjects
      await sink.resume({ logId, position: 0 });
      const rec = (seq: number, n: number) => ({ seq, data: Buffer.alloc(n, seq), id: `${logId}-${seq}` });
      // Record 1 is refused (too large); record 2 is sent before that answer comes back.
      const results = await Promise.allSettled([sink.publish(rec(0, 10)), sink.publish(rec(1, 1000)), sink.publish(rec(2, 10))]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
      expect((await c.read('EV', subject)).map((m) => m.id)).toEqual([`${logId}-0`]);
      await sink.close();
    }
  });

  it('a truncateFrom below what was forwarded, made while the forwarder runs but is between attempts (server down), stops it with ERR_FORWARD_DIVERGED before any replaced record reaches the stream', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const log = await openLog();
    await log.appendMany(Array.from({ length: 100 }, (_, i) => payload(i)));
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 500 }), {
      commitIntervalMs: 10,
      minRetryDelayMs: 20,
      maxRetryDelayMs: 100,
    });
    stops.push(() => f.stop());
    await until('first 100 forwarded and committed', () => f.stats().position === 100);
    await nats.kill();
    await log.append(payload(100)); // its publish fails: the attempt ends, the forwarder retries
    await until('retrying', () => f.stats().state === 'retrying', 10_000);
    // The caller declares records 50.. void (README: "from then on those numbers name the new records").
    await log.truncateFrom(50);
    for (let i = 50; i < 120; i++) await log.append(Buffer.from(`new-${i}`));
    await nats.start();
    // Either it stops (as README point 6 promises) or it forwards: wait for one of them.
    await until('stopped or caught up', () => f.stats().state === 'failed' || f.stats().acknowledged >= 120, 20_000).catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    const stored = await c.read('EV');
    const replacedInStream = stored.filter((m) => m.data.toString().startsWith('new-')).map((m) => m.id);
    const st = f.stats();
    let doneErr: unknown;
    await f.done.catch((e) => (doneErr = e));
    // What the stream holds for this log, as "<seq>:<old|new>" runs, for the failure message.
    const shape = stored.map((m) => `${m.id.split('-')[1]}:${m.data.toString().startsWith('new-') ? 'new' : 'old'}`);
    const summary = `state ${st.state}, lastError ${JSON.stringify(st.lastError)}, done ${(doneErr as { code?: string })?.code}, stream ${stored.length} msgs, first..last: ${shape.slice(0, 2).join(',')} … ${shape.slice(45, 56).join(',')} … ${shape.slice(-3).join(',')}`;
    expect(replacedInStream, `records of the replaced range published after the old ones: ${summary}`).toEqual([]);
    expect((doneErr as { code?: string })?.code, summary).toBe('ERR_FORWARD_DIVERGED');
  }, 60_000);

  it('stop() returns promptly when nothing is in flight and the server is down (resume() pending)', async () => {
    const nats = await server();
    const c = await natsClient(nats.url);
    await c.jsm.streams.add({ name: 'EV', subjects: ['ev.>'] });
    const log = await openLog();
    await log.appendMany(Array.from({ length: 10 }, (_, i) => payload(i)));
    // A generous timeout, as users with a slow WAN link set it.
    const f = forward(log, jetStreamSink({ servers: nats.url, stream: 'EV', subject: 'ev.one', timeoutMs: 8_000 }), {
      minRetryDelayMs: 10,
      maxRetryDelayMs: 10,
    });
    stops.push(() => f.stop());
    await until('forwarded', () => f.stats().acknowledged === 10);
    await nats.kill();
    await log.append(payload(10)); // fails after timeoutMs: then resume() runs against the dead server
    await until('retrying', () => f.stats().state === 'retrying', 20_000);
    await new Promise((r) => setTimeout(r, 200)); // resume() is now waiting on the API request
    const t0 = Date.now();
    await f.stop();
    const ms = Date.now() - t0;
    expect(ms, `stop() took ${ms} ms with nothing in flight`).toBeLessThan(1_000);
  }, 60_000);
  it('stop() returns while resume() waits for a first connection (connection: { waitOnFirstConnect: true }, server down)', async () => {
    const nats = await server();
    const url = nats.url;
    await nats.kill();
    const log = await openLog();
    await log.appendMany(Array.from({ length: 10 }, (_, i) => payload(i)));
    const f = forward(log, jetStreamSink({ servers: url, stream: 'EV', subject: 'ev.one', timeoutMs: 1_000, connection: { waitOnFirstConnect: true } }));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const res = await Promise.race([f.stop().then(() => 'returned'), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))]);
    expect(`${res} after ${Date.now() - t0} ms, state ${f.stats().state}`).toMatch(/^returned/);
  }, 30_000);
  it('rejects bad arguments before connecting', () => {
    const ok = { servers: 'nats://127.0.0.1:4222', stream: 'S', subject: 'a.b' };
    expect(() => jetStreamSink({ ...ok, servers: 'http://x:1' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => jetStreamSink({ ...ok, servers: 'nats://' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => jetStreamSink({ ...ok, servers: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => jetStreamSink({ ...ok, subject: 'a.*' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => jetStreamSink({ ...ok, stream: 'a.b' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => jetStreamSink({ ...ok, timeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => jetStreamSink({ ...ok, sever: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const sink = jetStreamSink(ok);
    const fakeLog = { read() {}, get() {}, cursor() {} } as never;
    expect(() => forward(fakeLog, sink, { maxInFlight: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => forward(fakeLog, sink, { curser: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => forward(fakeLog, {} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => forward({} as never, sink)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('forward() with a sink of its own (no NATS needed)', () => {
  /** A target that keeps what it is sent, fails on demand, and can tell where it stands. */
  function memorySink(opts: { failAt?: Set<number>; tell?: boolean; delayMs?: () => number; resumeDelayMs?: number } = {}) {
    const stored = new Map<number, Buffer>();
    const order: number[] = [];
    const sink: Sink & { stored: typeof stored; order: number[]; resumes: number } = {
      stored,
      order,
      resumes: 0,
      async resume() {
        if (sink.resumes > 0) await new Promise((res) => setTimeout(res, opts.resumeDelayMs ?? 0));
        sink.resumes++;
        if (!opts.tell || stored.size === 0) return {};
        return { next: Math.max(...stored.keys()) + 1 };
      },
      async publish(r: SinkRecord) {
        await new Promise((res) => setTimeout(res, opts.delayMs?.() ?? 0));
        if (opts.failAt?.delete(r.seq)) throw Object.assign(new Error(`injected failure at ${r.seq}`), { retryable: true });
        if (!stored.has(r.seq)) order.push(r.seq);
        stored.set(r.seq, Buffer.from(r.data));
      },
      async close() {},
    };
    return sink;
  }

  it('after a failed publish, never commits past it: the records after it are sent again after resume()', async () => {
    const log = await openLog();
    await log.appendMany(Array.from({ length: 200 }, (_, i) => payload(i)));
    // Acknowledgements arrive out of order; 50 and 120 fail once.
    // The target is away for 50 ms after each failure: time for cursor commits.
    const sink = memorySink({ failAt: new Set([50, 120]), delayMs: () => Math.random() * 3, resumeDelayMs: 50 });
    const f = forward(log, sink, { minRetryDelayMs: 1, maxRetryDelayMs: 2, maxInFlight: 32, commitIntervalMs: 1 });
    stops.push(() => f.stop());
    // The committed cursor never passes a record the target does not hold.
    let overrun = '';
    const watch = setInterval(() => {
      const pos = f.stats().position;
      for (let i = 0; i < pos; i++) if (!sink.stored.has(i)) overrun ||= `cursor at ${pos}, record ${i} not stored`;
    }, 0);
    await until('all', () => f.stats().acknowledged === 200);
    clearInterval(watch);
    expect(overrun).toBe('');
    await f.stop();
    expect(f.stats().retries).toBe(2);
    expect(sink.resumes).toBe(3);
    for (let i = 0; i < 200; i++) expect(sink.stored.get(i)?.equals(payload(i)), `record ${i}`).toBe(true);
    expect(f.stats().position).toBe(200);
  });

  it('bounds what is in flight by count and bytes', async () => {
    const log = await openLog();
    await log.appendMany(Array.from({ length: 300 }, () => Buffer.alloc(1000)));
    let inFlight = 0;
    let maxSeen = 0;
    const sink: Sink = {
      async resume() {},
      async publish() {
        inFlight++;
        maxSeen = Math.max(maxSeen, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
      },
      async close() {},
    };
    for (const [opts, bound] of [
      [{ maxInFlight: 7 }, 7],
      [{ maxInFlightBytes: 5000 }, 5],
    ] as const) {
      maxSeen = 0;
      const f = forward(log, sink, { ...opts, cursor: `b${bound}` });
      await until('all', () => f.stats().acknowledged === 300);
      await f.stop();
      expect(maxSeen).toBe(bound);
    }
  });

  it('a signal already aborted when forward() is called stops the forwarder (as stop() does)', async () => {
    const published: number[] = [];
    const sink = { async resume() {}, async publish(r: { seq: number }) { published.push(r.seq); }, async close() {} };
    const log = await openLog();
    await log.appendMany(Array.from({ length: 10 }, (_, i) => payload(i)));
    const ac = new AbortController();
    ac.abort(); // e.g. the service is already shutting down
    const f = forward(log, sink, { signal: ac.signal });
    stops.push(() => f.stop());
    const settled = await Promise.race([f.done.then(() => 'stopped', () => 'failed'), new Promise((r) => setTimeout(() => r('still running'), 1000))]);
    expect({ settled, published: published.length, state: f.stats().state }).toEqual({ settled: 'stopped', published: 0, state: 'stopped' });
  });
  it('stop() returns while the target hangs in resume(), and the sink is closed', async () => {
    const log = await openLog();
    await log.append('x');
    let closed = false;
    const sink: Sink = { resume: () => new Promise(() => {}), publish: async () => {}, close: async () => void (closed = true) };
    const f = forward(log, sink);
    await new Promise((r) => setTimeout(r, 20));
    await f.stop();
    expect(f.stats().state).toBe('stopped');
    expect(closed).toBe(true);
  });

  it('stops with ERR_FORWARD_DIVERGED when the target holds records past the log\'s durable end', async () => {
    const log = await openLog();
    await log.appendMany([Buffer.from('a'), Buffer.from('b')]);
    const sink: Sink = { resume: async () => ({ next: 5 }), publish: async () => {}, close: async () => {} };
    const f = forward(log, sink);
    await expect(f.done).rejects.toMatchObject({ code: 'ERR_FORWARD_DIVERGED' });
  });

  it('stops when another owner writes its cursor (two forwarders on one cursor), keeping what was committed', async () => {
    const log = await openLog();
    await log.appendMany(Array.from({ length: 50 }, (_, i) => payload(i)));
    const sink = memorySink();
    const f = forward(log, sink, { commitIntervalMs: 1 });
    await until('all', () => f.stats().position === 50);
    const other = await log.cursor('forward');
    await other.commit(10);
    await log.append(payload(50));
    await expect(f.done).rejects.toMatchObject({ code: 'ERR_FORWARD_FAILED', cause: { code: 'ERR_CURSOR_CONFLICT' } });
  });
});
