'use strict';
// Where the time of one batch goes, from the kernel's own tracepoints: runs
// one benchmark cell (bench/worker.js) under `perf record` with the system
// calls and scheduler events of the flusher and the main thread, cuts the
// trace into cycles at each fdatasync's return, and prints the median of
// each step over every cycle of the run:
//
//   publish      fdatasync returned → the flusher writes the eventfd that
//                wakes the main thread (the HEAD file's 64-byte update)
//   notify       that write(2) itself (it wakes the main thread; on a VM
//                whose other vCPU is halted, the waker pays for the IPI)
//   wake         the write began → the main thread is on a CPU
//   turnaround   → the flusher enters the next batch's write: JavaScript
//                resolving the batch's promises, the callers' next appends,
//                the kick, and the flusher's wake-up or return to its loop
//                (the kick is not told apart: with the flusher still
//                runnable it makes no system call)
//   (main thread busy)  on a CPU until it polls again with a timeout: part
//                of it runs beside the write, so it is not in the sum
//   write, sync  the write (pwrite/pwritev) and the fdatasync themselves
//
// plus how often the main thread woke on another CPU than the flusher's.
// Tracing adds about a microsecond to each system call: read the steps
// against each other and against the cycle, not as absolutes. With more
// than one batch in flight the cycles overlap and the cut is not meaningful.
// A steady-state cell's fill (bench/contenders.js) is in the trace too.
//
// Needs perf (Debian linux-perf) and root (or perf_event_paranoid <= -1)
// with tracefs mounted; a data directory on the disk under test:
//
//   node bench/cycle.js [contender] [callers] [recordBytes] [seconds] [dir]
//   node bench/cycle.js commitlog-steady 64 1024 1.5 bench/.data
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('./lib/stats');

const [contender = 'commitlog', callers = '1', bytes = '1024', seconds = '1.5', dataDir = path.join(__dirname, '.data')] =
  process.argv.slice(2);

function mountTracefs() {
  if (fs.existsSync('/sys/kernel/tracing/events')) return;
  // Tracepoints need tracefs; a container or a minimal VM may not mount it.
  spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
}

