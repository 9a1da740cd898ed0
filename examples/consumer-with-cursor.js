#!/usr/bin/env node
// A consumer that keeps its place in a durable cursor: at-least-once processing that survives kill -9.
//
//   node examples/consumer-with-cursor.js <log-dir> <cursor-name> [--follow] [--batch N]
//
// It reads from the cursor's committed position, "processes" each record (prints "<seq> <data>"),
// and commits the position after every N records (and when it stops). After a crash it resumes at the
// last committed position, so a record is processed at least once, never skipped. The log is opened
// as the writer here; a consumer in another process than the writer uses CommitLog.openReader(dir)
// and reader.cursor(name) the same way.
'use strict';
const { CommitLog } = require('commitlog');

const args = process.argv.slice(2);
const [dir, name] = args;
if (!dir || !name) {
  console.error('usage: consumer-with-cursor.js <log-dir> <cursor-name> [--follow] [--batch N]');
  process.exit(2);
}
const follow = args.includes('--follow');
const batchAt = args.indexOf('--batch');
const every = batchAt >= 0 ? Number(args[batchAt + 1]) : 100;

async function main() {
  const log = await CommitLog.open(dir);
  const cursor = await log.cursor(name);
  const ac = new AbortController();
  process.on('SIGTERM', () => ac.abort());
  process.on('SIGINT', () => ac.abort());
  console.log(`starting at ${cursor.position}`);
  let next = cursor.position;
  let sinceCommit = 0;
  for await (const { seq, data } of log.read({ cursor: name, follow, signal: ac.signal })) {
    console.log(`${seq} ${data.toString()}`); // the processing
    next = seq + 1;
    if (++sinceCommit >= every) {
      // Not awaited on the hot path: commits coalesce, and each resolves once durable.
      cursor.commit(next).catch((err) => console.error('commit failed:', err.message));
      sinceCommit = 0;
    }
  }
  await cursor.commit(next);
  console.log(`committed ${next}`);
  await log.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
