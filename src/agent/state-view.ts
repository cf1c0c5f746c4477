// The agent's GET /state (src/ui/model.ts AgentState, for `gingham ui`): its last network plan,
// this node's pods as its IPAM reserved them, the policies isolating each (from the policy
// reconciler's last compiled view) and whether the kernel still matches the plan. Read-only and
// cheap per request: the kernel is read (the same comparison as `gingham inspect`) at most once
// every few seconds, whatever the number of viewers, and the isolation is worked out once per
// policy pass.
import type { AgentState, DeviceState, IsolationState, LocalPodState, PeerState } from '../ui/model.js';
import { hostVethName } from '../backends/bridge/names.js';
import type { AgentConfig } from './config.js';
import { errorText } from './log.js';
import { type Changes, type KernelSnapshot, changesFor } from './network/changes.js';
import type { NetworkPlan } from './network/plan.js';
import type { LocalReservation } from './policy/local-pods.js';
import type { CompiledView } from './policy/reconcile.js';
import { isolating, podKey } from './policy/resolve.js';

export type KernelCheck = AgentState['kernel'];

/** How often at most the kernel is read for /state. */
export const KERNEL_CHECK_MS = 5000;

export const devicesOf = (plan: NetworkPlan): DeviceState[] =>
  plan.devices.map((d) => ({ name: d.name, family: d.family, vni: d.vni, mac: d.mac, vtep: d.vtep, local: d.local, port: d.port, mtu: d.mtu }));

/** The plan's peers with the next hop and device of the route to each one's pod CIDR. */
export function peersOf(plan: NetworkPlan): PeerState[] {
  return plan.peers.map((p) => {
    const route = plan.routes.find((r) => r.node === p.node && r.dst === p.podCIDR);
    return {
      node: p.node,
      podCIDR: p.podCIDR,
      nodeIP: p.nodeIP,
      via: route?.via ?? p.vtep ?? p.nodeIP,
      ...(route?.dev !== undefined ? { dev: route.dev } : {}),
      ...(p.vtep !== undefined ? { vtep: p.vtep } : {}),
      ...(p.vtepMac !== undefined ? { vtepMac: p.vtepMac } : {}),
    };
  });
}

/**
 * One entry per pod: every address reserved for it, and the veth of its newest reservation (a
 * sandbox that crashed can leave an older one until the runtime's DEL or GC).
 */
export function localPods(reservations: readonly LocalReservation[]): LocalPodState[] {
  const byPod = new Map<string, { pod: LocalPodState; created: string }>();
  for (const r of reservations) {
    const key = podKey(r);
    const had = byPod.get(key);
    const veth = hostVethName(r.containerId, r.ifName);
    const newer = had === undefined || r.created > had.created;
    const pod: LocalPodState = { namespace: r.namespace, name: r.name, ips: [...(had?.pod.ips ?? []), ...r.ips], veth: newer ? veth : had.pod.veth };
    byPod.set(key, { pod, created: newer ? r.created : had.created });
  }
  return [...byPod.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v.pod);
}

/** Each pod of the view's node (not hostNetwork: no policy selects those) and the policies isolating it. */
export function isolationOf(view: CompiledView): IsolationState[] {
  return view.pods
    .filter((p) => p.node === view.node && !p.hostNetwork)
    .map((p) => {
      const key = podKey(p);
      return {
        pod: key,
        ingress: isolating(view.resolved, p, 'ingress').map((r) => r.key),
        egress: isolating(view.resolved, p, 'egress').map((r) => r.key),
        cluster: view.cluster.filter((c) => c.subjects.some((s) => podKey(s) === key)).map((c) => c.key),
      };
    })
    .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
}

/** The lines the agent's next pass would run (0: the kernel matches, as `gingham inspect` says). */
export const differences = (c: Changes): number => c.ipFirst.length + c.fdb.length + c.ipLast.length + c.rules[4].length + c.rules[6].length + c.filter.length;

