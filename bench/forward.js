'use strict';
// npm run bench:forward: store-and-forward against publishing to JetStream
// directly, side by side in one run, on one real nats-server (Debian's,
// JetStream on, file storage, one node) started here.
//
//   direct      the service awaits js.publish() (stream acknowledgement) per request
//   commitlog   the service awaits log.append() (durable locally) per request, while
//               forward() ships the log to the same kind of stream in the background
//   log alone   the same appends with no forwarder: what forwarding costs the service
//
// For each: requests/s at C concurrent callers of 1 KiB records, p50/p99 of a request;
// for commitlog also forwarded records/s over the whole run (until the stream holds
// everything) and the end-to-end latency (append durable -> stream acknowledged).
//
//   node bench/forward.js [--seconds S] [--callers C] [--out DIR]
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { defaultOutDir } = require('./lib/options');
const { median } = require('./lib/stats');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.BENCH_SECONDS || '5' },
    callers: { type: 'string', default: '64' },
    size: { type: 'string', default: '1024' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const CALLERS = Number(values.callers);
const SIZE = Number(values.size);
const REPS = Number(values.reps);
const outDir = path.resolve(values.out ?? process.env.BENCH_OUT ?? defaultOutDir('forward', new Date()));
const root = path.join(__dirname, '..');
const { CommitLog } = require(path.join(root, 'dist', 'index.js'));
const { forward, jetStreamSink } = require(path.join(root, 'dist', 'forward.js'));
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager } = require('@nats-io/jetstream');

