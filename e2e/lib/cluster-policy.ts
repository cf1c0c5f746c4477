// ClusterNetworkPolicy (policy.networking.k8s.io v1beta1) on the probe matrix of lib/netpol.ts: the
// policies of one test file (cluster-scoped, so named and labelled with the run and selecting only
// the file's own namespaces by name), and the checks the matrix cannot make: the kind of a denial
// (a ClusterNetworkPolicy Deny drops, so a probe times out; a NetworkPolicy denial rejects, so it is
// refused), ICMP echo, traffic to the pod's own node (which the matrix always passes, as v1 does),
// and `gingham policy explain` as the agent's image runs it.
import { GINGHAM_IN_IMAGE } from './env.js';
import { hostPort } from './ip.js';
import { SUITE_LABEL } from './kube.js';
import { type Family, FAMILIES, type NetpolMatrix, type Ns, type Port, type Proto } from './netpol.js';
import { BUSYBOX_IN_POD, installBusybox, kubectl, podExec } from './probe.js';
import { log, record, sleep } from './timing.js';

const GROUP = 'policy.networking.k8s.io';
const RESOURCE = `clusternetworkpolicies.${GROUP}`;
/** Every ClusterNetworkPolicy of this file carries it, valued with the run: cleanup by selector. */
const RUN_LABEL = 'gingham-e2e-cnp';

export type Tier = 'Admin' | 'Baseline';
export type Action = 'Accept' | 'Deny' | 'Pass';
export type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
/** A protocol entry: a port (or range) of TCP or UDP, or a named port of the destination pod. */
export type ProtocolEntry = { tcp: { destinationPort: PortSpec } } | { udp: { destinationPort: PortSpec } } | { destinationNamedPort: string };
type PortSpec = { number: number } | { range: { start: number; end: number } };
export type Peer =
  | { namespaces: Selector }
  | { pods: { namespaceSelector: Selector; podSelector: Selector } }
  | { networks: string[] }
  | { nodes: Selector };
export interface Rule {
  name?: string;
  action: Action;
  peers: Peer[];
  protocols?: ProtocolEntry[];
}
export type Subject = { namespaces: Selector } | { pods: { namespaceSelector: Selector; podSelector: Selector } };

/** How a probe ended: answered, timed out (dropped), or refused (a reset or an ICMP unreachable). */
export type Verdict = 'allowed' | 'dropped' | 'refused';

/** One probe of a targeted check: from a matrix pod to a matrix pod (its IP or its Service) or a node's probe server. */
export interface Check {
  from: string;
  /** A pod id (x/a) or a node id (n:cp). */
  to: string;
  port: Port;
  proto: Proto;
  via?: 'ip' | 'service';
  want: Verdict;
}

const PROBE_TIMEOUT_MS = 1000;
/** The agent converges in well under a second: a generous bound for every wait of this file. */
export const DEADLINE_MS = 15_000;

export class ClusterPolicies {
  /** The run's id (the suite namespace's suffix): part of every policy's name and its RUN_LABEL value. */
  readonly run: string;

  constructor(readonly m: NetpolMatrix) {
    this.run = m.prefix.replace(/^gingham-e2e-/, '').replace(/-cnp$/, '').replace(/[^a-z0-9-]/g, '-');
  }

  /** The cluster-wide name of one of this file's policies. */
  name(short: string): string {
    return `e2e-cnp-${this.run}-${short}`;
  }

