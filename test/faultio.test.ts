// Tests of the crash model itself (native/core/fault_io.h), driven through
// fault.io: the test Io's own calls, without the log. Each test builds a
// state (what the files show, what the model says the disk has), loses
// power, and checks what is left.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadFaultAddon, tmpDir } from './helpers';

type Fault = NonNullable<typeof import('../lib/native').native.fault>;
let fault: Fault;
let io: Fault['io'];

beforeAll(async () => {
  ({ fault } = await loadFaultAddon());
  io = fault.io;
});
afterEach(() => fault.disarm());

const EIO = 5;
const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_DSYNC, O_TRUNC } = fs.constants;

const fill = (ch: string, n = 512) => Buffer.alloc(n, ch);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Creates dir/name with `data`, and makes both the bytes and the name durable. */
function durableFile(dir: string, name: string, data: Buffer): string {
  const file = path.join(dir, name);
  const fd = io.open(file, O_RDWR | O_CREAT | O_EXCL);
  io.write(fd, data, 0);
  io.sync(fd);
  io.close(fd);
  io.syncDir(dir);
  return file;
}

/** Opens, writes (not synced), closes. */
function writeAt(file: string, data: Buffer, offset: number) {
  const fd = io.open(file, O_RDWR);
  io.write(fd, data, offset);
  io.close(fd);
}

/** Names in dir, without the model's hidden links. */
const names = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith('.faultio-'))
    .sort();

/** One letter per 512-byte sector ('A', 'B', ... or '0' for zeros); '?' if it mixes. */
function sectorsOf(buf: Buffer): string {
  let out = '';
  for (let off = 0; off < buf.length; off += 512) {
    const s = buf.subarray(off, off + 512);
    out += s.every((b) => b === s[0]) ? (s[0] === 0 ? '0' : String.fromCharCode(s[0])) : '?';
  }
  return out;
}

describe('restart', () => {
  it('keeps what is not durable across a restart, so a later power loss still undoes it', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const a = durableFile(dir, 'a', fill('A'));
    writeAt(a, fill('B'), 0); // first lifetime: never synced
    fault.crash();
    expect(codeOf(() => io.syncDir(dir))).toBe('ECANCELED');

    fault.restart({ crashAt: 6 });
    expect(fault.crashed()).toBe(false);
    expect(fault.steps()).toBe(0);
    const b = durableFile(dir, 'b', fill('C')); // steps 0-3
    const fd = io.open(a, O_RDWR); // step 4
    io.write(fd, fill('D'), 512); // step 5
    expect(codeOf(() => io.sync(fd))).toBe('ECANCELED'); // step 6: the second crash
    expect(fault.crashed()).toBe(true);
    io.close(fd);
    expect(sectorsOf(fs.readFileSync(a))).toBe('BD');

    const pl = fault.powerLoss({ seed: 1, keep: 0 });
    expect(sectorsOf(fs.readFileSync(a))).toBe('A');
    expect(fs.readFileSync(b)).toEqual(fill('C'));
    expect(pl).toMatchObject({ sectorsLost: 2, sectorsKept: 0, writesLost: 2 });
    expect(fs.readdirSync(dir).sort()).toEqual(['a', 'b']);
  });

  it('starts a new record on arm without keepState: what came before counts as durable', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const a = durableFile(dir, 'a', fill('A'));
    writeAt(a, fill('B'), 0);
    fault.arm({ trackDurability: true });
    fault.crash();
    expect(fault.powerLoss({ keep: 0 }).sectorsLost).toBe(0);
    expect(sectorsOf(fs.readFileSync(a))).toBe('B');
  });
});

