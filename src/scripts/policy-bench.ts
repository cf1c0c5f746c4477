// make bench, NetworkPolicy at scale: the agent's compiler and a policy dataplane (iptables or
// nftables, --dataplane) against synthetic clusters (testing.ts) in network namespaces of their own,
// driven as the agent drives them: one PolicyCompiler kept across passes, event passes trusting the
// state the last sync left (`read: false`), the resync reading the kernel. Every measurement runs in
// a copy of this process started inside its namespace (cold, as an agent that starts, with a heap of
// its own), so iptables, ipset and nft run there directly, as the agent's do on its node (not
// through `ip netns exec`, which would add its own cost to every exec). Figures are wall-clock.
//
// Two modes:
// * Default (part of `make bench`, short): 1,000 pods all on this node and 500 policies, once alone
//   and once with 50 Admin + 50 Baseline ClusterNetworkPolicies beside them
//   (cluster-policy-scenario.ts). Prints side by side the full sync (a fresh compiler, an empty
//   kernel), a no-op resync, one pod added, one pod relabelled and one policy changed (compile +
//   apply, median of the repeats, with the execs they took), rule and set counts, memory, and the
//   load average; then what the cluster policies add to the compiled ruleset at other pod and
//   policy counts. Targets: full sync <= 1 s, one change <= 100 ms.
// * --grid (`make bench-scale`, long): the curve of issue 17. Cluster-wide pods (1,000 / 5,000 /
//   10,000, of which 110 on the measured node) x policies (100 / 1,000 / 5,000), each point in a
//   fresh namespace: the same passes and memory, the dataplanes given side by side point by point,
//   with their ratios. Writes the points as JSON (--out, merged with the points of other
//   dataplanes already there) and draws them (--svg, bench-svg.ts).
// Bundled by esbuild (Makefile), run as root:
//   node build/policy-bench.mjs [pods] [policies] [repeats] [cluster policies per tier] [--dataplane D]
//   node build/policy-bench.mjs --grid [--dataplane iptables,nftables] [--repeats 15] [--pods 1000,5000,10000]
//     [--policies 100,1000,5000] [--rounds 1] [--point-timeout 900] [--out e2e/bench/figures/policy-scale.json] [--svg e2e/bench/figures/policy-scale.svg]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type PolicySyncResult, sctpPortsSupported } from '../agent/policy/apply.js';
import { PolicyCompiler, compile } from '../agent/policy/compile.js';
import { DATAPLANES, type Dataplane, type PolicyDataplane, policyDataplane } from '../agent/policy/dataplane.js';
import { type PodInfo, type Policy, type PolicyInputs, type Ruleset, ruleCount } from '../agent/policy/model.js';
import { nftSctpPortsSupported } from '../agent/policy/nft-apply.js';
import { pod, syntheticCluster } from '../agent/policy/testing.js';
import { scaleChart, type ScalePoint, type ScaleResults } from './bench-svg.js';
import { syntheticClusterPolicies } from './cluster-policy-scenario.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dataplane: { type: 'string', default: 'iptables' },
    grid: { type: 'boolean', default: false },
    repeats: { type: 'string' },
    pods: { type: 'string', default: '1000,5000,10000' },
    policies: { type: 'string', default: '100,1000,5000' },
    rounds: { type: 'string', default: '1' },
    'point-timeout': { type: 'string', default: '900' },
    out: { type: 'string', default: 'e2e/bench/figures/policy-scale.json' },
    svg: { type: 'string', default: 'e2e/bench/figures/policy-scale.svg' },
  },
});
/** The grid takes several (iptables,nftables: alternating point by point); the default run one. */
const GRID_DATAPLANES = flags.dataplane!.split(',') as Dataplane[];
for (const d of GRID_DATAPLANES) if (!DATAPLANES.includes(d)) throw new Error(`--dataplane: ${d} is not one of ${DATAPLANES.join(', ')}`);
const DATAPLANE = GRID_DATAPLANES[0]!;
if (!flags.grid && GRID_DATAPLANES.length > 1) throw new Error('--dataplane: one dataplane without --grid');
const PODS = Number(positionals[0] ?? 1000);
const POLICIES = Number(positionals[1] ?? 500);
const REPEATS = Number(flags.repeats ?? positionals[2] ?? 15);
/** Per tier: this many Admin and as many Baseline ClusterNetworkPolicies (cluster-policy-scenario.ts). */
const CLUSTER_POLICIES = Number(positionals[3] ?? 50);
/** Pods on the measured node in the grid: a full node at the kubelet's default maxPods. */
const LOCAL_PODS = 110;
const NODE = 'n1';
/** Set in each copy started inside a namespace: what it measures (a Job, as JSON). */
const JOB_ENV = 'GINGHAM_POLICY_BENCH_JOB';
/** Node's collector, there when started with --expose-gc (each copy is). */
const gc = (globalThis as { gc?: () => void }).gc;
/** The compiler's options; a measurement asks the kernel about SCTP as the agent does (sctpPorts). */
const OPTS = { node: NODE, sctpPorts: true, logDrops: false };
type Options = typeof OPTS;

