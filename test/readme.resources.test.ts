// README ("What one open log costs") states the threads and descriptors of
// an open log; this counts them, as /proc/self lists them, for each sync mode.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommitLog, type SyncMode } from '../lib';
import { tmpDir } from './helpers';

// All threads of the process: a log's threads name themselves once they run,
// which they may not have done yet, but they are listed from their creation
// on, inside open(). libuv's pool is started before counting (beforeAll).
function threads(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** Names (relative to `dir`) of the files this process has open under it, one entry per descriptor. */
function descriptorsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      // The preparer's descriptor of the segment it is making comes and goes.
      if (target.startsWith(dir + '/') && !path.basename(target).startsWith('prepared-')) out.push(path.relative(dir, target).replace(/^\d+\.log$/, 'segment'));
    } catch {
      // Closed meanwhile (readdir's own descriptor, for one).
    }
  }
  return out.sort();
}

describe.runIf(process.platform === 'linux')('what one open log costs', () => {
  beforeAll(async () => {
    const log = await CommitLog.open(tmpDir());
    await log.append('warm up');
    await log.close();
  });
  const cases: Array<[SyncMode, 1 | 2, number, string[], string[]]> = [
    // mode, batchesInFlight, flusher threads (plus one preparer), descriptors after small batches, after a 64 KiB+ batch
    ['auto', 1, 1, ['HEAD', 'LOCK', 'segment'], ['HEAD', 'LOCK', 'segment', 'segment']],
    ['auto', 2, 2, ['HEAD', 'LOCK', 'segment'], ['HEAD', 'LOCK', 'segment', 'segment']],
    ['fdatasync', 1, 1, ['HEAD', 'LOCK', 'segment'], ['HEAD', 'LOCK', 'segment']],
    ['fdatasync', 2, 2, ['HEAD', 'LOCK', 'segment'], ['HEAD', 'LOCK', 'segment']],
    ['direct', 2, 1, ['HEAD', 'LOCK', 'segment'], ['HEAD', 'LOCK', 'segment']],
    ['none', 2, 1, ['HEAD', 'LOCK', 'segment'], ['HEAD', 'LOCK', 'segment']],
  ];
  for (const [sync, batchesInFlight, flushers, small, large] of cases) {
    it(`sync '${sync}', batchesInFlight ${batchesInFlight}: ${flushers} flusher thread(s) and a preparer, descriptors ${large.length}`, async () => {
      const before = threads();
      const dir = fs.realpathSync(tmpDir());
      const log = await CommitLog.open(dir, { sync, batchesInFlight });
      try {
        await Promise.all(Array.from({ length: 50 }, () => log.append(Buffer.alloc(100))));
        expect(threads() - before).toBe(flushers + 1);
        expect(descriptorsUnder(dir)).toEqual(small);
        await log.append(Buffer.alloc(100 * 1024));
        expect(descriptorsUnder(dir)).toEqual(large);
      } finally {
        await log.close();
      }
      expect(descriptorsUnder(dir)).toEqual([]);
      expect(threads()).toBe(before);
    });
  }
});
