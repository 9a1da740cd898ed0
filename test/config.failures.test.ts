// ConfigFile after failed saves (defect 14), on the fault-injection addon:
// what a rejected save leaves (README, "What a rejected save leaves"), that
// no temp file outlives the next successful save, and the fail-stop rule
// after a failed directory fsync.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../lib';
import { useFaultAddon, tmpDir } from './helpers';

const { lib, fault } = await useFaultAddon();

const EIO = 5;
const KINDS = ['open', 'lock', 'write', 'sync', 'link', 'rename', 'unlink'];

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

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes('.tmp'));
}

/** Steps (system calls that change something) of `count` saves by a warm instance. */
async function stepsOfSaves(count: number): Promise<number> {
  const { cfg } = await warm();
  fault.arm({});
  for (let i = 0; i < count; i++) await cfg.save({ v: 3 + i });
  const steps = fault.steps();
  fault.disarm();
  return steps;
}

interface Outcome {
  /** What the documentation says load() returns now. */
  now: number;
  /** What it may return after a power loss. */
  afterPowerLoss: Set<number>;
  /** The error that stopped the instance, if one did. */
  stopped?: { code: string };
}

/**
 * Saves 3, 4, ... one after the other on a warm instance while a fault plan
 * is armed, checks every rejection against the documented contract, and
 * returns what load() may return.
 */
async function saveThrough({ dir, file, cfg }: Setup, count: number): Promise<Outcome> {
  let durable = 2; // the old value, durable: this instance saved it
  const out: Outcome = { now: 2, afterPowerLoss: new Set([2]) };
  for (let i = 0; i < count; i++) {
    const v = 3 + i;
    const err = await cfg.save({ v }).then(
      () => undefined,
      (e) => e,
    );
    if (err === undefined) {
      expect(out.stopped).toBeUndefined();
      durable = v;
      out.now = v;
      out.afterPowerLoss = new Set([v]);
    } else if (out.stopped) {
      // Fail-stop: refused, nothing done.
      expect(err.code).toBe('ERR_CONFIG_FAILED');
      expect(err.cause).toBe(out.stopped);
    } else if (err.path === dir) {
      // The directory fsync after the rename (a warm instance does no other
      // directory fsync): the new value is in place, not durable.
      expect(err.code).toBe('EIO');
      out.now = v;
      out.afterPowerLoss = new Set([durable, v]);
      out.stopped = err;
    } else {
      // Any other failure: the old value stays, and the instance is usable.
      expect(err.code).toBe('EIO');
    }
  }
  return out;
}

/**
 * After the failures: the value in place is the documented one; then one
 * more save succeeds (on a new instance if the failure stopped this one)
 * and leaves exactly main, .bak (the value before it, a file of its own)
 * and .lock.
 */
async function checkRecovery(s: Setup, out: Outcome, kind: string) {
  const { dir, file, cfg } = s;
  expect(valueOf(file)).toBe(out.now);
  // A failed save removes its own temp file unless that unlink failed too.
  if (kind !== 'unlink') expect(leftovers(dir)).toEqual([]);
  let saver = cfg;
  if (out.stopped) {
    await expect(cfg.save({ v: 8 })).rejects.toMatchObject({ code: 'ERR_CONFIG_FAILED' });
    saver = new lib.ConfigFile<V>(file);
  }
  await saver.save({ v: 9 });
  expect(fs.readdirSync(dir).sort()).toEqual(['c.json', 'c.json.bak', 'c.json.lock']);
  expect(fs.statSync(file).ino).not.toBe(fs.statSync(file + '.bak').ino);
  expect(valueOf(file + '.bak')).toBe(out.now);
  const fresh = new lib.ConfigFile<V>(file);
  expect(await fresh.load()).toEqual({ v: 9 });
  expect(fresh.lastLoad?.source).toBe('main');
}