describe('data', () => {
  it('keeps a write acknowledged by a successful sync through every power loss', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const dir = tmpDir();
      fault.arm({ trackDurability: true });
      const file = durableFile(dir, 'f', fill('A', 1024));
      const fd = io.open(file, O_RDWR);
      io.write(fd, fill('B', 700), 300);
      io.sync(fd); // acknowledged
      io.write(fd, fill('C', 100), 2000); // not
      io.write(fd, fill('C', 10), 0);
      io.close(fd);
      fault.crash();
      fault.powerLoss({ seed, keep: seed % 2 ? 0 : 0.5, dirKeep: 0 });
      fault.disarm();
      const got = fs.readFileSync(file);
      // The unsynced write spans sectors 3 and 4: either may carry the size.
      expect([1024, 2048, 2100]).toContain(got.length);
      expect(got.subarray(10, 1024)).toEqual(Buffer.concat([fill('A', 290), fill('B', 700), fill('A', 24)]));
    }
  });

  it('tears a write at sector boundaries, and grows a file only to its last surviving sector', () => {
    const seen = new Set<string>();
    let torn = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const dir = tmpDir();
      fault.arm({ trackDurability: true });
      const file = durableFile(dir, 'f', fill('A', 2048));
      writeAt(file, fill('B', 3072), 1024); // sectors 2-7: two over durable bytes, four past the end
      fault.crash();
      const pl = fault.powerLoss({ seed, keep: 0.5 });
      fault.disarm();
      const s = sectorsOf(fs.readFileSync(file));
      // Each sector is whole, old or new; past the durable size the file ends
      // with its last surviving sector, and lost sectors before it are zeros.
      expect(s).toMatch(/^AA[AB][AB](?:[0B]*B)?$/);
      seen.add(s);
      if (pl.writesTorn === 1) torn++;
      expect(pl.sectorsKept + pl.sectorsLost).toBe(6);
      expect(pl.writesTorn + pl.writesKept + pl.writesLost).toBe(1);
    }
    expect(torn).toBeGreaterThan(0);
    expect([...seen].some((s) => s.includes('0'))).toBe(true);
    expect([...seen].some((s) => s.slice(2, 4) === 'AB' || s.slice(2, 4) === 'BA')).toBe(true);
  });

  it('tracks data by inode: writes follow a rename, and a sync through any descriptor or name counts', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const a = durableFile(dir, 'a', fill('A', 1024));
    const b = path.join(dir, 'b');
    const fd = io.open(a, O_RDWR);
    io.write(fd, fill('B'), 0);
    io.rename(a, b);
    io.syncDir(dir);
    const ro = io.open(b, O_RDONLY);
    io.sync(ro); // saves what went through fd, under the old name
    io.close(ro);
    io.write(fd, fill('C'), 512); // not synced
    io.close(fd);
    const c = durableFile(dir, 'c', fill('A'));
    const d = path.join(dir, 'd');
    writeAt(c, fill('B'), 0); // not synced, then renamed
    io.rename(c, d);
    io.syncDir(dir);
    fault.crash();
    fault.powerLoss({ keep: 0 });
    expect(names(dir)).toEqual(['b', 'd']);
    expect(sectorsOf(fs.readFileSync(b))).toBe('BA');
    expect(sectorsOf(fs.readFileSync(d))).toBe('A');
  });

  it('reverts a shrink by ftruncate or O_TRUNC that no sync covered', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const a = durableFile(dir, 'a', fill('A', 1024));
    const b = durableFile(dir, 'b', fill('B', 1024));
    const fd = io.open(a, O_RDWR);
    io.truncate(fd, 100);
    io.close(fd);
    io.close(io.open(b, O_RDWR | O_TRUNC));
    expect(fs.statSync(a).size).toBe(100);
    expect(fs.statSync(b).size).toBe(0);
    fault.crash();
    fault.powerLoss({ keep: 0 });
    expect(sectorsOf(fs.readFileSync(a))).toBe('AA');
    expect(sectorsOf(fs.readFileSync(b))).toBe('BB');
  });

  it('makes a write through an O_DSYNC descriptor durable when it returns', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const file = durableFile(dir, 'f', fill('A'));
    const fd = io.open(file, O_RDWR | O_DSYNC);
    io.write(fd, fill('B', 1024), 0);
    io.close(fd);
    fault.crash();
    expect(fault.powerLoss({ keep: 0 }).sectorsLost).toBe(0);
    expect(sectorsOf(fs.readFileSync(file))).toBe('BB');
  });
});

describe('failed sync', () => {
  /** A durable 'A' sector overwritten with 'B', whose sync failed; returns the open fd. */
  function doomed(dir: string, keep?: number): { file: string; fd: number } {
    fault.arm({ trackDurability: true });
    const file = durableFile(dir, 'f', fill('A'));
    fault.restart({ failAt: 0, kind: 'sync', errno: EIO, keep });
    const fd = io.open(file, O_RDWR);
    io.write(fd, fill('B'), 0);
    expect(codeOf(() => io.sync(fd))).toBe('EIO');
    // Still readable: Linux keeps the pages after a writeback error.
    expect(sectorsOf(fs.readFileSync(file))).toBe('B');
    return { file, fd };
  }

  it('dooms the data: a later successful sync does not make it durable', () => {
    const { file, fd } = doomed(tmpDir());
    io.sync(fd); // succeeds: the error was reported once, the pages are clean
    io.close(fd);
    fault.crash();
    const pl = fault.powerLoss({ keep: 0 });
    expect(pl).toMatchObject({ sectorsLost: 1, doomedSectors: 1 });
    expect(sectorsOf(fs.readFileSync(file))).toBe('A');
  });

  it('lets a doomed sector reach the disk after all at a power loss', () => {
    const { file, fd } = doomed(tmpDir());
    io.close(fd);
    fault.crash();
    expect(fault.powerLoss({ keep: 1 })).toMatchObject({ sectorsKept: 1, doomedSectors: 1 });
    expect(sectorsOf(fs.readFileSync(file))).toBe('B');
  });

  it('makes a rewrite after the failure durable with the next successful sync', () => {
    const { file, fd } = doomed(tmpDir());
    io.write(fd, fill('C', 100), 0); // the page is dirty again
    io.sync(fd);
    io.close(fd);
    fault.crash();
    expect(fault.powerLoss({ keep: 0 }).sectorsLost).toBe(0);
    expect(fs.readFileSync(file)).toEqual(Buffer.concat([fill('C', 100), fill('B', 412)]));
  });

  it.each([
    [0, 'A'],
    [1, 'B'],
  ])('after dropCache with keep %s shows %s, and a power loss keeps that', (keep, shown) => {
    const { file, fd } = doomed(tmpDir(), keep);
    io.dropCache(fd);
    expect(sectorsOf(fs.readFileSync(file))).toBe(shown);
    io.sync(fd);
    io.close(fd);
    fault.crash();
    expect(fault.powerLoss({ keep: 0 }).sectorsLost).toBe(0);
    expect(sectorsOf(fs.readFileSync(file))).toBe(shown);
  });
});

