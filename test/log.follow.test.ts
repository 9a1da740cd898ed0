import { describe, expect, it } from 'vitest';
import type { CommitLog as CommitLogType, LogRecord } from '../lib';
import { parseBatches, recordBytes, segmentFiles, tmpDir, useFaultAddon } from './helpers';

function parseSegmentBatches(dir: string) {
  return segmentFiles(dir).flatMap((f) => parseBatches(f));
}

const { lib, fault } = await useFaultAddon();
const CommitLog = lib.CommitLog;
type CommitLog = CommitLogType;

async function take(it: AsyncIterator<LogRecord>, n: number): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push([r.value.seq, r.value.data.toString()]);
  }
  return out;
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('CommitLog#read({ follow })', () => {
  it('yields what is durable, then each new record once durable, and ends when the signal aborts', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.appendMany(['a', 'b']);
    const ac = new AbortController();
    const it = log.read({ follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    expect(await take(it, 2)).toEqual([[0, 'a'], [1, 'b']]);
    const next = it.next();
    await log.append('c');
    expect((await next).value.seq).toBe(2);
    const pending = it.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    await log.close();
  });

  it('ends cleanly when the log closes, and close() does not wait for idle followers', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.append('x');
    const seen: number[] = [];
    const done = (async () => {
      for await (const r of log.read({ follow: true })) seen.push(r.seq);
      return 'ended';
    })();
    await new Promise((r) => setImmediate(r));
    await log.close();
    expect(await done).toBe('ended');
    expect(seen).toEqual([0]);
  });

  it('stops at `to` even while following', async () => {
    const log = await CommitLog.open(tmpDir());
    const got = (async () => {
      const out: number[] = [];
      for await (const r of log.read({ from: 1, to: 4, follow: true })) out.push(r.seq);
      return out;
    })();
    for (let i = 0; i < 6; i++) await log.append(recordBytes(i));
    expect(await got).toEqual([1, 2, 3]);
    await log.close();
  });

  it('wakes 1,000 idle followers on one durable notification, with no timer per follower', async () => {
    const log = await CommitLog.open(tmpDir());
    const before = timers();
    const ac = new AbortController();
    const its = Array.from({ length: 1000 }, () => log.read({ follow: true, signal: ac.signal })[Symbol.asyncIterator]());
    const firsts = its.map((it) => it.next());
    await new Promise((r) => setTimeout(r, 20));
    expect(timers()).toBeLessThanOrEqual(before);
    await log.append('hello');
    const got = await Promise.all(firsts);
    expect(got.every((r) => !r.done && r.value.seq === 0 && r.value.data.toString() === 'hello')).toBe(true);
    ac.abort();
    expect((await Promise.all(its.map((it) => it.next()))).every((r) => r.done)).toBe(true);
    await log.close();
  });

  it('follows 20,000 records from 50 concurrent appenders in order, each once, never past the durable end', async () => {
    const log = await CommitLog.open(tmpDir(), { segmentBytes: 1 << 20 });
    const n = 20_000;
    const reader = (async () => {
      let want = 0;
      for await (const r of log.read({ follow: true, to: n })) {
        if (r.seq !== want) throw new Error(`got ${r.seq}, wanted ${want}`);
        if (r.data.readUInt32LE(0) !== r.seq) throw new Error(`record ${r.seq} holds ${r.data.readUInt32LE(0)}`);
        if (r.seq >= log.durableSeq) throw new Error(`record ${r.seq} yielded at or past the durable end`);
        want++;
      }
      return want;
    })();
    let calls = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (calls < n) {
          calls++;
          // The number is known only once appended: stage a group of one
          // whose content is the number it will get, by appending in order.
          const b = Buffer.alloc(4);
          b.writeUInt32LE(log.stats().appendedSeq);
          await log.append(b);
        }
      }),
    );
    expect(await reader).toBe(n);
    await log.close();
  });

  it('after truncateFrom(seq): a follower that yielded a record at or past seq rejects with ERR_LOG_TRUNCATED; one that did not goes on with the new records', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.appendMany(Array.from({ length: 15 }, (_, i) => `old${i}`));
    const saw = log.read({ follow: true })[Symbol.asyncIterator]();
    expect(await take(saw, 15)).toHaveLength(15);
    const waiting = saw.next().then(
      () => 'no error',
      (e) => e.code,
    );
    const ahead = log.read({ from: 20, follow: true, to: 22 });
    const aheadGot = (async () => {
      const out: string[] = [];
      for await (const r of ahead) out.push(`${r.seq}:${r.data}`);
      return out;
    })();
    const cursor = await log.cursor('c');
    await cursor.commit(14);
    await log.truncateFrom(12);
    expect(await waiting).toBe('ERR_LOG_TRUNCATED');
    // Durable cursors past the cut were clamped to it before truncateFrom resolved.
    expect((await log.cursors()).find((c) => c.name === 'c')?.position).toBe(12);
    await log.appendMany(Array.from({ length: 10 }, (_, i) => `new${12 + i}`));
    expect(await aheadGot).toEqual(['20:new20', '21:new21']);
    await log.close();
  });

  it('rejects unknown or mistyped read options', async () => {
    const log = await CommitLog.open(tmpDir());
    expect(() => log.read({ form: 5 } as never)).toThrow(/unknown read option "form"/);
    expect(() => log.read({ follow: 1 } as never)).toThrow(TypeError);
    expect(() => log.read({ signal: {} } as never)).toThrow(TypeError);
    expect(() => log.read({ from: -1 })).toThrow(RangeError);
    await log.close();
  });
});

describe('CommitLog#read({ follow }) on the crash model', () => {
  it('never yields a record whose batch was written but not synced, and ends with ERR_LOG_FAILED when the sync fails', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { preallocate: 'none' });
    await log.append('durable');
    fault.arm({ failAt: 0, kind: 'sync', errno: 5 });
    try {
      const seen: number[] = [];
      const follower = (async () => {
        for await (const r of log.read({ follow: true })) seen.push(r.seq);
      })();
      // The first batch's fdatasync fails: its bytes are in the page cache
      // (pwrite succeeded) but were never made durable.
      await expect(log.append('never durable')).rejects.toMatchObject({ code: 'EIO' });
      await expect(follower).rejects.toMatchObject({ code: 'ERR_LOG_FAILED', cause: { code: 'EIO' } });
      expect(seen).toEqual([0]);
      // The record is in the page cache all the same: the follower did not
      // look past the durable end.
      expect(parseSegmentBatches(dir).some((b) => b.baseSeq === 1)).toBe(true);
    } finally {
      fault.disarm();
      await log.close().catch(() => {});
    }
  });
});
