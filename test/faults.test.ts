// Runs the public API on the test addon, whose I/O layer can crash (stop
// every later system call, as a killed process would) or fail a chosen call.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFaultAddon, recordBytes, tmpDir } from './helpers';

const { lib, fault } = await useFaultAddon();

const EIO = 5;
const ENOSPC = 28;

interface V {
  v: number;
}

/** Steps (system calls that change something) one save takes from this state. */
async function stepsOfSave(setup: () => Promise<string>, value: V): Promise<number> {
  const file = await setup();
  const cfg = new lib.ConfigFile<V>(file);
  fault.arm({});
  await cfg.save(value);
  const n = fault.steps();
  fault.disarm();
  return n;
}

/**
 * For every step k of a save, crashes right before it, then "restarts"
 * (a fresh ConfigFile) and loads: the result must be the last acknowledged
 * value or the new one, never an error.
 */
async function crashAtEveryStep(setup: () => Promise<string>, before: V | undefined, after: V) {
  const steps = await stepsOfSave(setup, after);
  expect(steps).toBeGreaterThan(3);
  const outcomes = new Set<number>();
  for (let k = 0; k <= steps; k++) {
    const file = await setup();
    const cfg = new lib.ConfigFile<V>(file);
    fault.arm({ crashAt: k });
    const saved = await cfg.save(after).then(
      () => true,
      (e) => {
        expect(e.code).toBe('ECANCELED');
        return false;
      },
    );
    fault.disarm();
    const loaded = await new lib.ConfigFile<V>(file, before ? {} : { defaults: { v: -1 } }).load();
    if (saved) expect(loaded).toEqual(after);
    else expect([before?.v ?? -1, after.v]).toContain(loaded.v);
    outcomes.add(loaded.v);
    // And the next save works and is loadable.
    await new lib.ConfigFile<V>(file).save({ v: 100 });
    expect(await new lib.ConfigFile<V>(file).load()).toEqual({ v: 100 });
  }
  return outcomes;
}

describe('ConfigFile under crashes at every system call', () => {
  it('loads the old or the new value after a crash at any step of a save over a valid file', async () => {
    const setup = async () => {
      const file = path.join(tmpDir(), 'c.json');
      const c = new lib.ConfigFile<V>(file);
      await c.save({ v: 1 });
      await c.save({ v: 2 });
      return file;
    };
    const outcomes = await crashAtEveryStep(setup, { v: 2 }, { v: 3 });
    expect(outcomes).toEqual(new Set([2, 3]));
  });

  it('loads defaults or the new value after a crash during the very first save', async () => {
    const setup = async () => path.join(tmpDir(), 'first.json');
    const outcomes = await crashAtEveryStep(setup, undefined, { v: 7 });
    expect(outcomes.has(7)).toBe(true);
  });

  it('RocketMQ #9705: with a corrupt main and a good .bak, a crash at any step of the next save leaves a good value', async () => {
    const setup = async () => {
      const file = path.join(tmpDir(), 'r.json');
      const c = new lib.ConfigFile<V>(file);
      await c.save({ v: 1 });
      await c.save({ v: 2 }); // bak = 1
      fs.writeFileSync(file, '{"v": 2'); // main torn
      expect(await new lib.ConfigFile<V>(file).load()).toEqual({ v: 1 }); // moves main aside
      return file;
    };
    const outcomes = await crashAtEveryStep(setup, { v: 1 }, { v: 5 });
    expect(outcomes).toEqual(new Set([1, 5]));
  });

  it.each([
    ['write', ENOSPC, 'ENOSPC', false],
    ['write', ENOSPC, 'ENOSPC', true],
    ['sync', EIO, 'EIO', false],
    ['rename', EIO, 'EIO', false],
    ['link', ENOSPC, 'ENOSPC', false],
  ])('a failed %s rejects with %s (short write: %s), keeps the old value and leaves no temp file', async (kind, errno, code, shortWrite) => {
    const dir = tmpDir();
    const file = path.join(dir, 'f.json');
    const c = new lib.ConfigFile<V>(file);
    await c.save({ v: 1 });
    await c.save({ v: 2 });
    fault.arm({ failAt: 0, errno, kind, shortWrite });
    await expect(c.save({ v: 3 })).rejects.toMatchObject({ code });
    fault.disarm();
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect(await new lib.ConfigFile<V>(file).load()).toEqual({ v: 2 });
    expect(JSON.parse(fs.readFileSync(file + '.bak', 'utf8'))).toEqual({ v: 1 });
  });
});

describe('CommitLog under injected I/O errors (fail-stop)', () => {
  it.each([
    ['sync', EIO, 'EIO', false],
    ['write', EIO, 'EIO', false],
    ['write', ENOSPC, 'ENOSPC', false],
    ['write', ENOSPC, 'ENOSPC', true],
  ])('a failed %s rejects its batch with %s (short write: %s), later appends with ERR_LOG_FAILED, and loses nothing acknowledged', async (kind, errno, code, shortWrite) => {
    const dir = tmpDir();
    const opts = { preallocate: 'none' as const };
    const log = await lib.CommitLog.open(dir, opts);
    for (let i = 0; i < 5; i++) await log.append(recordBytes(i));
    fault.arm({ failAt: 0, errno, kind, shortWrite });
    // 3,000-byte records: half of any batch's span cuts into its records.
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => log.append(recordBytes(5 + i, 3000))));
    fault.disarm();
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0].reason.code).toBe(code);
    // Nothing after the failure resolves: the fulfilled ones all come first.
    const firstRejected = results.findIndex((r) => r.status === 'rejected');
    expect(results.slice(firstRejected).every((r) => r.status === 'rejected')).toBe(true);
    const later = await log.append('x').catch((e) => e);
    expect(later.code).toBe('ERR_LOG_FAILED');
    expect(later.cause.code).toBe(code);
    expect(log.stats().durableSeq).toBe(5 + firstRejected);
    await log.close();
    const again = await lib.CommitLog.open(dir, opts);
    // Half a batch reached the disk: recovery cuts it as a torn tail.
    if (shortWrite) expect(again.recovery.tornTail).toBe(true);
    const back: Buffer[] = [];
    for await (const r of again.read()) back.push(Buffer.from(r.data));
    expect(back.length).toBeGreaterThanOrEqual(5 + firstRejected);
    for (let i = 0; i < 5 + firstRejected; i++) expect(back[i].equals(i < 5 ? recordBytes(i) : recordBytes(i, 3000))).toBe(true);
    await again.close();
  });
});
