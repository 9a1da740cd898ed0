'use strict';
// Runs one benchmark cell in its own process (fresh files, its own peak RSS)
// and prints one JSON line. Closed loop: `concurrency` callers, each waiting
// for its append to be acknowledged before issuing the next.
//
//   node bench/worker.js <contender> <concurrency> <recordBytes> <seconds> <dir> [groupSize]
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const contenders = { ...require('./contenders') };
if (fs.existsSync(path.join(__dirname, 'peers', 'node_modules'))) Object.assign(contenders, require('./peers/contenders'));

// The main thread's own CPU time in ns (Linux: the first field of
// /proc/thread-self/schedstat, read on the main thread), or NaN. Unlike
// event-loop utilization it leaves out time the thread was runnable but
// preempted, such as by a flusher it just woke on its own core.
function mainThreadCpuNs() {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

async function main() {
  const [name, concArg, sizeArg, secondsArg, baseDir, groupArg] = process.argv.slice(2);
  const concurrency = Number(concArg);
  const size = Number(sizeArg);
  const group = Number(groupArg ?? 0);
  const dir = fs.mkdtempSync(path.join(baseDir, `${name}-`));
  // Removed at exit, whether the cell ran or failed.
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const target = await contenders[name](dir);
  const record = Buffer.alloc(size, 0x5a);
  const groupRecords = group > 0 ? Array.from({ length: group }, () => record) : undefined;
  const latencies = new Float64Array(1 << 22);
  let nLat = 0;
  let records = 0;
  let stop = false;

  // Warm-up, then measure: the switch is checked in the loop, not by a
  // timer, because the synchronous contender never yields to timers.
  const warmupMs = 300;
  const measureFrom = performance.now() + warmupMs;
  const endAt = measureFrom + Number(secondsArg) * 1000;
  let measuring = false;
  let t0 = 0;
  let elu0;
  let cpu0 = NaN;
  let base = { syncs: 0, batches: 0, bytesWritten: 0, directBatches: 0, overlappedBatches: 0, segmentsRolled: 0, segmentsRecycled: 0 };
  function startMeasuring(now) {
    measuring = true;
    t0 = now;
    elu0 = performance.eventLoopUtilization();
    cpu0 = mainThreadCpuNs();
    const s = target.stats();
    base = {
      syncs: s.syncs,
      batches: s.batches,
      bytesWritten: s.bytesWritten,
      directBatches: s.directBatches ?? 0,
      overlappedBatches: s.overlappedBatches ?? 0,
      segmentsRolled: s.segmentsRolled ?? 0,
      segmentsRecycled: s.segmentsRecycled ?? 0,
    };
  }

  async function caller() {
    while (!stop) {
      const start = performance.now();
      if (!measuring && start >= measureFrom) startMeasuring(start);
      if (groupRecords) await target.appendMany(groupRecords);
      else await target.append(record);
      const end = performance.now();
      if (measuring) {
        records += groupRecords ? group : 1;
        if (nLat < latencies.length) latencies[nLat++] = end - start;
      }
      if (end >= endAt) stop = true;
      if (target.serialOnly) await null;
    }
  }
  const n = target.serialOnly ? 1 : concurrency;
  await Promise.all(Array.from({ length: n }, caller));
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  const cpuNs = mainThreadCpuNs() - cpu0;
  const s = target.stats();
  await target.close();
  const lat = Array.from(latencies.subarray(0, nLat)).sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] * 1000 : 0);
  const batches = s.batches - base.batches;
  process.stdout.write(
    JSON.stringify({
      contender: name,
      concurrency: n,
      recordBytes: size,
      group,
      records,
      seconds,
      recordsPerSec: records / seconds,
      mbPerSec: (records * size) / seconds / 1e6,
      latencyUsP50: q(0.5),
      latencyUsP99: q(0.99),
      latencyUsMax: q(1),
      syncsPerSec: (s.syncs - base.syncs) / seconds,
      batches,
      recordsPerBatch: batches > 0 ? records / batches : 0,
      batchBytes: batches > 0 ? (s.bytesWritten - base.bytesWritten) / batches : 0,
      // Event-loop busy time (wall clock, preemption included) and the main
      // thread's CPU time, per record.
      mainThreadUsPerRecord: records > 0 ? (elu.active * 1000) / records : 0,
      mainThreadCpuUsPerRecord: records > 0 && Number.isFinite(cpuNs) ? cpuNs / 1000 / records : null,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      durability: target.durability,
      // What bench/ceiling.c needs to replay this cell's I/O.
      syncMode: target.syncMode,
      preallocate: target.preallocate,
      directShare: batches > 0 ? ((s.directBatches ?? 0) - base.directBatches) / batches : 0,
      overlappedShare: batches > 0 ? ((s.overlappedBatches ?? 0) - base.overlappedBatches) / batches : 0,
      // Segment rolls in the window, and recycled files prepared in it (a
      // log in steady state prepares one per roll).
      segmentsRolled: (s.segmentsRolled ?? 0) - base.segmentsRolled,
      segmentsRecycled: (s.segmentsRecycled ?? 0) - base.segmentsRecycled,
    }) + '\n',
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