function record(perfData) {
  const syscalls = ['pwrite64', 'pwritev', 'fdatasync', 'write', 'futex', 'epoll_pwait', 'epoll_wait'];
  const events = syscalls.flatMap((s) => [`syscalls:sys_enter_${s}`, `syscalls:sys_exit_${s}`]);
  events.push('sched:sched_switch');
  const worker = path.join(__dirname, 'worker.js');
  const r = spawnSync('perf', ['record', '-q', '-o', perfData, '-e', events.join(','), '--', process.execPath, worker, contender, callers, bytes, seconds, dataDir], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.error || r.status !== 0) {
    throw new Error(`perf record failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}\nperf (linux-perf) and root are needed, with tracefs mounted.`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// One line of `perf script -F comm,tid,cpu,time,event,trace`.
const LINE = /^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$/;

function parse(perfData) {
  const r = spawnSync('perf', ['script', '--ns', '-i', perfData, '-F', 'comm,tid,cpu,time,event,trace'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`perf script failed: ${r.stderr}`);
  return parseScript(r.stdout);
}

// The events of perf script's text, times in microseconds.
function parseScript(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({ comm: m[1], tid: Number(m[2]), cpu: Number(m[3]), t: Number(m[4]) * 1e6, ev: m[5], arg: m[6] });
  }
  return out;
}

function analyse(evs) {
  const flusher = evs.find((e) => e.comm === 'commitlog-flush')?.tid;
  if (flusher === undefined) throw new Error('no commitlog-flush thread in the trace: is the contender a commitlog one?');
  // The main thread: the thread that polls (libuv's epoll); workers do not.
  const pollers = new Map();
  for (const e of evs) if (e.ev.startsWith('syscalls:sys_enter_epoll')) pollers.set(e.tid, (pollers.get(e.tid) ?? 0) + 1);
  const main = [...pollers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const toMain = new RegExp(`next_pid=${main}\\b`);
  const count = (e) => parseInt(/count: (0x[0-9a-f]+)/.exec(e.arg)?.[1] ?? '0', 16);
  const isWrite = (e) => e.ev === 'syscalls:sys_enter_pwritev' || (e.ev === 'syscalls:sys_enter_pwrite64' && count(e) !== 64);
  const isWriteExit = (e) => e.ev === 'syscalls:sys_exit_pwritev' || e.ev === 'syscalls:sys_exit_pwrite64';

  const steps = { publish: [], notify: [], wake: [], turnaround: [], busy: [], write: [], sync: [], cycle: [] };
  let crossCpu = 0;
  let cur = null; // the cycle being cut, from one fdatasync's return to the next
  let syncs = 0;
  for (const e of evs) {
    if (e.tid === flusher) {
      if (e.ev === 'syscalls:sys_enter_fdatasync') {
        if (cur && cur.writeEnd !== undefined && cur.syncStart === undefined) cur.syncStart = e.t;
      } else if (e.ev === 'syscalls:sys_exit_fdatasync') {
        syncs++;
        if (cur && cur.syncStart !== undefined && cur.notifyEnd !== undefined && cur.wake !== undefined && cur.jsEnd !== undefined) {
          // Every step, the sync too, from the cycles cut: a sync outside
          // one (after a coalesced notification) is not in the medians.
          steps.sync.push(e.t - cur.syncStart);
          steps.publish.push(cur.notify - cur.t0);
          steps.notify.push(cur.notifyEnd - cur.notify);
          steps.wake.push(cur.wake - cur.notify);
          steps.turnaround.push(cur.writeStart - cur.wake);
          steps.busy.push(cur.jsEnd - cur.wake);
          steps.write.push(cur.writeEnd - cur.writeStart);
          steps.cycle.push(e.t - cur.t0);
          if (cur.mainCpu !== cur.cpu) crossCpu++;
        }
        cur = { t0: e.t, cpu: e.cpu };
      } else if (!cur) {
        continue;
      } else if (e.ev === 'syscalls:sys_enter_write' && count(e) === 8 && cur.notify === undefined) {
        // The eventfd write that tells the main thread (libuv's async).
        cur.notify = e.t;
        cur.cpu = e.cpu;
      } else if (e.ev === 'syscalls:sys_exit_write' && cur.notify !== undefined && cur.notifyEnd === undefined) {
        cur.notifyEnd = e.t;
      } else if (isWrite(e) && cur.notify !== undefined && cur.writeStart === undefined) {
        cur.writeStart = e.t; // the next batch's write
      } else if (isWriteExit(e) && cur.writeStart !== undefined && cur.writeEnd === undefined) {
        cur.writeEnd = e.t;
      }
    }
    if (!cur || cur.notify === undefined) continue;
    if (cur.wake === undefined) {
      if (e.ev === 'sched:sched_switch' && toMain.test(e.arg)) {
        cur.wake = e.t;
        cur.mainCpu = e.cpu;
      } else if (e.tid === main && e.ev.startsWith('syscalls:sys_exit_epoll')) {
        // It was on a CPU already (polling without sleeping).
        cur.wake = e.t;
        cur.mainCpu = e.cpu;
      }
    } else if (cur.jsEnd === undefined && e.tid === main && e.ev.startsWith('syscalls:sys_enter_epoll') && !/timeout: 0x0+(,|$)/.test(e.arg)) {
      cur.jsEnd = e.t; // back to a poll that may sleep: the tick is over
    }
  }
  // Cycles not cut: a notification coalesced with the next, or the main
  // thread still busy when the next sync returned. The medians leave them out.
  return { steps, cycles: steps.cycle.length, syncs, crossCpu };
}

function main() {
  mountTracefs();
  fs.mkdirSync(dataDir, { recursive: true });
  const perfData = path.join(os.tmpdir(), `commitlog-cycle-${process.pid}.data`);
  try {
    const cell = record(perfData);
    const { steps, cycles, syncs, crossCpu } = analyse(parse(perfData));
    const f = (x) => (Number.isFinite(x) ? x.toFixed(0).padStart(6) : '     —');
    const rows = [
      ['publish (HEAD update) ', steps.publish],
      ['notify (eventfd write)', steps.notify],
      ['wake (main on a CPU)  ', steps.wake],
      ['turnaround → write    ', steps.turnaround],
      ['write                 ', steps.write],
      ['fdatasync             ', steps.sync],
    ];
    const busy = `(main thread busy)       ${f(median(steps.busy))}   (on a CPU → its next poll that may sleep; part of it runs beside the write)`;
    const perBatchUs = cell.recordsPerBatch / cell.recordsPerSec * 1e6;
    process.stdout.write(
      `${contender}, ${callers} callers, ${bytes}-byte records, ${seconds} s under perf: ` +
        `${Math.round(cell.recordsPerSec)} records/s, ${cell.recordsPerBatch.toFixed(1)} records/batch, p50 ${cell.latencyUsP50.toFixed(0)} µs\n` +
        `cycles cut: ${cycles} of ${syncs} syncs (the rest: a coalesced notification, or the main thread still busy at the next sync); main thread woke on another CPU than the flusher's in ${((crossCpu / Math.max(cycles, 1)) * 100).toFixed(0)}%\n\n` +
        `step                     median µs\n` +
        rows.map(([name, xs]) => `${name}   ${f(median(xs))}`).join('\n') +
        `\n${busy}` +
        `\nsum of the medians        ${f(rows.reduce((a, [, xs]) => a + (median(xs) || 0), 0) - median(steps.notify))}` +
        `   (notify is inside wake)\ncycle (sync to sync)      ${f(median(steps.cycle))}   (from the run's rate: ${perBatchUs.toFixed(0)})\n`,
    );
  } finally {
    fs.rmSync(perfData, { force: true });
    fs.rmSync(`${perfData}.old`, { force: true });
  }
}

if (require.main === module) main();

module.exports = { parseScript, analyse };
