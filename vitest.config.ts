import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * The fleet suites (several processes, kill -9) are the slowest: they run once, against the Redis
 * Cluster (`npm run test:cluster`, part of `npm test`), not again in the plain run. Name one of
 * them on the command line to run it alone anyway.
 */
const fleetSuites = ['test/dispatch-fleet.e2e.ts', 'test/fleet.e2e.ts'];
const named = process.argv.some((arg) => fleetSuites.some((suite) => arg.endsWith(suite)));

export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.e2e.ts'],
    exclude: ['**/node_modules/**', ...(process.env.TEST_REDIS_TOPOLOGY || named ? [] : fleetSuites)],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e files start real servers against one Postgres and Redis: keep them apart.
    fileParallelism: false,
  },
});
