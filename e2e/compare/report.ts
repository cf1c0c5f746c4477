// What e2e/compare/measure.ts measures on one cluster (its JSON), and the markdown report that
// e2e/compare/compare.ts makes of the clusters' measurements and their burst rounds
// (e2e/compare/breakdown.ts): one table side by side, the rounds, the ratios per pair of rounds,
// and where the pods' time went. Pure functions, no I/O; tested in e2e/compare/report.test.ts.
import { median, percentile, sum } from '../bench/stats.ts';
import { type Breakdown, type Cni, type NodeCpu, type Round, breakdown } from './breakdown.ts';

export interface Built {
  node: string;
  /** Every device but the pods' host veths: "name (kind, details, mtu N)". */
  devices: string[];
  podVeths: number;
  podVethKind: string;
  /** `ip route` (main table). */
  routes: string[];
  /** Routes of other tables (not local) and policy rules besides the defaults. */
  otherRoutes: string[];
  rules: string[];
  /** The VXLAN device, if the CNI has one. */
  vxlan?: string;
  fdb: string[];
  neigh: string[];
  /** iptables-save -t nat / filter: rule lines per owning chain prefix. */
  nat: Record<string, number>;
  filter: Record<string, number>;
}

export interface Agent {
  /** What the CPU figures span ("the traffic", "the burst and the traffic"). */
  workload: string;
  workloadS: number;
  /** Containers that were replaced during the workload (their figures are then wrong). */
  restarted: string[];
  containers: { node: string; pod: string; container: string; cgroup: string; cpuBeforeS: number; cpuAfterS: number; peakBefore: number; peakAfter: number; memBefore: number; memAfter: number }[];
}

export interface Measured {
  cni: Cni;
  cluster: string;
  image: string;
  backend: string;
  cpus: number;
  /** 1-minute load average before the workload, after the pods (if measured), after the traffic. */
  loads: number[];
  /** The burst of measure.ts's own (not with --no-burst: compare.ts runs it in rounds). */
  start?: { pods: number; nodes: number; startS: number[] };
  clean?: { allS: number; apiGoneS: number; perNodeS: Record<string, number> };
  net: { client: string; server: string; mtu: number; seconds: number; podGbps: number[]; podRetrans: number[]; svcGbps: number[]; svcRetrans: number[]; pings: number; rttsMs: number[] };
  /** The agent's containers; none on the bridge cluster. */
  agent?: Agent;
  built: Built;
  wallS: number;
}

// ---- numbers ----
const fx = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const mib = (b: number): string => fx(b / 2 ** 20, 1);
/** A cell may not hold a pipe or a newline. */
const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
const list = (xs: readonly string[]): string => xs.map((x) => `\`${x}\``).join('<br>');
/** A markdown table with a row per measure (label, cell of a column) and a column per head. */
function rowTable<C>(heads: readonly string[], columns: readonly C[], rows: readonly (readonly [string, (c: C) => string])[]): string[] {
  return [`| | ${heads.join(' | ')} |`, `|---|${heads.map(() => '---').join('|')}|`, ...rows.map(([l, f]) => `| ${cell(l)} | ${columns.map((c) => cell(f(c))).join(' | ')} |`)];
}

// ---- cells ----
function gbps(xs: readonly number[], retrans: readonly number[]): string {
  if (!xs.length) return '-';
  return `**${fx(median(xs), 2)}** (${fx(Math.min(...xs), 2)}–${fx(Math.max(...xs), 2)}; retr. ${sum(retrans)})`;
}

