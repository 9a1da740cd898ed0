import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigFile, writeFileDurable } from '../lib';
import { mountTmpfs, tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..');

interface Offsets {
  next: number;
}

describe('ConfigFile', () => {
  it('returns defaults when nothing was saved, then the saved value, and keeps the previous one as .bak', async () => {
    const file = path.join(tmpDir(), 'offsets.json');
    const cfg = new ConfigFile<Offsets>(file, { defaults: { next: 0 } });
    expect(await cfg.load()).toEqual({ next: 0 });
    expect(cfg.lastLoad?.source).toBe('defaults');
    await cfg.save({ next: 1 });
    await cfg.save({ next: 2 });
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ next: 2 });
    expect(JSON.parse(fs.readFileSync(file + '.bak', 'utf8'))).toEqual({ next: 1 });
    const again = new ConfigFile<Offsets>(file);
    expect(await again.load()).toEqual({ next: 2 });
    expect(again.lastLoad).toEqual({ source: 'main', recovered: false });
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('creates new files with mode 0o600 and keeps the mode of an existing file', async () => {
    const dir = tmpDir();
    const a = path.join(dir, 'a.json');
    await new ConfigFile(a).save({ x: 1 });
    expect(fs.statSync(a).mode & 0o777).toBe(0o600);
    const b = path.join(dir, 'b.json');
    fs.writeFileSync(b, '{}');
    fs.chmodSync(b, 0o640);
    await new ConfigFile(b).save({ x: 1 });
    expect(fs.statSync(b).mode & 0o777).toBe(0o640);
  });

  it('RocketMQ #9705: corrupt main + good .bak loads .bak, and the next save never puts the corrupt content in .bak', async () => {
    const file = path.join(tmpDir(), 'config.json');
    const cfg = new ConfigFile<Offsets>(file);
    await cfg.save({ next: 1 });
    await cfg.save({ next: 2 }); // main = 2, bak = 1
    fs.writeFileSync(file, '{"next": 3'); // torn main
    const recovered: unknown[] = [];
    const fresh = new ConfigFile<Offsets>(file);
    fresh.on('recovery', (info) => recovered.push(info));
    expect(await fresh.load()).toEqual({ next: 1 });
    expect(fresh.lastLoad?.source).toBe('backup');
    expect(fresh.lastLoad?.recovered).toBe(true);
    expect(recovered.length).toBe(1);
    expect(fs.readFileSync(file + '.corrupt', 'utf8')).toBe('{"next": 3');
    expect(fs.existsSync(file)).toBe(false);
    await fresh.save({ next: 4 });
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ next: 4 });
    expect(JSON.parse(fs.readFileSync(file + '.bak', 'utf8'))).toEqual({ next: 1 });
  });

  it('does not back up a main file that became corrupt after load', async () => {
    const file = path.join(tmpDir(), 'c.json');
    const cfg = new ConfigFile<Offsets>(file);
    await cfg.save({ next: 1 });
    await cfg.save({ next: 2 });
    fs.writeFileSync(file, 'garbage');
    await cfg.save({ next: 3 });
    expect(JSON.parse(fs.readFileSync(file + '.bak', 'utf8'))).toEqual({ next: 1 });
  });

  it('rejects content that parses but fails validate, on load and on save', async () => {
    const file = path.join(tmpDir(), 'v.json');
    const validate = (v: Offsets) => Number.isInteger(v.next) && v.next >= 0;
    const cfg = new ConfigFile<Offsets>(file, { validate, defaults: { next: 0 } });
    await expect(cfg.save({ next: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await cfg.save({ next: 5 });
    await cfg.save({ next: 6 });
    fs.writeFileSync(file, '{"next": -7}');
    expect(await cfg.load()).toEqual({ next: 5 });
    expect(cfg.lastLoad?.source).toBe('backup');
  });

  it('detects a torn binary file through its checksum', async () => {
    const file = path.join(tmpDir(), 'state.bin');
    const opts = { serialize: (v: Buffer) => v, parse: (b: Buffer) => Buffer.from(b) };
    const cfg = new ConfigFile<Buffer>(file, opts);
    await cfg.save(Buffer.from([1, 2, 3, 4]));
    await cfg.save(Buffer.from([5, 6, 7, 8, 9]));
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 2)); // torn
    const again = new ConfigFile<Buffer>(file, opts);
    expect([...(await again.load())]).toEqual([1, 2, 3, 4]);
    expect(again.lastLoad?.source).toBe('backup');
    const flipped = Buffer.from(fs.readFileSync(file + '.bak'));
    flipped[flipped.length - 1] ^= 1;
    fs.writeFileSync(file + '.bak', flipped);
    await expect(new ConfigFile<Buffer>(file, opts).load()).rejects.toMatchObject({ code: 'ERR_CONFIG_CORRUPT' });
  });

  it('uses a complete temp file left by a crash when it is the only valid copy, and removes other leftovers', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'only.json');
    fs.writeFileSync(`${file}.tmp-1-0`, '{"next": 9}');
    fs.writeFileSync(`${file}.tmp-1-1`, '{"next":');
    const cfg = new ConfigFile<Offsets>(file);
    expect(await cfg.load()).toEqual({ next: 9 });
    expect(cfg.lastLoad?.source).toBe('temp');
    expect(fs.readdirSync(dir).sort()).toEqual(['only.json', 'only.json.lock']);
  });

  it('rejects with ENOENT when there is no file and no defaults', async () => {
    const cfg = new ConfigFile(path.join(tmpDir(), 'none.json'));
    await expect(cfg.load()).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('coalesces 1,000 concurrent saves into a handful of writes, and every save resolves after its value or a newer one is durable', async () => {
    const file = path.join(tmpDir(), 'burst.json');
    const cfg = new ConfigFile<Offsets>(file);
    const seenAtResolve: number[] = [];
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        cfg.save({ next: i }).then(() => seenAtResolve.push(JSON.parse(fs.readFileSync(file, 'utf8')).next)),
      ),
    );
    expect(cfg.writes).toBeLessThanOrEqual(3);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ next: 999 });
    // The first save resolved with its own write; all others with the newest.
    expect(seenAtResolve.filter((v) => v === 999).length).toBeGreaterThanOrEqual(999);
  });

  it('follows a symlink: the target is replaced and the link kept', async () => {
    const dir = tmpDir();
    const real = path.join(dir, 'real.json');
    const link = path.join(dir, 'link.json');
    fs.writeFileSync(real, '{"next": 1}');
    fs.symlinkSync(real, link);
    await new ConfigFile<Offsets>(link).save({ next: 2 });
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(fs.readFileSync(real, 'utf8'))).toEqual({ next: 2 });
    expect(fs.existsSync(real + '.bak')).toBe(true);
  });

  it('keeps one valid file when two processes save the same file at once', async () => {
    const file = path.join(tmpDir(), 'shared.json');
    const script = (tag: string) =>
      `const { ConfigFile } = require(${JSON.stringify(ROOT)} + '/dist');
       const c = new ConfigFile(${JSON.stringify(file)});
       (async () => { for (let i = 0; i < 60; i++) await c.save({ tag: '${tag}', i, pad: 'x'.repeat(i * 50) }); })();`;
    const run = (tag: string) =>
      new Promise<number | null>((resolve) => spawn(process.execPath, ['-e', script(tag)], { stdio: 'inherit' }).on('exit', resolve));
    expect(await Promise.all([run('a'), run('b')])).toEqual([0, 0]);
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(v.i).toBe(59);
    expect(JSON.parse(fs.readFileSync(file + '.bak', 'utf8')).i).toBeGreaterThanOrEqual(0);
  });

  it('rejects bad arguments', async () => {
    expect(() => new ConfigFile(42 as any)).toThrow(TypeError);
    expect(() => new ConfigFile('')).toThrow(RangeError);
    expect(() => new ConfigFile('x', { parse: 'json' as any })).toThrow(TypeError);
    expect(() => new ConfigFile('x', { mode: 0o10000 })).toThrow(RangeError);
    const cfg = new ConfigFile(path.join(tmpDir(), 'f.json'), { serialize: () => 42 as any });
    await expect(cfg.save({})).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const circular: any = {};
    circular.self = circular;
    await expect(new ConfigFile(path.join(tmpDir(), 'g.json')).save(circular)).rejects.toThrow(TypeError);
  });

  it('on a full disk rejects with ENOSPC, keeps the old value loadable and leaves no temp file', async (ctx) => {
    const m = mountTmpfs(64 * 1024);
    if ('reason' in m) {
      console.log(`skipped: needs a small tmpfs (${m.reason})`);
      ctx.skip();
      return;
    }
    try {
      const file = path.join(m.dir, 'cfg.json');
      const cfg = new ConfigFile<{ blob: string }>(file);
      await cfg.save({ blob: 'small' });
      const err = await cfg.save({ blob: 'x'.repeat(200 * 1024) }).catch((e) => e);
      expect(err.code).toBe('ENOSPC');
      expect(fs.readdirSync(m.dir).filter((n) => n.includes('.tmp'))).toEqual([]);
      expect(await new ConfigFile<{ blob: string }>(file).load()).toEqual({ blob: 'small' });
    } finally {
      m.unmount();
    }
  });
});