  /** The given matrix namespaces, by name (never any other file's), and optionally by labels too. */
  namespaces(nss: readonly Ns[], labels?: Record<string, string>): Selector {
    return {
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: nss.map((n) => this.m.nsName(n)) }],
      ...(labels ? { matchLabels: labels } : {}),
    };
  }

  /** Pods with the labels in the given matrix namespaces. */
  pods(nss: readonly Ns[], podLabels: Record<string, string>): { namespaceSelector: Selector; podSelector: Selector } {
    return { namespaceSelector: this.namespaces(nss), podSelector: { matchLabels: podLabels } };
  }

  /** A ClusterNetworkPolicy manifest, for NetpolMatrix.step's apply. */
  policy(short: string, tier: Tier, priority: number, subject: Subject, rules: { ingress?: Rule[]; egress?: Rule[] }): object {
    const rule = (dir: 'from' | 'to') => (r: Rule) => ({ ...(r.name ? { name: r.name } : {}), action: r.action, [dir]: r.peers, ...(r.protocols ? { protocols: r.protocols } : {}) });
    return {
      apiVersion: `${GROUP}/v1beta1`,
      kind: 'ClusterNetworkPolicy',
      metadata: { name: this.name(short), labels: { ...SUITE_LABEL, [RUN_LABEL]: this.run } },
      spec: {
        tier,
        priority,
        subject,
        ...(rules.ingress ? { ingress: rules.ingress.map(rule('from')) } : {}),
        ...(rules.egress ? { egress: rules.egress.map(rule('to')) } : {}),
      },
    };
  }

  /** Fails early, and saying why, when the API server does not serve the resource (the CRD is missing). */
  async assertServed(): Promise<void> {
    const r = await kubectl(['get', RESOURCE, '-o', 'name']);
    if (r.exitCode !== 0) throw new Error(`the API server does not serve ${RESOURCE} (is the CRD installed? e2e/install.sh applies it): ${r.stderr.trim()}`);
  }

  /** Deletes this run's policies and waits until the API has none of them. */
  async deleteAll(): Promise<void> {
    await deleteBySelector(`${RUN_LABEL}=${this.run}`);
  }

  /** Policies an earlier run of this file left (a killed run has no afterAll): they select namespaces that are gone, but go anyway. */
  static async deleteStale(): Promise<void> {
    await deleteBySelector(RUN_LABEL);
  }
}

async function deleteBySelector(selector: string): Promise<void> {
  const r = await kubectl(['delete', RESOURCE, '-l', selector, '--ignore-not-found', '--wait=true'], { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`kubectl delete ${RESOURCE} -l ${selector}: ${r.stderr || r.stdout}`);
}

/** A TCP or UDP port entry of a rule's protocols. */
export const port = (proto: Proto, number: number): ProtocolEntry => (proto === 'tcp' ? { tcp: { destinationPort: { number } } } : { udp: { destinationPort: { number } } });

/** A /32 or /128 of an address, as a `networks` entry. */
export const hostCidr = (ip: string | undefined): string => {
  if (!ip) throw new Error('no address of that family');
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
};

function verdictOf(o: { ok: boolean; error?: string } | undefined): Verdict | string {
  if (!o) return 'not reported';
  if (o.ok) return 'allowed';
  if (o.error === 'timeout') return 'dropped';
  if (o.error === 'ECONNREFUSED') return 'refused';
  return o.error ?? 'failed';
}

interface Expanded extends Check {
  family: Family;
  target: string;
}

function expand(m: NetpolMatrix, checks: readonly Check[], families: readonly Family[]): Expanded[] {
  return checks.flatMap((c) =>
    families.map((family) => {
      const ip = c.to.startsWith('n:') ? m.node(c.to).ips[family] : c.via === 'service' ? m.pod(c.to).serviceIPs[family] : m.pod(c.to).ips[family];
      if (!ip) throw new Error(`${c.to} has no IPv${family} address`);
      return { ...c, family, target: `${hostPort(ip, c.port)}/${c.proto}` };
    }),
  );
}

const checkText = (c: Expanded): string => `${c.from} -> ${c.to} ${c.port}/${c.proto}${c.via === 'service' ? ' via Service' : ''} (IPv${c.family})`;

/**
 * Probes each check (in every family of the cluster unless told) until every outcome is the one
 * wanted, or fails after the deadline with what each check got. All sources probe at once, one
 * round each (`gingham probe matrix` by kubectl exec).
 */
export async function expectVerdicts(m: NetpolMatrix, what: string, checks: readonly Check[], o: { families?: readonly Family[]; deadlineMs?: number } = {}): Promise<void> {
  const all = expand(m, checks, o.families ?? FAMILIES);
  const sources = [...new Set(all.map((c) => c.from))];
  const t0 = Date.now();
  for (let round = 1; ; round++) {
    const got = new Map<Expanded, string>();
    await Promise.all(
      sources.map(async (from) => {
        const mine = all.filter((c) => c.from === from);
        const targets = [...new Set(mine.map((c) => c.target))];
        try {
          const [r] = await m.probeRounds(from, targets, { rounds: 1, intervalMs: 0, timeoutMs: PROBE_TIMEOUT_MS });
          for (const c of mine) got.set(c, verdictOf(r?.results.find((x) => x.target === c.target)));
        } catch (e) {
          for (const c of mine) got.set(c, `exec failed: ${(e as Error).message}`);
        }
      }),
    );
    const wrong = all.filter((c) => got.get(c) !== c.want);
    if (wrong.length === 0) {
      log(`cnp ${what}: ${all.length} probes as expected after ${((Date.now() - t0) / 1000).toFixed(1)} s (round ${round})`);
      return;
    }
    if (Date.now() - t0 > (o.deadlineMs ?? DEADLINE_MS)) {
      const lines = all.map((c) => `  ${c.want === got.get(c) ? ' ' : '!'} ${checkText(c)}: want ${c.want}, got ${got.get(c)}`);
      throw new Error(`${what}: ${wrong.length} of ${all.length} probes still differ after ${Math.round((Date.now() - t0) / 1000)} s and ${round} rounds\n${lines.join('\n')}`);
    }
    await sleep(200);
  }
}

/** Copies busybox into matrix pods, for ping. */
export async function installPing(m: NetpolMatrix, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => installBusybox(m.pod(id).name, m.pod(id).namespace)));
}

