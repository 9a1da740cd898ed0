'use strict';
// What io_uring could give the flusher (issue 10, direction 3): the same
// I/O replayed by bench/ceiling.c two ways, side by side in alternating
// rounds on the same disk: a pwrite (or O_DIRECT write) and an fdatasync as
// two system calls, as commitlog's Io does, and an io_uring write linked to
// its fdatasync (IOSQE_IO_LINK), submitted and waited for in one
// io_uring_enter. The shapes are the batches of `npm run bench`'s main
// cells (bench/results/2026-11-24-closed-loop): their size, their O_DIRECT
// share, and for 1 and 64 callers the closed loop with the main thread's
// turnaround in series. Written blocks ('overwrite'), as a log in steady
// state writes.
//
//   node bench/uring.js [rounds] [dir]
//   npm run bench:uring
//
// Prints a Markdown table: each shape's batches per second and p50 latency
// of one batch, the median over the rounds, and io_uring's ratio to the two
// system calls. Removes what it wrote.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildCeiling, removeCeiling } = require('./lib/ceiling');

const rounds = Number(process.argv[2] ?? 3);
const dataDir = path.resolve(process.argv[3] ?? path.join(__dirname, '.data'));
if (!(Number.isInteger(rounds) && rounds >= 1)) {
  console.error('usage: node bench/uring.js [rounds >= 1] [dir]');
  process.exit(2);
}

const SHAPES = [
  { name: '1 caller, 1 KiB (4 KiB batch, page cache)', bytes: 4096, batches: 3000, direct: 0 },
  { name: '1 caller, closed loop (11 µs turnaround)', bytes: 4096, batches: 3000, direct: 0, turnaroundUs: 11 },
  { name: '64 callers, 1 KiB (68 KiB batch, O_DIRECT)', bytes: 69632, batches: 2000, direct: 1 },
  { name: '64 callers, closed loop (45 µs turnaround)', bytes: 69632, batches: 2000, direct: 1, turnaroundUs: 45 },
  { name: '1,024 callers, 1 KiB (505 KiB batch, O_DIRECT)', bytes: 517361, batches: 400, direct: 1 },
  { name: '64 callers, 64 KiB (2 MiB batch, O_DIRECT)', bytes: 2099466, batches: 100, direct: 1 },
];
const MODES = ['fdatasync', 'uring'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

fs.mkdirSync(dataDir, { recursive: true });
const bin = buildCeiling(dataDir);
const runs = SHAPES.map(() => ({ fdatasync: [], uring: [] }));
try {
  for (let k = 0; k < rounds; k++) {
    SHAPES.forEach((s, i) => {
      // Alternate which mode goes first, so a drift of the disk favours neither.
      for (const mode of k % 2 ? [...MODES].reverse() : MODES) {
        const args = [dataDir, s.bytes, s.batches, 'overwrite', s.direct, 1, mode];
        if (s.turnaroundUs) args.push(s.turnaroundUs);
        const r = JSON.parse(execFileSync(bin, args.map(String), { encoding: 'utf8' }));
        runs[i][mode].push({ perSec: r.batches / r.seconds, p50: r.batchUsP50 });
      }
      process.stderr.write(`round ${k + 1}/${rounds}: ${s.name}\n`);
    });
  }
} finally {
  removeCeiling(bin);
}

const fmt = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
console.log(`| shape | two system calls: batches/s (p50 µs) | io_uring, linked: batches/s (p50 µs) | io_uring / two calls |`);
console.log('|---|---:|---:|---:|');
SHAPES.forEach((s, i) => {
  const a = runs[i].fdatasync, b = runs[i].uring;
  const ratios = a.map((x, k) => b[k].perSec / x.perSec);
  const cell = (xs) => `${fmt(median(xs.map((x) => x.perSec)))} (${median(xs.map((x) => x.p50))})`;
  const spread = rounds > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : '';
  console.log(`| ${s.name} | ${cell(a)} | ${cell(b)} | ${median(ratios).toFixed(2)}x${spread} |`);
});
console.log(`\n${rounds} round(s), medians; ratios are per round, side by side. Kernel ${require('node:os').release()}.`);
