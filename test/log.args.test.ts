import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { loadAddon } from '../lib/load';
import { tmpDir } from './helpers';

describe('CommitLog.open() arguments', () => {
  it.each([
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [42, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['', RangeError, 'ERR_OUT_OF_RANGE'],
    ['a\0b', RangeError, 'ERR_OUT_OF_RANGE'],
  ])('rejects dir %j', async (dir, cls, code) => {
    const err = await CommitLog.open(dir as any).catch((e) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(code);
  });

  it.each([
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['fast', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ sync: 'sometimes' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ sync: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ segmentBytes: 1000 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ segmentBytes: 65536.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ segmentBytes: 65536 + 512 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ segmentBytes: '1mb' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ maxPendingBytes: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ maxPendingBytes: 2 ** 31 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ maxRecordBytes: 2 ** 31 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ maxBatchDelayMicros: NaN }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ alignBytes: 1000 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ alignBytes: 256 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ alignBytes: 512, sync: 'direct' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ preallocate: 'yes' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ recovery: 'skip' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ create: 'no' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ segmentSize: 1 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [{ batchesInFlight: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ batchesInFlight: 3 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ batchesInFlight: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ batchesInFlight: '2' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('rejects options %j', async (options, cls, code) => {
    const err = await CommitLog.open(tmpDir(), options as any).catch((e) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(code);
  });

  it('rejects a missing directory with ENOENT when create is false', async () => {
    const err = await CommitLog.open(tmpDir() + '/nope', { create: false }).catch((e) => e);
    expect(err.code).toBe('ENOENT');
  });

  it('rejects a directory whose parent does not exist with ENOENT', async () => {
    const err = await CommitLog.open(tmpDir() + '/a/b/c').catch((e) => e);
    expect(err.code).toBe('ENOENT');
    expect(err.syscall).toBe('mkdir');
  });

  it('rejects a path that is a file with ENOTDIR', async () => {
    const dir = tmpDir();
    require('node:fs').writeFileSync(dir + '/file', 'x');
    const err = await CommitLog.open(dir + '/file').catch((e) => e);
    expect(err.code).toBe('ENOTDIR');
  });
});

describe('append arguments', () => {
  it.each([[undefined], [null], [42], [{}], [[1, 2]], [Symbol('x')]])('rejects %s with ERR_INVALID_ARG_TYPE', async (v) => {
    const log = await CommitLog.open(tmpDir());
    const err = await log.append(v as any).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    await log.close();
  });

  it('rejects a record over maxRecordBytes with a RangeError and keeps working', async () => {
    const log = await CommitLog.open(tmpDir(), { maxRecordBytes: 10 });
    const err = await log.append(Buffer.alloc(11)).catch((e) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(await log.append(Buffer.alloc(10))).toBe(0);
    await log.close();
  });

  it('rejects bad appendMany input: not an array, empty, a bad element, too large in all', async () => {
    const log = await CommitLog.open(tmpDir(), { maxPendingBytes: 4096, maxRecordBytes: 4000 });
    expect((await log.appendMany('abc' as any).catch((e) => e)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await log.appendMany([]).catch((e) => e)).code).toBe('ERR_OUT_OF_RANGE');
    expect((await log.appendMany(['a', 5 as any]).catch((e) => e)).code).toBe('ERR_INVALID_ARG_TYPE');
    const tooBig = Array.from({ length: 3 }, () => Buffer.alloc(2000));
    expect((await log.appendMany(tooBig).catch((e) => e)).code).toBe('ERR_OUT_OF_RANGE');
    expect(log.stats().appendedSeq).toBe(0); // nothing was half-staged
    await log.close();
  });

  it('rejects bad read and truncateBefore arguments', async () => {
    const log = await CommitLog.open(tmpDir());
    expect(() => log.read({ from: -1 })).toThrow(RangeError);
    expect(() => log.read({ from: 1.5 })).toThrow(RangeError);
    expect(() => log.read({ to: '3' as any })).toThrow(TypeError);
    expect(() => log.read(null as any)).toThrow(TypeError);
    expect((await log.truncateBefore(-5).catch((e) => e)).code).toBe('ERR_OUT_OF_RANGE');
    expect((await log.truncateBefore('1' as any).catch((e) => e)).code).toBe('ERR_INVALID_ARG_TYPE');
    await log.close();
  });

  it('the native open() rethrows the error of an option getter, and opens nothing', () => {
    // The façade copies options into plain data, so only a direct caller of the
    // addon can hand it a getter. From a review: once a failed read of an
    // option refused the options, the refusal was thrown on top of the
    // getter's pending exception, which node-addon-api turns into an abort.
    const addon = loadAddon<{ open(dir: string, options: object, onDurable: () => void): Promise<unknown> }>(path.join(__dirname, '..'));
    const dir = path.join(tmpDir(), 'log');
    const options = {
      get sync(): string {
        throw new Error('boom from a getter');
      },
    };
    expect(() => addon.open(dir, options, () => {})).toThrow('boom from a getter');
    expect(fs.existsSync(dir)).toBe(false);
  });
});
