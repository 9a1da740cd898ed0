// Every read-only command works through a read-only mount (a bind mount
// remounted ro), beside a writer appending through the writable path.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog, ConfigFile } from '../lib';
import { json, run } from './cli-helpers';
import { isRoot, tmpDir } from './helpers';

describe('the CLI on a read-only mount', () => {
  it('inspects, verifies, dumps and tails a live log, and shows and verifies a ConfigFile', async (ctx) => {
    if (!isRoot()) return ctx.skip('not running as root: cannot mount');
    const dir = tmpDir();
    const mnt = tmpDir('commitlog-ro-');
    const log = await CommitLog.open(path.join(dir, 'log'));
    for (let i = 0; i < 20; i++) await log.append(`r${i}`);
    await new ConfigFile<object>(path.join(dir, 'state.json'), { checksum: true }).save({ next: 20 });
    try {
      execFileSync('mount', ['--bind', dir, mnt], { stdio: 'pipe' });
    } catch (err) {
      await log.close();
      return ctx.skip(`mount not permitted: ${(err as Error).message.split('\n')[0]}`);
    }
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', mnt], { stdio: 'pipe' });
      expect(() => fs.writeFileSync(path.join(mnt, 'probe'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
      const logDir = path.join(mnt, 'log');
      const ins = await run('inspect', '--json', logDir);
      expect(ins.stderr).toBe('');
      expect(json(ins)).toMatchObject({ writerPid: process.pid, view: { durableSeq: 20 } });
      const ver = await run('verify', '--json', logDir);
      expect(ver.code).toBe(0);
      expect(json(ver).writerPid).toBe(process.pid);
      const dump = await run('dump', '--format', 'text', logDir);
      expect(dump.code).toBe(0);
      expect(dump.stdout.toString()).toBe(Array.from({ length: 20 }, (_, i) => `r${i}\n`).join(''));
      expect((await run('tail', '-n', '1', '--format', 'text', logDir)).stdout.toString()).toBe('r19\n');
      const show = await run('config', 'show', path.join(mnt, 'state.json'));
      expect(show.code).toBe(0);
      expect(JSON.parse(show.stdout.toString())).toEqual({ next: 20 });
      expect((await run('config', 'verify', path.join(mnt, 'state.json'))).code).toBe(0);
    } finally {
      execFileSync('umount', [mnt]);
      await log.close();
    }
  });
});
