// Where a pod's time goes in one burst round of `make compare` (e2e/compare/measure.ts --burst-only):
// what a round records, the parsers of what the nodes tell us (the cni-timer log of
// e2e/compare/cni-timer.c, containerd's journal, kubelet's metrics, /proc and cgroup counters), and
// the statistics per node and over all nodes. Pure functions, no I/O: e2e/compare/report.ts renders
// them and e2e/compare/breakdown.test.ts tests them.
import { percentile, sum } from '../bench/stats.ts';

export type Cni = 'gingham' | 'flannel' | 'bridge';

/** One plugin call, one line of /var/log/cni-timer.log. */
export interface CniCall {
  node: string;
  plugin: string;
  cmd: string;
  container: string;
  startMs: number;
  wallMs: number;
  userMs: number;
  sysMs: number;
  exit: number;
}

/** containerd's own RunPodSandbox of one pod: from its first "RunPodSandbox for" to "returns sandbox id". */
export interface Sandbox {
  node: string;
  pod: string;
  ms: number;
}

/** CPU seconds a node spent over a span: its whole container, kubelet, containerd, the CNI's agent (none: no agent). */
export interface NodeCpu {
  nodeS: number;
  kubeletS: number;
  containerdS: number;
  agentS?: number;
}

/** One burst round on one cluster (the JSON of measure.ts --burst-only). */
export interface Round {
  cni: Cni;
  cluster: string;
  pair: number;
  pods: number;
  nodes: number;
  /** Each pod's create-to-Running, seconds, ascending. */
  startS: number[];
  clean: { allS: number; apiGoneS: number; perNodeS: Record<string, number> };
  /** From the first create to all Running, and to every node clean (the spans of `cpu`). */
  runningS: number;
  burstS: number;
  /** 1-minute load average before the burst and after it. */
  loads: number[];
  /** The plugins cni-timer wrapped on the nodes: the conflist's top-level types. */
  timed: string[];
  calls: CniCall[];
  sandboxes: Sandbox[];
  /** kubelet_runtime_operations_duration_seconds{operation_type="run_podsandbox"}: deltas over the burst. */
  kubelet: { node: string; sumS: number; count: number }[];
  cpu: { node: string; toRunning: NodeCpu; burst: NodeCpu }[];
}

// ---- numbers ----
const ascending = (xs: number[]): number[] => xs.sort((a, b) => a - b);

// ---- parsers ----
/** The lines of cni-timer's log: plugin CNI_COMMAND CNI_CONTAINERID start_unix_ms wall_ms user_ms sys_ms exit_status. */
export function parseTimerLog(node: string, text: string): CniCall[] {
  const out: CniCall[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 8) continue;
    const [plugin, cmd, container, ...nums] = f as [string, string, string, ...string[]];
    const [startMs, wallMs, userMs, sysMs, exit] = nums.map(Number) as [number, number, number, number, number];
    if (![startMs, wallMs, userMs, sysMs, exit].every(Number.isFinite)) continue;
    out.push({ node, plugin, cmd, container, startMs, wallMs, userMs, sysMs, exit });
  }
  return out;
}

/** containerd's time="2026-12-06T07:01:48.084302044Z" to Unix milliseconds, below the millisecond kept. */
function logTimeMs(t: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/**
 * containerd's journal (`journalctl -u containerd -o cat`): for each pod whose name starts with
 * `podPrefix`, the time from its first "RunPodSandbox for &PodSandboxMetadata{Name:<pod>,Uid:<uid>"
 * to that sandbox's "... returns sandbox id" (retries after a failed attempt included). Pods whose
 * sandbox never returned are left out.
 */
export function parseSandboxes(node: string, journal: string, podPrefix: string): Sandbox[] {
  const first = new Map<string, number>();
  const out: Sandbox[] = [];
  for (const line of journal.split('\n')) {
    const m = /time="([^"]+)".*msg="RunPodSandbox for &PodSandboxMetadata\{Name:([^,]+),Uid:([^,]+),/.exec(line);
    if (!m || !m[2]!.startsWith(podPrefix)) continue;
    const t = logTimeMs(m[1]!);
    const key = `${m[2]}/${m[3]}`;
    if (/\} returns sandbox id /.test(line)) {
      const t0 = first.get(key);
      if (t0 !== undefined) out.push({ node, pod: m[2]!, ms: t - t0 });
      first.delete(key);
    } else if (!/failed, error/.test(line) && !first.has(key)) first.set(key, t);
  }
  return out;
}