/** ICMP echo from a matrix pod (busybox ping, 2 requests): how many were answered. */
async function echoReplies(m: NetpolMatrix, fromId: string, host: string): Promise<number> {
  const p = m.pod(fromId);
  const r = await podExec(p.name, [BUSYBOX_IN_POD, 'ping', '-c', '2', '-W', '1', host], { namespace: p.namespace, timeoutMs: 20_000 });
  const summary = /(\d+) packets transmitted, (\d+) packets received/.exec(r.stdout);
  if (!summary) throw new Error(`${fromId}: ping ${host}: exit ${r.exitCode}: ${(r.stdout + r.stderr).trim()}`);
  return Number(summary[2]);
}

/** Pings from a matrix pod to another one's address, in every family, until all or none are answered as wanted. */
export async function expectPing(m: NetpolMatrix, fromId: string, toId: string, answered: boolean, deadlineMs = DEADLINE_MS): Promise<void> {
  for (const f of FAMILIES) {
    const ip = m.pod(toId).ips[f]!;
    const t0 = Date.now();
    for (;;) {
      const n = await echoReplies(m, fromId, ip);
      if (answered ? n === 2 : n === 0) break;
      if (Date.now() - t0 > deadlineMs) throw new Error(`ping ${fromId} -> ${toId} ${ip}: ${n} of 2 echoes answered after ${Math.round((Date.now() - t0) / 1000)} s; want ${answered ? 'all' : 'none'}`);
      await sleep(200);
    }
  }
}

/**
 * `gingham policy explain` in an agent pod (the deployed image, with the agent's read access):
 * matrix pod ids for the endpoints, the port as PORT/PROTO. Returns its output.
 */
export async function explain(m: NetpolMatrix, fromId: string, toId: string, portText: string, family: Family): Promise<string> {
  const ref = (id: string): string => `${m.pod(id).namespace}/${m.pod(id).name}`;
  const args = ['policy', 'explain', '--from', ref(fromId), '--to', ref(toId), '--port', portText, ...(family === 6 ? ['--ipv6'] : [])];
  const r = await kubectl(['-n', 'kube-system', 'exec', 'ds/gingham', '-c', 'agent', '--', GINGHAM_IN_IMAGE, ...args]);
  if (r.exitCode !== 0) throw new Error(`gingham ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr || r.stdout}`);
  log(`cnp explain ${fromId} -> ${toId} ${portText} IPv${family}:\n${r.stdout.trimEnd()}`);
  return r.stdout;
}

/** The file's time-to-enforce, from the matrix steps it ran (a row of its own in the timings table). */
export function recordEnforcement(m: NetpolMatrix): void {
  const secs = m.enforcement
    .filter((e) => e.scenario !== 'baseline')
    .map((e) => e.seconds)
    .sort((a, b) => a - b);
  if (secs.length === 0) return;
  record('cnp time-to-enforce (median)', secs[Math.floor(secs.length / 2)]!, `max ${secs.at(-1)!.toFixed(1)} s over ${secs.length} steps`);
}
