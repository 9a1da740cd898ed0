#!/usr/bin/env node
'use strict';
// Durable cursor commits: commits per second and fdatasyncs per commit, with
// 1 committer (each commit awaited before the next) and with 64 committers
// (64 loops whose commits do not wait for each other), BENCH_SECONDS each.
//
// Syncs are counted as 2 per write cycle (the temp file's fdatasync and the
// directory's fsync): test/powerloss.cursor.test.ts checks that count
// against the system calls the fault-injection layer sees, and
// `strace -f -c -e trace=fdatasync,fsync` agrees.
const fs = require('node:fs');
const path = require('node:path');
const { CommitLog } = require('../dist');

const dataDir = process.env.BENCH_DIR || path.join(__dirname, '.data');
const seconds = Number(process.env.BENCH_SECONDS || 3);
const RECORDS = 100_000;

async function measure(log, name, committers) {
  const cursor = await log.cursor(name);
  const durable = log.durableSeq;
  let commits = 0;
  const latenciesUs = [];
  const end = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  const writes0 = cursor.writes;
  await Promise.all(
    Array.from({ length: committers }, async () => {
      while (Date.now() < end) {
        const pos = 1 + (commits % durable);
        const s = process.hrtime.bigint();
        await cursor.commit(pos);
        latenciesUs.push(Number(process.hrtime.bigint() - s) / 1e3);
        commits++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const writes = cursor.writes - writes0;
  latenciesUs.sort((a, b) => a - b);
  const pct = (p) => latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(p * latenciesUs.length))];
  return { committers, commits, secs, writes, p50: pct(0.5), p99: pct(0.99) };
}

async function main() {
  fs.mkdirSync(dataDir, { recursive: true });
  const dir = fs.mkdtempSync(path.join(dataDir, 'cursor-'));
  const log = await CommitLog.open(dir);
  const batch = Array.from({ length: 1000 }, (_, i) => `record-${i}`);
  for (let i = 0; i < RECORDS; i += batch.length) await log.appendMany(batch);
  const rows = [await measure(log, 'one', 1), await measure(log, 'many', 64)];
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });

  console.log(`Cursor commits, ${seconds} s each (positions up to ${RECORDS}):\n`);
  console.log('| committers | commits/s | write cycles | commits per write | syncs per commit (fdatasync + directory fsync) | commit p50 ms | commit p99 ms |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.committers} | ${Math.round(r.commits / r.secs)} | ${r.writes} | ${(r.commits / r.writes).toFixed(1)} | ` +
        `${((2 * r.writes) / r.commits).toFixed(3)} | ${(r.p50 / 1e3).toFixed(2)} | ${(r.p99 / 1e3).toFixed(2)} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
