// Cursors under the crash model (native/core/fault_io.h): a crash at every
// step of a commit, a creation and a deletion, then a power loss (and, for
// commits, a restart in between), then a strict reopen. Also the fdatasync
// count of coalesced commits, and the clamp after a sync 'none' power loss.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir, useFaultAddon } from './helpers';

const { lib, fault } = await useFaultAddon();
const { CursorStore } = await import('../lib/cursor');

// No background I/O (no prepared segments, no roll) while a plan is armed,
// so that step numbers are the cursor's own.
const OPTS = { preallocate: 'none' as const };
// What a power loss keeps of the writes and names not yet durable: nothing,
// everything, and eight random draws (each name and sector on its own).
const LOSSES = [
  { keep: 0, dirKeep: 0 },
  { keep: 1, dirKeep: 1 },
  ...Array.from({ length: 8 }, () => ({ keep: 0.5, dirKeep: 0.5 })),
];

type Log = InstanceType<typeof lib.CommitLog>;

/** A log of 20 records whose cursor 'c' was committed at 5 then 10 (so .bak holds 5), all durable. */
async function warm(): Promise<{ dir: string; log: Log }> {
  const dir = tmpDir();
  const log = await lib.CommitLog.open(dir, OPTS);
  for (let i = 0; i < 20; i++) await log.append(`r${i}`);
  const c = await log.cursor('c');
  await c.commit(5);
  await c.commit(10);
  return { dir, log };
}

/** Steps of `op` on a fresh setup. */
async function stepsOf(setup: () => Promise<{ log: Log }>, op: (log: Log) => Promise<unknown>): Promise<number> {
  const { log } = await setup();
  fault.arm({});
  await op(log);
  const steps = fault.steps();
  fault.disarm();
  await log.close();
  return steps;
}

/** The process dies now: nothing it does from here on reaches the files. */
async function die(log: Log): Promise<void> {
  fault.crash();
  await log.close().catch(() => {});
}

/** A strict open after the power loss, and what it says of the cursors. */
async function reopen(dir: string) {
  const log = await lib.CommitLog.open(dir, OPTS);
  expect(log.recovery.corruption).toBe(false);
  const list = await log.cursors();
  for (const c of list) expect(c.position).toBeLessThanOrEqual(log.durableSeq);
  return { log, list };
}

