import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..');

// `npm run docs` with typedoc.json: every exported symbol, option, stats()
// and recovery field must carry TSDoc (validation.notDocumented), and a
// warning fails the build (treatWarningsAsErrors).
describe('API reference', () => {
  it('builds with typedoc without a warning', async () => {
    const out = tmpDir('commitlog-docs-');
    const run = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], {
      cwd: ROOT,
    }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, output: e.stdout + e.stderr }),
    );
    expect(run.output).not.toContain('[warning]');
    expect(run.code).toBe(0);
  }, 120_000);
});
