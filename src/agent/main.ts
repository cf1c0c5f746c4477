// `gingham agent`: the node agent. This file is the entry of a bundle of its own (build/agent.cjs,
// a SEA asset), loaded only when the agent runs (see load.ts): @kubernetes/client-node would add
// ~17 ms to every CNI call if it were part of the plugin's script.
import { AGENT_USAGE, type RunOptions, UsageError, parseAgentArgs } from './args.js';
import { type AgentConfig, loadConfig } from './config.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import { DEFAULT_DATA_DIR } from '../ipam/config.js';
import { cleanupNode } from './cleanup.js';
import { installCni } from './install.js';
import { Health, type Route, serveRoutes, stopServing } from './health.js';
import { type Logger, errorText, stdoutLogger } from './log.js';
import { tailCniLog } from './metrics/cni.js';
import { collectIpamUsage } from './metrics/ipam.js';
import { observeNetworkPass } from './metrics/network.js';
import { EventToEnforced, countUnreadable, countVerdict, forgetGonePods, observeClusterPolicies, observePolicyPass, observeRuleset } from './metrics/policy.js';
import { collectProcessMetrics, metrics } from './metrics/registry.js';
import { metricsRoute, serveOnAllAddresses } from './metrics/serve.js';
import { BRIDGE, CNI_LOG_FILE } from './network/conflist.js';
import { nodeKernel, readSnapshot } from './network/kernel.js';
import type { PolicySyncResult } from './policy/apply.js';
import { DATAPLANES, type Dataplane, type PolicyDataplane, cleanupAll, policyDataplane, sctpPortsFor } from './policy/dataplane.js';
import { nftAvailable } from '../kernel/nft.js';
import { localReservations, watchReservations } from './policy/local-pods.js';
import { type CompiledView, PolicyReconciler, type SyncOutcome } from './policy/reconcile.js';
import { podKey } from './policy/resolve.js';
import { ReconcileLoop, Reconciler } from './reconcile.js';
import { AGENT_STATE_PATH } from './state.js';
import { KERNEL_CHECK_MS, StateView, Throttled, checkBetweenPasses, checkKernel } from './state-view.js';
import { startVerdictEvents } from './verdicts/index.js';
import { KubernetesNodes, loadKubeConfig } from './sources/kubernetes.js';
import { KubernetesPolicySource } from './sources/policy-source.js';
import { runPolicyCli as policyCli } from './policy/explain-cli.js';
import { runUi as uiServer } from '../ui/main.js';

declare const GINGHAM_VERSION: string;

/** After SIGTERM, give a pass in progress this long, then exit whatever still holds the loop. */
const EXIT_GRACE_MS = 5000;
/**
 * Policy events are coalesced for this long: short, since a new pod's isolation waits on it, but
 * long enough that a burst (a namespace of pods relabelled) makes one pass.
 */
const POLICY_DEBOUNCE_MS = 10;
/**
 * A loop is stuck (and /healthz fails, so kubelet restarts the agent) when it has not finished a
 * pass in this many resync periods: every period starts one, so only a pass that hangs gets here.
 * At least a minute, so a short --resync does not turn one slow pass into a restart.
 */
const STUCK_PERIODS = 3;
const STUCK_MIN_MS = 60_000;

/**
 * node-fetch 2 (under client-node 1.x) calls url.parse() on every request; Node 24 then prints
 * DEP0169 as if it were our code (the bundle does not live under node_modules). Nothing we can act
 * on, and it would break the one-JSON-object-per-line log, so that one warning is dropped.
 */
function muteDeprecation(code: string): void {
  const emit = process.emitWarning;
  process.emitWarning = ((...args: unknown[]): void => {
    const opts = args[1];
    const given = typeof opts === 'object' && opts !== null ? (opts as { code?: unknown }).code : args[2];
    if (given !== code) Reflect.apply(emit, process, args);
  }) as typeof process.emitWarning;
}

/** Wraps a reconciler so that each pass's result (undefined when it threw) and duration are observed. */
function observed<T>(reconciler: { pass(): Promise<T> }, observe: (result: T | undefined, seconds: number) => void): { pass(): Promise<T> } {
  return {
    pass: async () => {
      const t0 = performance.now();
      let result: T | undefined;
      try {
        result = await reconciler.pass();
        return result;
      } finally {
        observe(result, (performance.now() - t0) / 1000);
      }
    },
  };
}