describe('a crash at every step, then a power loss', () => {
  it('a commit leaves the old or the new position, the new one once it resolved, never an error or a position past the durable end', async () => {
    const commit = async (log: Log) => (await log.cursor('c')).commit(15);
    const steps = await stepsOf(warm, commit);
    expect(steps).toBeGreaterThan(4);
    let cut = 0;
    for (let k = 0; k <= steps; k++) {
      for (const [i, loss] of LOSSES.entries()) {
        const { dir, log } = await warm();
        const c = await log.cursor('c');
        fault.arm({ trackDurability: true, crashAt: k });
        const acked = await c.commit(15).then(
          () => true,
          () => false,
        );
        await die(log);
        fault.powerLoss({ seed: 1 + k * 100 + i, ...loss });
        fault.disarm();
        const after = await reopen(dir);
        const cur = await after.log.cursor('c');
        const where = `crash at step ${k}, loss ${JSON.stringify(loss)}`;
        expect(acked ? [15] : [10, 15], where).toContain(cur.position);
        expect(cur.clamped, where).toBe(false);
        if (!acked && cur.position === 10) cut++;
        await after.log.close();
      }
    }
    expect(cut).toBeGreaterThan(0);
  });

  it('a commit, then a restart that opens the cursor: the position the restarted process saw survives a power loss', async () => {
    const steps = await stepsOf(warm, async (log) => (await log.cursor('c')).commit(15));
    for (let k = 0; k <= steps; k++) {
      for (const [i, loss] of LOSSES.entries()) {
        const { dir, log } = await warm();
        const c = await log.cursor('c');
        fault.arm({ trackDurability: true, crashAt: k });
        const acked = await c.commit(15).then(
          () => true,
          () => false,
        );
        await die(log);
        fault.restart({});
        const restarted = await lib.CommitLog.open(dir, OPTS);
        const seen = (await restarted.cursor('c')).position;
        expect(acked ? [15] : [10, 15]).toContain(seen);
        await die(restarted);
        fault.powerLoss({ seed: 5 + k * 100 + i, ...loss });
        fault.disarm();
        const after = await reopen(dir);
        expect((await after.log.cursor('c')).position, `crash at step ${k}, loss ${JSON.stringify(loss)}`).toBe(seen);
        await after.log.close();
      }
    }
  });

  it('a creation leaves no cursor or the new one (with its cursors/ directory), the new one once it resolved', async () => {
    const fresh = async () => {
      const dir = tmpDir();
      const log = await lib.CommitLog.open(dir, OPTS);
      for (let i = 0; i < 5; i++) await log.append(`r${i}`);
      return { dir, log };
    };
    const steps = await stepsOf(fresh, (log) => log.cursor('c', { from: 3 }));
    expect(steps).toBeGreaterThan(6);
    let absent = 0;
    for (let k = 0; k <= steps; k++) {
      for (const [i, loss] of LOSSES.entries()) {
        const { dir, log } = await fresh();
        fault.arm({ trackDurability: true, crashAt: k });
        const acked = await log.cursor('c', { from: 3 }).then(
          () => true,
          () => false,
        );
        await die(log);
        fault.powerLoss({ seed: 11 + k * 100 + i, ...loss });
        fault.disarm();
        const after = await reopen(dir);
        const where = `crash at step ${k}, loss ${JSON.stringify(loss)}`;
        if (acked) expect(after.list, where).toEqual([{ name: 'c', position: 3, hold: false }]);
        else expect([[], [{ name: 'c', position: 3, hold: false }]], where).toContainEqual(after.list);
        if (after.list.length === 0) absent++;
        // Never an error: what is there opens (or is made anew).
        expect((await after.log.cursor('c')).position).toBe(after.list.length === 0 ? 0 : 3);
        await after.log.close();
      }
    }
    expect(absent).toBeGreaterThan(0);
  });

  it('a deletion leaves the cursor gone or intact, never its older backup value; gone once it resolved', async () => {
    const steps = await stepsOf(warm, (log) => log.deleteCursor('c'));
    expect(steps).toBeGreaterThan(3);
    let intact = 0;
    for (let k = 0; k <= steps; k++) {
      for (const [i, loss] of LOSSES.entries()) {
        const { dir, log } = await warm();
        fault.arm({ trackDurability: true, crashAt: k });
        const acked = await log.deleteCursor('c').then(
          () => true,
          () => false,
        );
        await die(log);
        fault.powerLoss({ seed: 17 + k * 100 + i, ...loss });
        fault.disarm();
        const after = await reopen(dir);
        const where = `crash at step ${k}, loss ${JSON.stringify(loss)}`;
        if (acked) expect(after.list, where).toEqual([]);
        else expect([[], [{ name: 'c', position: 10, hold: false }]], where).toContainEqual(after.list);
        if (after.list.length === 1) {
          intact++;
          expect((await after.log.cursor('c')).position, where).toBe(10);
        }
        await after.log.close();
      }
    }
    expect(intact).toBeGreaterThan(0);
  });
});

