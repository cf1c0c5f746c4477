import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; the namespace tests share one kernel and run one file at a time.
export default defineConfig({
  test: {
    projects: [
      // The compare tool's parsers and report are pure, and the e2e library's Prometheus parser
      // needs only its Go build (cached): they run with the unit tests.
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'e2e/compare/*.test.ts', 'e2e/lib/*.test.ts'], exclude: ['src/tests/**'] } },
      {
        test: {
          name: 'netns',
          include: ['src/tests/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
