// The agent's policy pass: the latest pods, namespaces and policies (plus the addresses our IPAM
// just gave this node's pods) -> compile -> make the kernel match. Run by its own ReconcileLoop on
// every event (briefly debounced) and every resync, so a missed event or a chain edited by hand
// heals, and independent of the network pass so a policy change never waits for route work.
import type { Logger } from '../log.js';
import { PolicyCompiler } from './compile.js';
import { NewLines } from '../sources/new-lines.js';
import { reservedPodIps, withReservedIps } from './local-pods.js';
import { type PodInfo, type PolicyInputs, type Ruleset, ruleCount } from './model.js';
import type { ResolvedClusterPolicy, ResolvedPolicy } from './resolve.js';

/** What the kernel layer reports for one sync (apply.ts). */
export interface SyncOutcome {
  /** Chains rewritten or removed and sets created, changed or destroyed: [] when nothing changed. */
  readonly changes: readonly string[];
  readonly failures: readonly string[];
}

export interface PolicyDeps {
  readonly nodeName: string;
  /** The latest objects, or undefined until every kind has been listed once. */
  readonly inputs: () => PolicyInputs | undefined;
  /**
   * read: compare with the kernel as it is (and heal what someone changed); without, with the state
   * the last sync left, which saves the reads (most of an event's cost at scale).
   */
  readonly sync: (want: Ruleset, read: boolean) => Promise<SyncOutcome>;
  /** A pass reads the kernel when the last one that did is this old (the resync period). */
  readonly readEveryMs: number;
  readonly sctpPorts: boolean;
  readonly logDrops: boolean;
  /** Verdict events for new connections policies accept as well (default: no). */
  readonly logAccepts?: boolean;
  /** Our IPAM's data dir on this node ("" to not look). */
  readonly ipamDataDir: string;
  readonly log: Logger;
}

export interface PolicyPassSummary {
  readonly ran: boolean;
  readonly compileMs: number;
  readonly applyMs: number;
  readonly changes: readonly string[];
  readonly failures: readonly string[];
  /** Rules and sets in force, both families. */
  readonly rules: number;
  readonly sets: number;
}

/** What the last pass compiled: the verdict events name pods and policies with it. */
export interface CompiledView {
  readonly node: string;
  /** Every pod, with this node's reserved addresses filled in. */
  readonly pods: readonly PodInfo[];
  readonly resolved: readonly ResolvedPolicy[];
  readonly cluster: readonly ResolvedClusterPolicy[];
}

const IDLE: PolicyPassSummary = { ran: false, compileMs: 0, applyMs: 0, changes: [], failures: [], rules: 0, sets: 0 };

export class PolicyReconciler {
  private lastRead = -Infinity;
  /** Kept from pass to pass: an event's pass redoes only what the changed objects touch. */
  private readonly compiler = new PolicyCompiler();
  /** Pods given their reserved addresses last pass, by the API's object: reused while the same. */
  private filled = new Map<PodInfo, PodInfo>();
  /** Reservation files left out (a pod name or address that is not one), each logged once. */
  private readonly reservationProblems = new NewLines();
  private view: CompiledView | undefined;

  constructor(private readonly deps: PolicyDeps) {}

  /**
   * The pods with this node's reserved addresses filled in where the API has none yet. The store
   * is read only when such a pod exists (usually for a second after its sandbox starts), and a
   * pod filled in the same way as last pass is last pass's object, so the compiler sees no change.
   */
  private podsWithAddresses(pods: readonly PodInfo[]): readonly PodInfo[] {
    const { nodeName, ipamDataDir } = this.deps;
    const waiting = ipamDataDir !== '' && pods.some((p) => p.node === nodeName && !p.hostNetwork && p.ips.length === 0);
    if (!waiting) {
      this.filled = new Map();
      return pods;
    }
    const problems: string[] = [];
    const out = withReservedIps(pods, nodeName, reservedPodIps(ipamDataDir, (p) => problems.push(p)));
    for (const p of this.reservationProblems.since(problems)) this.deps.log('warn', 'IPAM reservation ignored', { problem: p });
    const filled = new Map<PodInfo, PodInfo>();
    for (let i = 0; i < out.length; i++) {
      const p = out[i]!;
      const api = pods[i]!;
      if (p === api) continue;
      const before = this.filled.get(api);
      const same = before !== undefined && before.ips.length === p.ips.length && before.ips.every((ip, j) => ip === p.ips[j]);
      out[i] = same ? before : p;
      filled.set(api, out[i]!);
    }
    this.filled = filled;
    return out;
  }

  /** The last pass's compiled state (undefined before the first); a new object after each pass. */
  latest(): CompiledView | undefined {
    return this.view;
  }

  async pass(): Promise<PolicyPassSummary> {
    const { nodeName, log } = this.deps;
    const inputs = this.deps.inputs();
    // No complete list yet (start-up, API server away since start): keep whatever is in force.
    if (inputs === undefined) return IDLE;
    const t0 = performance.now();
    const pods = this.podsWithAddresses(inputs.pods);
    const { resolved, cluster, ruleset } = this.compiler.compile({ ...inputs, pods }, { node: nodeName, sctpPorts: this.deps.sctpPorts, logDrops: this.deps.logDrops, logAccepts: this.deps.logAccepts === true });
    this.view = { node: nodeName, pods, resolved, cluster };
    const t1 = performance.now();
    const read = t1 - this.lastRead >= this.deps.readEveryMs;
    if (read) this.lastRead = t1;
    const out = await this.deps.sync(ruleset, read);
    const t2 = performance.now();
    const rules = ruleCount(ruleset[4].chains) + ruleCount(ruleset[6].chains);
    const sets = ruleset[4].sets.length + ruleset[6].sets.length;
    const summary = { ran: true, compileMs: Math.round(t1 - t0), applyMs: Math.round(t2 - t1), changes: out.changes, failures: out.failures, rules, sets };
    if (out.changes.length > 0) log('info', 'policy rules changed', { changes: out.changes.length > 20 ? [...out.changes.slice(0, 20), `… ${out.changes.length - 20} more`] : out.changes, rules, sets, compileMs: summary.compileMs, applyMs: summary.applyMs });
    for (const f of out.failures) log('error', 'policy change refused by the kernel; the previous rules stay, retried next pass', { error: f });
    return summary;
  }
}