/** kubelet's run_podsandbox duration histogram, sum (s) and count, from its Prometheus text. */
export function runPodSandboxMetric(text: string): { sumS: number; count: number } {
  const value = (suffix: string): number => {
    const m = new RegExp(`^kubelet_runtime_operations_duration_seconds_${suffix}\\{operation_type="run_podsandbox"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  return { sumS: value('sum'), count: value('count') };
}

/**
 * User + system seconds of a process from /proc/<pid>/stat (utime and stime, fields 14 and 15,
 * in clock ticks); the command name in parentheses may hold spaces, so fields count after it.
 */
export function procCpuS(stat: string, ticksPerS: number): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime 15.
  return (Number(rest[11]) + Number(rest[12])) / ticksPerS;
}

// ---- statistics ----
/**
 * The calls of one command over a set of nodes. A pod's ADD (or DEL) is its conflist chain: the
 * calls of every timed plugin with its container ID summed (gingham + portmap, flannel + portmap,
 * bridge + portmap), so the CNIs compare whole; a DEL repeated by the runtime adds to its pod.
 */
export interface CallStats {
  calls: number;
  failed: number;
  /** Per pod (container ID), ascending: wall and user+sys milliseconds of its chain. */
  wallMs: number[];
  cpuMs: number[];
  /** user+sys of every call, seconds. */
  cpuS: number;
}
export function callStats(calls: readonly CniCall[], cmd: string): CallStats {
  const mine = calls.filter((c) => c.cmd === cmd);
  const pods = new Map<string, { wall: number; cpu: number }>();
  mine.forEach((c, i) => {
    const key = c.container === '-' ? `-${i}` : `${c.node}/${c.container}`;
    const p = pods.get(key) ?? { wall: 0, cpu: 0 };
    p.wall += c.wallMs;
    p.cpu += c.userMs + c.sysMs;
    pods.set(key, p);
  });
  return {
    calls: mine.length,
    failed: mine.filter((c) => c.exit !== 0).length,
    wallMs: ascending([...pods.values()].map((p) => p.wall)),
    cpuMs: ascending([...pods.values()].map((p) => p.cpu)),
    cpuS: sum(mine.map((c) => c.userMs + c.sysMs)) / 1000,
  };
}

export interface Breakdown {
  add: CallStats;
  del: CallStats;
  /** containerd's RunPodSandbox per pod, ms, ascending. */
  sandboxMs: number[];
  /** kubelet's mean run_podsandbox over the burst, s. */
  kubeletMeanS: number;
  /** From the first create to every node clean. */
  cpu: NodeCpu;
  toRunning: NodeCpu;
}

function addCpu(xs: readonly NodeCpu[]): NodeCpu {
  const out: NodeCpu = { nodeS: sum(xs.map((x) => x.nodeS)), kubeletS: sum(xs.map((x) => x.kubeletS)), containerdS: sum(xs.map((x) => x.containerdS)) };
  const agents = xs.map((x) => x.agentS).filter((x): x is number => x !== undefined);
  if (agents.length) out.agentS = sum(agents);
  return out;
}

/** One round's breakdown on one node, or over all its nodes when `node` is not given. */
export function breakdown(r: Round, node?: string): Breakdown {
  const on = <T extends { node: string }>(xs: readonly T[]): T[] => xs.filter((x) => node === undefined || x.node === node);
  const k = on(r.kubelet);
  const cpu = on(r.cpu);
  return {
    add: callStats(on(r.calls), 'ADD'),
    del: callStats(on(r.calls), 'DEL'),
    sandboxMs: ascending(on(r.sandboxes).map((s) => s.ms)),
    kubeletMeanS: sum(k.map((x) => x.sumS)) / sum(k.map((x) => x.count)),
    cpu: addCpu(cpu.map((c) => c.burst)),
    toRunning: addCpu(cpu.map((c) => c.toRunning)),
  };
}

const f = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const calls = (s: CallStats): string =>
  `${s.calls} calls${s.failed ? ` (${s.failed} failed)` : ''}, wall p50/p95 ${f(percentile(s.wallMs, 50), 1)}/${f(percentile(s.wallMs, 95), 1)} ms, ` +
  `CPU p50/p95 ${f(percentile(s.cpuMs, 50), 1)}/${f(percentile(s.cpuMs, 95), 1)} ms, sum ${f(s.cpuS, 2)} s`;

/** A breakdown as one log line. */
export function breakdownLine(b: Breakdown): string {
  const cpu = (c: NodeCpu): string => `agent ${c.agentS === undefined ? '-' : f(c.agentS, 2)}, kubelet ${f(c.kubeletS, 2)}, containerd ${f(c.containerdS, 2)}, node ${f(c.nodeS, 2)}`;
  return (
    `ADD ${calls(b.add)}; DEL ${calls(b.del)}; containerd RunPodSandbox p50/p95 ${f(percentile(b.sandboxMs, 50), 0)}/${f(percentile(b.sandboxMs, 95), 0)} ms (${b.sandboxMs.length}); ` +
    `kubelet run_podsandbox mean ${f(b.kubeletMeanS * 1000, 0)} ms; CPU s to Running: ${cpu(b.toRunning)}; whole burst: ${cpu(b.cpu)}`
  );
}
