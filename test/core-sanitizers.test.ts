import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The C++ core, without Node, under ThreadSanitizer and under Address- and
// UndefinedBehaviorSanitizer: batch codec pair assertions and 4 threads
// appending through the committer while the flusher and preparer run.
describe('native core (no Node)', () => {
  it('passes its own tests with no sanitizer report', () => {
    const r = spawnSync('bash', [path.join(__dirname, '..', 'scripts', 'native-test.sh')], { encoding: 'utf8' });
    if (r.status !== 0) console.error(r.stdout, r.stderr);
    expect(r.stderr).not.toMatch(/WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error:/);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/core_test: all passed/g)?.length).toBe(2);
  });
});
