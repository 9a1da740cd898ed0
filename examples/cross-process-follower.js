#!/usr/bin/env node
// Follows a log that another process writes, without disturbing it: `tail -f` for a commitlog.
//
//   node examples/cross-process-follower.js <log-dir> [--from N]
//
// CommitLog.openReader takes no lock and writes nothing (it works on a read-only mount). It only
// ever returns records the writer has made durable, even though the page cache holds the bytes of a
// batch a moment before its fdatasync returns. It keeps following across a crash and restart of
// the writer.
'use strict';
const { CommitLog } = require('commitlog');

const args = process.argv.slice(2);
const dir = args[0];
if (!dir) {
  console.error('usage: cross-process-follower.js <log-dir> [--from N]');
  process.exit(2);
}
const fromAt = args.indexOf('--from');

async function main() {
  const reader = await CommitLog.openReader(dir);
  const ac = new AbortController();
  process.on('SIGTERM', () => ac.abort());
  process.on('SIGINT', () => ac.abort());
  const from = fromAt >= 0 ? Number(args[fromAt + 1]) : reader.firstSeq;
  console.log(`following from ${from} (durable end now ${reader.durableSeq})`);
  for await (const { seq, data } of reader.read({ from, follow: true, signal: ac.signal })) {
    console.log(`${seq} ${data.toString()}`);
  }
  await reader.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
