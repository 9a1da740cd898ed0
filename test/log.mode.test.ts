// Who may read a log: the `mode` option. Every file the log creates gets the
// mode (its directory the same plus x where r is set); an existing log keeps
// its own; the umask applies, as for ConfigFile. On the fault-injection addon
// (unarmed it passes every call through) so that a crash can leave a
// CHECKPOINT temp file behind to look at.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBatches, recordBytes, segmentFiles, tmpDir, useFaultAddon, writeV1Log } from './helpers';

const { lib, fault } = await useFaultAddon();

type Log = InstanceType<typeof lib.CommitLog>;

const SEG = 64 * 1024;
const O = { segmentBytes: SEG, alignBytes: 512 };

/** The process umask, read without changing it (process.umask() with no argument is deprecated). */
function umask(): number {
  const m = /^Umask:\s+([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1], 8) : 0o022;
}

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;
/** What a file created with `mode` gets. */
const masked = (mode: number) => mode & ~umask();

/** Appends 3000-byte records until the log has rolled to `segments` segments, and waits for a prepared one. */
async function grow(log: Log, dir: string, segments: number) {
  for (let i = 0; segmentFiles(dir).length < segments; i++) await log.append(recordBytes(i, 3000));
  for (let i = 0; i < 1000 && !fs.readdirSync(dir).some((n) => n.startsWith('prepared-')); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every file in dir (except the model's own hidden links), with its mode. */
function modes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of fs.readdirSync(dir)) if (!n.startsWith('.faultio-')) out[n] = modeOf(path.join(dir, n));
  return out;
}

function expectAll(dir: string, mode: number) {
  const m = modes(dir);
  expect(Object.keys(m).length).toBeGreaterThan(2);
  for (const [name, got] of Object.entries(m)) expect(got.toString(8), name).toBe(masked(mode).toString(8));
}

describe('the mode option', () => {
  it('creates the directory 0o700 and every file 0o600 by default', async () => {
    const dir = path.join(tmpDir(), 'log');
    const log = await lib.CommitLog.open(dir, { ...O, preallocate: 'zero' });
    expect(log.fileMode).toBe(0o600);
    await grow(log, dir, 3);
    const names = Object.keys(modes(dir));
    expect(names).toEqual(expect.arrayContaining(['LOCK', 'CHECKPOINT', '00000000000000000000.log']));
    expect(names.some((n) => n.startsWith('prepared-'))).toBe(true);
    expectAll(dir, 0o600);
    expect(modeOf(dir).toString(8)).toBe(masked(0o700).toString(8));
    await log.close();
    expectAll(dir, 0o600);
  });

  it('gives a group read with 0o640, and the directory 0o750', async () => {
    const dir = path.join(tmpDir(), 'log');
    const log = await lib.CommitLog.open(dir, { ...O, preallocate: 'zero', mode: 0o640 });
    expect(log.fileMode).toBe(0o640);
    await grow(log, dir, 3);
    expectAll(dir, 0o640);
    expect(modeOf(dir).toString(8)).toBe(masked(0o750).toString(8));
    await log.close();
  });

  it("keeps an existing log's mode when none is given: new files take its CHECKPOINT's", async () => {
    const dir = tmpDir();
    const old = await lib.CommitLog.open(dir, { ...O, mode: 0o644 });
    await old.append('before');
    await old.close();
    expectAll(dir, 0o644);
    const log = await lib.CommitLog.open(dir, { ...O, preallocate: 'zero' });
    expect(log.fileMode).toBe(0o644);
    await grow(log, dir, 3);
    expectAll(dir, 0o644);
    await log.close();
    expectAll(dir, 0o644);
  });

  it("follows an admin's chmod of the CHECKPOINT, and always keeps the owner's read and write", async () => {
    const dir = tmpDir();
    const old = await lib.CommitLog.open(dir, O);
    await old.append('before');
    await old.close();
    fs.chmodSync(path.join(dir, 'CHECKPOINT'), 0o440);
    const log = await lib.CommitLog.open(dir, O);
    expect(log.fileMode).toBe(0o640);
    await log.close();
    expect(modeOf(path.join(dir, 'CHECKPOINT'))).toBe(masked(0o640));
  });

  it('takes the newest segment\'s mode when the log has no CHECKPOINT (a version 1 log)', async () => {
    const dir = tmpDir();
    writeV1Log(dir, [[recordBytes(0, 10)]], false);
    fs.chmodSync(segmentFiles(dir)[0], 0o640);
    const log = await lib.CommitLog.open(dir, O);
    expect(log.fileMode).toBe(0o640);
    await log.append('v2'); // in a new segment: the v1 tail is not continued
    await log.close();
    expect(modeOf(path.join(dir, 'CHECKPOINT'))).toBe(masked(0o640));
    expect(segmentFiles(dir).map(modeOf)).toEqual([masked(0o640), masked(0o640)]);
  });

  it('uses an explicit mode for new files of an existing log, and leaves its existing files alone', async () => {
    const dir = tmpDir();
    const old = await lib.CommitLog.open(dir, { ...O, mode: 0o644 });
    for (let i = 0; i < 30; i++) await old.append(recordBytes(i, 3000));
    await old.close();
    const [first, ...rest] = segmentFiles(dir);
    const lock = path.join(dir, 'LOCK');
    const log = await lib.CommitLog.open(dir, { ...O, mode: 0o600 });
    expect(log.fileMode).toBe(0o600);
    for (let i = 30; segmentFiles(dir).length < rest.length + 3; i++) await log.append(recordBytes(i, 3000));
    await log.close();
    expect(modeOf(first)).toBe(masked(0o644));
    for (const f of rest) expect(modeOf(f)).toBe(masked(0o644));
    expect(modeOf(lock)).toBe(masked(0o644));
    const created = segmentFiles(dir).filter((f) => f !== first && !rest.includes(f));
    expect(created.length).toBeGreaterThan(0);
    for (const f of created) expect(modeOf(f)).toBe(masked(0o600));
    expect(modeOf(path.join(dir, 'CHECKPOINT'))).toBe(masked(0o600)); // rewritten by this log
  });

  it('leaves the mode of a directory it did not create alone', async () => {
    const dir = tmpDir();
    fs.chmodSync(dir, 0o755);
    const log = await lib.CommitLog.open(dir, O);
    await log.close();
    expect(modeOf(dir)).toBe(0o755);
    expectAll(dir, 0o600);
  });

  it("gives the cut bytes' side file (.broken) the log's mode", async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, O);
    for (let i = 0; i < 4; i++) await log.append(recordBytes(i, 100));
    await log.close();
    // A crash left the last batch torn, and no clean CHECKPOINT.
    const [seg] = segmentFiles(dir);
    const last = parseBatches(seg).at(-1)!;
    const bytes = fs.readFileSync(seg);
    for (let i = last.offset + 100; i < last.offset + last.used; i++) bytes[i] ^= 0x5a;
    fs.writeFileSync(seg, bytes);
    fs.rmSync(path.join(dir, 'CHECKPOINT'));
    const again = await lib.CommitLog.open(dir, { ...O, mode: 0o640 });
    expect(again.recovery.tornTail).toBe(true);
    expect(again.recovery.brokenFile).not.toBe('');
    expect(modeOf(again.recovery.brokenFile)).toBe(masked(0o640));
    await again.close();
  });

  it("gives a CHECKPOINT temp file the log's mode (one a crash left behind)", async () => {
    let seen = 0;
    for (let crashAt = 0; crashAt < 40 && seen === 0; crashAt++) {
      const dir = path.join(tmpDir(), 'log');
      fault.arm({ crashAt });
      await lib.CommitLog.open(dir, { ...O, mode: 0o640 }).then(
        (l) => l.close().catch(() => {}),
        () => {},
      );
      fault.disarm();
      if (!fs.existsSync(dir)) continue;
      for (const n of fs.readdirSync(dir).filter((x) => x.startsWith('CHECKPOINT.tmp-'))) {
        expect(modeOf(path.join(dir, n))).toBe(masked(0o640));
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it.each([
    ['0o600', 'ERR_INVALID_ARG_TYPE'],
    [-1, 'ERR_OUT_OF_RANGE'],
    [0o1600, 'ERR_OUT_OF_RANGE'],
    [0o4600, 'ERR_OUT_OF_RANGE'],
    [1.5, 'ERR_OUT_OF_RANGE'],
    [0o400, 'ERR_INVALID_ARG_VALUE'],
    [0o200, 'ERR_INVALID_ARG_VALUE'],
    [0o077, 'ERR_INVALID_ARG_VALUE'],
  ])('rejects mode: %s with %s, before touching the directory', async (mode, code) => {
    const dir = path.join(tmpDir(), 'log');
    await expect(lib.CommitLog.open(dir, { mode } as never)).rejects.toMatchObject({ code });
    expect(fs.existsSync(dir)).toBe(false);
  });
});
