// What the kind benchmarks share: the cluster's API client, kubectl and docker execs, logging and
// polling. Plain Node 24 (type stripping): imports only e2e/lib/env.ts, with `.ts` specifiers.
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KUBECONFIG, KUBECTL } from '../lib/env.ts';
import { watchRunning as watchPods } from '../lib/watch.ts';

const run = promisify(execFile);
/** The cluster's kubeconfig (e2e/lib/env.ts), loaded once. */
export const kc = new KubeConfig();
kc.loadFromFile(KUBECONFIG);
export const core = kc.makeApiClient(CoreV1Api);

/** Whether a bench's namespace is there, on its way out (a run before ours), or gone. */
export async function namespaceState(name: string): Promise<'absent' | 'terminating' | 'active'> {
  try {
    return (await core.readNamespace({ name })).metadata?.deletionTimestamp ? 'terminating' : 'active';
  } catch (e) {
    if ((e as { code?: number }).code === 404) return 'absent';
    throw e;
  }
}

/** A logger whose lines carry the bench's name and the time. */
export const logger = (name: string) => (msg: string): void => void process.stderr.write(`[${name} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
/** The 1-minute load average now; every reading is kept in `loadSeen` for a run's summary line. */
export const loadSeen: number[] = [];
export function loadavg(): number {
  const l = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  loadSeen.push(l);
  return l;
}

const v4 = (ip: string): number => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
/** Refuses to send traffic to an IPv4 address outside the test plan's 198.18.0.0/15. */
export function assertTestAddress(ip: string): void {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || Math.floor(v4(ip) / 2 ** 17) !== Math.floor(v4('198.18.0.0') / 2 ** 17)) throw new Error(`refusing address ${ip}: outside 198.18.0.0/15`);
}

/** The first two worker nodes by name (client and server of the two-pod benches). */
export async function twoWorkers(): Promise<[string, string]> {
  const names = (await core.listNode()).items
    .filter((n) => !Object.keys(n.metadata?.labels ?? {}).includes('node-role.kubernetes.io/control-plane'))
    .map((n) => n.metadata!.name!)
    .sort();
  if (names.length < 2) throw new Error(`need two worker nodes, found ${names.length}`);
  return [names[0]!, names[1]!];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Counting options (parseArgs gives strings), each an integer of at least 1; a bad one ends the run naming its flag. */
export function positiveIntegers<K extends string>(values: Readonly<Record<string, unknown>>, keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
    out[k] = v;
  }
  return out;
}

/** Polls check() until it gives a value; the timeout names what was awaited and the last error. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(intervalMs);
  }
}

export async function kubectl(args: string[], timeoutMs = 120_000): Promise<string> {
  return (await run(KUBECTL, args, { env: { ...process.env, KUBECONFIG }, maxBuffer: 64 << 20, timeout: timeoutMs })).stdout;
}
export async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 64 << 20 })).stdout;
}
/** A shell script in a kind node container. */
export const sh = (node: string, script: string): Promise<string> => docker('exec', node, 'sh', '-c', script);

/** When each pod of the selector in `namespace` was first seen Running (e2e/lib/watch.ts). */
export const watchRunning = (namespace: string, labelSelector: string): ReturnType<typeof watchPods> => watchPods(kc, namespace, labelSelector);

/**
 * Runs `main`, then `cleanup` once whatever happens; SIGINT, SIGTERM and SIGHUP run the same
 * cleanup and exit 130. A failure is logged, unless a signal caused it (the cleanup pulls the pods
 * away under a running measurement), and sets the exit code.
 */
export async function runWithCleanup(main: () => Promise<void>, cleanup: () => Promise<void>, log: (msg: string) => void): Promise<void> {
  let cleaning: Promise<void> | undefined;
  let interrupted = false;
  const once = (): Promise<void> => (cleaning ??= cleanup());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => {
      if (cleaning) return void log(`${sig}: cleanup already running`);
      interrupted = true;
      log(`${sig}: cleaning up`);
      void once().finally(() => process.exit(130));
    });
  try {
    await main();
  } catch (e) {
    if (!interrupted) log(`FAILED: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  } finally {
    await once();
  }
}