describe('ConfigFile update(), peek() and remove()', () => {
  it('update() hands fn the stored value under the lock and saves what it returns; undefined saves nothing; a throw changes nothing', async () => {
    const file = path.join(tmpDir(), 'c.json');
    const cfg = new ConfigFile<Offsets>(file);
    expect(await cfg.update((cur) => (cur === undefined ? { next: 1 } : undefined))).toEqual({ next: 1 });
    expect(await cfg.update((cur) => (cur === undefined ? { next: 9 } : undefined))).toEqual({ next: 1 });
    expect(await cfg.update((cur) => ({ next: cur!.next + 1 }))).toEqual({ next: 2 });
    const boom = new Error('no');
    await expect(cfg.update(() => {
      throw boom;
    })).rejects.toBe(boom);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ next: 2 });
    expect(JSON.parse(fs.readFileSync(file + '.bak', 'utf8'))).toEqual({ next: 1 });
    expect(cfg.writes).toBe(2);
    // A corrupt main file: fn sees what load() would return, the backup.
    fs.writeFileSync(file, '{"next": ');
    expect(await new ConfigFile<Offsets>(file).update((cur) => cur && { next: cur.next + 10 })).toEqual({ next: 11 });
  });

  it('peek() reads the value load() would return without taking the lock or changing a file', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'c.json');
    const cfg = new ConfigFile<Offsets>(file);
    expect(await cfg.peek()).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]);
    await cfg.save({ next: 1 });
    await cfg.save({ next: 2 });
    fs.rmSync(file + '.lock');
    expect(await new ConfigFile<Offsets>(file).peek()).toEqual({ next: 2 });
    fs.writeFileSync(file, 'garbage');
    expect(await new ConfigFile<Offsets>(file).peek()).toEqual({ next: 1 });
    expect(fs.readdirSync(dir).sort()).toEqual(['c.json', 'c.json.bak']);
  });

  it('remove() deletes the file, its backup and leftover temp files, keeps the lock file, and says whether there was a value', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'c.json');
    const cfg = new ConfigFile<Offsets>(file);
    await cfg.save({ next: 1 });
    await cfg.save({ next: 2 });
    fs.writeFileSync(`${file}.tmp-1-0`, '{"next": 3}');
    expect(await cfg.remove()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['c.json.lock']);
    expect(await cfg.remove()).toBe(false);
    await expect(new ConfigFile<Offsets>(file).load()).rejects.toMatchObject({ code: 'ENOENT' });
    // Only a backup left (the main file damaged and moved aside): still a value.
    await cfg.save({ next: 4 });
    await cfg.save({ next: 5 });
    fs.rmSync(file);
    expect(await cfg.remove()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['c.json.lock']);
  });
});

describe('writeFileDurable()', () => {
  it('replaces the file atomically with the new bytes', async () => {
    const file = path.join(tmpDir(), 'w.bin');
    await writeFileDurable(file, 'one');
    await writeFileDurable(file, Buffer.from('two'));
    expect(fs.readFileSync(file, 'utf8')).toBe('two');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['w.bin']);
  });

  it('rejects bad arguments and reports system errors by code', async () => {
    await expect(writeFileDurable(42 as any, 'x')).rejects.toThrow(TypeError);
    await expect(writeFileDurable('/tmp/x', 42 as any)).rejects.toThrow(TypeError);
    await expect(writeFileDurable(path.join(tmpDir(), 'no', 'such', 'dir'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    const dir = tmpDir();
    await expect(writeFileDurable(dir, 'x')).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
