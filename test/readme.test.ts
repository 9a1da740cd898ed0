// README's first example must run as written (Node 20, no compiler): it is
// taken out of README.md and run as a user would, with `commitlog` resolving
// to this package.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..');

/** The first fenced code block of `markdown` whose language is js, mjs or ts. */
export function firstExample(markdown: string): { lang: string; code: string } {
  const m = /^```(js|mjs|ts)\n([\s\S]*?)^```$/m.exec(markdown);
  if (!m) throw new Error('README has no js/ts example');
  return { lang: m[1], code: m[2] };
}

describe("README's first example", () => {
  it('is JavaScript that runs on Node 20 as written and prints the records it appended', async () => {
    const { lang, code } = firstExample(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    // Plain JavaScript: a TypeScript-only example would not run as written.
    expect(lang).toBe('js');
    expect(code).not.toMatch(/await using/);
    const project = tmpDir('commitlog-readme-');
    fs.mkdirSync(path.join(project, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(project, 'node_modules', 'commitlog'), 'dir');
    fs.writeFileSync(path.join(project, 'quickstart.mjs'), code);
    // Its own temp directory goes inside the project, which the test removes.
    const { stdout } = await promisify(execFile)(process.execPath, ['quickstart.mjs'], {
      cwd: project,
      env: { ...process.env, TMPDIR: project },
    });
    expect(stdout.trim().split('\n')).toEqual(['0 hello', '1 a', '2 b', '3 c', 'record 2: b']);
  }, 60_000);
});
