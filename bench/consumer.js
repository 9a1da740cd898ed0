#!/usr/bin/env node
'use strict';
// npm run bench:consumer   the consumer side: get(seq) cold and warm on a multi-GB log, and follow
// latency from "durable" to "delivered".
//
// BENCH_CONSUMER_GB (default 2) sets the log size; BENCH_DIR where it is written (default
// bench/.data). A cold get needs the page cache dropped: as root the bench writes
// /proc/sys/vm/drop_caches (a system-wide drop: do not run it on a busy machine); otherwise the cold
// figure is skipped and says so.
const fs = require('node:fs');
const path = require('node:path');
const { CommitLog } = require('..');

const dataDir = process.env.BENCH_DIR || path.join(__dirname, '.data');
const gb = Number(process.env.BENCH_CONSUMER_GB || 2);
const RECORD = 1024;

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

function summary(us) {
  const s = [...us].sort((a, b) => a - b);
  return { p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1], n: s.length };
}

function fmt(x) {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function dropCaches() {
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

function rand(n) {
  return Math.floor(Math.random() * n);
}

// Written as a busy service writes: 64 callers appending groups of 16 records, so that group
// commit forms the batches (a get reads and verifies the whole batch holding its record).
async function build(dir) {
  const log = await CommitLog.open(dir);
  const total = Math.floor((gb * 1024 ** 3) / (RECORD + 4));
  const group = 16;
  const rec = Buffer.alloc(RECORD, 7);
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < total) {
        const n = Math.min(group, total - next);
        next += n;
        await log.appendMany(Array.from({ length: n }, () => rec));
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = log.stats();
  await log.close();
  return { records: total, secs, segments: stats.segments, bytes: stats.bytesWritten, batchBytes: stats.bytesWritten / stats.batches };
}

async function timeGets(log, n, durable) {
  const us = [];
  for (let i = 0; i < n; i++) {
    const seq = rand(durable);
    const t = process.hrtime.bigint();
    const b = await log.get(seq);
    us.push(Number(process.hrtime.bigint() - t) / 1e3);
    if (b.length !== RECORD) throw new Error('bad record');
  }
  return summary(us);
}

async function followLatency() {
  const dir = fs.mkdtempSync(path.join(dataDir, 'follow-'));
  const log = await CommitLog.open(dir);
  const n = 5000;
  const resolvedAt = new Float64Array(n);
  const appendedAt = new Float64Array(n);
  const deliveredAt = new Float64Array(n);
  const follower = (async () => {
    for await (const r of log.read({ follow: true, to: n })) deliveredAt[r.seq] = performance.now();
  })();
  // One record at a time, as an ingest service under light load would.
  for (let i = 0; i < n; i++) {
    appendedAt[i] = performance.now();
    const seq = await log.append(Buffer.alloc(100, 1));
    resolvedAt[seq] = performance.now();
  }
  await follower;
  // And 64 concurrent appenders: batches of many records wake the follower once.
  const m = 20000;
  const resolved2 = new Float64Array(m);
  const delivered2 = new Float64Array(m);
  const base = log.durableSeq;
  const follower2 = (async () => {
    for await (const r of log.read({ from: base, follow: true, to: base + m })) delivered2[r.seq - base] = performance.now();
  })();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < m) {
        next++;
        const seq = await log.append(Buffer.alloc(100, 2));
        resolved2[seq - base] = performance.now();
      }
    }),
  );
  await follower2;
  // A reader (CommitLog.openReader, as another process would open it) following the same writer:
  // woken by HEAD's change notification, not by the writer's in-process notification.
  const reader = await CommitLog.openReader(dir);
  const k = 2000;
  const resolved3 = new Float64Array(k);
  const delivered3 = new Float64Array(k);
  const base3 = log.durableSeq;
  const follower3 = (async () => {
    for await (const r of reader.read({ from: base3, follow: true, to: base3 + k })) delivered3[r.seq - base3] = performance.now();
  })();
  for (let i = 0; i < k; i++) {
    const seq = await log.append(Buffer.alloc(100, 3));
    resolved3[seq - base3] = performance.now();
    // Paced, as a light load: each record is followed before the next.
    while (delivered3[i] === 0) await new Promise((r) => setImmediate(r));
  }
  await follower3;
  await reader.close();
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const d1 = [];
  const e1 = [];
  for (let i = 0; i < n; i++) {
    d1.push((deliveredAt[i] - resolvedAt[i]) * 1000);
    e1.push((deliveredAt[i] - appendedAt[i]) * 1000);
  }
  const d2 = [];
  for (let i = 0; i < m; i++) d2.push((delivered2[i] - resolved2[i]) * 1000);
  const d3 = [];
  for (let i = 0; i < k; i++) d3.push((delivered3[i] - resolved3[i]) * 1000);
  return { single: summary(d1), endToEnd: summary(e1), concurrent: summary(d2), reader: summary(d3) };
}

async function main() {
  fs.mkdirSync(dataDir, { recursive: true });
  console.log('# consumer side\n');
  const f = await followLatency();
  console.log('follow latency, from append resolved (durable) to delivered to a follower in the same process, µs:');
  console.log(`  1 appender:   p50 ${fmt(f.single.p50)}  p99 ${fmt(f.single.p99)}  (append call to delivered: p50 ${fmt(f.endToEnd.p50)}  p99 ${fmt(f.endToEnd.p99)})`);
  console.log(`  64 appenders: p50 ${fmt(f.concurrent.p50)}  p99 ${fmt(f.concurrent.p99)}`);
  console.log(`  a LogReader (openReader; HEAD + fs.watch), 1 appender: p50 ${fmt(f.reader.p50)}  p99 ${fmt(f.reader.p99)}`);
  console.log('  (negative: the follower ran before the append\'s own continuation; both follow one durable notification)\n');

  const dir = fs.mkdtempSync(path.join(dataDir, 'get-'));
  try {
    const b = await build(dir);
    console.log(`built a ${(b.bytes / 1024 ** 3).toFixed(2)} GiB log: ${b.records} records of ${RECORD} B in ${b.segments} segments, batches of ${(b.batchBytes / 1024).toFixed(0)} KiB on average (${b.secs.toFixed(1)} s)`);
    let t = process.hrtime.bigint();
    const log = await CommitLog.open(dir);
    console.log(`open (recovery of a cleanly closed log): ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(0)} ms`);
    const durable = log.durableSeq;
    const warmup = await timeGets(log, 2000, durable);
    const warm = await timeGets(log, 20000, durable);
    console.log(`get, warm (page cache): p50 ${fmt(warm.p50)} µs  p99 ${fmt(warm.p99)} µs  (${warm.n} random gets; first 2000: p50 ${fmt(warmup.p50)})`);
    if (dropCaches()) {
      const us = [];
      for (let i = 0; i < 200; i++) {
        dropCaches();
        const seq = rand(durable);
        t = process.hrtime.bigint();
        await log.get(seq);
        us.push(Number(process.hrtime.bigint() - t) / 1e3);
      }
      const cold = summary(us);
      console.log(`get, cold (page cache dropped before each): p50 ${fmt(cold.p50)} µs  p99 ${fmt(cold.p99)} µs  (${cold.n} random gets)`);
    } else {
      console.log('get, cold: skipped (dropping the page cache needs root)');
    }
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
