import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { createRequire } from 'node:module';
import type { NativeSegmentInspection } from '../lib/native';

const made: string[] = [];

/** A fresh directory under the OS temp dir, removed after the test. */
export function tmpDir(prefix = 'commitlog-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

export type { NativeBatchInfo as BatchInfo } from '../lib/native';

// The production addon, loaded directly: importing lib/native here would pick
// the addon before a fault-injection test file could ask for the test one.
let inspector: { inspectSegment(path: string): NativeSegmentInspection } | undefined;

/** The valid batches of a segment file, walked by the core's one BatchReader. */
export function parseBatches(file: string) {
  inspector ??= createRequire(__filename)('node-gyp-build')(path.join(__dirname, '..'));
  return inspector!.inspectSegment(file).batches;
}

export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Deterministic bytes for record `i` of a test, never containing a zero byte. */
export function recordBytes(i: number, len = 20 + (i % 50)): Buffer {
  const b = Buffer.alloc(len);
  let x = (i + 1) * 2654435761;
  for (let k = 0; k < len; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[k] = 1 + ((x >>> 16) % 255);
  }
  return b;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Mounts a size-limited tmpfs when running as root; returns undefined (and why) otherwise. */
export function mountTmpfs(bytes: number): { dir: string; unmount: () => void } | { reason: string } {
  if (!isRoot()) return { reason: 'not running as root' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'commitlog-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmdirSync(dir);
    return { reason: `mount failed: ${(err as Error).message.split('\n')[0]}` };
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      fs.rmdirSync(dir);
    },
  };
}

/**
 * Loads the library on the test addon, whose I/O layer injects faults
 * (native/core/fault_io.h). Each test file runs in its own module graph.
 */
export async function loadFaultAddon() {
  process.env.COMMITLOG_TEST_ADDON = '1';
  const lib = await import('../lib');
  const { native } = await import('../lib/native');
  if (!native.fault) throw new Error('the test addon was not loaded');
  return { lib, fault: native.fault };
}

function maskedCrc(data: Uint8Array): number {
  inspector ??= createRequire(__filename)('node-gyp-build')(path.join(__dirname, '..'));
  const crc = (inspector as unknown as { crc32c(d: Uint8Array): number }).crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/**
 * Writes a log as version 1 of the format wrote it (docs/FORMAT.md, "Version
 * 1 logs"): one segment from sequence 0, one batch per group, 512-byte
 * alignment, and with `checkpoint` a version 1 CHECKPOINT (clean, after the
 * last batch, as a v1 close left it).
 */
export function writeV1Log(dir: string, groups: Buffer[][], checkpoint: boolean): void {
  const parts: Buffer[] = [];
  let seq = 0;
  let prev = 0;
  let offset = 0;
  const epoch = 0x1234abcd;
  for (const g of groups) {
    const payload = Buffer.concat(g.flatMap((r) => [Buffer.from(Uint32Array.of(r.length).buffer), r]));
    const used = 40 + payload.length;
    const span = Math.ceil(used / 512) * 512;
    const b = Buffer.alloc(span);
    b.writeUInt32LE(0x31424c43, 4);
    b.writeUInt16LE(1, 8);
    b.writeUInt16LE(40, 10);
    b.writeUInt32LE(epoch, 12);
    b.writeBigUInt64LE(BigInt(seq), 16);
    b.writeUInt32LE(g.length, 24);
    b.writeUInt32LE(payload.length, 28);
    b.writeUInt32LE(prev, 32);
    b.writeUInt32LE(span, 36);
    payload.copy(b, 40);
    prev = maskedCrc(b.subarray(4, used));
    b.writeUInt32LE(prev, 0);
    parts.push(b);
    seq += g.length;
    offset += span;
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '00000000000000000000.log'), Buffer.concat([...parts, Buffer.alloc(64 * 1024)]));
  if (checkpoint) {
    const cp = Buffer.alloc(48);
    cp.writeUInt32LE(0x50434c43, 4);
    cp.writeUInt16LE(1, 8);
    cp.writeUInt16LE(1, 10); // clean
    cp.writeBigUInt64LE(BigInt(seq), 16);
    cp.writeBigUInt64LE(0n, 24);
    cp.writeBigUInt64LE(BigInt(offset), 32);
    cp.writeUInt32LE(prev, 40);
    cp.writeUInt32LE(maskedCrc(cp.subarray(4)), 0);
    fs.writeFileSync(path.join(dir, 'CHECKPOINT'), cp);
  }
}

/**
 * For a test file on the fault-injection addon: `const { lib, fault } = await
 * useFaultAddon();` at its top. Disarms the faults after each test.
 */
export async function useFaultAddon() {
  const loaded = await loadFaultAddon();
  afterEach(() => loaded.fault.disarm());
  return loaded;
}

/**
 * Crash points `from`, `from + 1`, ... of a workload whose steps depend on
 * threads (the preparer, two flushers, how appends fall into batches), so
 * that a run can take more steps than the uninterrupted probe that counted
 * `probeSteps`: stopping at the probe's count would never crash the end of a
 * longer run. `one(crashAt)` runs the workload on fresh files with the crash
 * at that step and says, from `fault.crashed()` read right after the
 * workload, whether any of its runs reached that step. The loop runs every
 * point up to the probe's count, then goes on until a stretch of points that
 * no run reaches: max(3, a tenth of the probe's steps) in a row, so that runs
 * which take a longer path only some of the time (one roll more: tens of
 * steps) are still crashed at to their end, with high probability, not
 * certainty. The same serves a failure injected at the k-th step of one kind
 * (`failAt`; reached when `fault.steps(kind) > k`). Returns how many points
 * it ran; throws past twice the probe's steps plus 100.
 */
export async function everyCrashPoint(probeSteps: number, one: (crashAt: number) => Promise<boolean>, from = 0): Promise<number> {
  const stretch = Math.max(3, Math.ceil((probeSteps - from) / 10));
  let misses = 0;
  for (let crashAt = from; ; crashAt++) {
    if (crashAt > 2 * probeSteps + 100) throw new Error(`runs still crash at step ${crashAt}; the probe took ${probeSteps}`);
    misses = (await one(crashAt)) ? 0 : misses + 1;
    if (crashAt >= probeSteps && misses >= stretch) return crashAt - from + 1;
  }
}
