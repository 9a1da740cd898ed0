'use strict';
// What io_uring could give the flusher (issue 10, direction 3): the same
// I/O replayed by bench/ceiling.c three ways, side by side in rotating
// order on the same disk: a write (pwrite, or O_DIRECT) and an fdatasync as
// two system calls, as commitlog's Io makes them; an io_uring write linked
// to its fdatasync (IOSQE_IO_LINK), submitted and waited for in one
// io_uring_enter; and one io_uring write with RWF_DSYNC, no fsync. The
// shapes are the batches of `npm run bench`'s main cells
// (bench/results/2026-11-24-closed-loop): their size, their O_DIRECT share,
// and for 1 and 64 callers the closed loop with the main thread's
// turnaround in series. Written blocks, as a log in steady state writes;
// the O_DIRECT shapes both with the prefill's pages cached and dropped.
//
//   node bench/uring.js [rounds] [dir]
//   npm run bench:uring
//
// Prints a Markdown table: each shape's batches per second and p50 latency
// of one batch (medians over the rounds), and each io_uring way's ratio to
// the two system calls, round by round and their median. Removes what it
// wrote.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildCeiling, removeCeiling } = require('./lib/ceiling');
const { median } = require('./lib/stats');

const rounds = Number(process.argv[2] ?? 4);
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
// O_DIRECT batches on both file states: pages left cached by the prefill
// (as a zero-filled segment's are: the write drops them, and io_uring can
// then not issue it without blocking) and dropped.
const CASES = SHAPES.flatMap((s) =>
  s.direct ? [{ ...s, state: 'overwrite' }, { ...s, state: 'overwrite-uncached' }] : [{ ...s, state: 'overwrite' }],
);
// Two system calls (commitlog's Io), a write linked to an fdatasync, one RWF_DSYNC write.
const MODES = ['fdatasync', 'uring', 'uring-dsync'];

fs.mkdirSync(dataDir, { recursive: true });
const bin = buildCeiling(dataDir);
const runs = CASES.map(() => Object.fromEntries(MODES.map((m) => [m, []])));
try {
  for (let k = 0; k < rounds; k++) {
    CASES.forEach((s, i) => {
      // Each round starts with another mode, so a drift of the disk favours none.
      for (let m = 0; m < MODES.length; m++) {
        const mode = MODES[(m + k) % MODES.length];
        const args = [dataDir, s.bytes, s.batches, s.state, s.direct, 1, mode];
        if (s.turnaroundUs) args.push(s.turnaroundUs);
        const r = JSON.parse(execFileSync(bin, args.map(String), { encoding: 'utf8' }));
        runs[i][mode].push({ perSec: r.batches / r.seconds, p50: r.batchUsP50 });
      }
      process.stderr.write(`round ${k + 1}/${rounds}: ${s.name}, ${s.state}\n`);
    });
  }
} finally {
  removeCeiling(bin);
}

const fmt = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
console.log('| shape | file | two system calls: batches/s (p50 µs) | linked write + fsync | ratio per round | one RWF_DSYNC write | ratio per round |');
console.log('|---|---|---:|---:|---|---:|---|');
CASES.forEach((s, i) => {
  const base = runs[i].fdatasync;
  const cell = (xs) => `${fmt(median(xs.map((x) => x.perSec)))} (${median(xs.map((x) => x.p50))})`;
  const ratios = (xs) => {
    const r = xs.map((x, k) => x.perSec / base[k].perSec);
    return `**${median(r).toFixed(2)}x**: ${r.map((x) => x.toFixed(2)).join(', ')}`;
  };
  const file = s.state === 'overwrite' ? (s.direct ? 'pages cached' : 'written blocks') : 'pages dropped';
  console.log(`| ${s.name} | ${file} | ${cell(base)} | ${cell(runs[i].uring)} | ${ratios(runs[i].uring)} | ${cell(runs[i]['uring-dsync'])} | ${ratios(runs[i]['uring-dsync'])} |`);
});
console.log(`\n${rounds} round(s), medians; ratios are per round, side by side. Kernel ${require('node:os').release()}.`);
