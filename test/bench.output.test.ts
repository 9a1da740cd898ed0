// What `npm run bench` leaves for people to read: progress in a log file,
// where the results go, the charts and the report. The benchmark itself runs
// here only on a tiny matrix (two cells of 0.2 s, no commitlog cell, so no
// build of the addon is needed); no figure is asserted. bench/ceiling.c is
// built once, for its closed-loop replay.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './helpers';

const ROOT = path.join(__dirname, '..');

/** bench/ceiling.c built into a fresh directory, where it also replays. */
function buildCeilingIn(): { dir: string; bin: string } {
  const dir = tmpDir();
  const bin = path.join(dir, 'ceiling');
  execFileSync('cc', ['-O2', '-pthread', '-o', bin, path.join(ROOT, 'bench', 'ceiling.c')]);
  return { dir, bin };
}
const requireBench = createRequire(path.join(ROOT, 'bench', 'run.js'));
const { parseRunArgs, cellMatches } = requireBench('./lib/options');
const { renderReport } = requireBench('./lib/report');
const { throughputSpec, renderCharts } = requireBench('./lib/charts');
const { ceilingPlan } = requireBench('./lib/ceiling');
const { humanName } = requireBench('./lib/names');
const contenders = requireBench('./contenders');

interface Fixture {
  contender: string;
  concurrency: number;
  recordBytes: number;
  recordsPerSec: number;
  recordsPerSecRuns: number[];
  [k: string]: unknown;
}

/** A cell result as bench/worker.js and run.js make it, with made-up figures. */
function cell(contender: string, concurrency: number, runs: number[], extra: Record<string, unknown> = {}): Fixture {
  const sorted = [...runs].sort((a, b) => a - b);
  const recordsPerSec = sorted[Math.floor(sorted.length / 2)];
  return {
    contender,
    concurrency,
    recordBytes: 1024,
    group: 0,
    recordsPerSec,
    recordsPerSecRuns: runs,
    mbPerSec: (recordsPerSec * 1024) / 1e6,
    latencyUsP50: 300,
    latencyUsP99: 900,
    syncsPerSec: 4000,
    batches: 6000,
    recordsPerBatch: 40,
    batchBytes: 46_000,
    mainThreadUsPerRecord: 1.1,
    peakRssMb: 90,
    ...extra,
  };
}

const FIXTURE = [
  cell('filechannel', 1, [3_500, 3_570, 3_600]),
  cell('js-group-commit', 64, [80_000, 83_000, 90_000]),
  cell('js-group-commit', 1024, [280_000, 283_000, 300_000]),
  cell('commitlog', 64, [168_000, 171_500, 202_000], { syncMode: 'auto', preallocate: 'auto' }),
  cell('commitlog', 1024, [900_000, 951_500, 960_000], { syncMode: 'auto', preallocate: 'auto' }),
];
const META = { kind: 'quick', date: '2026-11-24T04:01:39.330Z', node: 'v20.20.2', cpus: 2, cpu: 'test', reps: 3, seconds: 1.5, dataDir: '/tmp' };

