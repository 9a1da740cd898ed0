#!/usr/bin/env node
'use strict';
// npm run bench        quick: 1 KiB records at 1, 64 and 1024 callers (~2 minutes)
// npm run bench:full   the whole matrix: 1..1024 callers, 100 B / 1 KiB / 16 KiB / 64 KiB, appendMany, all sync modes
// npm run bench:peers  lmdb, classic-level and better-sqlite3 (bench/peers, own package.json) at 1, 64, 1024 callers
//
// Every contender runs in its own process on fresh files in BENCH_DIR (default: bench/.data, on the
// same disk as the project). Each cell is repeated (BENCH_REPS, default 3) and the median kept.
// Results: a table on stdout, JSON and an SVG chart in bench/results/.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const full = process.argv.includes('--full');
const peers = process.argv.includes('--peers');
const root = path.join(__dirname, '..');
const dataDir = process.env.BENCH_DIR || path.join(__dirname, '.data');
const reps = Number(process.env.BENCH_REPS || 3);
const seconds = Number(process.env.BENCH_SECONDS || (full ? 3 : 1.5));
const resultsDir = path.join(__dirname, 'results');
fs.mkdirSync(dataDir, { recursive: true });
fs.mkdirSync(resultsDir, { recursive: true });

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
    if (full) out.push({ contender: 'commitlog-fdatasync', conc: 64, size, group: 16 });
  }
  return out;
}

