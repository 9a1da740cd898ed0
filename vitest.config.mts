import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: two test files at a time.
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // The JSON report gives .ci/run its "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
