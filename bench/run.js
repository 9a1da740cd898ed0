#!/usr/bin/env node
'use strict';
// npm run bench        quick: 1 KiB records at 1, 64 and 1024 callers, 64 KiB at 64, a log in steady state, batchesInFlight: 2 beside the default (~10 minutes)
// npm run bench:full   the whole matrix: 1..1024 callers, 100 B / 1 KiB / 16 KiB / 64 KiB, appendMany, all sync modes
// npm run bench:peers  lmdb, classic-level and better-sqlite3 (bench/peers, own package.json) at 1, 64, 1024 callers
// Options (bench/lib/options.js): --out DIR, --only contender[:callers[:bytes]].
//
// Every contender runs in its own process on fresh files in BENCH_DIR (default: bench/.data, on the
// same disk as the project). Each cell is repeated (BENCH_REPS, default 3) and the median kept.
// Results: a report on stdout; report, JSON and SVG charts in a folder of their own
// (bench/results/runs/<date>-<kind>/, untracked, unless --out), whose path is printed last.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseRunArgs, cellMatches } = require('./lib/options');
const { createProgress } = require('./lib/progress');
const { buildCeiling, ceilingPlan, runCeiling, removeCeiling } = require('./lib/ceiling');
const { renderReport, ceilingOf } = require('./lib/report');
const { median } = require('./lib/stats');
const { renderCharts } = require('./lib/charts');
const { humanName, fmtCount, fmtBytes } = require('./lib/names');

const opts = parseRunArgs(process.argv.slice(2));
const { full, peers } = opts;
const root = path.join(__dirname, '..');
const dataDir = path.resolve(process.env.BENCH_DIR || path.join(__dirname, '.data'));
const reps = Number(process.env.BENCH_REPS || 3);
const seconds = Number(process.env.BENCH_SECONDS || (full ? 3 : 1.5));

const CONC = full ? [1, 8, 64, 256, 1024] : [1, 64, 1024];
const SIZES = full ? [100, 1024, 16384, 65536] : [1024, 65536];
const LOG_MODES = full ? ['commitlog', 'commitlog-fdatasync', 'commitlog-direct', 'commitlog-fsync', 'commitlog-none'] : ['commitlog', 'commitlog-fdatasync'];

function peerCells() {
  const out = [{ contender: 'filechannel', conc: 1, size: 1024 }, { contender: 'peer-sqlite-single', conc: 1, size: 1024 }];
  for (const conc of CONC) {
    for (const c of ['js-group-commit', 'commitlog-fdatasync', 'peer-lmdb', 'peer-classic-level', 'peer-sqlite-batched']) {
      out.push({ contender: c, conc, size: 1024 });
    }
  }
  return out;
}

function cells() {
  if (peers) return peerCells();
  if (!full) {
    // The main job: 1 KiB records at 1, 64 and 1024 callers, and 64 KiB records at 64 callers
    // (issue 10's goals), the default mode and plain fdatasync side by side.
    const out = [{ contender: 'filechannel', conc: 1, size: 1024 }];
    for (const conc of CONC) {
      for (const c of ['plain-async', 'js-group-commit', 'commitlog', 'commitlog-fdatasync']) out.push({ contender: c, conc, size: 1024 });
    }
    for (const c of ['js-group-commit', 'commitlog', 'commitlog-fdatasync']) out.push({ contender: c, conc: 64, size: 65536 });
    // The same log in steady state (retention, recycled segments): what a
    // queue or Raft log runs as once its retention bound is reached.
    for (const conc of [64, 1024]) out.push({ contender: 'commitlog-steady', conc, size: 1024 });
    out.push({ contender: 'commitlog-steady', conc: 64, size: 65536 });
    // The default (one batch in flight) beside two in flight, where the
    // second can matter: large batches.
    out.push({ contender: 'commitlog-inflight2', conc: 1024, size: 1024 });
    out.push({ contender: 'commitlog-inflight2', conc: 64, size: 65536 });
    out.push({ contender: 'commitlog-steady-inflight2', conc: 1024, size: 1024 });
    out.push({ contender: 'commitlog-steady-inflight2', conc: 64, size: 65536 });
    return out;
  }
  const out = [];
  for (const size of SIZES) {
    out.push({ contender: 'filechannel', conc: 1, size });
    for (const conc of CONC) {
      if (size === 65536 && conc > 64) continue; // 64 MiB in flight is the pending limit anyway
      out.push({ contender: 'plain-async', conc, size });
      out.push({ contender: 'js-group-commit', conc, size });
      for (const m of LOG_MODES) out.push({ contender: m, conc, size });
    }
    out.push({ contender: 'commitlog-fdatasync', conc: 64, size, group: 16 });
  }
  return out;
}