describe('cursors and the durable end', () => {
  it("clamps a cursor durably at open after a power loss took records of a sync 'none' run: the numbers handed out again are not skipped", async () => {
    const dir = tmpDir();
    fault.arm({ trackDurability: true });
    const log = await lib.CommitLog.open(dir, { ...OPTS, sync: 'none' });
    for (let i = 0; i < 10; i++) await log.append(`r${i}`);
    await (await log.cursor('c')).commit(10);
    await die(log);
    fault.powerLoss({ seed: 3, keep: 0, dirKeep: 0 });
    fault.restart({ trackDurability: true });
    const again = await lib.CommitLog.open(dir, OPTS);
    const end = again.durableSeq;
    expect(end).toBeLessThan(10);
    expect(await again.cursors()).toEqual([{ name: 'c', position: end, hold: false }]);
    // The clamp is durable: it survives a crash and power loss right after open.
    await die(again);
    fault.powerLoss({ seed: 4, keep: 0, dirKeep: 0 });
    fault.disarm();
    const third = await lib.CommitLog.open(dir, OPTS);
    expect(third.durableSeq).toBe(end);
    for (let i = 0; i < 15; i++) await third.append(`new${i}`);
    const c = await third.cursor('c');
    expect(c.position).toBe(end);
    expect(c.clamped).toBe(false);
    await third.close();
  });
});

describe('failed syncs (injected, no crash)', () => {
  const EIO = 5;
  const warmStore = async () => {
    const store = new CursorStore({ dir: tmpDir(), logId: '1', durableSeq: () => 100, firstSeq: () => 0 });
    const c = await store.open('c');
    await c.commit(5);
    return { store, c };
  };

  it('a failed directory fsync rejects the commit with EIO and stops the Cursor: later commits reject with ERR_CONFIG_FAILED, the EIO as cause; opened again, it shows the new position', async () => {
    const { store, c } = await warmStore();
    fault.arm({ failAt: 1, kind: 'sync', errno: EIO });
    const err = await c.commit(6).catch((e) => e);
    expect(err).toMatchObject({ code: 'EIO', syscall: 'fsync' });
    const later = await c.commit(7).catch((e) => e);
    fault.disarm();
    expect(later).toMatchObject({ code: 'ERR_CONFIG_FAILED' });
    expect(later.cause).toBe(err);
    expect(c.position).toBe(5);
    const again = await store.open('c');
    expect(again.position).toBe(6);
    await again.commit(8);
  });

  it("a failed fdatasync of a commit's temp file rejects it with EIO and leaves the Cursor usable at the old position", async () => {
    const { store, c } = await warmStore();
    fault.arm({ failAt: 0, kind: 'sync', errno: EIO });
    await expect(c.commit(6)).rejects.toMatchObject({ code: 'EIO', syscall: 'fdatasync' });
    fault.disarm();
    expect(c.position).toBe(5);
    expect((await store.list())[0].position).toBe(5);
    await c.commit(7);
    expect((await store.open('c')).position).toBe(7);
  });
});

describe('coalescing', () => {
  it('5,000 commits fired without awaiting cost a handful of fdatasyncs (counted at the system-call boundary)', async () => {
    const store = new CursorStore({ dir: tmpDir(), logId: '1', durableSeq: () => 5000, firstSeq: () => 0 });
    const c = await store.open('c');
    fault.arm({});
    await Promise.all(Array.from({ length: 5000 }, (_, i) => c.commit(i + 1)));
    const syncs = fault.steps('sync');
    fault.disarm();
    expect(c.position).toBe(5000);
    expect(syncs).toBeGreaterThan(0);
    expect(syncs).toBeLessThan(50);
    // Each write: the temp file's fdatasync and the directory's fsync (bench/cursor.js counts so).
    expect(syncs).toBe(2 * c.writes);
  });
});

describe('ConfigFile.update() that saves nothing', () => {
  it('returns the stored value made durable, also one another program wrote without fsync', async () => {
    const file = path.join(tmpDir(), 'c.json');
    fault.arm({ trackDurability: true });
    const fd = fault.io.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
    fault.io.write(fd, Buffer.from('{"v":1}'), 0);
    fault.io.close(fd);
    expect(await new lib.ConfigFile<{ v: number }>(file).update(() => undefined)).toEqual({ v: 1 });
    fault.crash();
    fault.powerLoss({ seed: 1, keep: 0, dirKeep: 0 });
    fault.disarm();
    expect(await new lib.ConfigFile<{ v: number }>(file).load()).toEqual({ v: 1 });
  });
});