describe('ConfigFile after failed saves', () => {
  for (const saves of [1, 2]) {
    it(`fails each step of ${saves} save(s), of every kind: the value left is the documented one, and the next save leaves main, .bak and .lock only`, async () => {
      const steps = await stepsOfSaves(saves);
      expect(steps).toBeGreaterThan(8 * saves);
      const rejectedKinds = new Set<string>();
      for (const kind of KINDS) {
        // A kind has at most `steps` steps; indices past its last fail nothing.
        for (let n = 0; n < steps; n++) {
          const s = await warm();
          fault.arm({ failAt: n, kind, errno: EIO });
          const out = await saveThrough(s, saves);
          fault.disarm();
          if (out.now !== 2 + saves || out.stopped) rejectedKinds.add(kind);
          try {
            await checkRecovery(s, out, kind);
          } catch (err) {
            throw new Error(`kind ${kind}, step ${n}: ${(err as Error).message}`);
          }
        }
      }
      // (A failed unlink is never fatal to a save: it only leaves a leftover.)
      expect([...rejectedKinds].sort()).toEqual(['link', 'lock', 'open', 'rename', 'sync', 'write']);
    });
  }

  it('fails each step of two saves, of every kind, then loses power: load() returns the old or the new value as documented', async () => {
    const steps = await stepsOfSaves(2);
    const seen = new Set<string>();
    for (const kind of KINDS) {
      for (let n = 0; n < steps; n++) {
        const s = await warm();
        fault.arm({ failAt: n, kind, errno: EIO, trackDurability: true });
        const out = await saveThrough(s, 2);
        fault.crash();
        fault.powerLoss({ seed: n + 1, keep: 0.5, tear: true });
        fault.disarm();
        const loaded = (await new lib.ConfigFile<V>(s.file).load()).v;
        if (!out.afterPowerLoss.has(loaded)) {
          throw new Error(`kind ${kind}, step ${n}: loaded ${loaded}, allowed ${[...out.afterPowerLoss]}`);
        }
        seen.add(`${loaded}${out.stopped ? ' after a failed directory fsync' : ''}`);
      }
    }
    // The directory fsync case was reached, and a power loss undid its rename.
    expect(seen.has('2 after a failed directory fsync')).toBe(true);
  });

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

  it('a failed fdatasync of the temp file is not fatal; a failed directory fsync leaves the new value in place and stops the instance: later saves and loads reject with ERR_CONFIG_FAILED and touch nothing', async () => {
    const { dir, file, cfg } = await warm();
    // The temp file's fdatasync: the file is dropped, the old value stays.
    fault.arm({ failAt: 0, kind: 'sync', errno: EIO });
    await expect(cfg.save({ v: 7 })).rejects.toMatchObject({ code: 'EIO', syscall: 'fdatasync' });
    fault.disarm();
    expect(valueOf(file)).toBe(2);
    expect(leftovers(dir)).toEqual([]);
    // Sync 0 is the temp file's fdatasync, sync 1 the directory fsync.
    fault.arm({ failAt: 1, kind: 'sync', errno: EIO });
    const err = await cfg.save({ v: 3 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'EIO', path: dir });
    fault.disarm();
    expect(valueOf(file)).toBe(3);
    fault.arm({});
    const later = await Promise.allSettled([cfg.save({ v: 4 }), cfg.save({ v: 5 }), cfg.load()]);
    expect(fault.steps()).toBe(0);
    fault.disarm();
    for (const r of later) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CONFIG_FAILED', path: file });
      expect((r as PromiseRejectedResult).reason.cause).toBe(err);
    }
    expect(valueOf(file)).toBe(3);
    // A new instance goes on from what is on disk.
    const fresh = new lib.ConfigFile<V>(file);
    expect(await fresh.load()).toEqual({ v: 3 });
    await fresh.save({ v: 6 });
    expect(valueOf(file + '.bak')).toBe(3);
  });

  it('removes temp files that a failed save could not remove at its next successful save, and those of crashes at a first save', async () => {
    const { dir, file, cfg } = await warm();
    // What a failed save leaves when its own unlink fails too (two failures
    // in one save, which one fault plan cannot inject).
    fs.writeFileSync(`${file}.tmp-1-0`, '{"v": 7}');
    fs.writeFileSync(`${file}.bak.tmp`, '{"v": 7}');
    fault.arm({ failAt: 0, kind: 'write', errno: EIO });
    await expect(cfg.save({ v: 7 })).rejects.toMatchObject({ code: 'EIO' });
    fault.disarm();
    await cfg.save({ v: 3 });
    expect(fs.readdirSync(dir).sort()).toEqual(['c.json', 'c.json.bak', 'c.json.lock']);
    expect(valueOf(file + '.bak')).toBe(2);
    // A crash (or another process) left some: a new instance's first save.
    fs.writeFileSync(`${file}.tmp-2-0`, '{"v": 7}');
    await new lib.ConfigFile<V>(file).save({ v: 4 });
    expect(fs.readdirSync(dir).sort()).toEqual(['c.json', 'c.json.bak', 'c.json.lock']);
  });

  it('a value load() returned survives a power loss, also one that a failed directory fsync left', async () => {
    const { file, cfg } = await warm();
    fault.arm({ failAt: 1, kind: 'sync', errno: EIO, trackDurability: true });
    await expect(cfg.save({ v: 3 })).rejects.toMatchObject({ code: 'EIO' });
    expect(await new lib.ConfigFile<V>(file).load()).toEqual({ v: 3 });
    fault.crash();
    const undone = fault.powerLoss({ seed: 1, keep: 0, tear: false });
    fault.disarm();
    expect(undone.dirOpsUndone).toBe(0);
    expect(await new lib.ConfigFile<V>(file).load()).toEqual({ v: 3 });
  });

  it.each([
    ['the main file', async (s: Setup) => s.file],
    [
      '.bak, when the main file is corrupt',
      async (s: Setup) => {
        fs.writeFileSync(s.file, '{"v": 2');
        return `${s.file}.bak`;
      },
    ],
    [
      'a complete temp file left by a crash, when it is the only copy',
      async (s: Setup) => {
        for (const n of fs.readdirSync(s.dir)) fs.rmSync(path.join(s.dir, n));
        fs.writeFileSync(`${s.file}.tmp-1-0`, '{"v": 9}');
        return `${s.file}.tmp-1-0`;
      },
    ],
  ])('a save by an instance that did not load() fsyncs the copy load() would return first: %s', async (_, arrange) => {
    const s = await warm();
    const old = await arrange(s);
    const cfg = new lib.ConfigFile<V>(s.file);
    fault.arm({ failAt: 0, kind: 'sync', errno: EIO });
    await expect(cfg.save({ v: 5 })).rejects.toMatchObject({ code: 'EIO', path: old });
    fault.disarm();
    // Nothing changed, and a failed fsync stops the instance.
    expect(fs.existsSync(old)).toBe(true);
    await expect(cfg.save({ v: 5 })).rejects.toMatchObject({ code: 'ERR_CONFIG_FAILED' });
  });

  it('a save over a value it did not make durable fsyncs that value first: after a crash at any step and a power loss, load() returns it or the new one', async () => {
    // Instance a's save of 3 fails at its directory fsync; instance b, which
    // never loaded, then saves 4 and crashes at step k of that save.
    const scenario = async (crashAt: number | undefined) => {
      const s = await warm();
      fault.arm({ failAt: 1, kind: 'sync', errno: EIO, trackDurability: true, crashAt });
      await expect(s.cfg.save({ v: 3 })).rejects.toMatchObject({ code: 'EIO', path: s.dir });
      const before = fault.steps();
      const saved = await new lib.ConfigFile<V>(s.file).save({ v: 4 }).then(
        () => true,
        () => false,
      );
      return { ...s, before, saved };
    };
    const dry = await scenario(undefined);
    const steps = fault.steps() - dry.before;
    fault.disarm();
    expect(dry.saved).toBe(true);
    let reachedChange = 0;
    for (let k = dry.before; k <= dry.before + steps; k++) {
      const { dir, file, saved } = await scenario(k);
      fault.crash();
      // Did b change anything yet? Its first change is creating its temp file.
      const changed = saved || leftovers(dir).length > 0 || valueOf(file) === 4;
      fault.powerLoss({ seed: k, keep: 0.5, tear: true });
      fault.disarm();
      const loaded = (await new lib.ConfigFile<V>(file).load()).v;
      // Before b changes anything, a's failure rules: 2 or 3. Once b changed
      // something, 3 (the value b found) was durable: 3 or 4.
      const allowed = saved ? [4] : changed ? [3, 4] : [2, 3];
      if (!allowed.includes(loaded)) throw new Error(`crash at step ${k - dry.before} of b's save: loaded ${loaded}, allowed ${allowed}`);
      if (changed && !saved) reachedChange++;
    }
    expect(reachedChange).toBeGreaterThan(2);
  });
});

