import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// The files build on each other's cluster state and the later ones disrupt it (containerd,
// kubelet, agent and node restarts): run them one at a time, in the order of their names.
class ByName extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['e2e/**/*.test.ts'],
    globalSetup: ['e2e/lib/global-setup.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    sequence: { sequencer: ByName, concurrent: false, shuffle: false },
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 240_000,
    retry: 0,
    // Every test with its duration; the phases' timings come at the end (global teardown).
    reporters: ['verbose'],
  },
});
