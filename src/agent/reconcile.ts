// The agent's loop (Flannel's and kube-router's habit): compute the whole desired state from the
// latest node snapshot and make the kernel match it. It runs on every watch event (coalesced) and
// every resync period, so a restart, a missed event or an entry deleted by hand heals itself.
import type { AgentConfig } from './config.js';
import { buildConflist, renderConflist } from './network/conflist.js';
import type { NodeInfo } from './network/nodes.js';
import { type Changes, changesFor } from './network/changes.js';
import { type ApplyOutcome, type NetworkKernel, readSnapshot } from './network/kernel.js';
import { type NetworkPlan, type Peer, type Skipped, planNetwork } from './network/plan.js';
import { type DriftKind, driftOf, skipReason } from './metrics/drift.js';
import type { Route } from './network/routes.js';
import { writeIfChanged } from './files.js';
import { type Logger, errorText } from './log.js';

export interface ReconcileDeps {
  nodeName: string;
  /** The latest nodes, or undefined until the source has listed them once. */
  nodes: () => readonly NodeInfo[] | undefined;
  config: AgentConfig;
  kernel: NetworkKernel;
  /** Where this node's conflist goes; "" writes none. */
  cniConfPath: string;
  /** Where the last plan goes for `gingham inspect`; "" writes none. */
  statePath: string;
  log: Logger;
}

export interface PassSummary {
  /** false: no node list yet, nothing was touched. */
  ran: boolean;
  replaced: Route[];
  removed: Route[];
  /** Overlay lines applied (devices, addresses, neighbours, FDB, the node table and its rules). */
  overlay: string[];
  /** Packet-filter changes applied: "CHAIN/4" (iptables), "inet gingham" (nftables). */
  filter: string[];
  failed: ApplyOutcome['failed'];
  conflistWritten: boolean;
  /** For the metrics: entries that differed from the plan, by kind, and how many the kernel took. */
  drift: Partial<Record<DriftKind, { found: number; healed: number }>>;
  peers: Peer[];
  /** Nodes skipped, each reason a fixed word (metrics/network.ts; "unreadable" for a Node object that could not be read). */
  skipped: Skipped[];
}

const IDLE: PassSummary = { ran: false, replaced: [], removed: [], overlay: [], filter: [], failed: [], conflistWritten: false, drift: {}, peers: [], skipped: [] };

export class Reconciler {
  /** Last logged skip reasons and conflist problem: logged when they change, not every pass. */
  private lastSkipped = '';
  private lastConfProblem = '';
  private warnedNoSelf = false;
  private plan: NetworkPlan | undefined;
  /** Passes started and ended: a kernel read between equal counts saw no pass at work. */
  private started = 0;
  private ended = 0;

  constructor(private readonly deps: ReconcileDeps) {}

  /** The last pass's plan (undefined before the first pass with a node list), once applied, for the agent's /state. */
  lastPlan(): NetworkPlan | undefined {
    return this.plan;
  }

  /** Passes started and ended so far (equal: none is running). */
  passes(): { readonly started: number; readonly ended: number } {
    return { started: this.started, ended: this.ended };
  }

  /**
   * One pass: plan, then the conflist (what lets kubelet call us at all), then the kernel in order:
   * stale routes out, the overlay's devices and neighbours, its FDB, new routes in, our chains.
   * Throws only when our state cannot even be read.
   */
  async pass(): Promise<PassSummary> {
    this.started++;
    try {
      return await this.passOnce();
    } finally {
      this.ended++;
    }
  }

  private async passOnce(): Promise<PassSummary> {
    const { nodeName, log, kernel } = this.deps;
    const nodes = this.deps.nodes();
    if (nodes === undefined) return IDLE;
    const found = nodes.find((n) => n.name === nodeName);
    if (!found && !this.warnedNoSelf) log('warn', 'this node is not among the Node objects; is --node-name right?', { node: nodeName });
    this.warnedNoSelf = !found;
    const self: NodeInfo = found ?? { name: nodeName, podCIDRs: [], internalIPs: [] };

    const now = await readSnapshot(kernel);
    const plan = planNetwork(self, nodes, this.deps.config, now.addrs);
    const conflistWritten = this.conflist(self, plan);
    const skippedKey = JSON.stringify(plan.skipped);
    if (skippedKey !== this.lastSkipped && plan.skipped.length > 0) log('warn', 'nodes without a route', { skipped: plan.skipped });
    this.lastSkipped = skippedKey;

    const ch = changesFor(plan, now);
    const { failed, filter } = await applyChanges(kernel, ch);

    const rules = [...ch.rules[4], ...ch.rules[6]];
    if (ch.replaced.length + ch.removed.length + ch.overlay.length + rules.length + filter.length > 0) {
      log('info', 'network changed', { replaced: ch.replaced.map(show), removed: ch.removed.map(show), overlay: ch.overlay, rules, filter, routes: plan.routes.length });
    }
    for (const f of failed) log('error', 'change refused by the kernel; retried next pass', f);
    // Kept once applied, so that a check against the kernel does not catch it half-way.
    this.plan = plan;
    this.saveState(plan);
    const unreadable = new Map(nodes.filter((n) => n.invalid !== undefined).map((n) => [n.name, n.invalid]));
    const skipped = plan.skipped.map((s) => ({ node: s.node, reason: unreadable.get(s.node) === s.reason ? 'unreadable' : skipReason(s.reason) }));
    return { ran: true, replaced: ch.replaced, removed: ch.removed, overlay: [...ch.overlay, ...rules], filter, failed, conflistWritten, drift: driftOf(ch, failed), peers: plan.peers, skipped };
  }

