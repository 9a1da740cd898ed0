#!/usr/bin/env node
// Produces the worked example of docs/FORMAT.md: a fresh log in a temp dir,
// appendMany(['hello', '', 'abc']) then append('xyz'), close, and a hexdump
// of the segment's written part, of the CHECKPOINT and of HEAD. The epoch, log_id,
// timestamps and CRCs differ on every run. Run after `npm ci` (needs dist/).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CommitLog } = require('../dist');

function hexdump(file, length) {
  const args = ['-a', '-g', '2'];
  if (length !== undefined) args.push('-l', String(length));
  return execFileSync('xxd', [...args, file], { encoding: 'utf8' });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'commitlog-format-'));
  try {
    const log = await CommitLog.open(dir);
    await log.appendMany(['hello', '', 'abc']);
    await log.append('xyz');
    await log.close();
    for (const name of fs.readdirSync(dir).sort()) {
      console.log(`${name}  ${fs.statSync(path.join(dir, name)).size} bytes`);
    }
    // Only the first two 4 KiB blocks hold batches; the rest is zero fill.
    // xxd -a prints a '*' line for a run of identical lines.
    console.log('\n00000000000000000000.log (first 8192 bytes):');
    process.stdout.write(hexdump(path.join(dir, '00000000000000000000.log'), 8192));
    console.log('\nCHECKPOINT:');
    process.stdout.write(hexdump(path.join(dir, 'CHECKPOINT')));
    console.log('\nHEAD:');
    process.stdout.write(hexdump(path.join(dir, 'HEAD')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