function natsServerPath() {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(dir) {
  const port = await freePort();
  const proc = spawn(natsServerPath(), ['-js', '-sd', path.join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `nats://127.0.0.1:${port}`, stop: () => new Promise((r) => (proc.once('exit', r), proc.kill('SIGTERM'))) };
}

const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const us = (ns) => Number(ns) / 1e3;

/** C callers issue requests back to back for SECONDS; returns requests/s and latencies (µs). */
async function drive(request) {
  const lat = [];
  let n = 0;
  const end = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, c) => {
      while (process.hrtime.bigint() < end) {
        const s = process.hrtime.bigint();
        await request(c, n++);
        lat.push(us(process.hrtime.bigint() - s));
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { perSec: lat.length / secs, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), count: lat.length };
}

async function streamFor(url, name) {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  return { nc, js: jetstream(nc), jsm };
}

async function direct(url, rep) {
  const { nc, js } = await streamFor(url, `D${rep}`);
  const body = Buffer.alloc(SIZE, 1);
  const r = await drive((c, i) => js.publish(`D${rep}.x`, body, { msgID: `d-${rep}-${i}` }));
  await nc.close();
  return r;
}

async function logAlone(dir) {
  const log = await CommitLog.open(dir);
  const body = Buffer.alloc(SIZE, 2);
  const r = await drive(() => log.append(body));
  await log.close();
  return r;
}

async function withForwarder(url, dir, rep) {
  const { nc, jsm } = await streamFor(url, `F${rep}`);
  const log = await CommitLog.open(dir);
  const durableAt = new Map();
  const e2e = [];
  const inner = jetStreamSink({ servers: url, stream: `F${rep}`, subject: `F${rep}.x` });
  // Times each acknowledgement against the moment its append resolved.
  const sink = {
    resume: (info) => inner.resume(info),
    publish: (r) =>
      inner.publish(r).then(() => {
        const t = durableAt.get(r.seq);
        if (t !== undefined) {
          e2e.push(us(process.hrtime.bigint() - t));
          durableAt.delete(r.seq);
        }
      }),
    close: () => inner.close(),
  };
  const f = forward(log, sink, { commitIntervalMs: 100 });
  const body = Buffer.alloc(SIZE, 3);
  const t0 = process.hrtime.bigint();
  const r = await drive(async () => {
    const seq = await log.append(body);
    durableAt.set(seq, process.hrtime.bigint());
  });
  const total = log.durableSeq;
  while (f.stats().acknowledged < total) await new Promise((res) => setTimeout(res, 2));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const st = f.stats();
  await f.stop();
  await log.close();
  const held = (await jsm.streams.info(`F${rep}`)).state.messages;
  await nc.close();
  if (held !== total) throw new Error(`stream holds ${held} records, the log ${total}`);
  e2e.sort((a, b) => a - b);
  return { ...r, forwardedPerSec: total / secs, e2eP50: quantile(e2e, 0.5), e2eP99: quantile(e2e, 0.99), retries: st.retries };
}

/** The forwarder in another process (as `commitlog forward` runs): the service's core is its own. */
async function withForwarderProcess(url, dir, rep) {
  const { nc, jsm } = await streamFor(url, `P${rep}`);
  const log = await CommitLog.open(dir);
  const child = spawn(process.execPath, [path.join(__dirname, 'forward-child.js'), dir, url, `P${rep}`, `P${rep}.x`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const body = Buffer.alloc(SIZE, 4);
  const t0 = process.hrtime.bigint();
  const r = await drive(() => log.append(body));
  const total = log.durableSeq;
  while ((await jsm.streams.info(`P${rep}`)).state.messages < total) await new Promise((res) => setTimeout(res, 5));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')));
  await log.close();
  await nc.close();
  return { ...r, forwardedPerSec: total / secs };
}

const k = (n) => (n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
const ms = (u) => (u >= 1000 ? `${(u / 1000).toFixed(2)} ms` : `${u.toFixed(0)} µs`);

async function main() {
  if (!natsServerPath()) {
    console.error('bench:forward needs nats-server (Debian: apt-get install nats-server)');
    process.exit(2);
  }
  const work = fs.mkdtempSync(path.join(process.env.BENCH_DIR || path.join(root, 'bench', '.data'), 'forward-'));
  const server = await startServer(work);
  const runs = { direct: [], alone: [], forward: [], process: [] };
  try {
    for (let rep = 0; rep < REPS; rep++) {
      // Interleaved, so that the disk's drift falls on all three alike.
      runs.direct.push(await direct(server.url, rep));
      process.stderr.write(`rep ${rep + 1}/${REPS} direct: ${k(runs.direct.at(-1).perSec)}/s\n`);
      runs.alone.push(await logAlone(path.join(work, `alone-${rep}`)));
      process.stderr.write(`rep ${rep + 1}/${REPS} log alone: ${k(runs.alone.at(-1).perSec)}/s\n`);
      runs.forward.push(await withForwarder(server.url, path.join(work, `fwd-${rep}`), rep));
      process.stderr.write(`rep ${rep + 1}/${REPS} commitlog + forward: ${k(runs.forward.at(-1).perSec)}/s\n`);
      runs.process.push(await withForwarderProcess(server.url, path.join(work, `proc-${rep}`), rep));
      process.stderr.write(`rep ${rep + 1}/${REPS} commitlog + forwarder process: ${k(runs.process.at(-1).perSec)}/s\n`);
    }
  } finally {
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const m = (list, key) => median(list.map((r) => r[key]));
  const d = m(runs.direct, 'perSec');
  const lines = [
    `# bench:forward, ${new Date().toISOString()}`,
    '',
    `${CALLERS} concurrent callers, ${SIZE}-byte records, ${SECONDS} s per run, median of ${REPS} interleaved runs; nats-server ${execFileSync(natsServerPath(), ['--version'], { encoding: 'utf8' }).trim()} (one node, JetStream file storage), node ${process.version}, ${os.cpus().length} CPUs.`,
    '',
    '| the service | requests/s | vs direct | request p50 | request p99 | forwarded records/s | durable → stream ack p50 | p99 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    `| publishes to JetStream per request (awaits the stream's ack) | ${k(d)} | 1.00x | ${ms(m(runs.direct, 'p50'))} | ${ms(m(runs.direct, 'p99'))} | (same) | | |`,
    `| appends to commitlog per request, forward() in the background | ${k(m(runs.forward, 'perSec'))} | ${(m(runs.forward, 'perSec') / d).toFixed(2)}x | ${ms(m(runs.forward, 'p50'))} | ${ms(m(runs.forward, 'p99'))} | ${k(m(runs.forward, 'forwardedPerSec'))} | ${ms(m(runs.forward, 'e2eP50'))} | ${ms(m(runs.forward, 'e2eP99'))} |`,
    `| appends to commitlog per request, \`commitlog forward\` in another process (a LogReader) | ${k(m(runs.process, 'perSec'))} | ${(m(runs.process, 'perSec') / d).toFixed(2)}x | ${ms(m(runs.process, 'p50'))} | ${ms(m(runs.process, 'p99'))} | ${k(m(runs.process, 'forwardedPerSec'))} | | |`,
    `| appends to commitlog per request, no forwarder | ${k(m(runs.alone, 'perSec'))} | ${(m(runs.alone, 'perSec') / d).toFixed(2)}x | ${ms(m(runs.alone, 'p50'))} | ${ms(m(runs.alone, 'p99'))} | | | |`,
    '',
    `Forwarding kept ${((100 * m(runs.forward, 'perSec')) / m(runs.alone, 'perSec')).toFixed(0)}% of the service's append throughput in its own process, ${((100 * m(runs.process, 'perSec')) / m(runs.alone, 'perSec')).toFixed(0)}% from another process. "forwarded records/s" counts from the first append until the stream held every record.`,
    '',
  ];
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'results.md'), lines.join('\n'));
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ callers: CALLERS, size: SIZE, seconds: SECONDS, reps: REPS, runs }, null, 2));
  console.log(lines.join('\n'));
  console.log(`results: ${outDir}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
