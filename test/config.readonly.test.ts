import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigFile } from '../lib';
import { tmpDir } from './helpers';

// A real read-only mount (a read-only bind mount of a writable directory):
// chmod proves nothing when the tests run as root, who may write anyway.
function bindReadOnly(src: string): { dir: string; unmount: () => void } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: 'not running as root' };
  const dir = tmpDir('commitlog-ro-');
  try {
    execFileSync('mount', ['--bind', src, dir], { stdio: 'pipe' });
  } catch (err) {
    return { reason: `mount failed: ${(err as Error).message.split('\n')[0]}` };
  }
  try {
    execFileSync('mount', ['-o', 'remount,ro,bind', dir], { stdio: 'pipe' });
  } catch (err) {
    execFileSync('umount', [dir]);
    return { reason: `remount read-only failed: ${(err as Error).message.split('\n')[0]}` };
  }
  return { dir, unmount: () => execFileSync('umount', [dir]) };
}

const mounts: Array<() => void> = [];
afterEach(() => {
  for (const unmount of mounts.splice(0)) unmount();
});

function readOnlyView(src: string): string {
  const m = bindReadOnly(src);
  if ('reason' in m) throw new Error(`this test needs a read-only bind mount: ${m.reason}`);
  mounts.push(m.unmount);
  return m.dir;
}

const canMount = (() => {
  const m = bindReadOnly(tmpDir('commitlog-ro-probe-'));
  if ('reason' in m) return false;
  m.unmount();
  return true;
})();

describe.skipIf(!canMount)('ConfigFile on a read-only mount', () => {
  it('load() reads the value without write access and changes nothing', async () => {
    const src = tmpDir();
    await new ConfigFile(path.join(src, 'c.json')).save({ n: 1 });
    const before = fs.readdirSync(src).sort();
    const ro = readOnlyView(src);
    const cfg = new ConfigFile(path.join(ro, 'c.json'));
    expect(await cfg.load()).toEqual({ n: 1 });
    expect(cfg.lastLoad).toEqual({ source: 'main', recovered: false, readOnly: true });
    expect(fs.readdirSync(src).sort()).toEqual(before);
  });

  it('load() of a config never saved (no lock file) reads it read-only', async () => {
    const src = tmpDir();
    fs.writeFileSync(path.join(src, 'c.json'), '{"n":2}\n');
    const ro = readOnlyView(src);
    expect(await new ConfigFile(path.join(ro, 'c.json')).load()).toEqual({ n: 2 });
    expect(fs.readdirSync(src)).toEqual(['c.json']);
  });

  it('falls back to .bak without moving the corrupt main file aside', async () => {
    const src = tmpDir();
    const file = path.join(src, 'c.json');
    const writer = new ConfigFile(file);
    await writer.save({ n: 1 });
    await writer.save({ n: 2 });
    fs.writeFileSync(file, '{"n": 2'); // torn
    const ro = readOnlyView(src);
    const cfg = new ConfigFile(path.join(ro, 'c.json'));
    const seen: unknown[] = [];
    cfg.on('recovery', (info) => seen.push(info.source));
    expect(await cfg.load()).toEqual({ n: 1 });
    expect(cfg.lastLoad).toMatchObject({ source: 'backup', recovered: true, readOnly: true });
    expect(cfg.lastLoad?.corruptPath).toBeUndefined();
    expect(seen).toEqual(['backup']);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"n": 2');
    expect(fs.existsSync(file + '.corrupt')).toBe(false);
  });

  it('rejects with ENOENT (with errno) when the read-only directory has no copy', async () => {
    const ro = readOnlyView(tmpDir());
    await expect(new ConfigFile(path.join(ro, 'none.json')).load()).rejects.toMatchObject({
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
    });
  });

  it('save() on a read-only mount rejects with EROFS and writes nothing', async () => {
    const src = tmpDir();
    fs.writeFileSync(path.join(src, 'c.json'), '{"n":3}\n');
    const ro = readOnlyView(src);
    await expect(new ConfigFile(path.join(ro, 'c.json')).save({ n: 4 })).rejects.toMatchObject({ code: 'EROFS' });
    expect(fs.readdirSync(src)).toEqual(['c.json']);
  });
});
