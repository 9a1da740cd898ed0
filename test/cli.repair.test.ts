// `commitlog repair`, run as a binary: the 'truncate' recovery offline,
// keeping a copy of what it changes, and refusing a log a writer holds.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitLog } from '../lib';
import { Writer, body, damageAcknowledged, json, makeLog, run, snapshot, tearTail } from './cli-helpers';
import { segmentFiles, tmpDir } from './helpers';

async function records(dir: string): Promise<string[]> {
  const log = await CommitLog.open(dir);
  const out: string[] = [];
  for await (const { data } of log.read()) out.push(Buffer.from(data).toString());
  await log.close();
  return out;
}

function repairFolders(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('repair-'));
}

describe('commitlog repair', () => {
  it('keeps the valid prefix of a damaged log, gives up the rest, and keeps the files it changed as they were', async () => {
    const dir = tmpDir();
    await makeLog(dir, 300);
    const hit = damageAcknowledged(dir, 5);
    const before = snapshot(dir);
    const r = await run('repair', '--json', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = json(r);
    expect(out).toMatchObject({ repaired: true, recovery: { corruption: true, gapFrom: hit.baseSeq, gapTo: 600 } });
    // Every segment it cut or dropped, and the CHECKPOINT, as they were.
    const kept = out.keptIn as string;
    expect(path.dirname(kept)).toBe(dir);
    const keptNames = fs.readdirSync(kept).sort();
    expect(keptNames).toEqual([...before.keys()].filter((n) => /^\d{20}\.log$/.test(n) || n === 'CHECKPOINT').sort());
    for (const n of keptNames) expect(fs.readFileSync(path.join(kept, n)).equals(before.get(n)!)).toBe(true);
    // The log opens strictly again, with the records before the damage.
    expect(await records(dir)).toEqual(Array.from({ length: hit.baseSeq }, (_, i) => body(i)));
    expect((await run('verify', dir)).code).toBe(0);
  });

  it('cuts a torn tail and keeps the segment it cut', async () => {
    const dir = tmpDir();
    await makeLog(dir, 300);
    tearTail(dir);
    const last = path.basename(segmentFiles(dir).at(-1)!);
    const lastBytes = fs.readFileSync(path.join(dir, last));
    const r = await run('repair', dir);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/repaired: cut \d+ bytes/);
    const [folder] = repairFolders(dir);
    expect(fs.readdirSync(path.join(dir, folder))).toEqual([last]);
    expect(fs.readFileSync(path.join(dir, folder, last)).equals(lastBytes)).toBe(true);
    expect(await records(dir)).toHaveLength(598);
  });

  it('with --dry-run says what it would cut, exits as verify does, and changes nothing', async () => {
    const dir = tmpDir();
    await makeLog(dir, 300);
    damageAcknowledged(dir, 5);
    const before = snapshot(dir);
    const r = await run('repair', '--dry-run', dir);
    expect(r.code).toBe(4);
    expect(r.stdout.toString()).toMatch(/repair would cut \d+ bytes .* drop 2 later segment\(s\), give up acknowledged records 10\.\.599/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('does nothing to a clean log', async () => {
    const dir = tmpDir();
    await makeLog(dir, 10);
    const before = snapshot(dir);
    const r = await run('repair', dir);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain('nothing to repair');
    expect(snapshot(dir)).toEqual(before);
  });

  it('says what the next open will still do to a clean log (a leftover temporary file here)', async () => {
    const dir = tmpDir();
    await makeLog(dir, 10);
    fs.writeFileSync(path.join(dir, 'prepared-7.tmp'), '');
    const before = snapshot(dir);
    for (const args of [['--dry-run'], []]) {
      const r = await run('repair', ...args, dir);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toContain('nothing to repair');
      expect(r.stdout.toString()).toMatch(/note: 1 leftover temporary file\(s\); the next open removes them/);
    }
    const j = await run('repair', '--json', dir);
    expect(JSON.parse(j.stdout.toString()).notes).toEqual(['1 leftover temporary file(s); the next open removes them']);
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a log a writer in another process holds, naming it, exit 8, and changes nothing', async () => {
    const dir = tmpDir();
    const writer = new Writer();
    await writer.open(dir);
    // Ten rounds: at least ten batches, however the appends of one round group.
    for (let k = 0; k < 10; k++) await writer.append('w', 5 * k, 5);
    // Damage the writer cannot see (it never reads back): a repair would cut it.
    damageAcknowledged(dir, 2);
    // The writer's background thread may still be making its next segment.
    const files = () => new Map([...snapshot(dir)].filter(([n]) => !n.startsWith('prepared-')));
    const before = files();
    const r = await run('repair', dir);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`a writer (pid ${writer.child.pid}) holds the log's lock`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(repairFolders(dir)).toEqual([]);
    expect(files()).toEqual(before);
  });
});
