import { defineConfig } from 'vitest/config';

// npm run test:cluster: the forwarding fault suite against a three-node
// nats-server cluster (test/cluster/), longer than npm test's.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 900_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
