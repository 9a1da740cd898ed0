#!/usr/bin/env node
'use strict';
// Draws a run's charts again from its JSON, e.g. for a committed run after
// the chart code changed:
//
//   node bench/render.js bench/results/2026-11-24-issue10/results.json [--out DIR]
//
// The charts go next to the JSON unless --out says otherwise; the report
// (results.md) is left as the run printed it.
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { renderCharts } = require('./lib/charts');

function kindOf(meta, results) {
  if (meta.kind) return meta.kind;
  if (results.some((r) => r.contender.startsWith('peer-'))) return 'peers';
  return meta.full ? 'full' : 'quick';
}

async function main() {
  const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new TypeError('usage: node bench/render.js <results.json> [--out DIR]');
  const file = path.resolve(positionals[0]);
  const { meta, results } = JSON.parse(fs.readFileSync(file, 'utf8'));
  const outDir = values.out ? path.resolve(values.out) : path.dirname(file);
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, svg] of await renderCharts(results, { ...meta, kind: kindOf(meta, results) })) {
    fs.writeFileSync(path.join(outDir, name), svg);
    console.log(path.join(outDir, name));
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
