#!/usr/bin/env node
'use strict';
// Saves per second of a small JSON state file, side by side:
//   fs.writeFile            no fsync at all: fast, loses data on power loss
//   write-file-atomic       temp + fsync + rename, but no directory fsync
//   hand-written durable    temp + fsync + rename + directory fsync
//   ConfigFile.save         the same plus a valid .bak, a lock, and coalescing
// each with one caller saving in a loop, and ConfigFile with 1,000 concurrent saves.
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const writeFileAtomic = require('write-file-atomic');
const { ConfigFile } = require('../dist');

const dataDir = process.env.BENCH_DIR || path.join(__dirname, '.data');
const seconds = Number(process.env.BENCH_SECONDS || 1.5);

async function handDurable(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function measure(name, save) {
  const dir = fs.mkdtempSync(path.join(dataDir, 'config-'));
  const file = path.join(dir, 'state.json');
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  while (Date.now() < end) {
    await save(file, { offset: n, updatedAt: Date.now(), pad: 'x'.repeat(200) });
    n++;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.rmSync(dir, { recursive: true, force: true });
  return { name, saves: n, perSec: n / secs };
}

async function main() {
  fs.mkdirSync(dataDir, { recursive: true });
  const rows = [];
  rows.push(await measure('fs.writeFile (no fsync)', (f, v) => fsp.writeFile(f, JSON.stringify(v))));
  rows.push(await measure('write-file-atomic (fsync, no dir fsync)', (f, v) => writeFileAtomic(f, JSON.stringify(v))));
  rows.push(await measure('temp + fsync + rename + dir fsync (by hand)', (f, v) => handDurable(f, JSON.stringify(v))));
  const configs = new Map();
  rows.push(
    await measure('ConfigFile.save (+ .bak, lock)', (f, v) => {
      if (!configs.has(f)) configs.set(f, new ConfigFile(f));
      return configs.get(f).save(v);
    }),
  );
  // 1,000 concurrent saves: how many write cycles and how long.
  const dir = fs.mkdtempSync(path.join(dataDir, 'config-'));
  const cfg = new ConfigFile(path.join(dir, 'burst.json'));
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 1000 }, (_, i) => cfg.save({ offset: i })));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.rmSync(dir, { recursive: true, force: true });

  const base = rows[2].perSec;
  console.log('| saver | saves/s | vs hand-written durable |');
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.perSec)} | ${(r.perSec / base).toFixed(2)}x |`);
  console.log(`\n1,000 concurrent ConfigFile.save() calls: ${cfg.writes} write cycles, ${ms.toFixed(1)} ms in all.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