describe('bench/run.js output', () => {
  it('prints one progress line per cell and no carriage return when its output is a pipe', () => {
    const out = tmpDir('commitlog-bench-out-');
    const data = tmpDir('commitlog-bench-data-');
    const run = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bench', 'run.js'), '--only', 'filechannel:1:1024,plain-async:1:1024', '--out', out],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BENCH_SECONDS: '0.2', BENCH_REPS: '1', BENCH_DIR: data, BENCH_ONLY: '', BENCH_OUT: '' } },
    );
    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).not.toContain('\r');
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('cell '));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cell 1\/2 write\+fsync per record \(FileChannel style\), 1 caller, 1 KiB: \S+ records\/s/);
    expect(lines[1]).toMatch(/^cell 2\/2 plain async/);
    expect(run.stdout.trimEnd().split('\n').pop()).toBe(`Results written to ${out}`);
    expect(fs.readdirSync(out).sort()).toEqual(['results.json', 'results.md', 'throughput-1024.svg']);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(json.results.map((r: Fixture) => r.contender)).toEqual(['filechannel', 'plain-async']);
    // The main thread's CPU time, read from /proc/thread-self/schedstat (Linux only).
    for (const r of json.results) {
      if (process.platform === 'linux') expect(r.mainThreadCpuUsPerRecord).toBeGreaterThan(0);
      else expect(r.mainThreadCpuUsPerRecord).toBeNull();
    }
  });

  it('replays each run of a cell right after it, and keeps every replay', () => {
    const out = tmpDir('commitlog-bench-out-');
    const data = tmpDir('commitlog-bench-data-');
    const run = spawnSync(process.execPath, [path.join(ROOT, 'bench', 'run.js'), '--only', 'commitlog:1:1024', '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_SECONDS: '0.2', BENCH_REPS: '3', BENCH_DIR: data, BENCH_ONLY: '', BENCH_OUT: '' },
    });
    expect(run.status, run.stderr).toBe(0);
    const [r] = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).results;
    expect(r.ceilingRuns).toHaveLength(3);
    for (const c of r.ceilingRuns) {
      expect(c.recordsPerSec).toBeGreaterThan(0);
      // A closed loop needs the run's CPU time (Linux only).
      if (process.platform === 'linux') expect(c.closedLoop.recordsPerSec).toBeGreaterThan(0);
    }
    // The median run's own replay is one of the three, and the cell is set against their median.
    expect(r.ceilingRuns.map((c: { recordsPerSec: number }) => c.recordsPerSec)).toContain(r.ceiling.recordsPerSec);
    const median = [...r.ceilingRuns.map((c: { recordsPerSec: number }) => c.recordsPerSec)].sort((a, b) => a - b)[1];
    expect(run.stderr).toContain(`${((r.recordsPerSec / median) * 100).toFixed(0)}% of its disk ceiling`);
    expect(fs.readdirSync(data).filter((f) => f.startsWith('ceiling'))).toEqual([]);
  });

  it('takes the median of an odd list, the mean of the middle two of an even one, NaN of none', () => {
    const { median } = requireBench('./lib/stats');
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('writes a run to an untracked folder of its own unless --out says where', () => {
    const first = parseRunArgs([], {}, new Date('2026-11-24T05:00:00Z'));
    const second = parseRunArgs(['--full'], {}, new Date('2026-11-24T05:30:00Z'));
    expect(first.outDir).toBe(path.join(ROOT, 'bench', 'results', 'runs', '2026-11-24T05-00-00-quick'));
    expect(second.outDir).toBe(path.join(ROOT, 'bench', 'results', 'runs', '2026-11-24T05-30-00-full'));
    // git check-ignore exits 0 only for an ignored path: a run cannot dirty the tree.
    execFileSync('git', ['check-ignore', '-q', path.join(first.outDir, 'results.json')], { cwd: ROOT });
    expect(parseRunArgs(['--out', 'x/y'], {}).outDir).toBe(path.resolve('x/y'));
    expect(parseRunArgs([], { BENCH_OUT: '/tmp/z' }).outDir).toBe('/tmp/z');
  });

  it('keeps the tracked results of the committed runs out of the ignored folder', () => {
    const tracked = execFileSync('git', ['ls-files', 'bench/results'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(tracked.some((f) => f.startsWith('bench/results/runs/'))).toBe(false);
    const ignored = spawnSync('git', ['check-ignore', '-q', 'bench/results/2026-11-24-issue10/results.json'], { cwd: ROOT });
    expect(ignored.status).toBe(1);
  });

  it('filters cells by contender, callers and record size', () => {
    const { filters } = parseRunArgs(['--only', 'commitlog:64', '--only', 'filechannel'], { BENCH_ONLY: 'js-group-commit:1:1024' });
    expect(cellMatches({ contender: 'commitlog', conc: 64, size: 65536 }, filters)).toBe(true);
    expect(cellMatches({ contender: 'commitlog', conc: 1, size: 1024 }, filters)).toBe(false);
    expect(cellMatches({ contender: 'filechannel', conc: 1, size: 100 }, filters)).toBe(true);
    expect(cellMatches({ contender: 'js-group-commit', conc: 1, size: 1024 }, filters)).toBe(true);
    expect(cellMatches({ contender: 'js-group-commit', conc: 1, size: 100 }, filters)).toBe(false);
    expect(() => parseRunArgs(['--only', 'commitlog:many'], {})).toThrow(RangeError);
    expect(() => parseRunArgs(['--bogus'], {})).toThrow(TypeError);
  });
});

describe('bench contender names', () => {
  it('gives every contender a name of its own (tables and charts go by the name)', () => {
    const ids = Object.keys(contenders);
    const names = ids.map((id) => humanName(id));
    expect(names.filter((n) => ids.includes(n))).toEqual([]);
    expect(new Set(names).size).toBe(ids.length);
  });
});

describe('bench charts', () => {
  it('draws an SVG with labelled log axes and the contenders by their human names', async () => {
    const charts: Array<[string, string]> = await renderCharts(FIXTURE, META);
    expect(charts.map(([name]) => name)).toEqual(['throughput-1024.svg']);
    const svg = charts[0][1];
    expect(svg.startsWith('<svg')).toBe(true);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const label of ['1k', '10k', '100k', '1M', '1', '64', '1,024']) expect(texts).toContain(label);
    expect(texts).not.toContain('1e+3');
    expect(texts).toContain('durable appends per second (log scale)');
    expect(texts).toContain('concurrent callers (log scale)');
    for (const name of ['commitlog (default)', 'write+fsync per record (FileChannel style)', 'JS group commit (writev+datasync per batch)']) {
      expect(texts).toContain(name);
    }
    // FileChannel style, measured at 1 caller only, is a dashed level across the chart.
    expect(svg).toContain('stroke-dasharray');
  });

  it('draws the peers run as one chart named for README', async () => {
    const charts: Array<[string, string]> = await renderCharts(FIXTURE, { ...META, kind: 'peers' });
    expect(charts.map(([name]) => name)).toEqual(['peers-1024.svg']);
    expect(charts[0][1]).toContain('commitlog against other engines');
  });

  it('plots every repetition, not only the median', () => {
    const spec = throughputSpec(FIXTURE, 1024);
    const runs = spec.data.values.filter((v: { kind: string }) => v.kind === 'run');
    expect(runs).toHaveLength(FIXTURE.reduce((n, r) => n + r.recordsPerSecRuns.length, 0));
    const commitlog64 = spec.data.values.find((v: { kind: string; contender: string; callers: number }) => v.kind === 'median' && v.contender === 'commitlog (default)' && v.callers === 64);
    expect([commitlog64.min, commitlog64.max]).toEqual([168_000, 202_000]);
    expect(spec.encoding.x.scale.type).toBe('log');
    expect(spec.layer[0].encoding.y.scale.type).toBe('log');
  });
});

describe('bench report', () => {
  it('separates its tables with a heading and text, so Markdown does not merge them', () => {
    const withCeiling = FIXTURE.map((r) =>
      r.contender === 'commitlog'
        ? { ...r, ceiling: { batchBytes: 46_000, batches: 6000, directShare: 0.5, depth: 1, byState: { overwrite: { recordsPerSec: 250_000, batchUsP50: 150 }, fallocate: { recordsPerSec: 200_000, batchUsP50: 190 } }, bestState: 'overwrite', recordsPerSec: 250_000 } }
        : r,
    );
    const lines = renderReport(withCeiling, META).split('\n');
    const blocks: Array<{ start: number; end: number }> = [];
    lines.forEach((l, i) => {
      if (!l.startsWith('|')) return;
      const last = blocks[blocks.length - 1];
      if (last && last.end === i - 1) last.end = i;
      else blocks.push({ start: i, end: i });
    });
    expect(blocks).toHaveLength(2);
    const between = lines.slice(blocks[0].end + 1, blocks[1].start);
    expect(between[0]).toBe('');
    expect(between.some((l) => l.startsWith('### '))).toBe(true);
    // Each table is whole: header, separator and one row per cell.
    expect(blocks[0].end - blocks[0].start + 1).toBe(2 + FIXTURE.length);
    expect(blocks[1].end - blocks[1].start + 1).toBe(2 + 2);
    expect(lines.find((l) => l.startsWith('| commitlog (default) | 64 |'))).toMatch(/\| 69% \|$/);
    // Event-loop busy time and main-thread CPU, side by side; a run without
    // the CPU figure (not Linux) leaves its cell empty.
    const header = lines[blocks[0].start].split('|').map((c) => c.trim());
    const row = lines.find((l) => l.startsWith('| commitlog (default) | 64 |'))!.split('|').map((c) => c.trim());
    expect(row[header.indexOf('event loop busy µs/rec')]).toBe('1.10');
    expect(row[header.indexOf('main-thread CPU µs/rec')]).toBe('');
    // A steady-state cell's ceiling has written blocks only: its fallocated cell is empty.
    const steady = { ...FIXTURE[3], contender: 'commitlog-steady', ceiling: { ...withCeiling[3].ceiling, byState: { overwrite: { recordsPerSec: 250_000, batchUsP50: 150 } } } };
    const steadyRow = renderReport([steady], META).split('\n').filter((l) => l.startsWith('| commitlog (default), steady state (recycled segments) |'))[1].split('|').map((c) => c.trim());
    expect(steadyRow.slice(8, 10)).toEqual(['250.0k (150)', '']);
    const withCpu = renderReport([{ ...FIXTURE[3], mainThreadCpuUsPerRecord: 0.7 }], META).split('\n');
    expect(withCpu.find((l) => l.startsWith('| commitlog (default) | 64 |'))!.split('|').map((c) => c.trim())[header.indexOf('main-thread CPU µs/rec')]).toBe('0.70');
  });
});

describe('bench disk ceiling', () => {
  const base = cell('commitlog', 64, [170_000], { syncMode: 'auto', preallocate: 'auto', directShare: 0.25, overlappedShare: 0, batches: 2000 });

  it('gives no ceiling to a contender that does not sync', () => {
    // A synced ceiling divided into sync: 'none' once read 923% (and 293% in a full run).
    expect(ceilingPlan({ ...base, contender: 'commitlog-none', syncMode: 'none' })).toBeUndefined();
    expect(ceilingPlan({ ...base, contender: 'js-group-commit', syncMode: undefined })).toBeUndefined();
  });

  it('replays the cell: its batch size and count, O_DIRECT share, overlap and sync kind', () => {
    expect(ceilingPlan(base)).toEqual({ batchBytes: 46_000, batches: 2000, directShare: 0.25, depth: 1, sync: 'fdatasync', states: ['overwrite', 'fallocate'] });
    expect(ceilingPlan({ ...base, overlappedShare: 0.75 }).depth).toBe(2);
    expect(ceilingPlan({ ...base, syncMode: 'direct' })).toMatchObject({ directShare: 1, sync: 'dsync' });
    expect(ceilingPlan({ ...base, preallocate: 'none' }).states).toEqual(['append']);
    // A log in steady state writes into recycled segments: written blocks only.
    expect(ceilingPlan({ ...base, contender: 'commitlog-steady', preallocate: 'recycled' }).states).toEqual(['overwrite']);
    // At most 256 MiB replayed for a long cell of large batches.
    expect(ceilingPlan({ ...base, batchBytes: 1 << 20, batches: 10_000 }).batches).toBe(256);
  });
});

describe('bench closed-loop bound', () => {
  const base = cell('commitlog-steady', 64, [300_000], {
    syncMode: 'auto',
    preallocate: 'recycled',
    directShare: 1,
    overlappedShare: 0,
    batches: 4000,
    recordsPerBatch: 64,
    mainThreadCpuUsPerRecord: 0.7,
  });

  it('puts the main thread\'s CPU per batch in series only where every caller is in every batch', () => {
    expect(ceilingPlan(base).turnaroundUs).toBe(44.8);
    expect(ceilingPlan({ ...base, concurrency: 1, recordsPerBatch: 1, mainThreadCpuUsPerRecord: 9.77 }).turnaroundUs).toBe(9.8);
    // 1,024 callers in batches of 500: the next batch forms while one syncs.
    expect(ceilingPlan({ ...base, concurrency: 1024, recordsPerBatch: 500 }).turnaroundUs).toBeUndefined();
    // Two batches in flight overlap; no CPU figure (not Linux): no bound.
    expect(ceilingPlan({ ...base, overlappedShare: 0.5 }).turnaroundUs).toBeUndefined();
    expect(ceilingPlan({ ...base, mainThreadCpuUsPerRecord: null }).turnaroundUs).toBeUndefined();
    // Every caller in every batch means at least 90% of them (57.6 of 64).
    expect(ceilingPlan({ ...base, recordsPerBatch: 57 }).turnaroundUs).toBeUndefined();
    expect(ceilingPlan({ ...base, recordsPerBatch: 58 }).turnaroundUs).toBe(40.6);
    // The replay writes written blocks: a growing log past 100 MB/s fallocates
    // ('auto'), below it zero-fills.
    expect(ceilingPlan({ ...base, preallocate: 'auto', mbPerSec: 249 }).turnaroundUs).toBeUndefined();
    expect(ceilingPlan({ ...base, preallocate: 'auto', mbPerSec: 6.7 }).turnaroundUs).toBe(44.8);
    expect(ceilingPlan({ ...base, preallocate: 'fallocate' }).turnaroundUs).toBeUndefined();
  });

  // The median run's own replay, with its closed loop.
  const replayed = () => ({
    ...ceilingPlan(base),
    byState: { overwrite: { recordsPerSec: 450_000, batchUsP50: 118 } },
    bestState: 'overwrite',
    recordsPerSec: 450_000,
    closedLoop: { recordsPerSec: 330_000, batchUsP50: 121, turnaroundUs: 44.8 },
  });
  /** The header and the row of a contender in the report's table that starts with `head`. */
  const tableRow = (lines: string[], head: string, nth: number) => {
    const cells = (l: string) => l.split('|').map((c) => c.trim());
    const header = cells(lines.find((l) => l.startsWith(head))!);
    const row = cells(lines.filter((l) => l.startsWith('| commitlog (default), steady state'))[nth]);
    return (column: string) => row[header.indexOf(column)];
  };

  it('shows the bound and the contender\'s share of it in the ceilings table', () => {
    const cell = tableRow(renderReport([{ ...base, ceiling: replayed() }], META).split('\n'), '| contender | callers | record | batch bytes', 1);
    expect(cell('closed loop: turnaround µs, rec/s (batch p50 µs)')).toBe('44.8, 330.0k (121)');
    expect(cell('vs closed loop')).toBe('91%');
    expect(cell('vs ceiling')).toBe('67%');
  });

  it("sets a cell against the median of the replays after its runs, each listed ('–' for a run without one)", () => {
    // The median run (300k records/s) had the 600k replay: a single replay would say 50%.
    const ceilingRuns = [
      { recordsPerSec: 400_000, closedLoop: { recordsPerSec: 320_000, turnaroundUs: 40 } },
      { recordsPerSec: 600_000, closedLoop: null },
      { recordsPerSec: 450_000, closedLoop: { recordsPerSec: 330_000, turnaroundUs: 44.8 } },
    ];
    const lines = renderReport([{ ...base, ceiling: { ...replayed(), recordsPerSec: 600_000 }, ceilingRuns }], META).split('\n');
    expect(tableRow(lines, '| contender | callers | record | records/s', 0)('vs disk ceiling')).toBe('67%');
    const cell = tableRow(lines, '| contender | callers | record | batch bytes', 1);
    expect(cell("ceiling rec/s: median (each run's)")).toBe('450.0k (400.0k, 600.0k, 450.0k)');
    expect(cell('vs ceiling')).toBe('67%');
    // Two runs had a closed loop: the median of two is their mean.
    expect(cell("closed loop rec/s: median (each run's)")).toBe('325.0k (320.0k, –, 330.0k)');
    expect(cell('vs closed loop')).toBe('92%');
  });

  it('replays a closed loop with ceiling.c: each turnaround in series with its batch', () => {
    const { dir, bin } = buildCeilingIn();
    const r = JSON.parse(execFileSync(bin, [dir, '4096', '30', 'overwrite', '0', '1', 'fdatasync', '2000'], { encoding: 'utf8' }));
    expect(r).toMatchObject({ batches: 30, batchBytes: 4096, turnaroundUs: 2000 });
    // In series: the 29 turnarounds of 2 ms spun between the 30 batches and
    // every batch's own write and sync (an I/O thread that did not wait to
    // be handed a batch would overlap them).
    expect(r.seconds * 1e6).toBeGreaterThanOrEqual(r.batchUsSum + 29 * 2000);
    expect(r.batchUsSum).toBeGreaterThan(0);
    // A closed loop has one batch in flight.
    const bad = spawnSync(bin, [dir, '4096', '30', 'overwrite', '0', '2', 'fdatasync', '50'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    // A turnaround that is not a number is refused, not read as none.
    expect(spawnSync(bin, [dir, '4096', '30', 'overwrite', '0', '1', 'fdatasync', '2x'], { encoding: 'utf8' }).status).toBe(2);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('ceiling-'))).toEqual([]);
  });

  it("replays with io_uring ('uring', 'uring-dsync'; bench:uring), writing every batch, cached or with O_DIRECT", (ctx) => {
    const { dir, bin } = buildCeilingIn();
    const run = (...args: string[]) => spawnSync(bin, [dir, '4096', '30', 'append', ...args], { encoding: 'utf8' });
    const first = run('0', '1', 'uring');
    // A kernel without io_uring (io_uring_disabled, a seccomp filter) says so.
    if (first.status !== 0 && /io_uring_setup/.test(first.stderr)) ctx.skip();
    // A growing file ends as long as the batches it was given: each was written.
    for (const [direct, mode, turnaround] of [
      ['0', 'uring'],
      ['1', 'uring'],
      ['0', 'uring-dsync'],
      ['1', 'uring-dsync'],
      ['0', 'uring', '100'],
    ]) {
      const r = run(direct, '1', mode!, ...(turnaround ? [turnaround] : []));
      expect(r.status, `${mode}, direct share ${direct}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ batches: 30, batchBytes: 4096, fileBytes: 30 * 4096 });
    }
    expect(run('0', '1', 'fsync').status, 'a sync mode it does not know').toBe(2);
    // Pages dropped after the prefill: the file keeps its size.
    const u = spawnSync(bin, [dir, '4096', '30', 'overwrite-uncached', '1', '1', 'uring'], { encoding: 'utf8' });
    expect(JSON.parse(u.stdout)).toMatchObject({ batches: 30, fileBytes: 30 * 4096 });
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('ceiling-'))).toEqual([]);
  });

  it('stops a replay whose write fails, closed loop or not, with exit 1 and its file removed (ceiling.c fail())', () => {
    const { dir, bin } = buildCeilingIn();
    // A file size limit of 40 blocks of 512 bytes: the sixth 4 KiB write fails
    // (EFBIG; SIGXFSZ ignored), after the closed loop has handed batches over.
    for (const mode of ['fdatasync', 'uring']) {
      for (const turnaround of [[], ['100']]) {
        const args = [dir, '4096', '30', 'append', '0', '1', mode, ...turnaround];
        const r = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 40; exec "$@"`, 'sh', bin, ...args], { encoding: 'utf8', timeout: 20_000 });
        if (mode === 'uring' && /io_uring_setup/.test(r.stderr)) continue;
        expect(r.error, `${mode} ${turnaround}: it did not finish`).toBeUndefined();
        expect(r.status, `${mode} ${turnaround}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toMatch(mode === 'uring' ? /io_uring: a short or failed write/ : /pwrite: File too large/);
        expect(r.stdout).toBe('');
      }
    }
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('ceiling-'))).toEqual([]);
  });

  it("cuts a perf trace into batch cycles (bench:cycle), each step's median from the cycles cut, the sync's too", () => {
    const { parseScript, analyse } = requireBench('./cycle.js');
    const { median } = requireBench('./lib/stats');
    const lines: string[] = [];
    const at = (us: number) => (1000 + us / 1e6).toFixed(9);
    const flusher = (us: number, ev: string, arg: string) => lines.push(`commitlog-flush   200 [001] ${at(us)}: ${ev}: ${arg}`);
    const main = (us: number, ev: string, arg: string) => lines.push(`node   100 [001] ${at(us)}: ${ev}: ${arg}`);
    flusher(0, 'syscalls:sys_enter_fdatasync', 'fd: 0x0000000c');
    flusher(10, 'syscalls:sys_exit_fdatasync', '0x0');
    // Three cycles cut: notify, the main thread's wake, its tick, the next write and sync.
    let t = 10;
    for (const sync of [100, 110, 120]) {
      flusher(t + 3, 'syscalls:sys_enter_write', 'fd: 0x0000000b, buf: 0x00007f0000000000, count: 0x00000008');
      flusher(t + 4, 'syscalls:sys_exit_write', '0x8');
      lines.push(`swapper/1   0 [001] ${at(t + 5)}: sched:sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=node next_pid=100 next_prio=120`);
      main(t + 15, 'syscalls:sys_enter_epoll_wait', 'epfd: 0x00000003, events: 0x00007ffc00000000, maxevents: 0x00000400, timeout: 0xffffffff');
      flusher(t + 20, 'syscalls:sys_enter_pwrite64', 'fd: 0x0000000c, buf: 0x00007f0000001000, count: 0x00001000, pos: 0x00000000');
      flusher(t + 23, 'syscalls:sys_exit_pwrite64', '0x1000');
      flusher(t + 24, 'syscalls:sys_enter_fdatasync', 'fd: 0x0000000c');
      t += 24 + sync;
      flusher(t, 'syscalls:sys_exit_fdatasync', '0x0');
    }
    // Three long syncs that no notification precedes (coalesced): not cycles,
    // and with them the median of every sync would be 500.
    for (let k = 0; k < 3; k++) {
      flusher(t + 2, 'syscalls:sys_enter_fdatasync', 'fd: 0x0000000c');
      t += 502;
      flusher(t, 'syscalls:sys_exit_fdatasync', '0x0');
    }
    const { steps, cycles, syncs } = analyse(parseScript(lines.join('\n')));
    expect({ cycles, syncs }).toEqual({ cycles: 3, syncs: 7 });
    const m = (xs: number[]) => Math.round(median(xs));
    expect(Object.fromEntries(Object.entries(steps).map(([k, xs]) => [k, m(xs as number[])]))).toEqual({
      publish: 3,
      notify: 1,
      wake: 2,
      turnaround: 15,
      busy: 10,
      write: 3,
      sync: 110,
      cycle: 134,
    });
  });

  it('measures the copy into a buffer by its last write (dma-copy: bench:dma-copy), five ways, and removes its file', () => {
    const dir = tmpDir();
    const bin = path.join(dir, 'dma-copy');
    execFileSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench', 'dma-copy.c')]);
    const r = spawnSync(bin, [dir, '1', '2'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const ways = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(ways.map((w) => `${w.write}, ${w.copy}`)).toEqual([
      'O_DIRECT, memcpy',
      'O_DIRECT, non-temporal',
      'page cache, memcpy',
      'page cache, non-temporal',
      'none, lines flushed, memcpy',
    ]);
    for (const w of ways) expect(w.usPer64KiB).toBeGreaterThan(0);
    expect(spawnSync(bin, [dir, '0'], { encoding: 'utf8' }).status, 'no rounds').toBe(2);
    // A write that fails (a file size limit: a short write) removes the file too.
    const short = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 100; exec "$@"`, 'sh', bin, dir, '1', '3'], { encoding: 'utf8', timeout: 20_000 });
    expect(short.status).toBe(1);
    expect(short.stderr).toMatch(/pwrite: short write/);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('dma-copy-'))).toEqual([]);
  });
});
