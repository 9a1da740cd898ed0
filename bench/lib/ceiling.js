'use strict';
// The disk ceiling of one cell: bench/ceiling.c replays the I/O the cell
// made (see there) right after it, on the same disk.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const CAP_BYTES = 256 * 1024 * 1024;

function buildCeiling(dataDir) {
  const bin = path.join(dataDir, 'ceiling');
  execFileSync('cc', ['-O2', '-pthread', '-o', bin, path.join(__dirname, '..', 'ceiling.c')], { stdio: 'inherit' });
  return bin;
}

/**
 * What to replay for a cell, or undefined when a ceiling means nothing: a
 * contender that is not commitlog reports no batches of its own, and one
 * that never syncs ('none') is not bounded by the disk's sync rate at all
 * (dividing it by a synced ceiling is how a column once read 293%).
 */
function ceilingPlan(r) {
  if (!r.syncMode || r.syncMode === 'none' || !(r.batchBytes > 0) || !(r.batches > 0)) return undefined;
  const batchBytes = Math.ceil(r.batchBytes);
  return {
    batchBytes,
    // As many batches as the cell wrote, within a bound on what the replay writes.
    batches: Math.max(50, Math.min(r.batches, Math.floor(CAP_BYTES / Math.max(batchBytes, 4096)))),
    directShare: r.syncMode === 'direct' ? 1 : Math.min(1, Math.max(0, r.directShare || 0)),
    depth: r.overlappedShare > 0 ? 2 : 1,
    sync: r.syncMode === 'direct' ? 'dsync' : 'fdatasync',
    // Written blocks and fallocated ones: preallocate 'auto' uses either,
    // so the ceiling is the better of the two; a growing file when the
    // contender does not preallocate.
    // A log in steady state writes into recycled segments: written blocks.
    states: r.preallocate === 'none' ? ['append'] : r.preallocate === 'recycled' ? ['overwrite'] : ['overwrite', 'fallocate'],
    turnaroundUs: closedLoopTurnaround(r),
  };
}

/**
 * The main thread's work per batch when every caller is in every batch (1
 * and 64 callers; not 1,024, whose next batch forms while one syncs): its
 * CPU time per record times the records per batch, of the run replayed
 * (bench/run.js replays each run, before the cell's medians are taken).
 * The closed-loop replay puts that much work in series with each batch's
 * write and sync. That is more than the part really in series (some of it
 * runs beside the write: bench/cycle.js), so the bound errs low, in the
 * contender's favour (by 5–12% at 64 callers on the build machine: README,
 * "The closed-loop bound"). Undefined when the cell is not such
 * a loop, one batch overlaps another, or the log does not write written
 * blocks (the replay's state): a growing log past 100 MB/s fallocates.
 */
function closedLoopTurnaround(r) {
  const cpu = r.mainThreadCpuUsPerRecord;
  if (!(cpu > 0) || r.overlappedShare > 0) return undefined;
  if (!(r.recordsPerBatch >= 0.9 * r.concurrency)) return undefined;
  // 'auto' fallocates past kAutoFallocateBytesPerSec (100e6, options.h);
  // the payload rate stands in for the flusher's.
  const writtenBlocks = r.preallocate === 'recycled' || r.preallocate === 'zero' || (r.preallocate === 'auto' && r.mbPerSec < 100);
  if (!writtenBlocks) return undefined;
  return Math.round(cpu * r.recordsPerBatch * 10) / 10;
}

function runCeiling(bin, dataDir, plan, recordsPerBatch) {
  const byState = {};
  for (const state of plan.states) {
    const args = [dataDir, plan.batchBytes, plan.batches, state, plan.directShare, plan.depth, plan.sync].map(String);
    const r = JSON.parse(execFileSync(bin, args, { encoding: 'utf8' }));
    byState[state] = { recordsPerSec: (r.batches / r.seconds) * recordsPerBatch, batchUsP50: r.batchUsP50 };
  }
  const best = Object.entries(byState).sort((a, b) => b[1].recordsPerSec - a[1].recordsPerSec)[0];
  let closedLoop;
  if (plan.turnaroundUs > 0) {
    const args = [dataDir, plan.batchBytes, plan.batches, 'overwrite', plan.directShare, plan.depth, plan.sync, plan.turnaroundUs].map(String);
    const r = JSON.parse(execFileSync(bin, args, { encoding: 'utf8' }));
    closedLoop = { recordsPerSec: (r.batches / r.seconds) * recordsPerBatch, batchUsP50: r.batchUsP50, turnaroundUs: plan.turnaroundUs };
  }
  return { ...plan, byState, bestState: best[0], recordsPerSec: best[1].recordsPerSec, closedLoop };
}

function removeCeiling(bin) {
  fs.rmSync(bin, { force: true });
}

module.exports = { buildCeiling, ceilingPlan, runCeiling, removeCeiling };