/** The kernel against `plan`; never throws (a read that fails is told in `error`). */
export async function checkKernel(plan: NetworkPlan | undefined, read: () => Promise<KernelSnapshot>, now: () => Date = () => new Date()): Promise<KernelCheck> {
  const checkedAt = now().toISOString();
  if (plan === undefined) return { matches: false, differences: 0, checkedAt, error: 'no network pass yet' };
  try {
    const n = differences(changesFor(plan, await read()));
    return { matches: n === 0, differences: n, checkedAt };
  } catch (e) {
    return { matches: false, differences: 0, checkedAt, error: errorText(e) };
  }
}

/**
 * The kernel against the plan, read while no pass applies: a read that overlapped a pass (which
 * may have changed the kernel half-way) is made again, up to `tries` times, so a node joining does
 * not show as drift for the seconds the check is kept.
 */
export async function checkBetweenPasses(check: () => Promise<KernelCheck>, passes: () => { readonly started: number; readonly ended: number }, tries = 3, waitMs = 200): Promise<KernelCheck> {
  for (let i = 1; ; i++) {
    const before = passes();
    const result = await check();
    const after = passes();
    if ((before.started === before.ended && after.started === before.started) || i >= tries) return result;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

/**
 * The value of `run`, computed again only when the last one started at least `maxAgeMs` ago, and
 * never twice at once: requests meanwhile share the one in progress.
 */
export class Throttled<T> {
  private last: { startedAt: number; value: T } | undefined;
  private running: Promise<T> | undefined;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(): Promise<T> {
    if (this.running) return this.running;
    const t = this.now();
    if (this.last && t - this.last.startedAt < this.maxAgeMs) return Promise.resolve(this.last.value);
    const running = this.run().then((value) => {
      this.last = { startedAt: t, value };
      return value;
    });
    this.running = running.finally(() => (this.running = undefined));
    return this.running;
  }
}

export interface StateDeps {
  readonly node: string;
  readonly version: string;
  readonly config: Pick<AgentConfig, 'backend' | 'dataplane' | 'networkPolicy' | 'policyLogDrops' | 'policyLogAccepts'>;
  /** The network reconciler's last applied plan. */
  readonly plan: () => NetworkPlan | undefined;
  /** This node's IPAM reservations for pods (read per request: a new pod shows at once). */
  readonly reservations: () => readonly LocalReservation[];
  /** The policy reconciler's last compiled view; undefined with networkPolicy off or before its first pass. */
  readonly view: () => CompiledView | undefined;
  /** The kernel check, throttled (Throttled over checkKernel). */
  readonly kernel: () => Promise<KernelCheck>;
  /** The bridge the conflist puts the pods on. */
  readonly bridge: string;
}

/** /state's answers; the isolation is worked out once per compiled view. */
export class StateView {
  private isolation: { view: CompiledView; value: IsolationState[] } | undefined;

  constructor(private readonly deps: StateDeps) {}

  async state(): Promise<AgentState> {
    const d = this.deps;
    const kernel = await d.kernel();
    const plan = d.plan();
    const view = d.view();
    if (view !== undefined && this.isolation?.view !== view) this.isolation = { view, value: isolationOf(view) };
    const mtu = plan?.mtu;
    return {
      node: d.node,
      version: d.version,
      backend: plan?.backend ?? d.config.backend,
      dataplane: plan?.dataplane ?? d.config.dataplane,
      ...(mtu !== undefined ? { mtu } : {}),
      bridge: d.bridge,
      devices: plan ? devicesOf(plan) : [],
      peers: plan ? peersOf(plan) : [],
      skipped: plan ? plan.skipped.map((s) => ({ node: s.node, reason: s.reason })) : [],
      pods: localPods(d.reservations()),
      ...(view !== undefined && this.isolation ? { isolation: this.isolation.value } : {}),
      kernel,
      events: d.config.networkPolicy && (d.config.policyLogDrops || d.config.policyLogAccepts),
    };
  }
}
