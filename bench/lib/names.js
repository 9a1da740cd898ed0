'use strict';
// Names a reader of the table or chart understands; the short ids stay the
// worker's command-line arguments and the JSON's `contender` field.
const HUMAN = {
  filechannel: 'write+fsync per record (FileChannel style)',
  'plain-async': 'plain async (write+datasync per record)',
  'js-group-commit': 'JS group commit (writev+datasync per batch)',
  commitlog: 'commitlog (default)',
  'commitlog-fdatasync': "commitlog (sync: 'fdatasync')",
  'commitlog-direct': "commitlog (sync: 'direct')",
  'commitlog-fsync': "commitlog (sync: 'fsync')",
  'commitlog-none': "commitlog (sync: 'none', not durable)",
  'commitlog-fallocate': "commitlog (preallocate: 'fallocate')",
  'commitlog-zero': "commitlog (preallocate: 'zero')",
  'commitlog-grow': "commitlog (preallocate: 'none')",
  'commitlog-auto-zero': "commitlog (default sync, preallocate: 'zero')",
  'commitlog-auto-fallocate': "commitlog (default sync, preallocate: 'fallocate')",
  'commitlog-steady': 'commitlog (default), steady state (recycled segments)',
  'commitlog-inflight2': 'commitlog (batchesInFlight: 2)',
  'commitlog-steady-inflight2': 'commitlog (batchesInFlight: 2), steady state',
  'peer-lmdb': 'lmdb (synchronous commits)',
  'peer-classic-level': 'classic-level (sync: true)',
  'peer-sqlite-single': 'better-sqlite3 (one INSERT per record)',
  'peer-sqlite-batched': 'better-sqlite3 (one transaction per batch)',
};

function humanName(id, group) {
  const name = HUMAN[id] ?? id;
  return group ? `${name}, appendMany ×${group}` : name;
}

/** 950 -> "950", 12_345 -> "12.3k", 1_500_000 -> "1.50M": what the tables print. */
function fmtCount(n, digits = 0) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(digits);
}

function fmtBytes(n) {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

module.exports = { humanName, fmtCount, fmtBytes };
