// The NetworkPolicy probe matrix: namespaces x, y and z with pods a, b and c each, every pod serving
// TCP and UDP on ports 80 and 81 (`gingham probe serve`) behind a ClusterIP Service of its own, the
// nine spread over the three nodes; a host-network probe server on every node. A step applies
// policies (or relabels something), then every source (each pod, and each node) probes all its
// targets at once: one long-lived `gingham probe matrix --per-line` per source (kubectl exec into
// the pod, docker exec into the node) runs a round per line it is sent. The whole matrix is
// compared with the verdicts the scenario expects; enforcement is eventually consistent, so the
// matrix is probed again until it matches or a deadline passes, and then the step fails with a
// table of the differences. The time from apply to a matching matrix is the step's time-to-enforce.
//
// Expectations follow the spec (networking.k8s.io/v1), factored as the spec states it: a
// connection passes when the source pod's egress allows it AND the destination pod's ingress
// allows it. A scenario gives the two predicates (default: allowed); the harness adds what no
// policy can change: nodes are not pods (no egress side as a source, no ingress side as a target),
// and traffic between a pod and its own node always passes. Pods never probe themselves (a pod
// cannot block itself, and hairpin through its own Service is implementation-defined).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { CoreV1Api, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { DATA_DIR, DUAL, FAMILIES, type Family, GINGHAM_IN_IMAGE, KUBECONFIG, KUBECTL } from './env.js';
import { assertSafe, canonicalIp, familyOf, hostPort } from './ip.js';
import { type NodeInfo, SUITE_LABEL, clusterNodes, kubeConfig, namespace } from './kube.js';
import { sh } from './node.js';
import { pinnedPod } from './pods.js';
import { kubectl } from './probe.js';
import { log, record, sleep, waitFor } from './timing.js';
import { bits, formatIp, offset, parseCidr, parseIp } from '../../src/net/ip.js';

export type Ns = 'x' | 'y' | 'z';
export type PodName = 'a' | 'b' | 'c';
export type Port = 80 | 81;
export type Proto = 'tcp' | 'udp';
export const NAMESPACES: readonly Ns[] = ['x', 'y', 'z'];
export const POD_NAMES: readonly PodName[] = ['a', 'b', 'c'];
export const PORTS: readonly Port[] = [80, 81];
export const PROTOS: readonly Proto[] = ['tcp', 'udp'];
// The families the matrix probes: the cluster's (lib/env.ts).
export { FAMILIES, type Family };

/**
 * The containerPort names. TCP ports carry a per-pod name so that one name means different numbers
 * on different pods: "web" is 80 on the a pods and 81 on the b pods, and the c pods have no "web".
 * The UDP ports have one name everywhere.
 */
export const TCP_PORT_NAMES: Record<PodName, Record<Port, string>> = {
  a: { 80: 'web', 81: 'alt' },
  b: { 80: 'alt', 81: 'web' },
  c: { 80: 'tcp-80', 81: 'tcp-81' },
};
export const UDP_PORT_NAMES: Record<Port, string> = { 80: 'udp-80', 81: 'udp-81' };

/** The pods' labels at the start of each scenario: pod=NAME, and a team on a and b only (Exists, DoesNotExist). */
export const POD_LABELS: Record<PodName, Record<string, string>> = {
  a: { pod: 'a', team: 'red' },
  b: { pod: 'b', team: 'blue' },
  c: { pod: 'c' },
};
/** Marks the pods a scenario adds (beyond the nine); the reset deletes them. */
const EXTRA_LABEL = 'netpol-extra';
/** Where the kind nodes put the gingham binary (the DaemonSet's install-cni): the node-side prober. */
const GINGHAM_ON_NODE = '/opt/cni/bin/gingham';

export const PROBE_TIMEOUT_MS = 1000;
/** Enforcement is eventually consistent: how long a step may take to match. */
export const STEP_DEADLINE_MS = 20_000;

export interface PodEndpoint {
  kind: 'pod';
  /** x/a */
  id: string;
  ns: Ns;
  name: PodName;
  /** The real namespace (unique per run). */
  namespace: string;
  node: string;
  /** podIPs by family. */
  ips: Partial<Record<Family, string>>;
  /** The Service's ClusterIPs by family. */
  serviceIPs: Partial<Record<Family, string>>;
}

export interface NodeEndpoint {
  kind: 'node';
  /** n:cp, n:w1, n:w2 */
  id: string;
  node: string;
  /** InternalIPs by family. */
  ips: Partial<Record<Family, string>>;
}

