#!/usr/bin/env node
'use strict';
// Segment recycling side by side: a sustained append workload with
// retention (maxBytes), with recycleSegments 0 (freed segments unlinked, new
// ones prepared) and 2 (freed segments reused), for preallocate 'zero' and
// 'auto'. Each run is its own process on fresh files; runs alternate, so
// that a noisy shared machine weighs on both sides alike.
//
// Reports, per run and per byte of records appended: bytes the log passed
// to write calls (/proc/self/io wchar: batches, zero fills, checkpoints,
// HEAD), and with BENCH_DEVICE the sectors the block device holding
// BENCH_DIR wrote (/sys/block/<dev>/stat, after a syncfs; a shared device
// counts every process's writes, so give one of its own, such as a loop
// device); and records/s. Then, per configuration, the medians and the
// ratios of recycling to not. (/proc/self/io write_bytes is not used: it
// counts each dirtied page-cache folio whole, up to MiBs for a 4 KiB write
// on kernels with large folios.)
//
//   node bench/recycle.js [rounds=3] [MiB appended per run=256]
// BENCH_DIR: where the logs go (default: the OS temp dir).
// BENCH_DEVICE: e.g. loop0, the device BENCH_DIR is on.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('./lib/stats');

const SEGMENT_BYTES = 8 << 20;
const RETAIN_BYTES = 32 << 20;
const RECORD_BYTES = 4096;
const CONCURRENCY = 32;

function writeCalls() {
  const m = /wchar:\s*(\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function deviceBytes() {
  const dev = process.env.BENCH_DEVICE;
  if (!dev) return NaN;
  return Number(fs.readFileSync(`/sys/block/${dev}/stat`, 'utf8').trim().split(/\s+/)[6]) * 512;
}

async function child(preallocate, recycleSegments, mib) {
  const { CommitLog } = require('../dist');
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'recycle-bench-'));
  try {
    const log = await CommitLog.open(dir, {
      segmentBytes: SEGMENT_BYTES,
      preallocate,
      recycleSegments,
      retention: { maxBytes: RETAIN_BYTES },
    });
    const record = Buffer.alloc(RECORD_BYTES, 0x5a);
    const total = Math.floor((mib << 20) / RECORD_BYTES);
    let issued = 0;
    execFileSync('sync', ['-f', dir]);
    const calls0 = writeCalls();
    const device0 = deviceBytes();
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (issued < total) {
          issued++;
          await log.append(record);
        }
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const st = log.stats();
    await log.close();
    const calls = writeCalls() - calls0;
    execFileSync('sync', ['-f', dir]);
    const device = deviceBytes() - device0;
    return {
      preallocate,
      recycleSegments,
      writtenPerAppended: calls / (total * RECORD_BYTES),
      devicePerAppended: device / (total * RECORD_BYTES),
      recordsPerSec: total / secs,
      segmentsRolled: st.segmentsRolled,
      segmentsRecycled: st.segmentsRecycled,
      segmentsDeleted: st.retention.segmentsDeleted,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  if (process.argv[2] === '--child') {
    const [, , , preallocate, recycle, mib] = process.argv;
    child(preallocate, Number(recycle), Number(mib)).then(
      (r) => console.log(JSON.stringify(r)),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
    return;
  }
  if (!fs.existsSync('/proc/self/io')) {
    console.error('bench/recycle.js needs /proc/self/io (Linux)');
    process.exit(1);
  }
  const rounds = Number(process.argv[2] ?? 3);
  const mib = Number(process.argv[3] ?? 256);
  const configs = [];
  for (const preallocate of ['zero', 'auto']) for (const recycle of [0, 2]) configs.push([preallocate, recycle]);
  const results = new Map(configs.map((c) => [c.join(':'), []]));
  for (let r = 0; r < rounds; r++) {
    for (const [preallocate, recycle] of r % 2 === 0 ? configs : [...configs].reverse()) {
      const out = execFileSync(process.execPath, [__filename, '--child', preallocate, String(recycle), String(mib)], {
        encoding: 'utf8',
      });
      const res = JSON.parse(out.trim().split('\n').at(-1));
      results.get(`${preallocate}:${recycle}`).push(res);
      console.log(
        `round ${r} preallocate ${preallocate} recycleSegments ${recycle}: per byte appended ${res.writtenPerAppended.toFixed(3)} written, ` +
          `${res.devicePerAppended.toFixed(3)} on the device, ` +
          `${Math.round(res.recordsPerSec)} records/s, ${res.segmentsRolled} rolls, ${res.segmentsRecycled} recycled, ${res.segmentsDeleted} deleted`,
      );
    }
  }
  console.log(`\n${mib} MiB of ${RECORD_BYTES}-byte records per run, ${CONCURRENCY} callers, segmentBytes ${SEGMENT_BYTES >> 20} MiB, retention maxBytes ${RETAIN_BYTES >> 20} MiB; medians of ${rounds}:`);
  for (const preallocate of ['zero', 'auto']) {
    const off = results.get(`${preallocate}:0`);
    const on = results.get(`${preallocate}:2`);
    const w0 = median(off.map((x) => x.writtenPerAppended));
    const w2 = median(on.map((x) => x.writtenPerAppended));
    const d0 = median(off.map((x) => x.devicePerAppended));
    const d2 = median(on.map((x) => x.devicePerAppended));
    const t0 = median(off.map((x) => x.recordsPerSec));
    const t2 = median(on.map((x) => x.recordsPerSec));
    console.log(
      `preallocate ${preallocate}: written/appended ${w0.toFixed(3)} -> ${w2.toFixed(3)} (x${(w2 / w0).toFixed(2)}), ` +
        `device/appended ${d0.toFixed(3)} -> ${d2.toFixed(3)} (x${(d2 / d0).toFixed(2)}), ` +
        `records/s ${Math.round(t0)} -> ${Math.round(t2)} (x${(t2 / t0).toFixed(2)})`,
    );
  }
}

main();
