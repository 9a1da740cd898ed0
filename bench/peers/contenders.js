'use strict';
// Storage engines a user might choose instead, each at the strongest
// durability it offers, behind the same interface as ../contenders.js.
const path = require('node:path');

/** lmdb-js: async puts, batched into transactions; default (synchronous) commits, overlapping sync off. */
async function lmdb(dir) {
  const { open } = require('lmdb');
  // noSync: false and overlappingSync: false: a put resolves only after its
  // transaction is committed and fsynced (the strongest setting lmdb-js has).
  const db = open({ path: path.join(dir, 'lmdb'), noSync: false, overlappingSync: false, encoding: 'binary' });
  let key = 0;
  let commits = 0;
  return {
    durability: 'lmdb: noSync=false, overlappingSync=false (each async batch commit is fsynced)',
    async append(buf) {
      await db.put(key++, buf);
    },
    stats: () => ({ syncs: commits, batches: commits, bytesWritten: 0 }),
    close: () => db.close(),
  };
}

/** classic-level (LevelDB): put with { sync: true }. */
async function classicLevel(dir) {
  const { ClassicLevel } = require('classic-level');
  const db = new ClassicLevel(path.join(dir, 'level'), { keyEncoding: 'binary', valueEncoding: 'binary' });
  await db.open();
  let key = 0;
  const keyBuf = (k) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(k));
    return b;
  };
  return {
    durability: 'classic-level: put with { sync: true } (LevelDB WAL fsync per write)',
    append: (buf) => db.put(keyBuf(key++), buf, { sync: true }),
    stats: () => ({ syncs: 0, batches: 0, bytesWritten: 0 }),
    close: () => db.close(),
  };
}

function sqliteDb(dir) {
  const Database = require('better-sqlite3');
  const db = new Database(path.join(dir, 'log.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL'); // fsync the WAL on every commit
  db.exec('CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  return db;
}

/** better-sqlite3, WAL + synchronous=FULL, one INSERT (one transaction) per record; synchronous API. */
async function sqliteSingle(dir) {
  const db = sqliteDb(dir);
  const insert = db.prepare('INSERT INTO log (data) VALUES (?)');
  let n = 0;
  return {
    serialOnly: true,
    durability: 'better-sqlite3: journal_mode=WAL, synchronous=FULL, one transaction per record',
    append(buf) {
      insert.run(buf);
      n++;
      return Promise.resolve();
    },
    stats: () => ({ syncs: n, batches: n, bytesWritten: 0 }),
    close: async () => db.close(),
  };
}

/** better-sqlite3, WAL + synchronous=FULL, the concurrent callers' records batched into one transaction per tick. */
async function sqliteBatched(dir) {
  const db = sqliteDb(dir);
  const insert = db.prepare('INSERT INTO log (data) VALUES (?)');
  const insertAll = db.transaction((bufs) => {
    for (const b of bufs) insert.run(b);
  });
  let queue = [];
  let scheduled = false;
  let batches = 0;
  function flush() {
    scheduled = false;
    const batch = queue;
    queue = [];
    try {
      insertAll(batch.map((e) => e.buf));
      batches++;
      for (const e of batch) e.resolve();
    } catch (err) {
      for (const e of batch) e.reject(err);
    }
  }
  return {
    durability: 'better-sqlite3: journal_mode=WAL, synchronous=FULL, one transaction per batch of waiting callers',
    append(buf) {
      return new Promise((resolve, reject) => {
        queue.push({ buf, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    stats: () => ({ syncs: batches, batches, bytesWritten: 0 }),
    close: async () => db.close(),
  };
}

module.exports = {
  'peer-lmdb': lmdb,
  'peer-classic-level': classicLevel,
  'peer-sqlite-single': sqliteSingle,
  'peer-sqlite-batched': sqliteBatched,
};
