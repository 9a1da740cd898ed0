'use strict';
// Command line of bench/run.js.
//
//   --full | --peers      the matrix (default: the quick one)
//   --out DIR             where the report, JSON and charts go (default:
//                         bench/results/runs/<date>-<kind>/, untracked; also
//                         BENCH_OUT, for `npm run bench`, whose `--` arguments
//                         would reach the last of its three scripts)
//   --only FILTER         run only matching cells; FILTER is
//                         contender[:callers[:recordBytes]], repeatable or
//                         comma-separated (also BENCH_ONLY)
const path = require('node:path');
const { parseArgs } = require('node:util');

const RESULTS_DIR = path.join(__dirname, '..', 'results');

function parseFilters(text) {
  return text
    .split(',')
    .filter(Boolean)
    .map((f) => {
      const [contender, callers, bytes] = f.split(':');
      const num = (s, what) => {
        if (s === undefined || s === '') return undefined;
        const n = Number(s);
        if (!Number.isInteger(n) || n <= 0) throw new RangeError(`--only ${f}: ${what} must be a positive integer`);
        return n;
      };
      return { contender, callers: num(callers, 'callers'), bytes: num(bytes, 'record bytes') };
    });
}

function cellMatches(cell, filters) {
  if (filters.length === 0) return true;
  return filters.some(
    (f) => f.contender === cell.contender && (f.callers === undefined || f.callers === cell.conc) && (f.bytes === undefined || f.bytes === cell.size),
  );
}

/** A folder per run, named by time as well as date, so a second run on the same day keeps the first. */
function defaultOutDir(kind, date) {
  const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-');
  return path.join(RESULTS_DIR, 'runs', `${stamp}-${kind}`);
}

function parseRunArgs(argv, env = process.env, now = new Date()) {
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: 'boolean', default: false },
      peers: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  const kind = values.peers ? 'peers' : values.full ? 'full' : 'quick';
  const filters = parseFilters([env.BENCH_ONLY ?? '', ...values.only].join(','));
  const out = values.out ?? env.BENCH_OUT;
  const outDir = out ? path.resolve(out) : defaultOutDir(kind, now);
  return { kind, full: values.full, peers: values.peers, filters, outDir };
}

module.exports = { parseRunArgs, cellMatches, defaultOutDir, RESULTS_DIR };
