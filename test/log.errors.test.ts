// Errors cross the boundary in one place (ToJsError): every ERR_LOG_FAILED
// carries the system error as `cause`, appends settle in the order they were
// made even when the log fails, and the addon's own errors have codes.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadFaultAddon, recordBytes, tmpDir } from './helpers';

let lib: typeof import('../lib');
let native: typeof import('../lib/native').native;
let fault: NonNullable<typeof import('../lib/native').native.fault>;

beforeAll(async () => {
  ({ lib, fault } = await loadFaultAddon());
  ({ native } = await import('../lib/native'));
});

afterEach(() => fault.disarm());

const EIO = 5;

/** Blocks this thread, so that no notification from the flusher can run. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Blocks this thread until the fault layer has counted `n` steps since arm(). */
function blockUntilSteps(n: number): void {
  const deadline = Date.now() + 10_000;
  while (fault.steps() < n) {
    if (Date.now() > deadline) throw new Error(`only ${fault.steps()} steps`);
    sleepSync(1);
  }
  sleepSync(50); // the flusher records the failure right after the step
}

function expectEio(err: any): void {
  expect(err).toBeInstanceOf(lib.LogError);
  expect(err.code).toBe('EIO');
  expect(err.errno).toBe(-EIO);
  expect(err.syscall).toBe('fdatasync');
  expect(err.step).toBe('commit: sync batch');
}

function handleOf(log: object): any {
  const sym = Object.getOwnPropertySymbols(log).find((s) => s.description === 'commitlog.handle')!;
  return (log as any)[sym];
}

describe('a failed sync (fail-stop)', () => {
  it('rejects an append made after the failure but before JavaScript heard of it only after the appends made before it, with the EIO as cause', async () => {
    const log = await lib.CommitLog.open(tmpDir(), { preallocate: 'none' });
    await log.append('warm');
    fault.arm({ failAt: 0, kind: 'sync', errno: EIO });
    const order: string[] = [];
    const settle = (name: string, p: Promise<number>) =>
      p.then(
        () => order.push(`${name} resolved`) && undefined,
        (e) => (order.push(name), e),
      );
    const a = settle('a', log.append(recordBytes(1)));
    const b = settle('b', log.appendMany([recordBytes(2), recordBytes(3)]));
    // The flusher is woken at the end of the tick's appends (the kick, a
    // microtask: lib/log.ts), so let microtasks run, but no macrotask: the
    // failure's notification must not reach JavaScript before c and d.
    for (let i = 0; i < 4; i++) await null;
    blockUntilSteps(2); // the write and the failed fdatasync of a and b's batch
    const c = settle('c', log.append(recordBytes(4)));
    const d = settle('d', log.appendMany([recordBytes(5)]));
    const [ea, eb, ec, ed] = await Promise.all([a, b, c, d]);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expectEio(ea);
    // b went into a's batch, or was made once the flusher had already failed.
    if (eb.code === 'EIO') expect(eb).toBe(ea);
    else expect(eb.code).toBe('ERR_LOG_FAILED');
    for (const e of [ec, ed]) {
      expect(e).toBeInstanceOf(lib.LogError);
      expect(e.code).toBe('ERR_LOG_FAILED');
      expectEio(e.cause);
      expect(e.cause.path).toMatch(/\.log$/);
    }
    expect(log.durableSeq).toBe(1);
    await log.close();
  });

  it('gives every later ERR_LOG_FAILED the system error as cause, with code, errno, syscall and path', async () => {
    const log = await lib.CommitLog.open(tmpDir(), { preallocate: 'none' });
    fault.arm({ failAt: 0, kind: 'sync', errno: EIO });
    expectEio(await log.append('x').catch((e) => e));
    for (let i = 0; i < 3; i++) {
      const err = await log.append('y').catch((e) => e);
      expect(err.code).toBe('ERR_LOG_FAILED');
      expectEio(err.cause);
      expect(err.cause.path).toMatch(/\.log$/);
    }
    await log.close();
  });

  it('settles appends held back by maxPendingBytes in order: the system error, then ERR_LOG_FAILED for those made after the failure', async () => {
    const log = await lib.CommitLog.open(tmpDir(), { preallocate: 'none', maxPendingBytes: 4096 });
    fault.arm({ failAt: 0, kind: 'sync', errno: EIO });
    const records = Array.from({ length: 20 }, (_, i) => recordBytes(i, 1000));
    const order: number[] = [];
    const errs = await Promise.all(records.map((r, i) => log.append(r).catch((e) => (order.push(i), e))));
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Whether an append was made before or after the flusher failed depends
    // on timing; the codes never go back from ERR_LOG_FAILED to EIO.
    const codes = errs.map((e) => e.code).join(' ');
    expect(codes).toMatch(/^EIO( EIO)*( ERR_LOG_FAILED)*$/);
    for (const e of errs) expectEio(e.code === 'EIO' ? e : e.cause);
    await log.close();
  });
});

describe('errors made by the addon', () => {
  it('names the failed step in err.step and the message', async () => {
    const err = await lib.CommitLog.open(tmpDir() + '/a/b', { create: true }).catch((e) => e);
    expect(err.code).toBe('ENOENT');
    expect(err.syscall).toBe('mkdir');
    expect(err.step).toBe('open');
    expect(err.message.startsWith('open: ENOENT')).toBe(true);
  });

  it('gives native argument errors the codes Node uses', async () => {
    const typeErrors: Array<() => unknown> = [
      () => native.crc32c('x' as any),
      () => native.open(1 as any, {} as any, () => {}),
      () => native.configSave(1 as any, new Uint8Array(1), 0o600, false),
      () => native.writeFileDurable('/x', 'y' as any, 0o600),
    ];
    for (const f of typeErrors) {
      const err = (() => {
        try {
          f();
        } catch (e) {
          return e as any;
        }
      })();
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    let err: any;
    try {
      native.open(tmpDir(), { sync: 'sometimes' } as any, () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');

    const log = await lib.CommitLog.open(tmpDir());
    const h = handleOf(log);
    expect(() => h.append('x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => h.append('x')).toThrow(TypeError);
    expect(() => h.appendMany('x')).toThrow(TypeError);
    expect(() => h.appendMany([])).toThrow(RangeError);
    expect(() => h.appendMany([])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => h.appendMany([new Uint8Array(1), 2])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await log.close();
  });

  it('rejects a native close while a read is in flight with ERR_LOG_BUSY, and after close with ERR_LOG_CLOSED', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir);
    for (let i = 0; i < 10; i++) await log.append(recordBytes(i));
    const h = handleOf(log);
    const reading = h.read(0, 10, 1 << 20, undefined, 0, 0);
    const busy = await h.close().catch((e: any) => e);
    expect(busy).toBeInstanceOf(lib.LogError);
    expect(busy.code).toBe('ERR_LOG_BUSY');
    await reading;
    await log.close();
    for (const p of [h.close(), h.read(0, 1, 100, undefined, 0, 0), h.truncateBefore(1)]) {
      const e = await p.catch((x: any) => x);
      expect(e).toBeInstanceOf(lib.LogError);
      expect(e.code).toBe('ERR_LOG_CLOSED');
    }
    const closed = h.append(new Uint8Array(1));
    expect(closed).toBeInstanceOf(lib.LogError);
    expect(closed.code).toBe('ERR_LOG_CLOSED');
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(true);
  });
});
