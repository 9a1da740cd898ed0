#!/usr/bin/env node
'use strict';
// Per-call costs where benchmark.js's serial model fits:
//  - one append() call on the main thread (sync: 'none', so the disk does not
//    set the pace): 1,000 appends issued, then awaited together;
//  - CRC32C per byte (the native implementation the format uses).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Benchmark = require('benchmark');
const { CommitLog } = require('../dist');
const { native } = require('../dist/native');

async function main() {
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'micro-'));
  const log = await CommitLog.open(dir, { sync: 'none', segmentBytes: 256 * 1024 * 1024 });
  const rec = Buffer.alloc(100, 1);
  const mib = Buffer.alloc(1 << 20, 7);
  const suite = new Benchmark.Suite();
  suite
    .add('append() x1000, sync: none, 100 B', {
      defer: true,
      fn: (deferred) => {
        const ps = new Array(1000);
        for (let i = 0; i < 1000; i++) ps[i] = log.append(rec);
        Promise.all(ps).then(() => deferred.resolve());
      },
    })
    .add('crc32c, 1 MiB', () => native.crc32c(mib))
    .on('cycle', (e) => {
      const b = e.target;
      if (b.name.startsWith('append')) {
        console.log(`${b.name}: ${(1e6 / (b.hz * 1000)).toFixed(3)} µs per append (±${b.stats.rme.toFixed(1)}%)`);
      } else {
        console.log(`${b.name}: ${((b.hz * mib.length) / 1e9).toFixed(2)} GB/s, ${(1e9 / (b.hz * mib.length)).toFixed(3)} ns/byte (hardware: ${native.crc32cHardware})`);
      }
    })
    .on('complete', async () => {
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    })
    .run({ async: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