function ownerCounts(o: Record<string, number>): string {
  const e = Object.entries(o).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return `**${sum(e.map((x) => x[1]))}**: ${e.map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

/** The agent's containers: CPU seconds over the workload and peak memory, per container name. */
function agentCells(a: Agent): { cpu: string; peak: string } {
  const names = [...new Set(a.containers.map((c) => c.container))];
  const cpuOf = (name?: string): number => sum(a.containers.filter((c) => !name || c.container === name).map((c) => c.cpuAfterS - c.cpuBeforeS));
  const totalOf = (name?: string): number => sum(a.containers.filter((c) => !name || c.container === name).map((c) => c.cpuAfterS));
  // Peak of an agent pod: the sum of its containers' peaks (an upper bound with two containers).
  const nodes = [...new Set(a.containers.map((c) => c.node))];
  const podPeak = (field: 'peakBefore' | 'peakAfter', name?: string): number =>
    Math.max(...nodes.map((n) => sum(a.containers.filter((c) => c.node === n && (!name || c.container === name)).map((c) => c[field]))));
  const split = (f: (name: string) => string): string => (names.length > 1 ? ` (${names.map((n) => `${n} ${f(n)}`).join(', ')})` : '');
  const warn = a.restarted.length ? ` ⚠ restarted during the run: ${a.restarted.join(', ')}` : '';
  return {
    cpu: `**${fx(cpuOf(), 2)}**${split((n) => fx(cpuOf(n), 2))} in ${fx(a.workloadS, 0)} s; ${fx(totalOf(), 1)} s since start${warn}`,
    peak: `**${mib(podPeak('peakAfter'))}**${split((n) => mib(podPeak('peakAfter', n)))}; before the workload ${mib(podPeak('peakBefore'))}; now ${mib(Math.max(...nodes.map((n) => sum(a.containers.filter((c) => c.node === n).map((c) => c.memAfter)))))}${warn}`,
  };
}

function title(m: Measured): string {
  if (m.cni === 'gingham') return `gingham (${m.backend})`;
  if (m.cni === 'bridge') return `reference bridge + host-local ${/([\d.]+)/.exec(m.image)?.[1] ?? ''} (${m.backend})`;
  const v = /:(v[\d.]+)/.exec(m.image)?.[1] ?? '';
  return `Flannel ${v} (${m.backend})`;
}
const SHORT: Record<Cni, string> = { gingham: 'gingham', flannel: 'Flannel', bridge: 'bridge' };

// ---- the burst rounds ----
const p50 = (r: Round): number => percentile(r.startS, 50);
const p95 = (r: Round): number => percentile(r.startS, 95);

/** gingham's figure over the other CNI's in one pair of rounds (> 1: gingham slower). */
export interface PairRatio {
  pair: number;
  vs: 'flannel' | 'bridge';
  p50: number;
  p95: number;
  clean: number;
}
/** The ratios of every pair that has a gingham round and a round of the other CNI, in pair order. */
export function pairRatios(rounds: readonly Round[]): PairRatio[] {
  const out: PairRatio[] = [];
  for (const pair of [...new Set(rounds.map((r) => r.pair))].sort((a, b) => a - b)) {
    const of = (cni: Cni): Round | undefined => rounds.find((r) => r.pair === pair && r.cni === cni);
    const g = of('gingham');
    for (const vs of ['flannel', 'bridge'] as const) {
      const o = of(vs);
      if (g && o) out.push({ pair, vs, p50: p50(g) / p50(o), p95: p95(g) / p95(o), clean: g.clean.allS / o.clean.allS });
    }
  }
  return out;
}

/** Medians over one CNI's rounds of the breakdown over all nodes. */
export interface BreakdownSummary {
  rounds: number;
  addCalls: number;
  delCalls: number;
  failed: number;
  sandboxP50Ms: number;
  sandboxP95Ms: number;
  kubeletMeanMs: number;
  addWallP50Ms: number;
  addCpuP50Ms: number;
  delWallP50Ms: number;
  delCpuP50Ms: number;
  /** user+sys of every ADD call on all nodes over the number of pods. */
  cpuPerAddMs: number;
  burst: NodeCpu;
  toRunning: NodeCpu;
}
export function summarize(rounds: readonly Round[]): BreakdownSummary {
  const bs = rounds.map((r) => ({ r, b: breakdown(r) }));
  const med = (f: (b: Breakdown, r: Round) => number): number => median(bs.map(({ b, r }) => f(b, r)));
  const medCpu = (span: (b: Breakdown) => NodeCpu): NodeCpu => {
    const c: NodeCpu = { nodeS: med((b) => span(b).nodeS), kubeletS: med((b) => span(b).kubeletS), containerdS: med((b) => span(b).containerdS) };
    if (bs.length && bs.every(({ b }) => span(b).agentS !== undefined)) c.agentS = med((b) => span(b).agentS!);
    return c;
  };
  return {
    rounds: rounds.length,
    addCalls: med((b) => b.add.calls),
    delCalls: med((b) => b.del.calls),
    failed: sum(bs.map(({ b }) => b.add.failed + b.del.failed)),
    sandboxP50Ms: med((b) => percentile(b.sandboxMs, 50)),
    sandboxP95Ms: med((b) => percentile(b.sandboxMs, 95)),
    kubeletMeanMs: med((b) => b.kubeletMeanS * 1000),
    addWallP50Ms: med((b) => percentile(b.add.wallMs, 50)),
    addCpuP50Ms: med((b) => percentile(b.add.cpuMs, 50)),
    delWallP50Ms: med((b) => percentile(b.del.wallMs, 50)),
    delCpuP50Ms: med((b) => percentile(b.del.cpuMs, 50)),
    cpuPerAddMs: med((b, r) => (b.add.cpuS * 1000) / r.pods),
    burst: medCpu((b) => b.cpu),
    toRunning: medCpu((b) => b.toRunning),
  };
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function renderRounds(rounds: readonly Round[], cnis: readonly Cni[], label: (c: Cni) => string, othersPaused: boolean): string[] {
  const out = [
    `Burst rounds, in the order run (${rounds[0]?.pods ?? 60} pods at once over ${rounds[0]?.nodes ?? 3} nodes; ${othersPaused ? 'the other clusters paused' : 'the other clusters running'}):`,
    '',
    '| pair | CNI | start-to-Running p50, s | p95, s | max, s | all deleted and clean, s | load before |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rounds) out.push(`| ${r.pair} | ${SHORT[r.cni]} | ${fx(p50(r), 2)} | ${fx(p95(r), 2)} | ${fx(r.startS.at(-1) ?? Number.NaN, 2)} | ${fx(r.clean.allS, 2)} | ${fx(r.loads[0] ?? Number.NaN, 1)} |`);

  const ratios = pairRatios(rounds);
  const others = (['flannel', 'bridge'] as const).filter((c) => cnis.includes(c) && cnis.includes('gingham'));
  if (others.length && ratios.length) {
    const head = others.flatMap((o) => [`gingham/${SHORT[o]} p50`, 'p95', 'clean']);
    out.push('', 'Ratios per pair (gingham over the other; below 1: gingham faster):', '', `| pair | ${head.join(' | ')} |`, `|---|${head.map(() => '---').join('|')}|`);
    const row = (label: string, pick: (vs: 'flannel' | 'bridge', k: 'p50' | 'p95' | 'clean') => number): string =>
      `| ${label} | ${others.flatMap((o) => (['p50', 'p95', 'clean'] as const).map((k) => fx(pick(o, k), 2))).join(' | ')} |`;
    for (const pair of [...new Set(ratios.map((r) => r.pair))]) out.push(row(String(pair), (vs, k) => ratios.find((r) => r.pair === pair && r.vs === vs)?.[k] ?? Number.NaN));
    out.push(row('**median**', (vs, k) => median(ratios.filter((r) => r.vs === vs).map((r) => r[k]))));
  }

  const sums = cnis.map((c) => summarize(rounds.filter((r) => r.cni === c)));
  const cpu = (x: NodeCpu, k: keyof NodeCpu): string => fx(x[k] ?? Number.NaN, 2);
  const rows: [string, (s: BreakdownSummary) => string][] = [
    ['CNI calls per round, ADD / DEL (failed, all rounds)', (s) => `${fx(s.addCalls, 0)} / ${fx(s.delCalls, 0)}${s.failed ? ` (${s.failed} failed)` : ''}`],
    ['containerd RunPodSandbox per pod: p50 (p95), ms', (s) => `**${fx(s.sandboxP50Ms, 0)}** (${fx(s.sandboxP95Ms, 0)})`],
    ['kubelet run_podsandbox: mean, ms', (s) => fx(s.kubeletMeanMs, 0)],
    ['CNI ADD per pod: wall p50 / CPU p50, ms', (s) => `**${fx(s.addWallP50Ms, 1)}** / **${fx(s.addCpuP50Ms, 1)}**`],
    ['CNI DEL per pod: wall p50 / CPU p50, ms', (s) => `${fx(s.delWallP50Ms, 1)} / ${fx(s.delCpuP50Ms, 1)}`],
    ['CPU per ADD: user+sys of all ADD calls on all nodes / pods, ms', (s) => `**${fx(s.cpuPerAddMs, 1)}**`],
    ['agent CPU, s: whole burst (to all Running)', (s) => (s.burst.agentS === undefined ? '- (no agent)' : `${cpu(s.burst, 'agentS')} (${cpu(s.toRunning, 'agentS')})`)],
    ['kubelet CPU, s', (s) => `${cpu(s.burst, 'kubeletS')} (${cpu(s.toRunning, 'kubeletS')})`],
    ['containerd CPU, s', (s) => `${cpu(s.burst, 'containerdS')} (${cpu(s.toRunning, 'containerdS')})`],
    ['node containers\' total CPU, s', (s) => `**${cpu(s.burst, 'nodeS')}** (${cpu(s.toRunning, 'nodeS')})`],
  ];
  out.push(
    '',
    `Where the time went: medians over each CNI's rounds, all nodes together (CPU seconds summed over the ${rounds[0]?.nodes ?? 3} nodes, from the first create to every node clean; in parentheses to all Running):`,
    '',
    ...rowTable(cnis.map((c, i) => `${label(c)}, ${plural(sums[i]!.rounds, 'round')}`), sums, rows),
  );
  out.push(
    '',
    'A pod\'s ADD (DEL) is its conflist chain: the calls of the top-level plugins for its sandbox summed (gingham + portmap; Flannel\'s and the bridge cluster\'s conflist: bridge + portmap, host-local inside), ' +
      'timed by e2e/compare/cni-timer.c in front of each: wall, and user+sys of the plugin and every process it waited for. ' +
      'containerd: its journal, first "RunPodSandbox for" to "returns sandbox id" (the CNI ADD is inside). kubelet: kubelet_runtime_operations_duration_seconds{operation_type="run_podsandbox"}, deltas. ' +
      'CPU: /proc/<pid>/stat of kubelet and containerd, the agent\'s containers\' and the node containers\' cgroups (cpuacct.usage).',
  );
  return out;
}

