// `gingham ui`: the live class view's server. Watches the API server (the agent's own sources:
// nodes, pods, namespaces, policies), asks every node's agent for its state and verdicts, and
// serves the page and its data until SIGINT or SIGTERM. Part of the agent bundle, which has the
// Kubernetes client (src/agent/main.ts exports runUi; src/agent/load.ts loads it).
import type { Server } from 'node:http';
import { serveRoutes, stopServing } from '../agent/health.js';
import { serveOnAllAddresses } from '../agent/metrics/serve.js';
import { errorText, stdoutLogger } from '../agent/log.js';
import { KubernetesNodes, loadKubeConfig } from '../agent/sources/kubernetes.js';
import { KubernetesPolicySource } from '../agent/sources/policy-source.js';
import { AgentFleet, type AgentFleetOptions } from './agents.js';
import { UI_USAGE, UiUsageError, hostAllowed, parseUiArgs, type UiArgs } from './args.js';
import type { ClusterRead } from './explain-query.js';
import { uiRoutes } from './server.js';
import { ViewHub } from './stream.js';
import { buildView } from './view.js';

/** A running `gingham ui`: its server (and address) and how to stop it. */
export interface RunningUi {
  readonly server: Server;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts everything and serves; resolves once listening (rejects when the address cannot be had). */
export async function startUi(args: UiArgs, testing: Pick<AgentFleetOptions, 'baseUrl' | 'pollMs'> = {}, log = stdoutLogger): Promise<RunningUi> {
  const kc = loadKubeConfig(args.kubeconfig);
  // Each refers to the others only in callbacks, which run once the sources start (below).
  const fleet = new AgentFleet({ agentPort: args.agentPort, onChange: () => hub.changed(), onVerdict: (node, e) => hub.verdict(node, e), ...testing });
  const hub = new ViewHub(() => buildView({ nodes: nodes.snapshot() ?? [], inputs: policies.snapshot(), agents: fleet.statuses(), now: new Date() }));
  const policies = new KubernetesPolicySource(
    kc,
    () => {
      for (const p of policies.newProblems()) log('warn', 'left out of the view', { problem: p });
      hub.changed();
    },
    log,
  );
  const nodes = new KubernetesNodes(
    kc,
    () => {
      fleet.update(nodes.snapshot() ?? []);
      hub.changed();
    },
    log,
  );
  const read: ClusterRead = () => {
    const inputs = policies.snapshot();
    return inputs && { inputs, problems: policies.problems(), nodes: nodes.snapshot() ?? [] };
  };
  let server: Server;
  try {
    // "::" is every address of both families, or of IPv4 where the kernel has no IPv6 (as /metrics).
    const routes = uiRoutes(hub, read);
    const opts = { hostAllowed: (h: string) => hostAllowed(h, args.host) };
    server = args.host === '::' ? (await serveOnAllAddresses(routes, args.port, serveRoutes, opts)).server : await serveRoutes(routes, args.port, args.host, opts);
  } catch (e) {
    hub.stop();
    throw e;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : args.port;
  const url = `http://${args.host.includes(':') ? `[${args.host}]` : args.host}:${port}/`;
  // Not awaited: the page is served (empty) while the API server is slow or away; the sources retry.
  void policies.start();
  void nodes.start();
  return {
    server,
    url,
    stop: async () => {
      stopServing(server);
      hub.stop();
      fleet.stop();
      await Promise.all([policies.stop(), nodes.stop()]);
    },
  };
}

export async function runUi(argv: string[]): Promise<number> {
  let args: UiArgs;
  try {
    args = parseUiArgs(argv);
  } catch (e) {
    if (!(e instanceof UiUsageError)) throw e;
    process.stderr.write(`gingham ui: ${e.message}\n\n${UI_USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(UI_USAGE);
    return 0;
  }
  let ui: RunningUi;
  try {
    ui = await startUi(args);
  } catch (e) {
    process.stderr.write(`gingham ui: cannot start: ${errorText(e)}\n`);
    return 1;
  }
  stdoutLogger('info', 'gingham ui serving', { url: ui.url, agentPort: args.agentPort });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await ui.stop();
  return 0;
}