export type Endpoint = PodEndpoint | NodeEndpoint;

/** One probe of the matrix: a source connects to a target's address, port and protocol. */
export interface Cell {
  from: Endpoint;
  to: Endpoint;
  port: Port;
  proto: Proto;
  /** Through the pod's (or node's) own address, or through the target pod's Service ClusterIP. */
  via: 'ip' | 'service';
  family: Family;
  /** The address probed (pod IP, ClusterIP or node IP). */
  address: string;
  /** The destination after Service DNAT: the pod's (or node's) own address; what egress rules judge. */
  dstIp: string;
  /** The source address the server sees (learnt from the baseline); what ingress ipBlocks judge. */
  srcIp: string;
  sameNode: boolean;
}

export interface Expect {
  /** The destination pod's ingress verdict (not asked for node targets). */
  ingress?: (c: Cell) => boolean;
  /** The source pod's egress verdict (not asked for node sources). */
  egress?: (c: Cell) => boolean;
}

type Outcome = { target: string; ok: true; from: string; ms: number } | { target: string; ok: false; error: string; ms: number };

interface Row {
  from: Endpoint;
  cells: Cell[];
  prober: Prober;
}

type RoundResult = { outcomes: Outcome[]; at: number } | { error: string };

/**
 * A long-lived `gingham probe matrix --per-line` in one source (`kubectl exec -i` into a pod,
 * `docker exec -i` into a node): each line written to it runs one round of its targets, so a
 * round costs the probes' own time and no process start. A prober that fails or stalls is killed
 * and started again at the next round.
 */
class Prober {
  private proc: ChildProcessWithoutNullStreams | undefined;
  private out = '';
  private err = '';
  private pending: ((line: string | Error) => void) | undefined;

  constructor(
    private readonly what: string,
    private readonly command: string,
    private readonly args: readonly string[],
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    const proc = spawn(this.command, this.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.out = '';
    this.err = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.out += chunk;
      for (let nl = this.out.indexOf('\n'); nl >= 0; nl = this.out.indexOf('\n')) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        if (line.startsWith('{')) this.settle(line);
      }
    });
    proc.stderr.on('data', (chunk: string) => (this.err = (this.err + chunk).slice(-500)));
    const gone = (why: string): void => {
      if (this.proc === proc) this.proc = undefined;
      this.settle(new Error(`${why}${this.err ? `: ${this.err.trim()}` : ''}`));
    };
    proc.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
    proc.on('error', (e) => gone(e.message));
    proc.stdin.on('error', () => undefined);
    this.proc = proc;
    return proc;
  }

  private settle(v: string | Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.(v);
  }

  async round(limitMs: number): Promise<RoundResult> {
    const proc = this.proc ?? this.start();
    const line = await new Promise<string | Error>((resolve) => {
      const timer = setTimeout(() => resolve(new Error(`no answer within ${limitMs} ms`)), limitMs);
      this.pending = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      proc.stdin.write('\n');
    });
    if (line instanceof Error) {
      this.pending = undefined;
      this.stop();
      return { error: `${this.what}: prober ${line.message}` };
    }
    const parsed = JSON.parse(line) as { at: number; results: Outcome[] };
    return { outcomes: parsed.results, at: parsed.at };
  }

  stop(): void {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc) return;
    proc.stdin.end();
    // kubectl passes the end of stdin on and the prober exits; a wedged one is killed.
    setTimeout(() => proc.kill('SIGKILL'), 2000).unref();
  }
}

interface Observed {
  /** By cell key. */
  outcomes: Map<string, Outcome>;
  /** When each row's probes went out (epoch ms, from the prober). */
  at: number[];
  /** Rows whose exec failed, with why. */
  execErrors: string[];
}

export interface Enforcement {
  scenario: string;
  step: string;
  /** From the apply (or relabel) to the probes of the last round that did not match: a lower bound. */
  after: number;
  /** From the apply (or relabel) to the probes of the first matching matrix: an upper bound. */
  seconds: number;
  rounds: number;
  /** Cells whose verdict flipped for one round and back, before the matrix matched. */
  blips: number;
}

export const isPod = (e: Endpoint, id?: string): e is PodEndpoint => e.kind === 'pod' && (id === undefined || e.id === id);
export const inNs = (e: Endpoint, ns: Ns): e is PodEndpoint => e.kind === 'pod' && e.ns === ns;

const cellKey = (c: Pick<Cell, 'from' | 'to' | 'port' | 'proto' | 'via' | 'family'>): string => `${c.from.id}>${c.to.id}:${c.port}/${c.proto}@${c.via}${c.family}`;
const targetOf = (c: Cell): string => `${hostPort(c.address, c.port)}/${c.proto}`;