/**
 * The report: the clusters side by side, then the burst rounds, their ratios and breakdown; a line
 * of context above, footnotes below. `othersPaused`: the rounds ran with the other clusters paused.
 */
export function renderTable(ms: readonly Measured[], rounds: readonly Round[], when: Date, othersPaused = true): string {
  const cnis = [...new Set([...ms.map((m) => m.cni), ...rounds.map((r) => r.cni)])];
  const columns = cnis.map((c) => ({ cni: c, m: ms.find((m) => m.cni === c), rounds: rounds.filter((r) => r.cni === c) }));
  type Column = (typeof columns)[number];
  const label = (c: Cni): string => {
    const m = ms.find((x) => x.cni === c);
    return m ? title(m) : SHORT[c];
  };
  const burst = rounds[0] ?? ms.find((m) => m.start)?.start;
  const full = (f: (m: Measured) => string) => (c: Column): string => (c.m ? f(c.m) : '-');
  const rows: [string, (c: Column) => string][] = [
    [`pod start-to-Running, ${burst?.pods ?? 60} pods at once over ${burst?.nodes ?? 3} nodes: p50 / p95 (max), s${rounds.length ? ', median over the rounds' : ''}`, (c) => {
      if (c.rounds.length) return `**${fx(median(c.rounds.map(p50)), 2)}** / **${fx(median(c.rounds.map(p95)), 2)}** (${fx(median(c.rounds.map((r) => r.startS.at(-1) ?? Number.NaN)), 2)}; ${plural(c.rounds.length, 'round')})`;
      const s = c.m?.start?.startS;
      return s ? `**${fx(percentile(s, 50), 2)}** / **${fx(percentile(s, 95), 2)}** (${fx(s.at(-1) ?? Number.NaN, 2)})` : '-';
    }],
    ['all deleted and every node clean (no pod veth, reservations as before), s', (c) => {
      if (c.rounds.length) return `**${fx(median(c.rounds.map((r) => r.clean.allS)), 2)}** (API objects gone ${fx(median(c.rounds.map((r) => r.clean.apiGoneS)), 2)})`;
      const k = c.m?.clean;
      return k ? `**${fx(k.allS, 2)}** (API objects gone ${fx(k.apiGoneS, 2)})` : '-';
    }],
    ['TCP pod to pod across nodes, Gbit/s: median (min–max of runs)', full((m) => gbps(m.net.podGbps, m.net.podRetrans))],
    ['TCP pod to ClusterIP Service (server on the other node), Gbit/s', full((m) => gbps(m.net.svcGbps, m.net.svcRetrans))],
    ['ping pod to pod across nodes: p50 (p99), ms', full((m) => `**${fx(percentile(m.net.rttsMs, 50), 3)}** (${fx(percentile(m.net.rttsMs, 99), 3)})${m.net.pings - m.net.rttsMs.length ? `, ${m.net.pings - m.net.rttsMs.length} lost` : ''}`)],
    ['pod MTU', full((m) => String(m.net.mtu))],
    [`agent CPU during ${ms.find((m) => m.agent)?.agent?.workload ?? 'the workload'}, s (3 nodes summed)`, full((m) => (m.agent ? agentCells(m.agent).cpu : '- (no agent)'))],
    ['agent peak memory, MiB (the largest agent pod)', full((m) => (m.agent ? agentCells(m.agent).peak : '- (no agent)'))],
    [`devices on ${ms[0]?.built.node.replace(/^.*-/, '<cluster>-') ?? 'a worker'}`, full((m) => `**${m.built.devices.length + m.built.podVeths}**: ${m.built.devices.join(', ')}; ${m.built.podVeths} pod veths (${m.built.podVethKind})`)],
    ['routes (`ip route`)', full((m) => `**${m.built.routes.length}**<br>${list(m.built.routes)}${m.built.otherRoutes.length || m.built.rules.length ? `<br>other tables and rules: ${list([...m.built.otherRoutes, ...m.built.rules])}` : ''}`)],
    ['FDB entries on the VXLAN device (neighbour entries)', full((m) => (m.built.vxlan ? `**${m.built.fdb.length}** on ${m.built.vxlan} (${m.built.neigh.length})<br>${list(m.built.fdb)}` : '- (no VXLAN device)'))],
    ['iptables nat rules per owning chain prefix', full((m) => ownerCounts(m.built.nat))],
    ['iptables filter rules per owning chain prefix', full((m) => ownerCounts(m.built.filter))],
    ['measured in, s (load average before / after)', full((m) => `${fx(m.wallS, 0)} (${m.loads.map((l) => fx(l, 1)).join(' / ')})`)],
  ];
  const out: string[] = [];
  const first = ms[0];
  out.push(
    `Same workload on each kind cluster (3 nodes, node image shared, ${first?.cpus ?? '?'} CPUs shared by all nodes of all clusters), ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC. ` +
      `Pods: image gingham-e2e/gingham:dev, \`gingham probe serve --tcp 8080\`, pinned by nodeName. Traffic: ${(first?.net.client ?? 'worker').replace(/^.*-/, '<cluster>-')} → ${(first?.net.server ?? 'worker2').replace(/^.*-/, '<cluster>-')}, iperf3 1 stream ${first?.net.seconds ?? 5} s (+1 s omitted), median of ${first?.net.podGbps.length ?? 3}; ping -c ${first?.net.pings ?? 200} -i 0.01.`,
    '',
    ...rowTable(cnis.map(label), columns, rows),
  );
  out.push(
    '',
    'Agent: the DaemonSet pods\' containers from the nodes\' cgroups (cpuacct.usage, memory.max_usage_in_bytes: peak since the container started, page cache included); ' +
      'gingham: `agent`; Flannel: `kube-flannel` (flanneld) and `cni-conf`, our sidecar that writes the conflist Flannel\'s CNI plugin would (that plugin is not served here); the bridge cluster has none. ' +
      'Neither figure includes the CNI plugin binaries, which containerd runs per pod (see the breakdown). Devices, routes, FDB and rules: one worker at rest, before the workload; ' +
      'iptables rules of a built-in chain count for the chain they jump to (KUBE: kube-proxy and kubelet, DOCKER: kind\'s embedded DNS, CNI: portmap).',
  );
  if (rounds.length) out.push('', ...renderRounds(rounds, cnis, label, othersPaused));
  return `${out.join('\n')}\n`;
}
