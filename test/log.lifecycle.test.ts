import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog, LogError } from '../lib';
import { mountTmpfs, recordBytes, tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..');

describe('locking', () => {
  it('rejects a second open of the same directory in this process with ERR_LOG_LOCKED', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err).toBeInstanceOf(LogError);
    expect(err.code).toBe('ERR_LOG_LOCKED');
    await log.close();
    const again = await CommitLog.open(dir);
    await again.close();
  });

  it('rejects an open while another process holds the log', async () => {
    const dir = tmpDir();
    const child = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(ROOT)} + '/dist').CommitLog.open(${JSON.stringify(dir)}).then(() => { console.log('open'); setInterval(() => {}, 1000); })`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout!.on('data', () => resolve()));
    const err = await CommitLog.open(dir).catch((e) => e);
    expect(err.code).toBe('ERR_LOG_LOCKED');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const log = await CommitLog.open(dir);
    await log.close();
  });
});

describe('CommitLog#close()', () => {
  it('resolves every append made before it, then rejects later appends with ERR_LOG_CLOSED', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    const settled: number[] = [];
    const ps = Array.from({ length: 2000 }, (_, i) => log.append(recordBytes(i)).then((s) => settled.push(s)));
    const closing = log.close();
    await expect(log.append('late')).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
    await closing;
    await Promise.all(ps);
    expect(settled.length).toBe(2000);
    expect(log.closed).toBe(true);
    await expect(log.appendMany(['a'])).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
    await expect(log.truncateBefore(0)).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
    await expect(log.read().next()).rejects.toMatchObject({ code: 'ERR_LOG_CLOSED' });
    const again = await CommitLog.open(dir);
    let n = 0;
    for await (const _ of again.read()) n++;
    expect(n).toBe(2000);
    await again.close();
  });

  it('can be called twice', async () => {
    const log = await CommitLog.open(tmpDir());
    await log.append('x');
    const a = log.close();
    const b = log.close();
    expect(a).toBe(b);
    await a;
    await log.close();
  });

  it('waits for appends held back by maxPendingBytes', async () => {
    const log = await CommitLog.open(tmpDir(), { maxPendingBytes: 4096 });
    const ps = Array.from({ length: 200 }, (_, i) => log.append(recordBytes(i, 1000)));
    await log.close();
    const seqs = await Promise.all(ps);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('supports await using', async () => {
    const dir = tmpDir();
    {
      await using log = await CommitLog.open(dir);
      await log.append('x');
    }
    const again = await CommitLog.open(dir); // the lock was released
    await again.close();
  });

  it('lets the process exit on its own once appends are durable', async () => {
    const dir = tmpDir();
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        ['-e', `require(${JSON.stringify(ROOT)} + '/dist').CommitLog.open(${JSON.stringify(dir)}).then((l) => l.append('x'))`],
        { stdio: 'inherit' },
      );
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    const log = await CommitLog.open(dir);
    let n = 0;
    for await (const _ of log.read()) n++;
    expect(n).toBe(1);
    await log.close();
  });
});

describe('failure is fail-stop', () => {
  it('rejects with ENOSPC when the disk fills, then ERR_LOG_FAILED, and keeps every acknowledged record', async (ctx) => {
    const fsMount = mountTmpfs(512 * 1024);
    if ('reason' in fsMount) {
      console.log(`skipped: needs a small tmpfs (${fsMount.reason})`);
      ctx.skip();
      return;
    }
    try {
      const dir = path.join(fsMount.dir, 'log');
      const opts = { segmentBytes: 128 * 1024, preallocate: 'none' as const };
      const log = await CommitLog.open(dir, opts);
      const acked = new Map<number, Buffer>();
      let firstError: any;
      for (let i = 0; i < 1000 && !firstError; i++) {
        const data = recordBytes(i, 2000);
        await log.append(data).then(
          (s) => acked.set(s, data),
          (e) => (firstError = e),
        );
      }
      expect(firstError?.code).toBe('ENOSPC');
      expect(firstError.syscall).toBe('write');
      const later = await log.append('x').catch((e) => e);
      expect(later.code).toBe('ERR_LOG_FAILED');
      expect(later.cause.code).toBe('ENOSPC');
      await log.close();
      expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
      const again = await CommitLog.open(dir, opts);
      const back = new Map<number, Buffer>();
      for await (const r of again.read()) back.set(r.seq, Buffer.from(r.data));
      for (const [s, d] of acked) expect(back.get(s)?.equals(d)).toBe(true);
      await again.close();
    } finally {
      fsMount.unmount();
    }
  });
});
