// `commitlog inspect` and `commitlog verify`, run as a binary on real logs:
// clean, torn, damaged, live, and not logs at all.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { Writer, damageAcknowledged, json, makeLog, run, snapshot, tearTail } from './cli-helpers';
import { segmentFiles, tmpDir } from './helpers';

describe('commitlog inspect', () => {
  it('reports each segment, its batches, padding and epoch, the CHECKPOINT, the durable end and the cursors', async () => {
    const dir = tmpDir();
    await makeLog(dir, 300);
    const log = await CommitLog.open(dir);
    await (await log.cursor('billing')).commit(7);
    await log.close();
    const r = await run('inspect', '--json', dir);
    expect(r.code).toBe(0);
    const info = json(r);
    const files = segmentFiles(dir);
    expect(info.segments.map((s: { name: string }) => s.name)).toEqual(files.map((f) => path.basename(f)));
    // Each appendMany pair is one batch; numbering runs on across segments.
    expect(info.segments.reduce((n: number, s: { batches: number }) => n + s.batches, 0)).toBe(300);
    expect(info.segments[0].firstSeq).toBe(0);
    for (let i = 1; i < info.segments.length; i++) {
      expect(info.segments[i].firstSeq).toBe(info.segments[i - 1].lastSeq + 1);
    }
    expect(info.segments.at(-1).lastSeq).toBe(599);
    for (const s of info.segments.slice(0, -1)) {
      expect(s.epoch).toBeGreaterThan(0);
      // Two small records padded to 512 bytes: most of each batch is padding.
      expect(s.paddingRatio).toBeGreaterThan(0.5);
      expect(s.paddingRatio).toBeLessThan(1);
      expect(s.fileBytes).toBe(fs.statSync(path.join(dir, s.name)).size);
    }
    expect(info.checkpoint).toMatchObject({ durableSeq: 600, firstSeq: 0, clean: true });
    expect(info.view).toEqual({ firstSeq: 0, durableSeq: 600 });
    expect(info.cursors).toEqual([{ name: 'billing', position: 7, hold: false }]);
    expect(info.writerPid).toBe(null);
  });

  it('prints the same for humans', async () => {
    const dir = tmpDir();
    await makeLog(dir, 10);
    const r = await run('inspect', dir);
    expect(r.code).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain('00000000000000000000.log');
    expect(out).toContain('records 0..19');
    expect(out).toContain('readers see records 0 up to 20');
  });
});

describe('commitlog verify', () => {
  it('exits 0 on a clean log and counts every batch it verified', async () => {
    const dir = tmpDir();
    await makeLog(dir, 200);
    const r = await run('verify', '--json', dir);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ verdict: 'clean', exitCode: 0, batches: 200, firstSeq: 0, endSeq: 400 });
  });

  it('exits 1 on a torn tail, which it describes and leaves in place', async () => {
    const dir = tmpDir();
    await makeLog(dir, 200);
    tearTail(dir);
    const before = snapshot(dir);
    const r = await run('verify', '--json', dir);
    expect(r.code).toBe(1);
    const v = json(r);
    expect(v.verdict).toBe('torn-tail');
    expect(v.strict.tornTail).toBe(true);
    expect(v.endSeq).toBe(398);
    expect(snapshot(dir)).toEqual(before);
  });

  it('exits 4 on damage to acknowledged data, says what repair would give up, and changes nothing', async () => {
    const dir = tmpDir();
    await makeLog(dir, 200);
    const hit = damageAcknowledged(dir, 5);
    const before = snapshot(dir);
    const r = await run('verify', '--json', dir);
    expect(r.code).toBe(4);
    const v = json(r);
    expect(v.verdict).toBe('damaged');
    expect(v.strict.refused).toBeDefined();
    expect(v.truncate).toMatchObject({ file: hit.file, offset: hit.offset, gapFrom: hit.baseSeq, gapTo: 400 });
    expect(snapshot(dir)).toEqual(before);
    // And a strict open agrees with it.
    await expect(CommitLog.open(dir)).rejects.toMatchObject({ code: 'ERR_LOG_CORRUPT' });
  });

  it('exits 4 when the CHECKPOINT fails its checksum (a strict open refuses it)', async () => {
    const dir = tmpDir();
    await makeLog(dir, 5);
    const cp = path.join(dir, 'CHECKPOINT');
    const buf = fs.readFileSync(cp);
    buf[20] ^= 0xff;
    fs.writeFileSync(cp, buf);
    const r = await run('verify', dir);
    expect(r.code).toBe(4);
    expect(r.stdout.toString()).toContain('CHECKPOINT');
  });

  it('exits 8 with one line on stderr, no stack, for a missing directory and for a directory that holds no log', async () => {
    const dir = tmpDir();
    for (const target of [path.join(dir, 'nope'), dir]) {
      const r = await run('verify', target);
      expect(r.code).toBe(8);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^commitlog: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 16 on a usage error', async () => {
    expect((await run('verify')).code).toBe(16);
    expect((await run('verify', '--bogus', '/tmp')).code).toBe(16);
    expect((await run('frobnicate')).code).toBe(16);
    expect((await run()).code).toBe(16);
    expect((await run('--help')).code).toBe(0);
    expect((await run('verify', '--help')).code).toBe(0);
  });

  it('verifies and inspects a live log while a writer in another process appends, rolls and deletes segments', async () => {
    const dir = tmpDir();
    const writer = new Writer();
    // Small segments and retention: segments roll and go while verify reads.
    await writer.open(dir, { retention: { maxBytes: 256 * 1024 } });
    writer.stream('live');
    await writer.ackedMore(200);
    for (let i = 0; i < 5; i++) {
      const r = await run('verify', '--json', dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const v = json(r);
      expect(v.writerPid).toBe(writer.child.pid);
      expect(v.batches).toBeGreaterThan(0);
      const ins = await run('inspect', '--json', dir);
      expect(ins.stderr).toBe('');
      expect(ins.code).toBe(0);
      expect(json(ins).writerPid).toBe(writer.child.pid);
      // The writer goes on appending after each run.
      await writer.ackedMore(600);
    }
    // Retention did delete segments meanwhile.
    expect(json(await run('inspect', '--json', dir)).segments[0].firstSeq).toBeGreaterThan(0);
  });

  it('inspects and verifies a live log whose segments roll and are deleted all the time', async () => {
    const dir = tmpDir();
    const writer = fork(path.join(__dirname, 'fixtures', 'cli-churn-writer.js'), [dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const m = await new Promise<{ op: string; message?: string }>((resolve) => writer.once('message', resolve));
      expect(m.op).toBe('ready');
      for (let i = 0; i < 10; i++) {
        const [ins, ver] = await Promise.all([run('inspect', '--json', dir), run('verify', '--json', dir)]);
        expect(ins.stderr).toBe('');
        expect(ins.code).toBe(0);
        expect(ver.stderr).toBe('');
        expect(ver.code).toBe(0);
      }
      expect(json(await run('inspect', '--json', dir)).segments[0].firstSeq).toBeGreaterThan(0);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});
