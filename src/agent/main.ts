// `gingham agent`: the node agent. This file is the entry of a bundle of its own (build/agent.cjs,
// a SEA asset), loaded only when the agent runs (see load.ts): @kubernetes/client-node would add
// ~17 ms to every CNI call if it were part of the plugin's script.
import { AGENT_USAGE, type RunOptions, UsageError, parseAgentArgs } from './args.js';
import { type AgentConfig, loadConfig } from './config.js';
import { installCni } from './install.js';
import { type Logger, errorText, stderrLogger } from './log.js';
import { nodeKernel } from './network/kernel.js';
import { ReconcileLoop, Reconciler } from './reconcile.js';
import { AGENT_STATE_PATH } from './state.js';
import { KubernetesNodes, loadKubeConfig } from './sources/kubernetes.js';

/** After SIGTERM, give a pass in progress this long, then exit whatever still holds the loop. */
const EXIT_GRACE_MS = 5000;

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
        stderrLogger('info', 'installed', { from: process.execPath, to: target });
        return 0;
      } catch (e) {
        stderrLogger('error', 'install-cni failed', { error: errorText(e) });
        return 1;
      }
    case 'run':
      return runLoop(cmd, stderrLogger);
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
  let source: KubernetesNodes;
  try {
    source = new KubernetesNodes(loadKubeConfig(opts.kubeconfig), () => loop.trigger(), log);
  } catch (e) {
    log('error', 'cannot reach the Kubernetes API: no usable kubeconfig', { error: errorText(e) });
    return 1;
  }
  const reconciler = new Reconciler({ nodeName: opts.nodeName, nodes: () => source.snapshot(), config, kernel: nodeKernel(), cniConfPath: opts.cniConfPath, statePath: AGENT_STATE_PATH, log });
  const loop = new ReconcileLoop(reconciler, log);
  const signalled = new Promise<string>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve(sig));
  });
  log('info', 'agent starting', { node: opts.nodeName, resyncMs: opts.resyncMs, cniConfPath: opts.cniConfPath, config });
  // Passes before the first list do nothing (no snapshot yet); not awaiting the list keeps SIGTERM
  // effective while the API server is unreachable.
  loop.start(opts.resyncMs);
  void source.start();
  const sig = await signalled;
  log('info', 'stopping', { signal: sig });
  // Routes, the overlay, masquerade and the conflist stay: pods keep their network while the agent
  // is restarted or upgraded, and the next agent finds them matching and changes nothing.
  setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
  await Promise.all([source.stop(), loop.stop()]);
  return 0;
}
