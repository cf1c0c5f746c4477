// The agent's loop (Flannel's and kube-router's habit): compute the whole desired state from the
// latest node snapshot and make the kernel match it. It runs on every watch event (coalesced) and
// every resync period, so a restart, a missed event or a route deleted by hand heals itself.
import { buildConflist, renderConflist } from './network/conflist.js';
import type { NodeInfo } from './network/nodes.js';
import { type ApplyOutcome, applyRouteLines, readRoutes } from './network/kernel.js';
import { type Route, diffRoutes, planRoutes, routeLines } from './network/routes.js';
import { writeIfChanged } from './files.js';
import { type Logger, errorText } from './log.js';

/** Our routes in the kernel: the real one, or a fake in tests. */
export interface RouteTable {
  read(): Promise<Route[]>;
  apply(lines: readonly string[]): Promise<ApplyOutcome>;
}

export const kernelRoutes = (ip: readonly string[] = ['ip']): RouteTable => ({
  read: () => readRoutes(ip),
  apply: (lines) => applyRouteLines(lines, ip),
});

export interface ReconcileDeps {
  nodeName: string;
  /** The latest nodes, or undefined until the source has listed them once. */
  nodes: () => readonly NodeInfo[] | undefined;
  routes: RouteTable;
  /** Where this node's conflist goes; "" writes none. */
  cniConfPath: string;
  /** Passed into the conflist: destinations kept out of masquerade. */
  clusterCIDRs?: readonly string[];
  log: Logger;
}

export interface PassSummary {
  /** false: no node list yet, nothing was touched. */
  ran: boolean;
  replaced: Route[];
  removed: Route[];
  failed: ApplyOutcome['failed'];
  conflistWritten: boolean;
}

export class Reconciler {
  /** Last logged skip reasons and conflist problem: logged when they change, not every pass. */
  private lastSkipped = '';
  private lastConfProblem = '';
  private warnedNoSelf = false;

  constructor(private readonly deps: ReconcileDeps) {}

  /**
   * One pass: the conflist (independent of the routes, and what lets kubelet call us at all), then
   * the routes. Throws only when our routes cannot even be read.
   */
  async pass(): Promise<PassSummary> {
    const { nodeName, log } = this.deps;
    const nodes = this.deps.nodes();
    if (nodes === undefined) return { ran: false, replaced: [], removed: [], failed: [], conflistWritten: false };
    const found = nodes.find((n) => n.name === nodeName);
    if (!found && !this.warnedNoSelf) log('warn', 'this node is not among the Node objects; is --node-name right?', { node: nodeName });
    this.warnedNoSelf = !found;
    const self: NodeInfo = found ?? { name: nodeName, podCIDRs: [], internalIPs: [] };
    const conflistWritten = this.conflist(self);

    const plan = planRoutes(self, nodes);
    const skippedKey = JSON.stringify(plan.skipped);
    if (skippedKey !== this.lastSkipped && plan.skipped.length > 0) log('warn', 'nodes without a route', { skipped: plan.skipped });
    this.lastSkipped = skippedKey;

    const diff = diffRoutes(plan.routes, await this.deps.routes.read());
    const outcome = await this.deps.routes.apply(routeLines(diff));
    if (diff.replace.length + diff.remove.length > 0) {
      log('info', 'routes changed', { replaced: diff.replace.map(show), removed: diff.remove.map(show), total: plan.routes.length });
    }
    for (const f of outcome.failed) log('error', 'route change refused by the kernel; retried next pass', f);

    return { ran: true, replaced: diff.replace, removed: diff.remove, failed: outcome.failed, conflistWritten };
  }

  private conflist(self: NodeInfo): boolean {
    const { cniConfPath, log } = this.deps;
    if (cniConfPath === '') return false;
    let text: string;
    try {
      text = renderConflist(buildConflist({ podCIDRs: self.podCIDRs, clusterCIDRs: this.deps.clusterCIDRs ?? [] }));
    } catch (e) {
      const problem = errorText(e);
      if (problem !== this.lastConfProblem) log('warn', 'no conflist written yet', { path: cniConfPath, reason: problem });
      this.lastConfProblem = problem;
      return false;
    }
    this.lastConfProblem = '';
    const written = writeIfChanged(cniConfPath, text);
    if (written) log('info', 'conflist written', { path: cniConfPath, podCIDRs: self.podCIDRs });
    return written;
  }
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
    private readonly reconciler: Pick<Reconciler, 'pass'>,
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
