// ConfigFile after failed saves (defect 14), on the fault-injection addon:
// no temp file outlives the next successful save.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../lib';
import { loadFaultAddon, tmpDir } from './helpers';

let lib: typeof import('../lib');
let fault: NonNullable<typeof import('../lib/native').native.fault>;

beforeAll(async () => {
  ({ lib, fault } = await loadFaultAddon());
});

afterEach(() => fault.disarm());

const EIO = 5;

interface V {
  v: number;
}

interface Setup {
  dir: string;
  file: string;
  cfg: ConfigFile<V>;
}

/** A file saved twice by `cfg`: main holds 2, .bak holds 1. */
async function warm(): Promise<Setup> {
  const dir = fs.realpathSync(tmpDir());
  const file = path.join(dir, 'c.json');
  const cfg = new lib.ConfigFile<V>(file);
  await cfg.save({ v: 1 });
  await cfg.save({ v: 2 });
  return { dir, file, cfg };
}

function valueOf(file: string): number {
  return JSON.parse(fs.readFileSync(file, 'utf8')).v;
}

describe('ConfigFile after failed saves', () => {
  it('after a failed final rename, .bak is another name for main; the next save leaves two distinct files and no .bak.tmp', async () => {
    const { dir, file, cfg } = await warm();
    // Rename 0 moves the backup into place, rename 1 is the final one.
    fault.arm({ failAt: 1, kind: 'rename', errno: EIO });
    await expect(cfg.save({ v: 3 })).rejects.toMatchObject({ code: 'EIO', syscall: 'rename' });
    fault.disarm();
    expect(valueOf(file)).toBe(2);
    expect(fs.statSync(file + '.bak').ino).toBe(fs.statSync(file).ino);
    await cfg.save({ v: 4 });
    expect(fs.readdirSync(dir).sort()).toEqual(['c.json', 'c.json.bak', 'c.json.lock']);
    expect(fs.statSync(file + '.bak').ino).not.toBe(fs.statSync(file).ino);
    expect(valueOf(file + '.bak')).toBe(2);
    expect(valueOf(file)).toBe(4);
  });

  it('removes temp files that earlier failed saves could not remove at the next successful save', async () => {
    const { dir, file, cfg } = await warm();
    // What a failed save leaves when its own unlink fails too.
    fs.writeFileSync(`${file}.tmp-1-0`, '{"v": 7}');
    fs.writeFileSync(`${file}.bak.tmp`, '{"v": 7}');
    await cfg.save({ v: 3 });
    expect(fs.readdirSync(dir).sort()).toEqual(['c.json', 'c.json.bak', 'c.json.lock']);
    expect(valueOf(file + '.bak')).toBe(2);
  });
});
