import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommitLog, ConfigFile, LogError, LogReader } from '../lib/index';
import { withCallerStack } from '../lib/native';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'commitlog-stack-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

// Errors the addon makes when a worker finishes have no JavaScript frames of
// their own; the one error path in lib/native.ts gives them the caller's.
async function rejection(p: Promise<unknown>): Promise<LogError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as LogError;
}

describe('errors from native code', () => {
  it('an ENOENT from CommitLog.open carries a stack naming the calling file', async () => {
    const err = await rejection(CommitLog.open(path.join(tmp(), 'no', 'such', 'dir'), { create: false }));
    expect(err.code).toBe('ENOENT');
    expect(err.errno).toBeLessThan(0);
    expect(err.stack).toContain('errors.stack.test.ts');
    expect(err.stack).toContain('ENOENT');
    // The first line is still the error's own.
    expect(err.stack!.split('\n')[0]).toContain(err.message.split('\n')[0]);
  });

  it('an error from a reader opening a missing log carries a stack naming the calling file', async () => {
    const err = await rejection(LogReader.open(path.join(tmp(), 'missing')));
    expect(err.code).toMatch(/^E|^ERR_/);
    expect(err.stack).toContain('errors.stack.test.ts');
  });

  it('a ConfigFile save into a missing directory rejects with a stack naming the calling file', async () => {
    const cfg = new ConfigFile(path.join(tmp(), 'none', 'cfg.json'));
    const err = await rejection(cfg.save({ a: 1 }));
    expect(err.code).toBe('ENOENT');
    expect(err.stack).toContain('errors.stack.test.ts');
  });

  it('withCallerStack keeps a multi-line message and replaces only the frames', () => {
    const err = new LogError('first\nsecond', 'EIO');
    err.stack = 'LogError: first\nsecond\n    at native (somewhere)';
    const site = new Error('site');
    withCallerStack(err, site);
    expect(err.stack.startsWith('LogError: first\nsecond\n    at ')).toBe(true);
    expect(err.stack).not.toContain('somewhere');
    expect(err.stack).toContain('errors.stack.test.ts');
  });
});
