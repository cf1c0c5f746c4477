// Runs once around the whole suite, in vitest's main process: creates the test namespace (one per
// run) and hands its name to the test files; at the end deletes it (whether the tests passed or
// not) and prints every phase's timing.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { KUBECONFIG } from './env.js';
import { TIMINGS_FILE } from './timing.js';

declare module 'vitest' {
  export interface ProvidedContext {
    namespace: string;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitGone(core: CoreV1Api, name: string, timeoutMs = 180_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    try {
      await core.readNamespace({ name });
    } catch {
      return;
    }
    await sleep(1000);
  }
  throw new Error(`namespace ${name} still there after ${timeoutMs / 1000} s`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(KUBECONFIG)) throw new Error(`no kubeconfig at ${KUBECONFIG}: run \`make kind-up\` first (or \`make e2e\`)`);
  rmSync(TIMINGS_FILE, { force: true });
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  const core = kc.makeApiClient(CoreV1Api);
  // A run that was killed before its teardown left its namespace: take it away first, so its
  // pods (hostPorts, addresses) do not stand in the way of this run.
  const stale = await core.listNamespace({ labelSelector: 'app.kubernetes.io/part-of=gingham-e2e' });
  for (const ns of stale.items) {
    const name = ns.metadata!.name!;
    process.stdout.write(`[e2e] deleting namespace ${name} left by an earlier run\n`);
    if (!ns.metadata?.deletionTimestamp) await core.deleteNamespace({ name, gracePeriodSeconds: 1 }).catch(() => undefined);
    await waitGone(core, name);
  }
  const namespace = `gingham-e2e-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'app.kubernetes.io/part-of': 'gingham-e2e' } } } });
  process.stdout.write(`[e2e] test namespace ${namespace}\n`);
  project.provide('namespace', namespace);

  return async () => {
    const t0 = Date.now();
    try {
      await core.deleteNamespace({ name: namespace, gracePeriodSeconds: 1 });
      // Wait until it is gone, so that a reused cluster starts the next run clean.
      await waitGone(core, namespace);
      process.stdout.write(`[e2e] namespace ${namespace} deleted in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      process.stdout.write(`[e2e] deleting namespace ${namespace} failed: ${(e as Error).message}\n`);
    }
    if (existsSync(TIMINGS_FILE)) {
      const rows = readFileSync(TIMINGS_FILE, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { name: string; seconds: number; extra?: string });
      const width = Math.max(...rows.map((r) => r.name.length));
      process.stdout.write(`\n[e2e] timings\n${rows.map((r) => `  ${r.name.padEnd(width)}  ${r.seconds.toFixed(1).padStart(6)} s${r.extra ? `  ${r.extra}` : ''}`).join('\n')}\n`);
    }
  };
}
