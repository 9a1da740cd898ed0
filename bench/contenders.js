'use strict';
// The ways a Node.js service can make appends durable, each behind the same
// interface: open(dir) -> { append(buf): Promise, close(), stats() }.
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');

/** "FileChannel style" (the seed article's baseline): one write and one fdatasync per record, synchronous. */
async function fileChannel(dir) {
  const fd = fs.openSync(path.join(dir, 'filechannel.dat'), 'w');
  let pos = 0;
  let syncs = 0;
  return {
    serialOnly: true,
    append(buf) {
      fs.writeSync(fd, buf, 0, buf.length, pos);
      pos += buf.length;
      fs.fdatasyncSync(fd);
      syncs++;
      return Promise.resolve();
    },
    stats: () => ({ syncs, batches: syncs, bytesWritten: pos }),
    close: async () => fs.closeSync(fd),
  };
}

/** Plain async: every caller writes its record and datasyncs on its own. */
async function plainAsync(dir) {
  const fh = await fsp.open(path.join(dir, 'plain.dat'), 'w');
  let pos = 0;
  let syncs = 0;
  return {
    async append(buf) {
      const at = pos;
      pos += buf.length;
      await fh.write(buf, 0, buf.length, at);
      await fh.datasync();
      syncs++;
    },
    stats: () => ({ syncs, batches: syncs, bytesWritten: pos }),
    close: () => fh.close(),
  };
}

/**
 * Hand-written JS group commit: what a careful user writes instead of
 * installing a library. A queue; while one writev + datasync is in flight,
 * the next batch collects; each batch resolves together.
 */
async function jsGroupCommit(dir) {
  const fh = await fsp.open(path.join(dir, 'jsgroup.dat'), 'w');
  let pos = 0;
  let queue = [];
  let flushing = false;
  let syncs = 0;
  async function flush() {
    flushing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const bufs = batch.map((e) => e.buf);
      let bytes = 0;
      for (const b of bufs) bytes += b.length;
      try {
        await fh.writev(bufs, pos);
        pos += bytes;
        await fh.datasync();
        syncs++;
        for (const e of batch) e.resolve();
      } catch (err) {
        for (const e of batch) e.reject(err);
      }
    }
    flushing = false;
  }
  return {
    append(buf) {
      return new Promise((resolve, reject) => {
        queue.push({ buf, resolve, reject });
        if (!flushing) flush();
      });
    },
    stats: () => ({ syncs, batches: syncs, bytesWritten: pos }),
    close: () => fh.close(),
  };
}

/** commitlog, in the given sync mode, with `more` options. */
function commitlog(sync, preallocate, more = {}) {
  return async (dir) => {
    const { CommitLog } = require('../dist');
    const maxPendingBytes = process.env.BENCH_MAX_PENDING_BYTES ? Number(process.env.BENCH_MAX_PENDING_BYTES) : undefined;
    const log = await CommitLog.open(path.join(dir, 'log'), { sync, preallocate, maxPendingBytes, ...more });
    return {
      syncMode: sync ?? 'auto',
      preallocate: preallocate ?? 'auto',
      append: (buf) => log.append(buf),
      appendMany: (bufs) => log.appendMany(bufs),
      stats: () => log.stats(),
      close: () => log.close(),
    };
  };
}

/**
 * commitlog in steady state: a log under retention whose freed segments are
 * recycled (`recycleSegments`), as a queue or a Raft log runs for days. The
 * setup appends until the segment being written is a recycled file, so the
 * measured appends overwrite blocks an older use wrote: the disk's cheap
 * case, which a log that only grows never has (each new block costs a
 * zero-fill or an extent conversion at its sync).
 */
function commitlogSteady(more = {}) {
  return async (dir) => {
    const { CommitLog } = require('../dist');
    const segmentBytes = 64 << 20;
    const log = await CommitLog.open(path.join(dir, 'log'), {
      segmentBytes,
      recycleSegments: 2,
      retention: { maxBytes: 2 * segmentBytes },
      ...more,
    });
    // Fill the ring: 64 KiB records, 64 at a time, until a recycled file was
    // prepared and then rolled to (two recycled preparations: the first is
    // the segment now written, the second waits as the next). It takes
    // about 5 rolls; past 12 something is wrong. Retention keeps running
    // (after each roll) while the cell is measured, as it would in service;
    // the worker reports how many of the window's rolls found a recycled file.
    const fill = Buffer.alloc(64 << 10, 0x5a);
    const filler = async () => {
      while (log.stats().segmentsRecycled < 2) {
        if (log.stats().segmentsRolled > 12) throw new Error('steady state: 12 segment rolls and no recycled segment');
        await log.append(fill);
      }
    };
    try {
      await Promise.all(Array.from({ length: 64 }, filler));
    } catch (err) {
      await log.close().catch(() => {});
      throw err;
    }
    return {
      syncMode: 'auto',
      preallocate: 'recycled',
      append: (buf) => log.append(buf),
      appendMany: (bufs) => log.appendMany(bufs),
      stats: () => log.stats(),
      close: () => log.close(),
    };
  };
}

module.exports = {
  filechannel: fileChannel,
  'plain-async': plainAsync,
  'js-group-commit': jsGroupCommit,
  commitlog: commitlog(undefined),
  'commitlog-fdatasync': commitlog('fdatasync'),
  'commitlog-direct': commitlog('direct'),
  'commitlog-fsync': commitlog('fsync'),
  'commitlog-none': commitlog('none'),
  'commitlog-fallocate': commitlog('fdatasync', 'fallocate'),
  'commitlog-zero': commitlog('fdatasync', 'zero'),
  'commitlog-grow': commitlog('fdatasync', 'none'),
  'commitlog-auto-zero': commitlog(undefined, 'zero'),
  'commitlog-auto-fallocate': commitlog(undefined, 'fallocate'),
  'commitlog-steady': commitlogSteady(),
  // The alternative the default is measured against: two batches in flight.
  'commitlog-inflight2': commitlog(undefined, undefined, { batchesInFlight: 2 }),
  'commitlog-steady-inflight2': commitlogSteady({ batchesInFlight: 2 }),
};