/** The build's version text, "0.1.0 (abc1234, node v24.1.0)"; "dev" when not built by the Makefile. */
const versionText = (): string => (typeof GINGHAM_VERSION === 'string' ? GINGHAM_VERSION : 'dev');

/** gingham_build_info's labels from the build's version text. */
function buildLabels(backend: string): { version: string; commit: string; backend: string } {
  const text = versionText();
  const m = /^(\S+) \(([^,)]+)/.exec(text);
  return { version: m?.[1] ?? text, commit: m?.[2] ?? '', backend };
}

/** `gingham policy ...`: the same API client, so the same warning, which would land on its stderr. */
export async function runPolicyCli(argv: string[]): Promise<number> {
  muteDeprecation('DEP0169');
  return policyCli(argv);
}

/** `gingham ui`: the live class view's server, with the same client and so the same warning. */
export async function runUi(argv: string[]): Promise<number> {
  muteDeprecation('DEP0169');
  return uiServer(argv);
}

export async function runAgent(argv: string[]): Promise<number> {
  muteDeprecation('DEP0169');
  let cmd;
  try {
    cmd = parseAgentArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`gingham agent: ${e.message}\n\n${AGENT_USAGE}`);
    return 2;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(AGENT_USAGE);
      return 0;
    case 'install-cni':
      try {
        const target = installCni(cmd.cniBinDir);
        stdoutLogger('info', 'installed', { from: process.execPath, to: target });
        return 0;
      } catch (e) {
        stdoutLogger('error', 'install-cni failed', { error: errorText(e) });
        return 1;
      }
    case 'cleanup':
      return cleanupNode(nodeKernel(), { cleanup: async () => cleanupAll(await usableDataplanes()) }, stdoutLogger);
    case 'run':
      return runLoop(cmd, stdoutLogger);
  }
}

async function runLoop(opts: RunOptions, log: Logger): Promise<number> {
  let config: AgentConfig;
  try {
    config = loadConfig(opts.configPath, opts.configRequired);
  } catch (e) {
    log('error', 'bad agent config', { error: errorText(e) });
    return 1;
  }
  if (opts.clusterCIDRs.length > 0) config.clusterCIDRs = opts.clusterCIDRs;
  // No silent fallback: the rules the config asks for, or none and a reason.
  if (config.dataplane === 'nftables' && !(await nftAvailable())) {
    log('error', 'dataplane nftables needs nft 1.0.1 or later on the node (not found): install nftables or set dataplane: iptables');
    return 1;
  }
  let source: KubernetesNodes;
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(opts.kubeconfig);
    source = new KubernetesNodes(kc, () => loop.trigger(), log);
  } catch (e) {
    log('error', 'cannot reach the Kubernetes API: no usable kubeconfig', { error: errorText(e) });
    return 1;
  }
  metrics.startTime.set(Date.now() / 1000);
  metrics.buildInfo.set(buildLabels(config.backend), 1);
  const health = new Health(opts.stuckAfterMs ?? Math.max(STUCK_PERIODS * opts.resyncMs, STUCK_MIN_MS));
  // The endpoints of each server, looked up per request: more can be added once their source runs.
  const healthRoutes: Record<string, Route> = { ...health.routes() };
  let server: Server | undefined;
  if (opts.healthPort !== 0) {
    try {
      server = await serveRoutes(healthRoutes, opts.healthPort, opts.healthAddress);
    } catch (e) {
      log('error', 'cannot serve the health endpoints: free the port or pass another --health-port (and change the probes)', { address: opts.healthAddress, port: opts.healthPort, error: errorText(e) });
      return 1;
    }
  }
  const served = await serveMetrics(opts, config, log);
  if (served === 'failed') {
    if (server) stopServing(server);
    return 1;
  }
  const reconciler = new Reconciler({ nodeName: opts.nodeName, nodes: () => source.snapshot(), config, kernel: nodeKernel(), cniConfPath: opts.cniConfPath, statePath: AGENT_STATE_PATH, log });
  // Ready once a pass has run on a node list and the kernel refused none of its changes.
  const loop = new ReconcileLoop(health.track('network')(observed(reconciler, observeNetworkPass), (r) => r.ran && r.failed.length === 0), log);
  const signalled = new Promise<string>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve(sig));
  });
  log('info', 'agent starting', { node: opts.nodeName, resyncMs: opts.resyncMs, cniConfPath: opts.cniConfPath, config, ...(server ? { health: `${opts.healthAddress}:${opts.healthPort}` } : {}), ...(served ? { metrics: `[${served.host}]:${config.metricsPort}` } : {}) });
  const policy = await startPolicy(opts, config, kc, health, log);
  // Verdict events (NFLOG, read by a ulogd child) need the policy rules that emit them.
  const verdicts = startVerdictEvents({
    enabled: config.networkPolicy && (config.policyLogDrops || config.policyLogAccepts),
    view: () => policy.latest(),
    dir: dirname(AGENT_STATE_PATH),
    log,
    onEvent: (e) => countVerdict({ verdict: e.verdict, namespace: e.namespace ?? '', pod: e.pod ?? '', direction: e.direction, policy: e.policy ?? e.policies.join(',') }),
  });
  Object.assign(healthRoutes, verdicts.routes);
  if (served) {
    // For `gingham ui`, beside /metrics on the node's addresses: the same /events, and /state.
    const kernel = nodeKernel();
    const check = new Throttled(() => checkBetweenPasses(() => checkKernel(reconciler.lastPlan(), () => readSnapshot(kernel)), () => reconciler.passes()), KERNEL_CHECK_MS);
    const state = new StateView({ node: opts.nodeName, version: versionText(), config, bridge: BRIDGE, plan: () => reconciler.lastPlan(), reservations: () => localReservations(DEFAULT_DATA_DIR), view: () => policy.latest(), kernel: () => check.get() });
    Object.assign(served.routes, verdicts.routes, { '/state': async () => ({ status: 200, body: await state.state() }) });
  }
  // Passes before the first list do nothing (no snapshot yet); not awaiting the list keeps SIGTERM
  // effective while the API server is unreachable.
  loop.start(opts.resyncMs);
  void source.start();
  const sig = await signalled;
  log('info', 'stopping', { signal: sig });
  // Routes, the overlay, masquerade, the policy rules and the conflist stay: pods keep their
  // network and their isolation while the agent is restarted or upgraded, and the next agent finds
  // them matching and changes nothing.
  setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
  if (server) stopServing(server);
  served?.stop();
  await Promise.all([source.stop(), loop.stop(), policy.stop(), verdicts.stop()]);
  return 0;
}