function runCell(cell) {
  const args = [path.join(__dirname, 'worker.js'), cell.contender, String(cell.conc), String(cell.size), String(seconds), dataDir];
  if (cell.group) args.push(String(cell.group));
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

function buildCeiling() {
  const bin = path.join(dataDir, 'ceiling');
  execFileSync('cc', ['-O2', '-o', bin, path.join(__dirname, 'ceiling.c')], { stdio: 'inherit' });
  return bin;
}

// The disk's limit for the same batch size: batches/s of write + fdatasync on
// overwritten blocks (as zero-filled segments are) and appended ones.
function ceiling(bin, batchBytes, recordsPerBatch) {
  const n = Math.max(200, Math.min(20000, Math.floor((256 * 1024 * 1024) / Math.max(batchBytes, 4096))));
  const run = (mode, direct) => {
    const r = JSON.parse(execFileSync(bin, [dataDir, String(Math.ceil(batchBytes)), String(n), mode, direct], { encoding: 'utf8' }));
    return { recordsPerSec: (r.batches / r.seconds) * recordsPerBatch, mbPerSec: (r.batches * r.batchBytes) / r.seconds / 1e6, syncUsP50: r.syncUsP50 };
  };
  return { overwrite: run('overwrite', '0'), append: run('append', '0'), overwriteDirect: run('overwrite', '1') };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function progress(done, total, label) {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${label.padEnd(40)}`);
}

function svgChart(results, size) {
  const rows = results.filter((r) => r.recordBytes === size && !r.group);
  const names = [...new Set(rows.map((r) => r.contender))];
  const W = 720, H = 420, L = 70, B = 50, T = 30, R = 190;
  const xs = CONC.map((c) => Math.log2(c));
  const ys = rows.map((r) => Math.log10(Math.max(1, r.recordsPerSec)));
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const y0 = Math.floor(Math.min(...ys)), y1 = Math.ceil(Math.max(...ys));
  const X = (c) => L + ((Math.log2(c) - x0) / (x1 - x0)) * (W - L - R);
  const Y = (v) => H - B - ((Math.log10(Math.max(1, v)) - y0) / (y1 - y0 || 1)) * (H - B - T);
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`;
  s += `<rect width="${W}" height="${H}" fill="white"/>`;
  s += `<text x="${L}" y="18" font-size="14">Durable appends/s, ${size} B records (log scale), ${os.hostname()}</text>`;
  for (let e = y0; e <= y1; e++) {
    s += `<line x1="${L}" x2="${W - R}" y1="${Y(10 ** e)}" y2="${Y(10 ** e)}" stroke="#ddd"/><text x="${L - 8}" y="${Y(10 ** e) + 4}" text-anchor="end">1e${e}</text>`;
  }
  for (const c of CONC) s += `<text x="${X(c)}" y="${H - B + 18}" text-anchor="middle">${c}</text>`;
  s += `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">concurrent callers</text>`;
  names.forEach((n, i) => {
    const pts = rows.filter((r) => r.contender === n).sort((a, b) => a.concurrency - b.concurrency);
    const col = colors[i % colors.length];
    if (pts.length > 1) s += `<polyline fill="none" stroke="${col}" stroke-width="2" points="${pts.map((p) => `${X(p.concurrency)},${Y(p.recordsPerSec)}`).join(' ')}"/>`;
    for (const p of pts) s += `<circle cx="${X(p.concurrency)}" cy="${Y(p.recordsPerSec)}" r="3" fill="${col}"/>`;
    s += `<rect x="${W - R + 15}" y="${T + i * 20}" width="12" height="12" fill="${col}"/><text x="${W - R + 32}" y="${T + i * 20 + 10}">${n}</text>`;
  });
  return s + '</svg>\n';
}

function fmt(n, d = 0) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(d);
}

function main() {
  const list = cells();
  const ceilingBin = buildCeiling();
  const results = [];
  let done = 0;
  const total = list.length * reps;
  for (const cell of list) {
    const runs = [];
    for (let r = 0; r < reps; r++) {
      progress(done, total, `${cell.contender} c=${cell.conc} ${cell.size}B`);
      runs.push(runCell(cell));
      done++;
    }
    const pick = runs.sort((a, b) => a.recordsPerSec - b.recordsPerSec)[Math.floor(runs.length / 2)];
    pick.recordsPerSecRuns = runs.map((r) => Math.round(r.recordsPerSec));
    pick.mainThreadUsPerRecord = median(runs.map((r) => r.mainThreadUsPerRecord));
    // The disk's limit for the same batch size, right after the cell (the
    // disk's state drifts over a run).
    if (pick.contender.startsWith('commitlog') && pick.batchBytes > 0) {
      progress(done, total, `ceiling for ${cell.contender} c=${cell.conc}`);
      pick.ceiling = ceiling(ceilingBin, pick.batchBytes, pick.recordsPerBatch);
    }
    results.push(pick);
  }
  process.stderr.write('\n');

  const find = (name, conc, size) => results.find((x) => x.contender === name && x.concurrency === conc && x.recordBytes === size && !x.group);
  const lines = [];
  lines.push('| contender | callers | record | records/s | MB/s | p50 µs | p99 µs | syncs/s | rec/batch | main-thread µs/rec | peak RSS MB | vs FileChannel | vs JS group commit | vs ceiling (page cache) | vs ceiling (O_DIRECT) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const fc = find('filechannel', 1, r.recordBytes);
    const jg = find('js-group-commit', r.concurrency, r.recordBytes);
    const ceil = r.ceiling ? r.recordsPerSec / r.ceiling.overwrite.recordsPerSec : undefined;
    const ceilDirect = r.ceiling ? r.recordsPerSec / r.ceiling.overwriteDirect.recordsPerSec : undefined;
    lines.push(
      `| ${r.contender}${r.group ? ` (appendMany ×${r.group})` : ''} | ${r.concurrency} | ${r.recordBytes} | ${fmt(r.recordsPerSec)} | ${r.mbPerSec.toFixed(1)} | ${Math.round(r.latencyUsP50)} | ${Math.round(r.latencyUsP99)} | ${fmt(r.syncsPerSec)} | ${r.recordsPerBatch.toFixed(1)} | ${r.mainThreadUsPerRecord.toFixed(2)} | ${Math.round(r.peakRssMb)} | ${fc ? (r.recordsPerSec / fc.recordsPerSec).toFixed(1) + 'x' : ''} | ${jg ? (r.recordsPerSec / jg.recordsPerSec).toFixed(2) + 'x' : ''} | ${ceil ? (ceil * 100).toFixed(0) + '%' : ''} | ${ceilDirect ? (ceilDirect * 100).toFixed(0) + '%' : ''} |`,
    );
  }
  const ceilLines = [
    '',
    'The disk ceiling: records/s of one write + one fdatasync per batch of the mean batch size commitlog used in that cell, one batch at a time, on blocks written before (as preallocated segments are), measured right after the cell.',
    '',
    '| disk ceiling for the batch size of | callers | record | batch bytes | page cache rec/s (sync p50 µs) | appending rec/s (sync p50 µs) | O_DIRECT rec/s |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results.filter((x) => x.ceiling)) {
    const c = r.ceiling;
    ceilLines.push(`| ${r.contender} | ${r.concurrency} | ${r.recordBytes} | ${Math.round(r.batchBytes)} | ${fmt(c.overwrite.recordsPerSec)} (${c.overwrite.syncUsP50}) | ${fmt(c.append.recordsPerSec)} (${c.append.syncUsP50}) | ${fmt(c.overwriteDirect.recordsPerSec)} |`);
  }
  const durability = [...new Set(results.filter((r) => r.durability).map((r) => `- ${r.durability}`))];
  if (durability.length) ceilLines.push('', 'Durability settings of the peers:', ...durability);
  const report = lines.concat(ceilLines).join('\n');
  console.log(report);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, full, reps, seconds, dataDir };
  const kind = peers ? 'peers' : full ? 'full' : 'quick';
  fs.writeFileSync(path.join(resultsDir, `${kind}-${stamp}.json`), JSON.stringify({ meta, results }, null, 2));
  fs.writeFileSync(path.join(resultsDir, `${kind}-latest.md`), report + '\n');
  if (peers) fs.writeFileSync(path.join(resultsDir, 'peers-1024.svg'), svgChart(results, 1024));
  else for (const size of SIZES) fs.writeFileSync(path.join(resultsDir, `throughput-${size}.svg`), svgChart(results, size));
  fs.rmSync(ceilingBin, { force: true });
}

main();
