'use strict';
// The Markdown report of a run. Each table sits under its own heading:
// two tables printed back to back render as one in Markdown.
const { humanName, fmtCount, fmtBytes } = require('./names');
const { median } = require('./stats');

const pct = (x) => (x === undefined ? '' : `${(x * 100).toFixed(0)}%`);
// A cell's disk ceiling: the median of the replays made after each of its
// runs (bench/run.js), or, in a run made before those, the one replay
// after the median run. The closed-loop bound likewise, from the runs that
// had one (each with its own run's turnaround).
function replayMedian(r, pick) {
  const all = (r.ceilingRuns ?? []).map((c) => c && pick(c)).filter(Boolean);
  return all.length ? median(all) : r.ceiling && pick(r.ceiling);
}
const ceilingOf = (r) => replayMedian(r, (c) => c.recordsPerSec);
const closedLoopOf = (r) => replayMedian(r, (c) => c.closedLoop?.recordsPerSec);
const ratio = (r, bound) => (bound ? r.recordsPerSec / bound : undefined);
// Every run's replay, in the order of the runs column; '–' for a run without one.
const eachRun = (r, pick) => (r.ceilingRuns ? ` (${r.ceilingRuns.map((c) => (pick(c) ? fmtCount(pick(c)) : '–')).join(', ')})` : '');

function mainTable(results) {
  const find = (name, conc, size) =>
    results.find((x) => x.contender === name && x.concurrency === conc && x.recordBytes === size && !x.group);
  const rows = [
    '| contender | callers | record | records/s | runs (records/s) | MB/s | p50 µs | p99 µs | syncs/s | rec/batch | event loop busy µs/rec | main-thread CPU µs/rec | peak RSS MB | vs FileChannel style | vs JS group commit | vs disk ceiling |',
    '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const fc = find('filechannel', 1, r.recordBytes);
    const jg = find('js-group-commit', r.concurrency, r.recordBytes);
    const runs = (r.recordsPerSecRuns ?? []).map((x) => fmtCount(x)).join(', ');
    rows.push(
      `| ${humanName(r.contender, r.group)} | ${r.concurrency} | ${fmtBytes(r.recordBytes)} | ${fmtCount(r.recordsPerSec)} | ${runs} | ${r.mbPerSec.toFixed(1)} | ${Math.round(r.latencyUsP50)} | ${Math.round(r.latencyUsP99)} | ${fmtCount(r.syncsPerSec)} | ${r.recordsPerBatch.toFixed(1)} | ${r.mainThreadUsPerRecord.toFixed(2)} | ${r.mainThreadCpuUsPerRecord == null ? '' : r.mainThreadCpuUsPerRecord.toFixed(2)} | ${Math.round(r.peakRssMb)} | ${fc ? (r.recordsPerSec / fc.recordsPerSec).toFixed(1) + 'x' : ''} | ${jg ? (r.recordsPerSec / jg.recordsPerSec).toFixed(2) + 'x' : ''} | ${pct(ratio(r, ceilingOf(r)))} |`,
    );
  }
  return rows;
}

function ceilingTable(results) {
  const rows = [
    '| contender | callers | record | batch bytes | batches replayed | O_DIRECT share | in flight | written blocks rec/s (batch p50 µs) | fallocated rec/s (batch p50 µs) | ceiling rec/s: median (each run\'s) | contender rec/s | vs ceiling | closed loop: turnaround µs, rec/s (batch p50 µs) | closed loop rec/s: median (each run\'s) | vs closed loop |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cellOf = (s) => (s ? `${fmtCount(s.recordsPerSec)} (${s.batchUsP50})` : '');
  for (const r of results.filter((x) => x.ceiling)) {
    const c = r.ceiling;
    const fallocated = c.byState.fallocate ?? c.byState.append;
    rows.push(
      `| ${humanName(r.contender, r.group)} | ${r.concurrency} | ${fmtBytes(r.recordBytes)} | ${c.batchBytes} | ${c.batches} | ${pct(c.directShare)} | ${c.depth} | ${cellOf(c.byState.overwrite)} | ${cellOf(fallocated)} | ${fmtCount(ceilingOf(r))}${eachRun(r, (x) => x?.recordsPerSec)} | ${fmtCount(r.recordsPerSec)} | ${pct(ratio(r, ceilingOf(r)))} | ${c.closedLoop ? `${c.closedLoop.turnaroundUs}, ${cellOf(c.closedLoop)}` : ''} | ${closedLoopOf(r) ? `${fmtCount(closedLoopOf(r))}${eachRun(r, (x) => x?.closedLoop?.recordsPerSec)}` : ''} | ${pct(ratio(r, closedLoopOf(r)))} |`,
    );
  }
  return rows;
}

const CEILING_TEXT =
  "Each ceiling is `bench/ceiling.c` run right after each run of its cell, replaying that run's I/O without the software: " +
  'the same number of batches (at most 256 MiB) of the mean batch size commitlog wrote, the same share of them ' +
  'written with O_DIRECT, as many batches in flight as commitlog had (2 when its flushers overlapped), one ' +
  'fdatasync per batch (O_DSYNC writes for `sync: \'direct\'`), on written blocks and on fallocated ones; ' +
  'the ceiling is the better of the two. Above 100% means the disk was faster for the contender than for its ' +
  "replay a second later: noise, not headroom. `sync: 'none'` gets no ceiling (it does not sync). " +
  'Where every caller is in every batch (1 and 64 callers) and the log writes written blocks, a closed-loop replay ' +
  "follows: the same batches on written blocks, each handed over by a main thread that first works (spins) for the " +
  "contender's main-thread CPU time per batch, as JavaScript resolving a batch and taking the next appends does: " +
  'that work is in series with the disk for any group commit whose callers await their appends. Part of that CPU ' +
  'time runs beside the write, so the bound errs low (by 5–12% at 64 callers on the build machine: README); ' +
  'above 100% means part of the ' +
  "contender's main-thread work overlapped the disk. A single replay moves by up to 40% on this disk independently " +
  'of the run before it, so a cell is set against the median of the replays after its runs (each listed, in the ' +
  "order of the runs column above), as its throughput is the median run's; the states, batch p50s and turnaround " +
  "shown are the median run's own replay's.";

/** The whole report: every table under its own heading, with text between. */
function renderReport(results, meta) {
  const out = [`## Benchmark: ${meta.kind} run, ${meta.date}`, ''];
  out.push(`Node ${meta.node}, ${meta.cpus} × ${meta.cpu}; ${meta.reps} runs per cell of ${meta.seconds} s, median kept; data in ${meta.dataDir}.`, '');
  out.push('### Throughput and latency', '', ...mainTable(results), '');
  if (results.some((r) => r.ceiling)) {
    out.push('### Disk ceilings', '', CEILING_TEXT, '', ...ceilingTable(results), '');
  }
  const durability = [...new Set(results.filter((r) => r.durability).map((r) => `- ${humanName(r.contender)}: ${r.durability}`))];
  if (durability.length) out.push('### Durability settings of the peers', '', ...durability, '');
  return out.join('\n');
}

module.exports = { renderReport, ceilingOf };