/** The verdict the spec gives a cell under a scenario's predicates. */
export function expected(c: Cell, e: Expect): boolean {
  const egress = c.from.kind === 'node' || (c.to.kind === 'node' && c.sameNode) || (e.egress?.(c) ?? true);
  const ingress = c.to.kind === 'node' || (c.from.kind === 'node' && c.sameNode) || (e.ingress?.(c) ?? true);
  return egress && ingress;
}

function familyMap(ips: readonly string[]): Partial<Record<Family, string>> {
  const out: Partial<Record<Family, string>> = {};
  for (const ip of ips) {
    const f = familyOf(ip);
    if (f && out[f] === undefined) out[f] = ip;
  }
  return out;
}

export class NetpolMatrix {
  readonly pods: PodEndpoint[] = [];
  readonly nodes: NodeEndpoint[] = [];
  readonly enforcement: Enforcement[] = [];
  private rows: Row[] = [];
  private scenario = '';
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;

  constructor(
    /** The run's prefix (the suite's namespace): namespaces are PREFIX-x, PREFIX-y, PREFIX-z. */
    readonly prefix: string = namespace(),
  ) {
    this.core = kubeConfig().makeApiClient(CoreV1Api);
    this.net = kubeConfig().makeApiClient(NetworkingV1Api);
  }

  nsName(ns: Ns): string {
    return `${this.prefix}-${ns}`;
  }

  pod(id: string): PodEndpoint {
    const p = this.pods.find((x) => x.id === id);
    if (!p) throw new Error(`no pod ${id} in the matrix`);
    return p;
  }