/** One measurement, done by a copy of this process inside `netns`. */
interface Job {
  readonly netns: string;
  readonly dataplane: Dataplane;
  /** v1: NetworkPolicies alone; cnp: with the cluster policies; grid: `local` of `pods` on this node. */
  readonly scenario: 'v1' | 'cnp' | 'grid';
  readonly pods: number;
  readonly policies: number;
  readonly local: number;
}

function sh(...argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.toString().trim()}`);
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;

interface Pass {
  readonly compile: number;
  readonly apply: number;
  readonly total: number;
  readonly restores: number;
  readonly reads: number;
  /** The applier's own split of `apply`. */
  readonly timings: PolicySyncResult['timings'];
}

/** Compile and sync; `read: false` as the agent's event-driven passes (the resync reads). */
async function timed(compiler: PolicyCompiler, dp: PolicyDataplane, opts: Options, inputs: PolicyInputs, read = true): Promise<Pass> {
  const t0 = performance.now();
  const { ruleset } = compiler.compile(inputs, opts);
  const t1 = performance.now();
  const r = await dp.sync(ruleset, { read });
  const t2 = performance.now();
  if (r.failures.length > 0) throw new Error(`sync failed: ${JSON.stringify(r.failures)}`);
  return { compile: t1 - t0, apply: t2 - t1, total: t2 - t0, restores: r.restores, reads: r.reads, timings: r.timings };
}

const split = (p: Pass): string => `render ${ms(p.timings.renderMs)}, sets ${ms(p.timings.setsMs)}, rules ${ms(p.timings.rulesMs)}`;

/** The median pass (by total time) of a series. */
const median = (passes: readonly Pass[]): Pass => [...passes].sort((a, b) => a.total - b.total)[Math.floor(passes.length / 2)]!;

/** The median pass of a series, as a table cell. */
function medianCell(passes: readonly Pass[]): string {
  const m = median(passes);
  return `${ms(m.total)} (compile ${ms(m.compile)}, apply ${ms(m.apply)}: ${split(m)}; ${m.restores} restores, ${m.reads} reads)`;
}

/** What one job measured. */
interface Figures {
  readonly full: Pass;
  readonly noop: Pass;
  readonly added: readonly Pass[];
  readonly relabelled: readonly Pass[];
  readonly policyChanged: readonly Pass[];
  readonly rules: number;
  readonly chains: number;
  readonly sets: number;
  readonly entries: number;
  /** What the compiled ruleset and the compiler hold after the full sync (heap growth, after a collection). */
  readonly heapMiB: number;
  /** The whole process after the full sync. */
  readonly rssMiB: number;
}

/** IPv4's rules (a dispatch step counts one per pod it sends on, as the iptables rules it was), chains, sets and set entries. */
const counts = (r: Ruleset): { rules: number; chains: number; sets: number; entries: number } => ({
  rules: ruleCount(r[4].chains),
  chains: r[4].chains.length,
  sets: r[4].sets.length,
  entries: r[4].sets.reduce((n, s) => n + s.entries.length, 0),
});

/** A policy that selects a pod on this node, with its first rule's first port moved by `by` (an edit that rewrites its chain). */
function editedPolicy(base: PolicyInputs, by: number): { index: number; edited: Policy } {
  const local = new Set(base.pods.filter((p) => p.node === NODE).map((p) => `${p.namespace}/${p.labels['app']}`));
  const index = base.policies.findIndex((p) => local.has(`${p.namespace}/${p.podSelector.matchLabels['app']}`));
  if (index < 0) throw new Error('no policy selects a pod of this node');
  const p = base.policies[index]!;
  const [first, ...rest] = p.ingress ?? [];
  if (!first) throw new Error(`policy ${p.name} has no ingress rule to edit`);
  const ports = first.ports.map((x, i) => (i === 0 && typeof x.port === 'number' ? { ...x, port: x.port + by } : x));
  return { index, edited: { ...p, ingress: [{ ...first, ports }, ...rest] } };
}

/** One job from an empty kernel to an empty kernel: a fresh compiler and dataplane, as an agent that starts. */
async function run(base: PolicyInputs, dataplane: Dataplane): Promise<Figures> {
  // The dataplane of the agent's choice, in the namespace this process runs in (no wrapper).
  const dp = policyDataplane(dataplane);
  const opts = { ...OPTS, sctpPorts: await (dataplane === 'nftables' ? nftSctpPortsSupported() : sctpPortsSupported()) };
  const compiler = new PolicyCompiler();
  const pass = (inputs: PolicyInputs, read = true): Promise<Pass> => timed(compiler, dp, opts, inputs, read);
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const full = await pass(base);
  const { ruleset } = compiler.compile(base, opts);
  gc?.();
  const heapMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  const noop = await pass(base);

  // Each change is undone before the next, so every repeat starts from the same state: one pod
  // comes to this node (and goes), one of its pods is relabelled, one policy of its pods is edited.
  const local = base.pods.filter((p) => p.node === NODE);
  const added: Pass[] = [];
  const relabelled: Pass[] = [];
  const policyChanged: Pass[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const fresh = pod('ns3', `new${i}`, [`198.18.240.${i + 1}`], { node: NODE, labels: { app: 'app3', tier: 'front' } });
    added.push(await pass({ ...base, pods: [...base.pods, fresh] }, false));
    await pass(base, false);
    const victim = local[(i * 7) % local.length]!;
    const moved: PodInfo = { ...victim, labels: { ...victim.labels, app: 'app24', tier: 'db' } };
    relabelled.push(await pass({ ...base, pods: base.pods.map((p) => (p === victim ? moved : p)) }, false));
    await pass(base, false);
    const { index, edited } = editedPolicy(base, i + 1);
    policyChanged.push(await pass({ ...base, policies: base.policies.map((p, j) => (j === index ? edited : p)) }, false));
    await pass(base, false);
  }
  const c = await dp.cleanup();
  if (c.failures.length > 0) throw new Error(`cleanup failed: ${JSON.stringify(c.failures)}`);
  return { full, noop, added, relabelled, policyChanged, ...counts(ruleset), heapMiB, rssMiB };
}

/**
 * What the ClusterNetworkPolicies add to the rules, chains, sets and set entries (compiled only),
 * at half, once and twice the pods and with twice the policies: rules and chains must stay put as
 * pods grow and follow the policies; set entries are where pods count.
 */
function growth(): string[][] {
  const added = (pods: number, perTier: number): string => {
    const v1 = syntheticCluster(pods, POLICIES);
    const without = counts(compile(v1, OPTS).ruleset);
    const withCnps = counts(compile({ ...v1, ...syntheticClusterPolicies(perTier) }, OPTS).ruleset);
    return `+${withCnps.rules - without.rules} / +${withCnps.chains - without.chains} / +${withCnps.sets - without.sets} / +${withCnps.entries - without.entries}`;
  };
  const half = Math.max(1, Math.floor(PODS / 2));
  return [
    [`${half} pods, ${2 * CLUSTER_POLICIES} ClusterNetworkPolicies`, added(half, CLUSTER_POLICIES)],
    [`${PODS} pods, ${2 * CLUSTER_POLICIES} ClusterNetworkPolicies`, added(PODS, CLUSTER_POLICIES)],
    [`${2 * PODS} pods, ${2 * CLUSTER_POLICIES} ClusterNetworkPolicies`, added(2 * PODS, CLUSTER_POLICIES)],
    [`${PODS} pods, ${4 * CLUSTER_POLICIES} ClusterNetworkPolicies`, added(PODS, 2 * CLUSTER_POLICIES)],
  ];
}

/**
 * The synthetic cluster with `local` of its pods on this node, the rest over 99 other nodes. The
 * node's pods are every k-th of the first 1,000: the same pods (labels, namespaces) at every
 * cluster size, so along a curve only the rest of the cluster grows. With 110 of 1,000, k is 9,
 * prime to the 20 namespaces and 3 tiers, so the node has pods of every namespace, tier and app.
 */
function clusterWithNode(pods: number, policies: number, local: number): PolicyInputs {
  const c = syntheticCluster(pods, policies);
  const every = Math.max(1, Math.floor(Math.min(pods, 1000) / local));
  const placed = c.pods.map((p, i) => ({ ...p, node: i % every === 0 && i / every < local ? NODE : `n${2 + (i % 99)}` }));
  return { ...c, pods: placed };
}

/** The inputs of a job. */
function inputs(job: Job): PolicyInputs {
  if (job.scenario === 'grid') return clusterWithNode(job.pods, job.policies, job.local);
  const v1 = syntheticCluster(job.pods, job.policies);
  return job.scenario === 'v1' ? v1 : { ...v1, ...syntheticClusterPolicies(CLUSTER_POLICIES) };
}

/** In the copy inside the namespace: measure one job and print its figures as JSON. */
async function measure(job: Job): Promise<void> {
  // The dataplane works in whatever namespace this process is in: make sure it is ours.
  const [self, ours] = [statSync('/proc/self/ns/net'), statSync(`/var/run/netns/${job.netns}`)];
  if (self.ino !== ours.ino || self.dev !== ours.dev) throw new Error(`not inside network namespace ${job.netns}: refusing to touch this one's tables`);
  process.stdout.write(JSON.stringify(await run(inputs(job), job.dataplane)));
}

