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
    // The numbered suite files; e2e/compare's tests are pure and run with the unit tests.
    include: ['e2e/[0-9]*.test.ts'],
    // The NetworkPolicy and ClusterNetworkPolicy matrices judge by addresses, which the backend
    // does not change: the vxlan and dual-stack runs cover them (and src/tests/policy-agent.test.ts
    // routed paths), so the host-gw run leaves them out. E2E_POLICY_MATRIX=1 runs them there anyway.
    exclude: process.env['BACKEND'] === 'host-gw' && process.env['E2E_POLICY_MATRIX'] !== '1' ? ['e2e/09-policy.test.ts', 'e2e/11-cluster-policy.test.ts'] : [],
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
