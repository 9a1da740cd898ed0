#!/usr/bin/env node
// Writes the fuzzers' seed corpus: small real segment files made by the
// library (512-byte alignment, no preallocation), and a checkpoint, in the
// format this code writes (v2-*). The version 1 seeds (seed-*, checkpoint-*)
// were made by the version 1 code and are kept: version 1 is still read.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CommitLog } = require('../dist');

async function segmentOf(groups, align) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-'));
  const log = await CommitLog.open(dir, { alignBytes: align, preallocate: 'none' });
  for (const g of groups) await log.appendMany(g.map((s) => Buffer.from(s)));
  await log.close();
  const seg = fs.readFileSync(path.join(dir, '00000000000000000000.log'));
  const cp = fs.readFileSync(path.join(dir, 'CHECKPOINT'));
  fs.rmSync(dir, { recursive: true });
  return { seg, cp };
}

(async () => {
  const out = path.join(__dirname, '..', 'native', 'fuzz', 'corpus');
  const cases = [
    [[['hello', '', 'abc']], 512],
    [[['a'], ['bb', 'ccc'], ['x'.repeat(700)]], 512],
    [[['one'], ['two'], ['three']], 4096],
  ];
  let i = 0;
  for (const [groups, align] of cases) {
    const { seg, cp } = await segmentOf(groups, align);
    fs.writeFileSync(path.join(out, 'fuzz_decode', `v2-seed-${i}`), seg);
    fs.writeFileSync(path.join(out, 'fuzz_decode', `v2-checkpoint-${i}`), cp);
    for (const ctl of [[0, 0], [4, 0], [1 | 8 * (align === 4096), 3]]) {
      fs.writeFileSync(path.join(out, 'fuzz_recovery', `v2-seed-${i}-${ctl[0]}`), Buffer.concat([Buffer.from(ctl), seg]));
    }
    i++;
  }
})();
