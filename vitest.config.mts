import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: two test files at a time. Disk-heavy suites run alone.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
  bench: {
    include: ['bench/**/*.bench.ts'],
  },
});