describe('directory entries', () => {
  it('reverts or keeps each name independently: rename(tmp, target) has all four outcomes', () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 64; seed++) {
      const dir = tmpDir();
      fault.arm({ trackDurability: true });
      const target = durableFile(dir, 'target', Buffer.from('old'));
      const tmp = durableFile(dir, 'tmp', Buffer.from('new'));
      io.rename(tmp, target);
      fault.crash();
      const pl = fault.powerLoss({ seed, keep: 1, dirKeep: 0.5 });
      fault.disarm();
      expect(pl.dirOpsUndone + pl.namesKept).toBe(2);
      const t = fs.readFileSync(target, 'utf8');
      const m = fs.existsSync(tmp) ? fs.readFileSync(tmp, 'utf8') : '-';
      outcomes.add(`tmp=${m} target=${t}`);
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('.faultio-'))).toEqual([]);
    }
    // Both kept; tmp back; the new file orphaned; both back.
    expect(outcomes).toEqual(
      new Set(['tmp=- target=new', 'tmp=new target=new', 'tmp=- target=old', 'tmp=new target=old']),
    );
  });

  it('makes names durable with a successful directory sync, not with a failed one', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    durableFile(dir, 'old', Buffer.from('x'));
    fault.restart({ failAt: 0, kind: 'sync', errno: EIO });
    const fd = io.open(path.join(dir, 'new'), O_RDWR | O_CREAT | O_EXCL);
    io.close(fd);
    io.unlink(path.join(dir, 'old'));
    expect(codeOf(() => io.syncDir(dir))).toBe('EIO');
    fault.crash();
    expect(fault.powerLoss({ keep: 1, dirKeep: 0 }).dirOpsUndone).toBe(2);
    expect(names(dir)).toEqual(['old']);
  });

  it('reverts unlink, link and RenameNoReplace to the durable entries', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const a = durableFile(dir, 'a', Buffer.from('a'));
    const b = durableFile(dir, 'b', Buffer.from('b'));
    io.unlink(a);
    io.link(b, path.join(dir, 'b2'));
    expect(codeOf(() => io.renameNoReplace(b, path.join(dir, 'b2')))).toBe('EEXIST');
    io.renameNoReplace(b, path.join(dir, 'c'));
    expect(names(dir)).toEqual(['b2', 'c']);
    fault.crash();
    expect(fault.powerLoss({ keep: 1, dirKeep: 0 }).dirOpsUndone).toBe(4);
    expect(names(dir)).toEqual(['a', 'b']);
    expect(fs.readFileSync(a, 'utf8')).toBe('a');
  });

  it('removes the whole tree of a directory made since the last sync when its name reverts', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const sub = path.join(dir, 'sub');
    io.mkdir(sub);
    durableFile(sub, 'f', fill('A')); // durable inside sub, but sub is not in dir
    io.mkdir(path.join(sub, 'deeper'));
    fault.crash();
    expect(fault.powerLoss({ keep: 1, dirKeep: 0 }).dirOpsUndone).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('keeps a synced directory and reverts only what changed in it since its own sync', () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const sub = path.join(dir, 'sub');
    io.mkdir(sub);
    io.syncDir(dir);
    durableFile(sub, 'f', fill('A'));
    io.mkdir(path.join(sub, 'deeper'));
    fault.crash();
    fault.powerLoss({ keep: 1, dirKeep: 0 });
    expect(names(dir)).toEqual(['sub']);
    expect(names(sub)).toEqual(['f']);
  });
});