  private conflist(self: NodeInfo, plan: NetworkPlan): boolean {
    const { cniConfPath, log } = this.deps;
    if (cniConfPath === '') return false;
    let text: string;
    try {
      text = renderConflist(buildConflist({ podCIDRs: self.podCIDRs, dataplane: plan.dataplane, ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}) }));
    } catch (e) {
      const problem = errorText(e);
      if (problem !== this.lastConfProblem) log('warn', 'no conflist written yet', { path: cniConfPath, reason: problem });
      this.lastConfProblem = problem;
      return false;
    }
    this.lastConfProblem = '';
    const written = writeIfChanged(cniConfPath, text);
    if (written) log('info', 'conflist written', { path: cniConfPath, podCIDRs: self.podCIDRs, mtu: plan.mtu });
    return written;
  }

  /** The plan for `gingham inspect`, which compares it with the kernel on its own. */
  private saveState(plan: NetworkPlan): void {
    if (this.deps.statePath === '') return;
    try {
      writeIfChanged(this.deps.statePath, `${JSON.stringify({ node: this.deps.nodeName, config: this.deps.config, plan }, null, 2)}\n`);
    } catch (e) {
      this.deps.log('warn', 'cannot write the state file for gingham inspect', { path: this.deps.statePath, error: errorText(e) });
    }
  }
}

/**
 * Applies changes in the order they depend on each other: stale routes out, the overlay's devices
 * and neighbours, its FDB, new routes in, the rules, our chains (the chosen dataplane's, then the
 * removal of another's). Returns the refused lines and the packet-filter changes applied.
 */
export async function applyChanges(kernel: NetworkKernel, ch: Changes): Promise<{ failed: ApplyOutcome['failed']; filter: string[] }> {
  const failed: ApplyOutcome['failed'] = [];
  failed.push(...(await kernel.apply('ip', ch.ipFirst)).failed);
  failed.push(...(await kernel.apply('bridge', ch.fdb)).failed);
  failed.push(...(await kernel.apply('ip', ch.ipLast)).failed);
  failed.push(...(await kernel.apply('ip4', ch.rules[4])).failed);
  failed.push(...(await kernel.apply('ip6', ch.rules[6])).failed);
  const filter: string[] = [];
  for (const c of ch.filter) {
    const err = await kernel.applyFilter(c);
    if (err === undefined) filter.push(c.what);
    else failed.push({ line: `${c.command} (${c.what})`, error: err });
  }
  return { failed, filter };
}

const show = (r: Route): string => `${r.dst} via ${r.via || '-'}${r.node ? ` (${r.node})` : ''}`;

/**
 * Runs passes: at most one at a time, with every trigger that arrives during a pass folded into
 * one more pass after it. Triggers are debounced briefly so the burst of events from a (re)list
 * makes one pass, not one per node.
 */
export class ReconcileLoop {
  private running: Promise<void> | undefined;
  private again = false;
  private debounce: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly reconciler: { pass(): Promise<unknown> },
    private readonly log: Logger,
    private readonly debounceMs = 100,
  ) {}

  start(resyncMs: number): void {
    this.resync = setInterval(() => this.trigger(), resyncMs);
    this.trigger();
  }

  trigger(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.kick(), this.debounceMs);
  }

  private kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.reconciler.pass();
      } catch (e) {
        this.log('error', 'reconcile pass failed; retried on the next event or resync', { error: errorText(e) });
      }
    } while (this.again && !this.stopped);
  }

  /** Waits for a pass in progress; starts no new one. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    clearInterval(this.resync);
    await this.running;
  }

  /** For tests: resolves when no pass is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