function runCell(cell) {
  const args = [path.join(__dirname, 'worker.js'), cell.contender, String(cell.conc), String(cell.size), String(seconds), dataDir];
  if (cell.group) args.push(String(cell.group));
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

function cellLabel(cell) {
  return `${humanName(cell.contender, cell.group)}, ${cell.conc} caller${cell.conc === 1 ? '' : 's'}, ${fmtBytes(cell.size)}`;
}

function measureCell(cell, ceilingBin) {
  const runs = [];
  for (let r = 0; r < reps; r++) {
    const run = runCell(cell);
    // A replay after each run: one replay moves by up to 40% on this disk
    // (identical batches, one run), independently of the run, so the
    // ceiling is the median of three, as a cell's throughput is.
    const plan = ceilingPlan(run);
    if (plan) run.ceiling = runCeiling(ceilingBin(), dataDir, plan, run.recordsPerBatch);
    runs.push(run);
  }
  const pick = runs.sort((a, b) => a.recordsPerSec - b.recordsPerSec)[Math.floor(runs.length / 2)];
  pick.recordsPerSecRuns = runs.map((r) => Math.round(r.recordsPerSec));
  pick.mainThreadUsPerRecord = median(runs.map((r) => r.mainThreadUsPerRecord));
  // Medians across the runs, like the event-loop figure; none when a run
  // could not read its CPU time.
  pick.mainThreadCpuUsPerRecord = runs.every((r) => r.mainThreadCpuUsPerRecord != null) ? median(runs.map((r) => r.mainThreadCpuUsPerRecord)) : null;
  // The median run keeps its own replay's details (pick.ceiling); every
  // run's replay rates are kept, in the order of recordsPerSecRuns, and
  // the report sets the median run against the median replay.
  pick.ceilingRuns = runs.map((r) =>
    r.ceiling
      ? { recordsPerSec: r.ceiling.recordsPerSec, closedLoop: r.ceiling.closedLoop && { recordsPerSec: r.ceiling.closedLoop.recordsPerSec, turnaroundUs: r.ceiling.closedLoop.turnaroundUs } }
      : null,
  );
  return pick;
}

async function main() {
  const list = cells().filter((c) => cellMatches(c, opts.filters));
  if (list.length === 0) throw new Error('no cell matches --only / BENCH_ONLY');
  fs.mkdirSync(dataDir, { recursive: true });
  let bin;
  const ceilingBin = () => (bin ??= buildCeiling(dataDir));
  const progress = createProgress(list.length);
  const results = [];
  try {
    for (const cell of list) {
      progress.start(cellLabel(cell));
      const r = measureCell(cell, ceilingBin);
      results.push(r);
      const ceiling = ceilingOf(r);
      const vsCeiling = ceiling ? `, ${((r.recordsPerSec / ceiling) * 100).toFixed(0)}% of its disk ceiling` : '';
      progress.done(cellLabel(cell), `${fmtCount(r.recordsPerSec)} records/s (runs ${r.recordsPerSecRuns.map((x) => fmtCount(x)).join(', ')})${vsCeiling}`);
    }
  } finally {
    progress.stop();
    if (bin) removeCeiling(bin);
  }

  const meta = { kind: opts.kind, date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, full, reps, seconds, dataDir };
  const report = renderReport(results, meta);
  fs.mkdirSync(opts.outDir, { recursive: true });
  fs.writeFileSync(path.join(opts.outDir, 'results.md'), report);
  fs.writeFileSync(path.join(opts.outDir, 'results.json'), JSON.stringify({ meta, results }, null, 2) + '\n');
  for (const [name, svg] of await renderCharts(results, meta)) fs.writeFileSync(path.join(opts.outDir, name), svg);
  process.stdout.write(`\n${report}\nResults written to ${opts.outDir}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