  node(id: string): NodeEndpoint {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} in the matrix`);
    return n;
  }

  /**
   * Namespaces, pods, Services and node probe servers, then the baseline: with no policy every
   * cell must pass; it also tells which source address each node's probes arrive from. destroy()
   * removes whatever this created, also when it failed half-way.
   */
  async setup(): Promise<void> {
    const { controlPlane, workers } = await clusterNodes();
    const nodes: [string, NodeInfo][] = [
      ['n:cp', controlPlane],
      ['n:w1', workers[0]],
      ['n:w2', workers[1]],
    ];
    for (const [id, n] of nodes) this.nodes.push({ kind: 'node', id, node: n.name, ips: familyMap(n.internalIPs) });
    await Promise.all(NAMESPACES.map((ns) => this.core.createNamespace({ body: { metadata: { name: this.nsName(ns), labels: { ...SUITE_LABEL, ns } } } })));
    // A Latin square: every node has one pod of each namespace and one of each name, so same-node
    // and cross-node pairs exist for every kind of peer.
    const placed = NAMESPACES.flatMap((ns, i) => POD_NAMES.map((name, j) => ({ ns, name, node: nodes[(i + j) % 3]![1].name })));
    await Promise.all([
      ...placed.map((p) => this.core.createNamespacedPod({ namespace: this.nsName(p.ns), body: matrixPod(p.name, p.node) })),
      ...placed.map((p) => this.core.createNamespacedService({ namespace: this.nsName(p.ns), body: matrixService(p.name) })),
      ...nodes.map(([id, n]) => this.core.createNamespacedPod({ namespace: this.prefix, body: nodeServer(`netpol-host-${id.slice(2)}`, n) })),
    ]);
    const running = await waitFor('matrix pods Ready with an address per family', 180_000, async (why) => {
      const lists = await Promise.all(NAMESPACES.map((ns) => this.core.listNamespacedPod({ namespace: this.nsName(ns) })));
      const all = lists.flatMap((l) => l.items);
      const ready = all.filter((p) => (p.status?.podIPs ?? []).length >= FAMILIES.length && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      why(`${ready.length} of ${placed.length} ready`);
      return ready.length === placed.length ? all : undefined;
    });
    const services = (await Promise.all(NAMESPACES.map((ns) => this.core.listNamespacedService({ namespace: this.nsName(ns) })))).flatMap((l) => l.items);
    for (const p of placed) {
      const pod = running.find((x) => x.metadata?.namespace === this.nsName(p.ns) && x.metadata?.name === p.name)!;
      const svc = services.find((s) => s.metadata?.namespace === this.nsName(p.ns) && s.metadata?.name === `s-${p.name}`)!;
      this.pods.push({
        kind: 'pod',
        id: `${p.ns}/${p.name}`,
        ns: p.ns,
        name: p.name,
        namespace: this.nsName(p.ns),
        node: p.node,
        ips: familyMap((pod.status?.podIPs ?? []).map((a) => a.ip)),
        serviceIPs: familyMap(svc.spec?.clusterIPs ?? []),
      });
    }
    await waitFor('node probe servers Running', 120_000, async (why) => {
      const list = await this.core.listNamespacedPod({ namespace: this.prefix, labelSelector: 'netpol-host=true' });
      const up = list.items.filter((p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready);
      why(`${up.length} of ${nodes.length}`);
      return up.length === nodes.length ? true : undefined;
    });
    this.rows = this.buildRows();
    for (const p of this.pods) log(`netpol ${p.id} on ${p.node}: ${Object.values(p.ips).join(', ')}; Service ${Object.values(p.serviceIPs).join(', ')}`);
    await this.baseline();
  }

  private buildRows(): Row[] {
    const sources: Endpoint[] = [...this.pods, ...this.nodes];
    return sources.map((from): Row => {
      const cells: Cell[] = [];
      const add = (to: Endpoint, via: Cell['via'], family: Family, address: string | undefined, dstIp: string | undefined): void => {
        if (!address || !dstIp) return;
        assertSafe(address);
        const srcIp = from.kind === 'pod' ? (from.ips[family] ?? '') : '';
        for (const port of PORTS) for (const proto of PROTOS) cells.push({ from, to, port, proto, via, family, address, dstIp, srcIp, sameNode: from.node === to.node });
      };
      for (const to of this.pods) {
        if (to.id === from.id) continue;
        for (const f of FAMILIES) {
          add(to, 'ip', f, to.ips[f], to.ips[f]);
          // Nodes reach Services through kube-proxy's own rules with their own source choice and
          // masquerade: outside what a NetworkPolicy judges, so only pods probe Services.
          if (from.kind === 'pod') add(to, 'service', f, to.serviceIPs[f], to.ips[f]);
        }
      }
      // Pods to the nodes' probe servers: egress to node addresses (ipBlock, and the own node).
      if (from.kind === 'pod') for (const to of this.nodes) for (const f of FAMILIES) add(to, 'ip', f, to.ips[f], to.ips[f]);
      const args = ['probe', 'matrix', '--per-line', '--timeout', String(PROBE_TIMEOUT_MS), ...cells.map(targetOf)];
      const prober =
        from.kind === 'pod'
          ? new Prober(from.id, KUBECTL, ['--kubeconfig', KUBECONFIG, '-n', from.namespace, 'exec', '-i', from.name, '-c', 'probe', '--', GINGHAM_IN_IMAGE, ...args])
          : new Prober(from.id, 'docker', ['exec', '-i', from.node, GINGHAM_ON_NODE, ...args]);
      return { from, cells, prober };
    });
  }

  /** Every cell, for scenarios that check what their expectation covers. */
  cells(): Cell[] {
    return this.rows.flatMap((r) => r.cells);
  }

  private async probeAll(): Promise<Observed> {
    // A first round also starts the exec: room for that on a loaded machine.
    const results = await Promise.all(this.rows.map((row) => row.prober.round(PROBE_TIMEOUT_MS + 30_000)));
    const outcomes = new Map<string, Outcome>();
    const at: number[] = [];
    const execErrors: string[] = [];
    results.forEach((res, i) => {
      const row = this.rows[i]!;
      if ('error' in res) {
        execErrors.push(res.error);
        for (const c of row.cells) outcomes.set(cellKey(c), { target: targetOf(c), ok: false, error: 'exec failed', ms: 0 });
        return;
      }
      at.push(res.at);
      // The prober reports its targets in the order given.
      row.cells.forEach((c, j) => outcomes.set(cellKey(c), res.outcomes[j]?.target === targetOf(c) ? res.outcomes[j]! : { target: targetOf(c), ok: false, error: 'not reported', ms: 0 }));
    });
    return { outcomes, at, execErrors };
  }

  /** With no policy in force everything passes; pods keep their source address; nodes' source addresses are learnt. */
  private async baseline(): Promise<void> {
    this.scenario = 'baseline';
    const observed = await this.converge('no policy: everything allowed', {}, Date.now(), 90_000);
    const problems: string[] = [];
    for (const row of this.rows) {
      for (const c of row.cells) {
        const o = observed.outcomes.get(cellKey(c));
        if (!o?.ok) continue;
        if (c.from.kind === 'node') c.srcIp = o.from;
        else if (c.to.kind === 'pod' && canonicalIp(o.from) !== canonicalIp(c.srcIp)) problems.push(`${cellText(c)}: the server saw ${o.from}, not ${c.srcIp}`);
      }
    }
    if (problems.length > 0) throw new Error(`pod sources must arrive with their own address (the NetworkPolicy peers are judged by it):\n${problems.slice(0, 20).join('\n')}`);
    const nodeSources = new Map<string, Set<string>>();
    for (const c of this.cells()) if (c.from.kind === 'node' && !c.sameNode) nodeSources.set(c.from.id, (nodeSources.get(c.from.id) ?? new Set()).add(c.srcIp));
    for (const [id, ips] of nodeSources) log(`netpol ${id} reaches other nodes' pods from ${[...ips].join(', ')}`);
  }

  /** Starts a scenario: its name heads the time-to-enforce table. */
  begin(scenario: string): void {
    this.scenario = scenario;
  }

  /**
   * One step: apply policies (kubectl apply) and/or act (relabel, delete), then probe until the
   * matrix matches `expect` or the deadline passes. Returns the time-to-enforce.
   */
  async step(name: string, o: { apply?: object[]; act?: () => Promise<void>; expect: Expect; deadlineMs?: number }): Promise<Enforcement> {
    if (o.apply && o.apply.length > 0) await this.apply(o.apply);
    if (o.act) await o.act();
    const t0 = Date.now();
    await this.converge(name, o.expect, t0, o.deadlineMs ?? STEP_DEADLINE_MS);
    return this.enforcement.at(-1)!;
  }

  private async converge(step: string, e: Expect, t0: number, deadlineMs: number): Promise<Observed> {
    // The two rounds before: a cell whose verdict flips for one round and back "blipped" (a drop
    // while rules are rewritten, a stalled prober, a UDP source port reused): worth a line.
    const history: Observed[] = [];
    let lastWrongAt = t0;
    let blips = 0;
    for (let round = 1; ; round++) {
      const observed = await this.probeAll();
      const [before, previous] = history.slice(-2);
      if (before && previous) {
        const blipped = this.cells().filter((c) => {
          const [a, b, now] = [before, previous, observed].map((o) => o.outcomes.get(cellKey(c))?.ok);
          return a === now && b !== now;
        });
        blips += blipped.length;
        if (blipped.length > 0) log(`netpol   round ${round - 1} blipped on ${blipped.length} cells: ${blipSummary(blipped, previous, (n) => this.nodes.find((x) => x.node === n)?.id ?? n)}`);
      }
      history.push(observed);
      const wrong = this.cells().filter((c) => observed.outcomes.get(cellKey(c))?.ok !== expected(c, e));
      if (wrong.length === 0 && observed.execErrors.length === 0) {
        const rec: Enforcement = {
          scenario: this.scenario,
          step,
          after: Math.max(0, (lastWrongAt - t0) / 1000),
          seconds: Math.max(0, (Math.max(...observed.at) - t0) / 1000),
          rounds: round,
          blips,
        };
        this.enforcement.push(rec);
        log(`netpol ${this.scenario} / ${step}: matrix matches after ${rec.seconds.toFixed(1)} s (round ${round})`);
        return observed;
      }
      if (observed.at.length > 0) lastWrongAt = Math.min(...observed.at);
      const first = wrong[0];
      log(`netpol ${this.scenario} / ${step}: round ${round}: ${wrong.length} cells differ${first ? ` (${cellText(first)}: ${observed.outcomes.get(cellKey(first))?.ok ? 'allowed' : 'denied'})` : ''}${observed.execErrors.length > 0 ? `; ${observed.execErrors.length} execs failed` : ''}`);
      if (Date.now() - t0 > deadlineMs) {
        throw new Error(`${this.scenario} / ${step}: the matrix still differs after ${Math.round((Date.now() - t0) / 1000)} s and ${round} rounds\n${this.diffTable(e, observed, wrong)}`);
      }
      await sleep(200);
    }
  }

  /** The truth tables of the port/protocol/path combinations that differ, then the wrong cells one by one. */
  diffTable(e: Expect, observed: Observed, wrong: readonly Cell[]): string {
    const out: string[] = [];
    if (observed.execErrors.length > 0) out.push(`exec failures:\n  ${observed.execErrors.join('\n  ')}`);
    out.push(`${wrong.length} of ${this.cells().length} cells wrong. Legend: + allowed, - denied (both as expected); A allowed but must be denied; D denied but must be allowed; blank: not probed`);
    const groups = new Map<string, Cell[]>();
    for (const c of wrong) {
      const g = `${c.port}/${c.proto} via ${c.via === 'ip' ? 'pod/node IP' : 'Service ClusterIP'} IPv${c.family}`;
      groups.set(g, [...(groups.get(g) ?? []), c]);
    }
    const ids = [...this.pods.map((p) => p.id), ...this.nodes.map((n) => n.id)];
    for (const [g, cs] of groups) {
      const sample = cs[0]!;
      const width = 5;
      out.push(`\n${g}: ${cs.length} wrong (rows: from, columns: to)`);
      out.push(`${''.padEnd(6)}${ids.map((id) => id.padStart(width)).join('')}`);
      for (const from of ids) {
        const row = this.rows.find((r) => r.from.id === from)!;
        const line = ids.map((to) => {
          const c = row.cells.find((x) => x.to.id === to && x.port === sample.port && x.proto === sample.proto && x.via === sample.via && x.family === sample.family);
          if (!c) return ''.padStart(width);
          const want = expected(c, e);
          const got = observed.outcomes.get(cellKey(c))?.ok === true;
          const mark = want === got ? (got ? '+' : '-') : got ? 'A' : 'D';
          return mark.padStart(width);
        });
        out.push(`${from.padEnd(6)}${line.join('')}`);
      }
    }
    out.push('\nwrong cells:');
    for (const c of wrong.slice(0, 40)) {
      const o = observed.outcomes.get(cellKey(c));
      const got = o?.ok ? `answered from ${o.from}` : `${o?.error ?? 'no result'}${o && o.ms ? ` after ${o.ms} ms` : ''}`;
      out.push(`  ${cellText(c)}: must be ${expected(c, e) ? 'allowed' : 'denied'}, got ${got}`);
    }
    if (wrong.length > 40) out.push(`  ... and ${wrong.length - 40} more`);
    return out.join('\n');
  }

  /** kubectl apply of the given objects (NetworkPolicies built by policy()). */
  async apply(objects: readonly object[]): Promise<void> {
    const r = await kubectl(['apply', '-f', '-'], { input: Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects })) });
    if (r.exitCode !== 0) throw new Error(`kubectl apply: ${r.stderr || r.stdout}`);
  }

  /** A NetworkPolicy manifest in one of the matrix namespaces. */
  policy(ns: Ns, name: string, spec: Record<string, unknown>): object {
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: this.nsName(ns), labels: SUITE_LABEL }, spec };
  }

  async deletePolicy(ns: Ns, name: string): Promise<void> {
    await this.net.deleteNamespacedNetworkPolicy({ name, namespace: this.nsName(ns) });
  }

  /** kubectl label on a matrix pod: {k: v} sets, {k: null} removes. */
  async labelPod(id: string, labels: Record<string, string | null>): Promise<void> {
    const p = this.pod(id);
    await this.label(['-n', p.namespace, 'pod', p.name], labels);
  }

  async labelNamespace(ns: Ns, labels: Record<string, string | null>): Promise<void> {
    await this.label(['namespace', this.nsName(ns)], labels);
  }

  private async label(what: string[], labels: Record<string, string | null>): Promise<void> {
    const args = Object.entries(labels).map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`));
    const r = await kubectl(['label', '--overwrite', ...what, ...args]);
    if (r.exitCode !== 0) throw new Error(`kubectl label ${what.join(' ')}: ${r.stderr || r.stdout}`);
  }

  /**
   * Back to the start state: no policies, the original labels on pods and namespaces, no extra
   * pods. Does not wait for the agent: the next step's time-to-enforce includes the removal.
   */
  async reset(): Promise<void> {
    await Promise.all(
      NAMESPACES.map(async (ns) => {
        const namespace = this.nsName(ns);
        await this.net.deleteCollectionNamespacedNetworkPolicy({ namespace });
        await this.core.deleteCollectionNamespacedPod({ namespace, labelSelector: EXTRA_LABEL, gracePeriodSeconds: 0 });
        const nsObj = await this.core.readNamespace({ name: namespace });
        await this.restore(['namespace', namespace], nsObj.metadata?.labels ?? {}, { ...SUITE_LABEL, ns, 'kubernetes.io/metadata.name': namespace });
        const pods = await this.core.listNamespacedPod({ namespace });
        for (const p of pods.items) {
          const name = p.metadata?.name as PodName;
          if (POD_LABELS[name]) await this.restore(['-n', namespace, 'pod', name], p.metadata?.labels ?? {}, { ...SUITE_LABEL, ...POD_LABELS[name] });
        }
      }),
    );
  }

  private async restore(what: string[], have: Record<string, string>, want: Record<string, string>): Promise<void> {
    const change: Record<string, string | null> = {};
    for (const k of Object.keys(have)) if (!(k in want)) change[k] = null;
    for (const [k, v] of Object.entries(want)) if (have[k] !== v) change[k] = v;
    if (Object.keys(change).length > 0) await this.label(what, change);
  }

  /** A pod beyond the nine (deleted by reset): a probe server unless `command` says otherwise. */
  async createExtraPod(ns: Ns, name: string, node: string, labels: Record<string, string>, command?: string[]): Promise<void> {
    const body = matrixPod('c', node, { name, labels: { ...labels, [EXTRA_LABEL]: 'true' }, command, ready: false });
    await this.core.createNamespacedPod({ namespace: this.nsName(ns), body });
  }

  async readPod(ns: Ns, name: string): Promise<V1Pod> {
    return this.core.readNamespacedPod({ name, namespace: this.nsName(ns) });
  }

  /** A matrix pod's log (an extra pod's prober output). */
  async podLog(ns: Ns, name: string): Promise<string> {
    const r = await kubectl(['-n', this.nsName(ns), 'logs', name]);
    if (r.exitCode !== 0) throw new Error(`kubectl logs ${name}: ${r.stderr}`);
    return r.stdout;
  }

  /**
   * `gingham probe matrix` from a matrix pod over several rounds: each round's send time and
   * outcomes, by target as given (HOST:PORT/PROTO).
   */
  async probeRounds(fromId: string, targets: readonly string[], o: { rounds: number; intervalMs: number; timeoutMs: number }): Promise<{ at: number; results: Outcome[] }[]> {
    const p = this.pod(fromId);
    const args = ['probe', 'matrix', '--rounds', String(o.rounds), '--interval', String(o.intervalMs), '--timeout', String(o.timeoutMs), ...targets];
    const r = await kubectl(['-n', p.namespace, 'exec', p.name, '-c', 'probe', '--', GINGHAM_IN_IMAGE, ...args], { timeoutMs: o.rounds * (o.timeoutMs + o.intervalMs) + 60_000 });
    if (r.exitCode !== 0) throw new Error(`${fromId}: probe matrix: exit ${r.exitCode}: ${r.stderr}`);
    return parseRounds(r.stdout);
  }

  /**
   * The next addresses of the primary family gingham's IPAM will hand out on a node: it allocates
   * in order after the last one it reserved in its first range (last_reserved_ip.0), skipping the
   * claimed ones. Lets a prober aim at a pod before the API knows its address.
   */
  async nextPodIPs(node: string, count: number): Promise<string[]> {
    const info = (await clusterNodes()).all.find((n) => n.name === node)!;
    const cidr = parseCidr(info.podCIDR)!;
    const out = await sh(node, `ls -A ${DATA_DIR}; echo @@; cat ${DATA_DIR}/last_reserved_ip.0 2>/dev/null || true`);
    const [list = '', last = ''] = out.split('@@');
    const claimed = new Set(list.split('\n').map((l) => l.trim()).filter(Boolean));
    const start = parseIp(last.trim()) ?? offset(cidr.ip, 1n);
    const size = 1n << BigInt(bits(cidr.ip.family) - cidr.prefix);
    const first = cidr.ip.value;
    const candidates: string[] = [];
    for (let i = 1n; i < size && candidates.length < count; i++) {
      // Wrapping within the range, past the network address and the gateway (.1), before the last
      // address (IPv4's broadcast).
      const v = first + ((start.value - first + i) % size);
      if (v - first < 2n || v - first === size - 1n) continue;
      const ip = formatIp({ family: cidr.ip.family, value: v });
      if (!claimed.has(ip)) candidates.push(ip);
    }
    return candidates;
  }

  /** The time-to-enforce table and its spread. */
  summary(): string {
    const rows = this.enforcement.filter((e) => e.scenario !== 'baseline');
    if (rows.length === 0) return 'netpol: no step matched';
    const secs = rows.map((r) => r.seconds).sort((a, b) => a - b);
    const median = secs[Math.floor(secs.length / 2)]!;
    const width = Math.max(...rows.map((r) => `${r.scenario} / ${r.step}`.length));
    const lines = rows.map(
      (r) =>
        `  ${`${r.scenario} / ${r.step}`.padEnd(width)}  ${r.after.toFixed(1).padStart(4)}-${r.seconds.toFixed(1).padEnd(4)} s  ${r.rounds} round${r.rounds === 1 ? ' ' : 's'}${r.blips > 0 ? `  ${r.blips} blipped` : ''}`,
    );
    const head =
      `netpol time-to-enforce over ${rows.length} steps: median ${median.toFixed(1)} s, max ${secs.at(-1)!.toFixed(1)} s ` +
      `(enforced between the two times: the last round that differed and the first that matched; rounds of ${PROBE_TIMEOUT_MS} ms probes)`;
    record('netpol time-to-enforce (median)', median, `max ${secs.at(-1)!.toFixed(1)} s over ${rows.length} steps`);
    return `${head}\n${lines.join('\n')}`;
  }

  /** Stops the probers; deletes the namespaces (and so everything in them) and the node probe servers. */
  async destroy(): Promise<void> {
    for (const r of this.rows) r.prober.stop();
    await Promise.all([
      ...NAMESPACES.map((ns) => this.core.deleteNamespace({ name: this.nsName(ns), gracePeriodSeconds: 0 }).catch(() => undefined)),
      this.core.deleteCollectionNamespacedPod({ namespace: this.prefix, labelSelector: 'netpol-host=true', gracePeriodSeconds: 0 }).catch(() => undefined),
    ]);
    await waitFor('matrix namespaces gone', 120_000, async (why) => {
      const left = (await this.core.listNamespace({ labelSelector: 'ns' })).items.map((n) => n.metadata?.name ?? '').filter((n) => n.startsWith(`${this.prefix}-`));
      why(left.join(', '));
      return left.length === 0 ? true : undefined;
    });
  }
}

export function parseRounds(out: string): { at: number; results: Outcome[] }[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { at: number; results: Outcome[] });
}

/**
 * Blipped cells by source, destination node and outcome in the blip: a stalled prober shows as
 * its row of timeouts, a node dropping traffic as its column.
 */
function blipSummary(cells: readonly Cell[], observed: Observed, nodeId: (node: string) => string): string {
  const groups = new Map<string, number>();
  for (const c of cells) {
    const o = observed.outcomes.get(cellKey(c));
    const k = `${c.from.id} -> ${nodeId(c.to.node)} ${o?.ok ? 'allowed' : (o?.error ?? '?')}${c.proto === 'udp' && o?.ok ? ' (UDP: a reused source port can meet an earlier flow\'s conntrack entry)' : ''}`;
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  return [...groups].map(([k, n]) => `${k}: ${n}`).join('; ');
}

export const cellText = (c: Cell): string =>
  `${c.from.id} -> ${c.to.id} ${c.port}/${c.proto} via ${c.via === 'ip' ? '' : 'Service '}${c.address} (IPv${c.family}, ${c.sameNode ? 'same node' : 'cross-node'})`;

/** A matrix pod: the probe server on TCP and UDP 80 and 81, ports named as TCP_PORT_NAMES says. */
function matrixPod(name: PodName, node: string, o: { name?: string; labels?: Record<string, string>; command?: string[]; ready?: boolean } = {}): V1Pod {
  const ports = PORTS.flatMap((port) => [
    { containerPort: port, protocol: 'TCP', name: TCP_PORT_NAMES[name][port] },
    { containerPort: port, protocol: 'UDP', name: UDP_PORT_NAMES[port] },
  ]);
  const command = o.command ?? [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', '80,81', '--udp', '80,81'];
  // Kubelet probes from the pod's own node, which policies never block: a pod that turns NotReady
  // under a policy leaves its Service, and the Service cells show it.
  return pinnedPod(o.name ?? name, node, { command, ports, ...(o.ready === false ? {} : { readyPort: 80 }) }, { labels: o.labels ?? POD_LABELS[name], graceSeconds: 0 });
}

function matrixService(name: PodName): object {
  return {
    metadata: { name: `s-${name}`, labels: SUITE_LABEL },
    spec: {
      selector: { pod: name },
      ...(DUAL ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : {}),
      ports: PORTS.flatMap((port) => [
        { name: `tcp-${port}`, protocol: 'TCP', port, targetPort: port },
        { name: `udp-${port}`, protocol: 'UDP', port, targetPort: port },
      ]),
    },
  };
}

/**
 * A probe server in a node's own network namespace: the target of egress to node addresses. Bound
 * to the node's InternalIPs, so that its UDP answers leave from the address the pod asked (the
 * node has several, and would answer a remote pod from its VXLAN or bridge address otherwise).
 */
function nodeServer(name: string, node: NodeInfo): V1Pod {
  const command = [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', '80,81', '--udp', '80,81', '--address', node.internalIPs.join(',')];
  return pinnedPod(name, node.name, { command }, { labels: { 'netpol-host': 'true' }, hostNetwork: true, graceSeconds: 0 });
}