describe('ConfigFile over a file it did not write', () => {
  it('makes a value another program wrote without fsync durable before a save that then fails can leave it', async () => {
    for (const keep of [0, 0.5]) {
      const file = `${tmpDir()}/state.json`;
      fault.arm({ trackDurability: true });
      // An editor or a deploy script: writes the file, never fsyncs it.
      const fd = fault.io.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
      fault.io.write(fd, Buffer.from('{"v":1}'), 0);
      fault.io.close(fd);
      fault.io.syncDir(path.dirname(file));
      // A save whose final rename fails: it must leave the old value, durably.
      fault.restart({ failAt: 1, kind: 'rename', errno: 5 });
      const err = await new lib.ConfigFile<{ v: number }>(file).save({ v: 2 }).catch((e) => e);
      expect(err?.code).toBe('EIO');
      fault.crash();
      fault.powerLoss({ seed: 3, keep });
      fault.disarm();
      const loaded = await new lib.ConfigFile<{ v: number }>(file, { defaults: { v: 0 } }).load();
      expect(loaded.v).toBe(1);
    }
  });
});

describe('writeFileDurable', () => {
  it('leaves the new content after a power loss once it resolved, whatever the directory loses', async () => {
    for (const dirKeep of [0, 0.5]) {
      const file = `${tmpDir()}/out.bin`;
      await lib.writeFileDurable(file, 'old');
      fault.arm({ trackDurability: true });
      await lib.writeFileDurable(file, 'new');
      fault.crash();
      fault.powerLoss({ seed: 5, keep: 0, dirKeep });
      fault.disarm();
      expect(fs.readFileSync(file, 'utf8')).toBe('new');
    }
  });
});
