// worker.terminate() while a worker appends to a log (or saves a ConfigFile)
// must neither abort the process nor lose acknowledged data. The workers run
// in a child process (fixtures/worker-terminate.js), so that a native FATAL
// ERROR shows as that process dying, not the test runner.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const DRIVER = path.join(__dirname, 'fixtures', 'worker-terminate.js');
const STORM = path.join(__dirname, 'fixtures', 'worker-storm.js');
const ROUNDS = Number(process.env.COMMITLOG_WORKER_ROUNDS ?? 10);

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a fixture script in its own process; a crash of that process is an outcome, not a throw. */
function runScript(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

function runDriver(mode: 'log' | 'config', seed: number): Promise<Outcome> {
  return runScript([DRIVER, mode, String(ROUNDS), String(seed)]);
}

describe('worker.terminate()', () => {
  it.each([
    ['CommitLog', 'log' as const],
    ['ConfigFile', 'config' as const],
  ])(
    `terminating a worker that uses a %s at random moments, ${ROUNDS} times, neither aborts the process nor loses acknowledged data`,
    async (_name, mode) => {
      const seed = Number(process.env.COMMITLOG_SEED ?? Date.now() % 1e9);
      const out = await runDriver(mode, seed);
      if (out.code !== 0) console.error(`replay with COMMITLOG_SEED=${seed}:\n${out.stderr.slice(0, 2000)}`);
      expect({ code: out.code, signal: out.signal }).toEqual({ code: 0, signal: null });
      const summary = JSON.parse(out.stdout.trim());
      expect(summary.rounds).toBe(ROUNDS);
      expect(summary.acked).toBeGreaterThan(0);
    },
  );

  // From a failure of the test above (SIGSEGV, once in a full run): a worker
  // terminated while it called into the addon. Two defects, each seen in
  // about half the runs of this test before its fix (4 of 4 runs failed
  // without both): a promise made by node-addon-api's Promise::Deferred,
  // whose napi_value stays uninitialized when napi_create_promise fails (as
  // it does once termination has begun), was returned to V8 (SIGSEGV); and
  // open() read its `create` option with ToBoolean().Value(), which turns
  // that failure into a node-addon-api fatal error (SIGABRT). The worker
  // calls the addon's open() in a loop, without the façade around it, so
  // that the termination lands inside the native call.
  it('terminating a worker that calls the native open() in a loop, 40 times, does not crash the process', async () => {
    const out = await runScript([STORM, 'native-open', '40']);
    if (out.code !== 0) console.error(out.stderr.slice(0, 2000));
    expect({ code: out.code, signal: out.signal }).toEqual({ code: 0, signal: null });
    expect(JSON.parse(out.stdout.trim()).rounds).toBe(40);
  });

  // From the review of the fix above: a call whose promise could not be made
  // still ran its work, with options read during teardown, which come back
  // empty and were taken as "not given": an open with create: false made a
  // log (the reviewer saw it in 1 of 20 rounds). Now an empty option is
  // invalid, and no work runs without a promise (except close).
  it('an open with create: false never makes the log, even when its worker is terminated inside it (40 times)', async () => {
    const out = await runScript([STORM, 'native-open-nocreate', '40']);
    if (out.code !== 0) console.error(out.stderr.slice(0, 2000));
    expect({ code: out.code, signal: out.signal }).toEqual({ code: 0, signal: null });
    expect(JSON.parse(out.stdout.trim()).rounds).toBe(40);
  });
});
