// `commitlog dump` and `commitlog tail`, run as a binary: every format gives
// the records back exactly; tail -f follows a writer in another process.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { BIN, Writer, body, json, makeLog, run } from './cli-helpers';
import { tmpDir } from './helpers';

function jsonLines(out: Buffer): Array<{ seq: number; data: string }> {
  return out
    .toString()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

describe('commitlog dump', () => {
  it('prints every record in order as JSON lines with base64 data', async () => {
    const dir = tmpDir();
    await makeLog(dir, 100);
    const r = await run('dump', dir);
    expect(r.code).toBe(0);
    const recs = jsonLines(r.stdout);
    expect(recs.map((x) => x.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    recs.forEach((x) => expect(Buffer.from(x.data, 'base64').toString()).toBe(body(x.seq)));
  });

  it('prints [--from, --to) only', async () => {
    const dir = tmpDir();
    await makeLog(dir, 100);
    const r = await run('dump', '--from', '17', '--to', '42', dir);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).map((x) => x.seq)).toEqual(Array.from({ length: 25 }, (_, i) => 17 + i));
  });

  it('gives binary records back byte for byte in raw format (u32 LE length, then the bytes)', async () => {
    const dir = tmpDir();
    const records = [Buffer.from([0, 1, 2, 255, 10, 13]), Buffer.alloc(0), Buffer.from('\n\nline\n'), Buffer.alloc(70_000, 0xab)];
    const log = await CommitLog.open(dir);
    for (const rec of records) await log.append(rec);
    await log.close();
    const r = await run('dump', '--format', 'raw', dir);
    expect(r.code).toBe(0);
    const got: Buffer[] = [];
    for (let off = 0; off < r.stdout.length; ) {
      const n = r.stdout.readUInt32LE(off);
      got.push(r.stdout.subarray(off + 4, off + 4 + n));
      off += 4 + n;
    }
    expect(got).toEqual(records);
  });

  it('prints a hexdump per record in hex format', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    await log.append(Buffer.from('hello, hexdump world'));
    await log.close();
    const r = await run('dump', '--format', 'hex', dir);
    expect(r.stdout.toString()).toBe(
      'record 0, 20 bytes\n' +
        '00000000  68 65 6c 6c 6f 2c 20 68  65 78 64 75 6d 70 20 77  |hello, hexdump w|\n' +
        '00000010  6f 72 6c 64                                       |orld|\n',
    );
  });

  it('dumps a live log while a writer in another process appends: durable records, in order, the writer undisturbed', async () => {
    const dir = tmpDir();
    const writer = new Writer();
    await writer.open(dir);
    writer.stream('live');
    await writer.ackedMore(300);
    for (let i = 0; i < 3; i++) {
      const r = await run('dump', dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const recs = jsonLines(r.stdout);
      expect(recs.length).toBeGreaterThanOrEqual(300);
      expect(recs.map((x) => x.seq)).toEqual(Array.from({ length: recs.length }, (_, k) => k));
      for (const x of recs) expect(Buffer.from(x.data, 'base64').toString()).toMatch(/^live:\d+:x+$/);
      await writer.ackedMore(100);
    }
  });

  it('rejects a bad range or format as a usage error (exit 16)', async () => {
    const dir = tmpDir();
    await makeLog(dir, 2);
    expect((await run('dump', '--from', '5', '--to', '2', dir)).code).toBe(16);
    expect((await run('dump', '--from', '-1', dir)).code).toBe(16);
    expect((await run('dump', '--format', 'xml', dir)).code).toBe(16);
  });

  it('says ERR_LOG_TRUNCATED below the oldest record, exit 8, no stack', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir, { alignBytes: 512, segmentBytes: 64 * 1024 });
    for (let i = 0; i < 400; i++) await log.appendMany([body(i), body(i)]);
    await log.truncateBefore(300);
    await log.close();
    const r = await run('dump', '--from', '0', dir);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('ERR_LOG_TRUNCATED');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('commitlog tail', () => {
  it('prints the last -n records', async () => {
    const dir = tmpDir();
    await makeLog(dir, 50);
    const r = await run('tail', '-n', '3', '--format', 'text', dir);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(`${body(97)}\n${body(98)}\n${body(99)}\n`);
    expect(jsonLines((await run('tail', dir)).stdout).map((x) => x.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
  });

  it('with -f follows a writer in another process until SIGINT, then exits 0', async () => {
    const dir = tmpDir();
    const writer = new Writer();
    await writer.open(dir);
    await writer.append('before', 0, 5);
    const tail = spawn(process.execPath, [BIN, 'tail', '-f', '-n', '2', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    tail.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => tail.on('exit', (code) => resolve(code)));
    // One listener for the whole run: a chunk emitted while no `once` listener
    // was attached (two in one tick) was lost, and the test hung.
    let more: () => void = () => {};
    tail.stdout.on('data', (d) => {
      out += d;
      more();
    });
    const lines = async (n: number) => {
      while (out.split('\n').length - 1 < n) await new Promise<void>((r) => (more = r));
    };
    await lines(2);
    await writer.append('after', 0, 20);
    await lines(22);
    tail.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toBe('');
    const recs = jsonLines(Buffer.from(out));
    expect(recs.map((x) => x.seq)).toEqual(Array.from({ length: 22 }, (_, i) => 3 + i));
    expect(Buffer.from(recs[2].data, 'base64').toString()).toMatch(/^after:0:/);
  });

  it('with -f ends on SIGTERM too, exit 0', async () => {
    const dir = tmpDir();
    await makeLog(dir, 1);
    const tail = spawn(process.execPath, [BIN, 'tail', '-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise((r) => tail.stdout.once('data', r));
    const exited = new Promise<number | null>((resolve) => tail.on('exit', (code) => resolve(code)));
    tail.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('rejects -n 0 as a usage error', async () => {
    const dir = tmpDir();
    await makeLog(dir, 1);
    expect((await run('tail', '-n', '0', dir)).code).toBe(16);
    expect(json(await run('verify', '--json', dir)).verdict).toBe('clean');
  });
});
