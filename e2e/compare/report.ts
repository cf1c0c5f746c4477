// What e2e/compare/measure.ts measures on one cluster (its JSON), and the one markdown table that
// e2e/compare/compare.ts makes of two of them. Pure functions, no I/O.

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
  vxlan: string;
  fdb: string[];
  neigh: string[];
  /** iptables-save -t nat / filter: rule lines per owning chain prefix. */
  nat: Record<string, number>;
  filter: Record<string, number>;
}

export interface Agent {
  workloadS: number;
  /** Containers that were replaced during the workload (their figures are then wrong). */
  restarted: string[];
  containers: { node: string; pod: string; container: string; cgroup: string; cpuBeforeS: number; cpuAfterS: number; peakBefore: number; peakAfter: number; memBefore: number; memAfter: number }[];
}

export interface Measured {
  cni: 'gingham' | 'flannel';
  cluster: string;
  image: string;
  backend: string;
  cpus: number;
  /** 1-minute load average before the workload, after the pods, after the traffic. */
  loads: number[];
  start: { pods: number; nodes: number; startS: number[] };
  clean: { allS: number; apiGoneS: number; perNodeS: Record<string, number> };
  net: { client: string; server: string; mtu: number; seconds: number; podGbps: number[]; podRetrans: number[]; svcGbps: number[]; svcRetrans: number[]; pings: number; rttsMs: number[] };
  agent: Agent;
  built: Built;
  wallS: number;
}

// ---- numbers ----
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const fx = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const mib = (b: number): string => fx(b / 2 ** 20, 1);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
/** A cell may not hold a pipe or a newline. */
const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
const list = (xs: readonly string[]): string => xs.map((x) => `\`${x}\``).join('<br>');

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
  const v = /:(v[\d.]+)/.exec(m.image)?.[1] ?? '';
  return `Flannel ${v} (${m.backend})`;
}

/** The one table, with a line of context above it and the footnotes below. */
export function renderTable(ms: readonly Measured[], when: Date): string {
  const rows: [string, (m: Measured) => string][] = [
    [`pod start-to-Running, ${ms[0]?.start.pods ?? 60} pods at once over ${ms[0]?.start.nodes ?? 3} nodes: p50 / p95 (max), s`, (m) => {
      const s = m.start.startS;
      return `**${fx(percentile(s, 50), 2)}** / **${fx(percentile(s, 95), 2)}** (${fx(s.at(-1) ?? Number.NaN, 2)})`;
    }],
    ['all deleted and every node clean (no pod veth, reservations as before), s', (m) => `**${fx(m.clean.allS, 2)}** (API objects gone ${fx(m.clean.apiGoneS, 2)})`],
    ['TCP pod to pod across nodes, Gbit/s: median (min–max of runs)', (m) => gbps(m.net.podGbps, m.net.podRetrans)],
    ['TCP pod to ClusterIP Service (server on the other node), Gbit/s', (m) => gbps(m.net.svcGbps, m.net.svcRetrans)],
    ['ping pod to pod across nodes: p50 (p99), ms', (m) => `**${fx(percentile(m.net.rttsMs, 50), 3)}** (${fx(percentile(m.net.rttsMs, 99), 3)})${m.net.pings - m.net.rttsMs.length ? `, ${m.net.pings - m.net.rttsMs.length} lost` : ''}`],
    ['pod MTU', (m) => String(m.net.mtu)],
    ['agent CPU during the workload, s (3 nodes summed)', (m) => agentCells(m.agent).cpu],
    ['agent peak memory, MiB (the largest agent pod)', (m) => agentCells(m.agent).peak],
    [`devices on ${ms[0]?.built.node.replace(/^.*-/, '<cluster>-') ?? 'a worker'}`, (m) => `**${m.built.devices.length + m.built.podVeths}**: ${m.built.devices.join(', ')}; ${m.built.podVeths} pod veths (${m.built.podVethKind})`],
    ['routes (`ip route`)', (m) => `**${m.built.routes.length}**<br>${list(m.built.routes)}${m.built.otherRoutes.length || m.built.rules.length ? `<br>other tables and rules: ${list([...m.built.otherRoutes, ...m.built.rules])}` : ''}`],
    ['FDB entries on the VXLAN device (neighbour entries)', (m) => `**${m.built.fdb.length}** on ${m.built.vxlan} (${m.built.neigh.length})<br>${list(m.built.fdb)}`],
    ['iptables nat rules per owning chain prefix', (m) => ownerCounts(m.built.nat)],
    ['iptables filter rules per owning chain prefix', (m) => ownerCounts(m.built.filter)],
    ['measured in, s (load average before / after)', (m) => `${fx(m.wallS, 0)} (${m.loads.map((l) => fx(l, 1)).join(' / ')})`],
  ];
  const out: string[] = [];
  const first = ms[0];
  out.push(
    `Same workload on each kind cluster (3 nodes, node image shared, ${first?.cpus ?? '?'} CPUs shared by all nodes of both clusters), ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC. ` +
      `Pods: image gingham-e2e/gingham:dev, \`gingham probe serve --tcp 8080\`, pinned by nodeName. Traffic: ${(first?.net.client ?? 'worker').replace(/^.*-/, '<cluster>-')} → ${(first?.net.server ?? 'worker2').replace(/^.*-/, '<cluster>-')}, iperf3 1 stream ${first?.net.seconds ?? 5} s (+1 s omitted), median of ${first?.net.podGbps.length ?? 3}; ping -c ${first?.net.pings ?? 200} -i 0.01.`,
    '',
    `| | ${ms.map(title).join(' | ')} |`,
    `|---|${ms.map(() => '---').join('|')}|`,
  );
  for (const [label, f] of rows) out.push(`| ${cell(label)} | ${ms.map((m) => cell(f(m))).join(' | ')} |`);
  out.push(
    '',
    'Agent: the DaemonSet pods\' containers from the nodes\' cgroups (cpuacct.usage, memory.max_usage_in_bytes: peak since the container started, page cache included); ' +
      'gingham: `agent`; Flannel: `kube-flannel` (flanneld) and `cni-conf`, our sidecar that writes the conflist Flannel\'s CNI plugin would (that plugin is not served here). ' +
      'Neither figure includes the CNI plugin binaries, which containerd runs per pod. Devices, routes, FDB and rules: one worker at rest, before the workload; ' +
      'iptables rules of a built-in chain count for the chain they jump to (KUBE: kube-proxy and kubelet, DOCKER: kind\'s embedded DNS, CNI: portmap).',
  );
  return `${out.join('\n')}\n`;
}