/** A grid point stopped at --point-timeout. */
class TimedOut extends Error {
  constructor(ms: number) {
    super(`took more than ${ms / 1000} s`);
  }
}

/** Runs a job in a copy of this process inside a namespace made for it (and removed after). */
function inNamespace(job: Omit<Job, 'netns'>, n: number, timeoutMs?: number): Figures {
  const netns = `gb${process.pid}-np${n}`;
  const full: Job = { ...job, netns };
  sh('ip', 'netns', 'add', netns);
  try {
    const argv = [process.execPath, '--expose-gc', ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)];
    const r = spawnSync('ip', ['netns', 'exec', netns, ...argv], {
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 2 ** 24,
      env: { ...process.env, [JOB_ENV]: JSON.stringify(full) },
      ...(timeoutMs ? { timeout: timeoutMs, killSignal: 'SIGKILL' as const } : {}),
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new TimedOut(timeoutMs!);
    if (r.status !== 0) throw new Error(`the ${job.scenario} bench in ${netns} failed (${r.error?.message ?? `exit ${r.status}`})`);
    return JSON.parse(r.stdout.toString()) as Figures;
  } finally {
    // Removing the namespace removes whatever a killed copy left in it.
    sh('ip', 'netns', 'del', netns);
  }
}

/** The default run: the v1 cluster alone, then with the cluster policies, each in a fresh process. */
function sideBySide(): void {
  const load = loadavg();
  const job = { dataplane: DATAPLANE, pods: PODS, policies: POLICIES, local: PODS };
  const [a, b] = [inNamespace({ ...job, scenario: 'v1' }, 0), inNamespace({ ...job, scenario: 'cnp' }, 1)];
  const both = (f: (x: Figures) => string): string => `${f(a)} | ${f(b)}`;
  const rows = [
    ['full sync (compile + apply)', both((x) => `${ms(x.full.total)} (compile ${ms(x.full.compile)}, apply ${ms(x.full.apply)}: ${split(x.full)}; ${x.full.restores} restores)`), '<= 1 s'],
    ['no-op sync, reading the kernel (the resync)', both((x) => `${ms(x.noop.total)} (${x.noop.restores} restores)`), ''],
    [`one pod added (median of ${REPEATS})`, both((x) => medianCell(x.added)), '<= 100 ms'],
    [`one pod relabelled (median of ${REPEATS})`, both((x) => medianCell(x.relabelled)), '<= 100 ms'],
    [`one policy changed (median of ${REPEATS})`, both((x) => medianCell(x.policyChanged)), '<= 100 ms'],
    ['rules / chains', both((x) => `${x.rules} / ${x.chains}`), ''],
    ['sets / entries', both((x) => `${x.sets} / ${x.entries}`), ''],
    ['compiled ruleset and compiler memory (heap)', both((x) => `${x.heapMiB.toFixed(1)} MiB`), ''],
    ['process RSS after the full sync', both((x) => `${x.rssMiB.toFixed(0)} MiB`), ''],
  ];
  const out = process.stdout;
  out.write(`\nNetworkPolicy at scale (${DATAPLANE}): ${PODS} pods on one node, ${POLICIES} policies, without and with ${CLUSTER_POLICIES} Admin + ${CLUSTER_POLICIES} Baseline ClusterNetworkPolicies (IPv4); load average ${load.map((x) => x.toFixed(1)).join(' ')}\n\n`);
  out.write(`| what | ${POLICIES} NetworkPolicies | and ${2 * CLUSTER_POLICIES} ClusterNetworkPolicies | target |\n|---|---|---|---|\n`);
  for (const r of rows) out.write(`| ${r.join(' | ')} |\n`);
  out.write(`\nWhat the ClusterNetworkPolicies add (compiled, not applied): rules and chains must follow the policies, not pods x rules\n\n| scenario | rules / chains / sets / entries added |\n|---|---|\n`);
  for (const r of growth()) out.write(`| ${r.join(' | ')} |\n`);
}

const list = (s: string, flag: string): number[] =>
  s.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: ${x} is not a positive integer`);
    return n;
  });

/** The middle value (the upper one of an even count). */
const mid = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A measured point: its figures from every round, and the load average as each ended. */
interface Measured {
  readonly dataplane: Dataplane;
  readonly pods: number;
  readonly policies: number;
  readonly rounds: Figures[];
  readonly loads: number[];
}

/** One grid point as the JSON keeps it: each figure the median over the rounds (events: of their per-round medians). */
function point(m: Measured): ScalePoint {
  const r = (x: number): number => Math.round(x * 10) / 10;
  const over = (f: (x: Figures) => number): number => r(mid(m.rounds.map(f)));
  const f = m.rounds[0]!;
  return {
    dataplane: m.dataplane,
    pods: m.pods,
    local: Math.min(LOCAL_PODS, m.pods),
    policies: m.policies,
    fullMs: over((x) => x.full.total),
    fullCompileMs: over((x) => x.full.compile),
    resyncMs: over((x) => x.noop.total),
    podAddedMs: over((x) => median(x.added).total),
    podRelabelledMs: over((x) => median(x.relabelled).total),
    policyChangedMs: over((x) => median(x.policyChanged).total),
    heapMiB: over((x) => x.heapMiB),
    rssMiB: over((x) => x.rssMiB),
    rules: f.rules,
    chains: f.chains,
    sets: f.sets,
    entries: f.entries,
    load: r(mid(m.loads)),
  };
}

/** The points of the results file as it stands (if any) of the dataplanes this run does not measure. */
function otherDataplanes(path: string): ScalePoint[] {
  if (!existsSync(path)) return [];
  const old = JSON.parse(readFileSync(path, 'utf8')) as ScaleResults;
  return old.points.filter((p) => !GRID_DATAPLANES.includes(p.dataplane as Dataplane));
}

/**
 * The grid, --rounds times (every other round in reverse order, so a drifting load falls on all
 * points alike), the dataplanes side by side point by point: every point in a fresh namespace and
 * process; the JSON and the SVG rewritten after each, from the rounds so far.
 */
function grid(): void {
  const podCounts = list(flags.pods!, 'pods');
  const policyCounts = list(flags.policies!, 'policies');
  const [rounds] = list(flags.rounds!, 'rounds');
  const timeoutMs = Number(flags['point-timeout']) * 1000;
  const kept = otherDataplanes(flags.out!);
  const measured: Measured[] = policyCounts.flatMap((policies) => podCounts.flatMap((pods) => GRID_DATAPLANES.map((dataplane) => ({ dataplane, pods, policies, rounds: [], loads: [] }))));
  const stopped = new Map<Measured, string>();
  const write = (): void => {
    const results: ScaleResults = {
      what: `NetworkPolicy sync on one node (${LOCAL_PODS} local pods) against cluster-wide pods and policies, src/scripts/policy-bench.ts --grid`,
      date: new Date().toISOString().slice(0, 10),
      cpus: cpus().length,
      repeats: REPEATS,
      rounds: rounds!,
      points: [...kept, ...measured.filter((m) => m.rounds.length > 0).map(point)],
    };
    mkdirSync(dirname(flags.out!), { recursive: true });
    writeFileSync(flags.out!, `${JSON.stringify(results, null, 1)}\n`);
    mkdirSync(dirname(flags.svg!), { recursive: true });
    writeFileSync(flags.svg!, scaleChart(results));
  };
  let n = 0;
  for (let round = 0; round < rounds!; round++) {
    for (const m of round % 2 ? [...measured].reverse() : measured) {
      if (stopped.has(m)) continue;
      const t0 = performance.now();
      try {
        m.rounds.push(inNamespace({ dataplane: m.dataplane, scenario: 'grid', pods: m.pods, policies: m.policies, local: Math.min(LOCAL_PODS, m.pods) }, n++, timeoutMs));
      } catch (e) {
        if (!(e instanceof TimedOut)) throw e;
        stopped.set(m, e.message);
        continue;
      }
      m.loads.push(loadavg()[0]!);
      write();
      process.stderr.write(`[policy-bench] round ${round + 1}: ${m.dataplane}, ${m.pods} pods x ${m.policies} policies: ${((performance.now() - t0) / 1000).toFixed(0)} s, full sync ${m.rounds.at(-1)!.full.total.toFixed(0)} ms, load ${m.loads.at(-1)!.toFixed(1)}\n`);
    }
  }
  write();
  const out = process.stdout;
  out.write(`\nNetworkPolicy scale grid (${GRID_DATAPLANES.join(' vs ')}, IPv4): ${LOCAL_PODS} pods on the measured node; each figure the median of ${rounds} rounds, events the median of ${REPEATS} per round; ms\n\n`);
  out.write('| dataplane | pods | policies | full sync (compile) | resync | pod added | pod relabelled | policy changed | rules / chains | sets / entries | heap / RSS MiB | load |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n');
  const done = new Map<Measured, ScalePoint>();
  for (const m of measured) {
    const why = stopped.get(m);
    if (why !== undefined && m.rounds.length === 0) {
      out.write(`| ${m.dataplane} | ${m.pods} | ${m.policies} | (${why}: stopped) | | | | | | | | |\n`);
      continue;
    }
    const p = point(m);
    done.set(m, p);
    out.write(`| ${p.dataplane} | ${p.pods} | ${p.policies} | ${p.fullMs} (${p.fullCompileMs}) | ${p.resyncMs} | ${p.podAddedMs} | ${p.podRelabelledMs} | ${p.policyChangedMs} | ${p.rules} / ${p.chains} | ${p.sets} / ${p.entries} | ${p.heapMiB} / ${p.rssMiB} | ${p.load} |\n`);
  }
  if (GRID_DATAPLANES.length === 2) {
    const [a, b] = GRID_DATAPLANES as [Dataplane, Dataplane];
    const of = (d: Dataplane, m: Measured): ScalePoint | undefined => [...done].find(([x]) => x.dataplane === d && x.pods === m.pods && x.policies === m.policies)?.[1];
    out.write(`\n${b} / ${a}, same point (below 1: ${b} is faster)\n\n| pods | policies | full sync | resync | pod added | pod relabelled | policy changed |\n|---|---|---|---|---|---|---|\n`);
    for (const m of measured.filter((x) => x.dataplane === a)) {
      const [pa, pb] = [of(a, m), of(b, m)];
      if (!pa || !pb) continue;
      const q = (k: 'fullMs' | 'resyncMs' | 'podAddedMs' | 'podRelabelledMs' | 'policyChangedMs'): string => `${(pb[k] / pa[k]).toFixed(2)}x`;
      out.write(`| ${m.pods} | ${m.policies} | ${q('fullMs')} | ${q('resyncMs')} | ${q('podAddedMs')} | ${q('podRelabelledMs')} | ${q('policyChangedMs')} |\n`);
    }
  }
  const notes = [...stopped].map(([m, why]) => `${m.dataplane} at ${m.pods} pods x ${m.policies} policies ${why}, stopped`);
  out.write(`\nWrote ${flags.out} and ${flags.svg}.${notes.length ? ` ${notes.join('; ')}.` : ''}\n`);
}

async function main(): Promise<void> {
  const job = process.env[JOB_ENV];
  if (job !== undefined) return measure(JSON.parse(job) as Job);
  if (flags.grid) grid();
  else sideBySide();
}

await main();