/**
 * /metrics on every address of the node at config.metricsPort (0: none). The CNI counts come from
 * the plugin's log, read on each scrape and every few seconds; the IPAM fill is read at scrape time.
 * /state and /events join the returned routes once their sources run.
 * 'failed' when the port cannot be had (logged; the agent exits 1, as for the health port).
 */
async function serveMetrics(opts: RunOptions, config: AgentConfig, log: Logger): Promise<{ host: string; routes: Record<string, Route>; stop: () => void } | undefined | 'failed'> {
  if (config.metricsPort === 0) return undefined;
  collectProcessMetrics();
  const cniLog = tailCniLog(CNI_LOG_FILE);
  const routes: Record<string, Route> = {
    '/metrics': metricsRoute(() => {
      cniLog.read();
      collectIpamUsage(DEFAULT_DATA_DIR, opts.cniConfPath);
    }),
  };
  try {
    const { server, host } = await serveOnAllAddresses(routes, config.metricsPort);
    return {
      host,
      routes,
      stop: () => {
        cniLog.stop();
        stopServing(server);
      },
    };
  } catch (e) {
    cniLog.stop();
    log('error', 'cannot serve /metrics: free the port or set another metricsPort in the config (0 turns metrics off)', { port: config.metricsPort, error: errorText(e) });
    return 'failed';
  }
}

/** The policy dataplanes this node can run (nftables needs nft): the ones whose leftovers can be removed. */
async function usableDataplanes(): Promise<PolicyDataplane[]> {
  const usable: Dataplane[] = (await nftAvailable()) ? [...DATAPLANES] : DATAPLANES.filter((d) => d !== 'nftables');
  return usable.map((d) => policyDataplane(d));
}

const outcome = (r: PolicySyncResult): SyncOutcome => {
  const changes: string[] = [];
  for (const f of [4, 6] as const) for (const [what, chains] of Object.entries(r.chains[f])) for (const c of chains) changes.push(`${what} ${c}/${f}`);
  for (const [what, sets] of Object.entries(r.sets)) if (Array.isArray(sets)) for (const s of sets) changes.push(`set ${what} ${s}`);
  if (r.sets.added + r.sets.removed > 0) changes.push(`set entries +${r.sets.added} -${r.sets.removed}`);
  return { changes, failures: r.failures.map((f) => `${f.step}${f.family ? ` (IPv${f.family})` : ''}: ${f.error}`) };
};

