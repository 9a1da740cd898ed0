// `commitlog config show|verify`, run as a binary on ConfigFile files: the
// copy load() would use, read without its lock and without moving anything.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigFile } from '../lib';
import { json, run, snapshot } from './cli-helpers';
import { tmpDir } from './helpers';

async function saved(checksum: boolean, ...values: object[]): Promise<{ dir: string; file: string }> {
  const dir = tmpDir();
  const file = path.join(dir, 'state.json');
  const cfg = new ConfigFile<object>(file, { checksum });
  for (const v of values) await cfg.save(v);
  return { dir, file };
}

function flipByte(file: string, at: number): void {
  const b = fs.readFileSync(file);
  b[at] ^= 0x01;
  fs.writeFileSync(file, b);
}

describe('commitlog config', () => {
  for (const checksum of [true, false]) {
    it(`show prints the saved value and verify exits 0 (checksum ${checksum})`, async () => {
      const { file } = await saved(checksum, { next: 1 }, { next: 42, name: 'x' });
      const show = await run('config', 'show', file);
      expect(show.code).toBe(0);
      expect(JSON.parse(show.stdout.toString())).toEqual({ next: 42, name: 'x' });
      const v = await run('config', 'verify', '--json', file);
      expect(v.code).toBe(0);
      expect(json(v)).toMatchObject({ uses: file, copies: [{ state: 'ok', checksummed: checksum }, { state: 'ok' }] });
    });
  }

  it('verify exits 1 and names .bak when the main file is damaged; show prints .bak, as load() returns', async () => {
    const { dir, file } = await saved(true, { next: 1 }, { next: 2 });
    flipByte(file, 20);
    const before = snapshot(dir);
    const v = await run('config', 'verify', file);
    expect(v.code).toBe(1);
    expect(v.stdout.toString()).toContain('load() would use state.json.bak');
    const show = await run('config', 'show', file);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout.toString())).toEqual({ next: 1 });
    expect(show.stderr).toContain('showing state.json.bak');
    // Read-only: no lock file, nothing moved aside (load() would make state.json.corrupt).
    expect(snapshot(dir)).toEqual(before);
    expect(await new ConfigFile<object>(file, { checksum: true }).load()).toEqual({ next: 1 });
  });

  it('verify exits 4 when no copy is valid, and show fails with exit 4', async () => {
    const { file } = await saved(true, { next: 1 }, { next: 2 });
    flipByte(file, 20);
    flipByte(`${file}.bak`, 20);
    const v = await run('config', 'verify', '--json', file);
    expect(v.code).toBe(4);
    expect(json(v).uses).toBe(null);
    const show = await run('config', 'show', file);
    expect(show.code).toBe(4);
    expect(show.stderr).toMatch(/^commitlog: .*no valid copy/);
  });

  it('exits 8 for a file that does not exist', async () => {
    const dir = tmpDir();
    for (const sub of ['show', 'verify']) {
      const r = await run('config', sub, path.join(dir, 'missing.json'));
      expect(r.code).toBe(8);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
