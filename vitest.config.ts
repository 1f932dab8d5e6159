import { defineConfig } from 'vitest/config';

// Tests drive real sandboxes, the real Claude Code CLI and real servers: they take seconds, not
// milliseconds, and the machine has two cores, so files run two at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
