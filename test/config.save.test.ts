import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigFile, CommitLog } from '../lib';
import type { LoadInfo } from '../lib';
import { tmpDir } from './helpers';

// What save() writes, load() must read back: otherwise a resolved save
// durably replaces a good file with one the next load() moves aside.
describe('ConfigFile.save refuses what load() would reject', () => {
  const refused: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', { n: 1n }],
    ['a cycle', (() => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    })()],
  ];
  for (const [what, value] of refused) {
    it(`rejects ${what} with ERR_CONFIG_UNSERIALIZABLE and leaves the saved value`, async () => {
      const file = path.join(tmpDir(), 'c.json');
      const cfg = new ConfigFile<unknown>(file);
      await cfg.save({ good: true });
      const before = fs.readFileSync(file, 'utf8');
      const err = await cfg.save(value).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err).toMatchObject({ code: 'ERR_CONFIG_UNSERIALIZABLE', path: file });
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
      expect(await new ConfigFile(file).load()).toEqual({ good: true });
      expect(fs.existsSync(file + '.corrupt')).toBe(false);
      // The instance goes on.
      await cfg.save({ good: 2 });
      expect(await new ConfigFile(file).load()).toEqual({ good: 2 });
    });
  }

  it('rejects a value whose serialized form the custom parse rejects, writing nothing', async () => {
    const file = path.join(tmpDir(), 'c.bin');
    const cfg = new ConfigFile<string>(file, {
      serialize: (v) => v,
      parse: (b) => {
        const text = b.toString('utf8');
        if (!text.startsWith('v1:')) throw new Error('no version prefix');
        return text;
      },
    });
    await expect(cfg.save('oops')).rejects.toMatchObject({ code: 'ERR_CONFIG_UNSERIALIZABLE' });
    expect(fs.existsSync(file)).toBe(false);
    await cfg.save('v1:ok');
    expect(await cfg.load()).toBe('v1:ok');
  });

  it('rejects in update() too, changing nothing', async () => {
    const file = path.join(tmpDir(), 'c.json');
    const cfg = new ConfigFile<unknown>(file);
    await cfg.save({ v: 1 });
    await expect(cfg.update(() => ({ n: 2n }))).rejects.toMatchObject({ code: 'ERR_CONFIG_UNSERIALIZABLE' });
    expect(await new ConfigFile(file).load()).toEqual({ v: 1 });
  });

  it('still rejects a value validate() refuses with ERR_INVALID_ARG_VALUE', async () => {
    const cfg = new ConfigFile<number>(path.join(tmpDir(), 'c.json'), { validate: (v) => v > 0 });
    await expect(cfg.save(-1)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('ConfigFile options', () => {
  it('rejects unknown options as CommitLog.open does', async () => {
    const dir = tmpDir();
    const make = (): unknown => new ConfigFile(path.join(dir, 'c.json'), { default: { a: 1 } } as never);
    expect(make).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }));
    await expect(CommitLog.open(dir, { segmentSize: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('ConfigFile.load errors', () => {
  it('ENOENT carries errno, syscall and path like node:fs errors', async () => {
    const file = path.join(tmpDir(), 'none.json');
    const fsErr = await fs.promises.readFile(file).catch((e: NodeJS.ErrnoException) => e);
    const err = await new ConfigFile(file).load().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOENT', errno: (fsErr as NodeJS.ErrnoException).errno, syscall: 'open', path: file });
  });
});

describe('ConfigFile events', () => {
  it("passes LoadInfo to 'recovery' listeners", async () => {
    const file = path.join(tmpDir(), 'c.json');
    await new ConfigFile(file).save({ a: 1 });
    await new ConfigFile(file).save({ a: 2 });
    fs.writeFileSync(file, '{');
    const cfg = new ConfigFile(file);
    const seen: LoadInfo[] = [];
    cfg.once('recovery', (info) => seen.push(info));
    expect(await cfg.load()).toEqual({ a: 1 });
    expect(seen).toEqual([expect.objectContaining({ source: 'backup', corruptPath: `${file}.corrupt` })]);
  });
});