/**
 * NetworkPolicy: its own source, loop and kernel layer, so a policy or pod event is in force within
 * milliseconds whatever the network pass is doing. With `networkPolicy: false` in the config, what
 * an earlier agent enforced is removed and nothing is watched (the health endpoints then know of no
 * policy loop).
 */
async function startPolicy(opts: RunOptions, config: AgentConfig, kc: KubeConfig, health: Health, log: Logger): Promise<{ stop: () => Promise<void>; latest: () => CompiledView | undefined }> {
  if (!config.networkPolicy) {
    const r = await cleanupAll(await usableDataplanes());
    if (r.restores > 0) log('info', 'networkPolicy is off: removed the policy rules of an earlier agent', { ...outcome(r) });
    return { stop: async () => undefined, latest: () => undefined };
  }
  const applier = policyDataplane(config.dataplane);
  // Announced before the first await: a start-up that hangs (iptables waiting on its lock) shows.
  const tracked = health.track('policy');
  // What the other dataplane left (the node ran it before): removed after the first sync of this
  // one succeeds, so that pods are never unprotected meanwhile (both in force judge alike).
  let leftovers = (await usableDataplanes()).filter((d) => d.name !== applier.name);
  const removeLeftovers = async (): Promise<void> => {
    const still: PolicyDataplane[] = [];
    for (const other of leftovers) {
      const r = await other.cleanup();
      if (r.failures.length > 0) {
        log('warn', `cannot remove the policy rules of dataplane ${other.name} yet`, { ...outcome(r) });
        still.push(other);
      } else if (r.restores > 0) log('info', `removed the policy rules of dataplane ${other.name}`, { ...outcome(r) });
    }
    leftovers = still;
  };
  const sctpPorts = await sctpPortsFor(applier.name);
  if (!sctpPorts) log('warn', `${applier.name} cannot match SCTP ports here: SCTP rules with ports allow nothing (the pods they select stay isolated)`);
  // Every event starts the clock of gingham_policy_event_to_enforced_seconds (unless it runs).
  const clock = new EventToEnforced();
  const changed = (): void => {
    clock.event();
    loop.trigger();
  };
  const source = new KubernetesPolicySource(kc, changed, log);
  const reconciler = new PolicyReconciler({
    nodeName: opts.nodeName,
    inputs: () => {
      const problems = source.newProblems();
      for (const p of problems) log('warn', 'policy input not used as written', { problem: p });
      countUnreadable(problems.length);
      const inputs = source.snapshot();
      if (inputs === undefined) return undefined;
      observeClusterPolicies(inputs);
      clock.read();
      forgetGonePods(() => new Set(inputs.pods.filter((p) => p.node === opts.nodeName).map(podKey)));
      return inputs;
    },
    sync: async (want, read) => {
      observeRuleset(want);
      const o = outcome(await applier.sync(want, { read }));
      clock.synced(o.failures.length === 0);
      // The first pass reads; one that failed to remove is retried at resyncs, not on every event.
      if (read && o.failures.length === 0 && leftovers.length > 0) await removeLeftovers();
      return o;
    },
    // A little under the period, so timer jitter never skips the read of a resync.
    readEveryMs: opts.resyncMs * 0.9,
    sctpPorts,
    logDrops: config.policyLogDrops,
    logAccepts: config.policyLogAccepts,
    ipamDataDir: DEFAULT_DATA_DIR,
    log,
  });
  // Ready once a sync has run on complete lists and the kernel refused none of it.
  const loop = new ReconcileLoop(tracked(observed(reconciler, observePolicyPass), (r) => r.ran && r.failures.length === 0), log, POLICY_DEBOUNCE_MS);
  // Our IPAM tells this node's new pods' addresses before the API does (local-pods.ts). The data
  // dir appears with the first pod; until it does (or if it goes), each resync tries again.
  let unwatch: (() => void) | undefined;
  const watchIpam = (): void => {
    unwatch ??= watchReservations(DEFAULT_DATA_DIR, changed, () => (unwatch = undefined));
  };
  watchIpam();
  const rewatch = setInterval(watchIpam, opts.resyncMs);
  loop.start(opts.resyncMs);
  void source.start();
  return {
    latest: () => reconciler.latest(),
    stop: async () => {
      clearInterval(rewatch);
      unwatch?.();
      await Promise.all([source.stop(), loop.stop()]);
    },
  };
}
