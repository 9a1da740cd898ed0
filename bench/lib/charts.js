'use strict';
// Charts of records/s against callers: a Vega-Lite spec per record size,
// rendered to SVG headless by vega (the 'none' renderer needs no canvas).
// Both axes are logarithmic, so the FileChannel-style baseline, three
// orders of magnitude below commitlog at 1,024 callers, stays visible.
const { humanName, fmtBytes } = require('./names');

// Contenders that serve one caller at a time whatever the concurrency (a
// synchronous write+fsync): measured at 1 caller, drawn as a dashed level
// across the chart rather than as a dot hidden among the others at x = 1.
const SERIAL = new Set(['filechannel', 'peer-sqlite-single']);

// Vega expression: 100 / 1k / 1M rather than 1e+2 / 1e+3 / 1e+6.
const SI_LABEL =
  "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : " +
  "datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')";

function chartRows(results, size) {
  const rows = [];
  for (const r of results.filter((x) => x.recordBytes === size && !x.group)) {
    const runs = r.recordsPerSecRuns?.length ? r.recordsPerSecRuns : [r.recordsPerSec];
    const base = { contender: humanName(r.contender), callers: r.concurrency, serial: SERIAL.has(r.contender) };
    rows.push({ ...base, kind: 'median', recordsPerSec: r.recordsPerSec, min: Math.min(...runs), max: Math.max(...runs) });
    for (const v of runs) rows.push({ ...base, kind: 'run', recordsPerSec: v });
  }
  return rows;
}

function powersOfTen(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** The Vega-Lite spec of one chart, or undefined when no result has this record size. */
function throughputSpec(results, size, { title, subtitle } = {}) {
  const rows = chartRows(results, size);
  if (rows.length === 0) return undefined;
  const values = rows.map((r) => r.recordsPerSec).filter((v) => v > 0);
  const yTicks = powersOfTen(Math.min(...values), Math.max(...values));
  const callers = [...new Set(rows.map((r) => r.callers))].sort((a, b) => a - b);
  const names = [...new Set(rows.map((r) => r.contender))];
  // A dot plot (one concurrency) draws every contender alike.
  const hasSerial = callers.length > 1 && rows.some((r) => r.serial);
  const sub = [
    ...(subtitle ?? []),
    ...(hasSerial ? ['dashed: one caller at a time whatever the concurrency (measured at 1)'] : []),
  ];
  const head = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title ?? `Durable appends per second, ${fmtBytes(size)} records`, subtitle: sub },
    background: 'white',
    data: { values: rows },
  };
  const yScale = { type: 'log', domain: [yTicks[0], yTicks[yTicks.length - 1]] };
  if (callers.length === 1) return dotPlot(head, names, callers[0], yTicks, yScale);
  const x = {
    field: 'callers',
    type: 'quantitative',
    scale: { type: 'log', base: 2, domain: [callers[0], Math.max(callers[callers.length - 1], callers[0] * 2)] },
    axis: { values: callers, format: ',', title: 'concurrent callers (log scale)', grid: false },
  };
  const y = {
    field: 'recordsPerSec',
    type: 'quantitative',
    scale: yScale,
    axis: { values: yTicks, labelExpr: SI_LABEL, title: 'durable appends per second (log scale)' },
  };
  const color = { field: 'contender', type: 'nominal', sort: names, legend: { title: null, orient: 'bottom', columns: 1, labelLimit: 480 } };
  const median = { filter: "datum.kind === 'median' && !datum.serial" };
  return {
    ...head,
    width: 560,
    height: 320,
    encoding: { x, color },
    layer: [
      { transform: [median], mark: { type: 'line', point: { filled: true, size: 50 } }, encoding: { y } },
      { transform: [median], mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: { ...y, field: 'min' }, y2: { field: 'max' } } },
      { transform: [{ filter: "datum.kind === 'run'" }], mark: { type: 'point', size: 18, opacity: 0.6 }, encoding: { y } },
      {
        transform: [{ filter: "datum.kind === 'median' && datum.serial" }],
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 2 },
        encoding: { x: { value: 0 }, x2: { value: 'width' }, y },
      },
    ],
  };
}

// A record size measured at one concurrency only: a line has nowhere to
// go, so one row per contender, records/s across.
function dotPlot(head, names, callers, ticks, scale) {
  const x = { field: 'recordsPerSec', type: 'quantitative', scale, axis: { values: ticks, labelExpr: SI_LABEL, title: `durable appends per second at ${callers} callers (log scale)` } };
  const y = { field: 'contender', type: 'nominal', sort: names, axis: { title: null, labelLimit: 480 } };
  const color = { field: 'contender', type: 'nominal', sort: names, legend: null };
  return {
    ...head,
    width: 480,
    height: { step: 36 },
    encoding: { y, color },
    layer: [
      { transform: [{ filter: "datum.kind === 'median'" }], mark: { type: 'tick', thickness: 3, size: 24 }, encoding: { x } },
      { transform: [{ filter: "datum.kind === 'median'" }], mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x: { ...x, field: 'min' }, x2: { field: 'max' } } },
      { transform: [{ filter: "datum.kind === 'run'" }], mark: { type: 'point', size: 30, opacity: 0.7 }, encoding: { x } },
    ],
  };
}

async function renderSvg(spec) {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** [file name, SVG] for every chart a run's results give. */
async function renderCharts(results, meta) {
  const reps = meta.reps ?? 1;
  const subtitle = [
    `line or tick: median of ${reps} run${reps === 1 ? '' : 's'}; dots: each run; bars: their range. ${meta.date?.slice(0, 10) ?? ''}, Node ${meta.node ?? ''}`,
  ];
  const out = [];
  if (meta.kind === 'peers') {
    const spec = throughputSpec(results, 1024, { title: 'commitlog against other engines, durable 1 KiB writes per second', subtitle });
    if (spec) out.push(['peers-1024.svg', await renderSvg(spec)]);
    return out;
  }
  const sizes = [...new Set(results.map((r) => r.recordBytes))].sort((a, b) => a - b);
  for (const size of sizes) {
    const spec = throughputSpec(results, size, { subtitle });
    if (spec) out.push([`throughput-${size}.svg`, await renderSvg(spec)]);
  }
  return out;
}

module.exports = { throughputSpec, renderSvg, renderCharts };
