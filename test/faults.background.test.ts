// Failures no append waits for (segment preparation, checkpoints), and
// sync 'none' across a power loss: on the fault-injection addon.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFaultAddon, recordBytes, tmpDir } from './helpers';

const { lib, fault } = await useFaultAddon();

const EIO = 5;
const ENOSPC = 28;
const SMALL = { segmentBytes: 64 * 1024 };

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('background failures', () => {
  it('counts a failed segment preparation in stats() and still rolls (defect 11)', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...SMALL, preallocate: 'zero' });
    await until(() => fs.existsSync(path.join(dir, 'prepared-0.tmp')));
    // At the roll: the flusher opens the new segment (open 0), then the
    // preparer writes the checkpoint's temp file (open 1) and creates the
    // next prepared segment (open 2), which fails.
    fault.arm({ failAt: 2, kind: 'open', errno: ENOSPC });
    for (let i = 0; i < 17; i++) await log.append(recordBytes(i, 4000)); // rolls once, to the prepared file
    await until(() => log.stats().prepareFailures > 0);
    fault.disarm();
    expect(log.stats().lastBackgroundError).toMatch(/ENOSPC|No space/i);
    for (let i = 17; i < 40; i++) await log.append(recordBytes(i, 4000)); // rolls again without a prepared file
    expect(log.stats().segmentsRolled).toBeGreaterThanOrEqual(2);
    await log.close();
  });

  it('counts a failed checkpoint in stats(), keeps appending, and loses nothing (defect 11)', async () => {
    const dir = tmpDir();
    const log = await lib.CommitLog.open(dir, { ...SMALL, preallocate: 'none' });
    // Without preparation the first rename after open is the roll's checkpoint.
    fault.arm({ failAt: 0, kind: 'rename', errno: EIO });
    for (let i = 0; i < 20; i++) await log.append(recordBytes(i, 4000));
    await until(() => log.stats().checkpointFailures > 0);
    fault.disarm();
    expect(log.stats().lastBackgroundError).toMatch(/EIO|I\/O|Input\/output/);
    await log.close();
    const again = await lib.CommitLog.open(dir, SMALL);
    let n = 0;
    for await (const r of again.read()) expect(r.data.equals(recordBytes(n++, 4000))).toBe(true);
    expect(n).toBe(20);
    await again.close();
  });
});

describe("sync: 'none'", () => {
  it('reopens after a power loss with a prefix of what was appended (defect 6)', async () => {
    for (const keep of [0, 0.5, 1]) {
      for (let round = 0; round < 4; round++) {
        const dir = tmpDir();
        const first = await lib.CommitLog.open(dir, SMALL);
        for (let i = 0; i < 5; i++) await first.append(recordBytes(i, 4000));
        await first.close();
        fault.arm({ trackDurability: true });
        const log = await lib.CommitLog.open(dir, { ...SMALL, sync: 'none' });
        for (let i = 5; i < 60; i++) await log.append(recordBytes(i, 4000)); // several rolls
        fault.crash();
        await log.close().catch(() => {});
        fault.powerLoss({ seed: round * 7 + 1, keep, tear: true });
        fault.disarm();
        const again = await lib.CommitLog.open(dir, SMALL);
        expect(again.recovery.corruption).toBe(false);
        let n = 0;
        for await (const r of again.read()) {
          expect(r.seq).toBe(n);
          expect(r.data.equals(recordBytes(n, 4000))).toBe(true);
          n++;
        }
        // What the synced open made durable survives; the rest may not.
        expect(n).toBeGreaterThanOrEqual(5);
        expect(await again.append('next')).toBe(n);
        await again.close();
      }
    }
  });
});
