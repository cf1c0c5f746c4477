// make bench, NetworkPolicy at scale: the agent's compiler and kernel layer against a synthetic
// cluster (1,000 pods on this node, 500 policies; testing.ts) in a network namespace of its own,
// once alone and once with 50 Admin + 50 Baseline ClusterNetworkPolicies beside them
// (cluster-policy-scenario.ts), each in a process of its own from an empty kernel, driven as the
// agent drives them: one PolicyCompiler kept across passes, event passes trusting the state the
// last sync left (`read: false`), the resync reading the kernel. Prints side by side the full sync
// (a fresh compiler, an empty kernel), a no-op resync, one pod added and one pod relabelled
// (compile + apply, median of the repeats, with the execs they took), the rule and set counts and
// the memory they take, and the load average (the figures are wall-clock times); then what the
// cluster policies add to the compiled ruleset at other pod and policy counts. The targets: full
// sync <= 1 s, one pod change <= 100 ms. The measuring runs in copies of the process started
// inside the namespace, so iptables and ipset run there directly, as the agent's do on its node
// (not through `ip netns exec`, which would add its own cost to every exec).
// Bundled by esbuild (Makefile), run as root:
//   node build/policy-bench.mjs [pods] [policies] [repeats] [cluster policies per tier]
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { PolicyApplier, type PolicySyncResult } from '../agent/policy/apply.js';
import { PolicyCompiler, compile } from '../agent/policy/compile.js';
import type { PodInfo, PolicyInputs, Ruleset } from '../agent/policy/model.js';
import { pod, syntheticCluster } from '../agent/policy/testing.js';
import { syntheticClusterPolicies } from './cluster-policy-scenario.js';

const PODS = Number(process.argv[2] ?? 1000);
const POLICIES = Number(process.argv[3] ?? 500);
const REPEATS = Number(process.argv[4] ?? 15);
/** Per tier: this many Admin and as many Baseline ClusterNetworkPolicies (cluster-policy-scenario.ts). */
const CLUSTER_POLICIES = Number(process.argv[5] ?? 50);
const NETNS = `gb${process.pid}-np`;
/** Set in each copy started inside the namespace: its name, and which scenario it measures. */
const NETNS_ENV = 'GINGHAM_POLICY_BENCH_NETNS';
const SCENARIO_ENV = 'GINGHAM_POLICY_BENCH_SCENARIO';
type Scenario = 'v1' | 'cnp';
/** Node's collector, there when started with --expose-gc (each copy is). */
const gc = (globalThis as { gc?: () => void }).gc;
const OPTS = { node: 'n1', sctpPorts: true, logDrops: false };

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
async function timed(compiler: PolicyCompiler, applier: PolicyApplier, inputs: PolicyInputs, read = true): Promise<Pass> {
  const t0 = performance.now();
  const { ruleset } = compiler.compile(inputs, OPTS);
  const t1 = performance.now();
  const r = await applier.sync(ruleset, { read });
  const t2 = performance.now();
  if (r.failures.length > 0) throw new Error(`sync failed: ${JSON.stringify(r.failures)}`);
  return { compile: t1 - t0, apply: t2 - t1, total: t2 - t0, restores: r.restores, reads: r.reads, timings: r.timings };
}

const split = (p: Pass): string => `render ${ms(p.timings.renderMs)}, ipset ${ms(p.timings.setsMs)}, iptables ${ms(p.timings.rulesMs)}`;

/** The median pass (by total time) of a series, as a table cell. */
function medianPass(passes: readonly Pass[]): string {
  const m = [...passes].sort((a, b) => a.total - b.total)[Math.floor(passes.length / 2)]!;
  return `${ms(m.total)} (compile ${ms(m.compile)}, apply ${ms(m.apply)}: ${split(m)}; ${m.restores} restores, ${m.reads} reads)`;
}

/** What one scenario measured. */
interface Figures {
  readonly full: Pass;
  readonly noop: Pass;
  readonly added: readonly Pass[];
  readonly relabelled: readonly Pass[];
  readonly rules: number;
  readonly chains: number;
  readonly sets: number;
  readonly entries: number;
  /** The compiled ruleset's and the compiler's heap (after a collection, with --expose-gc). */
  readonly heapMiB: number;
  readonly rssMiB: number;
}

const counts = (r: Ruleset): { rules: number; chains: number; sets: number; entries: number } => ({
  rules: r[4].chains.reduce((n, c) => n + c.rules.length, 0),
  chains: r[4].chains.length,
  sets: r[4].sets.length,
  entries: r[4].sets.reduce((n, s) => n + s.entries.length, 0),
});

/** One scenario from an empty kernel to an empty kernel: a fresh compiler and applier, as an agent that starts. */
async function run(base: PolicyInputs): Promise<Figures> {
  const applier = new PolicyApplier();
  const compiler = new PolicyCompiler();
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const full = await timed(compiler, applier, base);
  const { ruleset } = compiler.compile(base, OPTS);
  gc?.();
  const heapMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  const noop = await timed(compiler, applier, base);

  // One pod comes (and goes again, so each repeat starts from the same state); one is relabelled.
  const added: Pass[] = [];
  const relabelled: Pass[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const fresh = pod('ns3', `new${i}`, [`198.18.190.${i + 1}`], { labels: { app: 'app3', tier: 'front' } });
    added.push(await timed(compiler, applier, { ...base, pods: [...base.pods, fresh] }, false));
    await timed(compiler, applier, base, false);
    const victim = base.pods[i * 7]!;
    const moved: PodInfo = { ...victim, labels: { ...victim.labels, app: 'app24', tier: 'db' } };
    relabelled.push(await timed(compiler, applier, { ...base, pods: base.pods.map((p) => (p === victim ? moved : p)) }, false));
    await timed(compiler, applier, base, false);
  }
  const c = await applier.cleanup();
  if (c.failures.length > 0) throw new Error(`cleanup failed: ${JSON.stringify(c.failures)}`);
  return { full, noop, added, relabelled, ...counts(ruleset), heapMiB, rssMiB: process.memoryUsage().rss / 2 ** 20 };
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

/** The inputs of a scenario: the v1 cluster alone, or with the cluster policies and nodes beside it. */
function inputs(scenario: Scenario): PolicyInputs {
  const v1 = syntheticCluster(PODS, POLICIES);
  return scenario === 'v1' ? v1 : { ...v1, ...syntheticClusterPolicies(CLUSTER_POLICIES) };
}

/** In the copy inside the namespace: measure one scenario and print its figures as JSON. */
async function measure(netns: string, scenario: Scenario): Promise<void> {
  // The applier works in whatever namespace this process is in: make sure it is ours.
  const [self, ours] = [statSync('/proc/self/ns/net'), statSync(`/var/run/netns/${netns}`)];
  if (self.ino !== ours.ino || self.dev !== ours.dev) throw new Error(`not inside network namespace ${netns}: refusing to touch this one's tables`);
  process.stdout.write(JSON.stringify(await run(inputs(scenario))));
}

/**
 * Each scenario in a process of its own (both start cold, as an agent does, and neither inherits
 * the other's heap), one after the other in the same namespace.
 */
async function main(): Promise<void> {
  const inside = process.env[NETNS_ENV];
  if (inside !== undefined) return measure(inside, process.env[SCENARIO_ENV] === 'cnp' ? 'cnp' : 'v1');
  const load = loadavg();
  const figures: Figures[] = [];
  sh('ip', 'netns', 'add', NETNS);
  try {
    const argv = [process.execPath, '--expose-gc', ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)];
    for (const scenario of ['v1', 'cnp'] as const) {
      const r = spawnSync('ip', ['netns', 'exec', NETNS, ...argv], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 2 ** 24, env: { ...process.env, [NETNS_ENV]: NETNS, [SCENARIO_ENV]: scenario } });
      if (r.status !== 0) throw new Error(`the ${scenario} bench in ${NETNS} failed (${r.error?.message ?? `exit ${r.status}`})`);
      figures.push(JSON.parse(r.stdout.toString()) as Figures);
    }
  } finally {
    sh('ip', 'netns', 'del', NETNS);
  }
  const [a, b] = figures as [Figures, Figures];
  const both = (f: (x: Figures) => string): string => `${f(a)} | ${f(b)}`;
  const rows = [
    ['full sync (compile + apply)', both((x) => `${ms(x.full.total)} (compile ${ms(x.full.compile)}, apply ${ms(x.full.apply)}: ${split(x.full)}; ${x.full.restores} restores)`), '<= 1 s'],
    ['no-op sync, reading the kernel (the resync)', both((x) => `${ms(x.noop.total)} (${x.noop.restores} restores)`), ''],
    [`one pod added (median of ${REPEATS})`, both((x) => medianPass(x.added)), '<= 100 ms'],
    [`one pod relabelled (median of ${REPEATS})`, both((x) => medianPass(x.relabelled)), '<= 100 ms'],
    ['rules / chains', both((x) => `${x.rules} / ${x.chains}`), ''],
    ['ipsets / entries', both((x) => `${x.sets} / ${x.entries}`), ''],
    ['compiled ruleset and compiler memory (heap)', both((x) => `${x.heapMiB.toFixed(1)} MiB`), ''],
    ['process RSS', both((x) => `${x.rssMiB.toFixed(0)} MiB`), ''],
  ];
  const out = process.stdout;
  out.write(`\nNetworkPolicy at scale: ${PODS} pods on one node, ${POLICIES} policies, without and with ${CLUSTER_POLICIES} Admin + ${CLUSTER_POLICIES} Baseline ClusterNetworkPolicies (IPv4); load average ${load.map((x) => x.toFixed(1)).join(' ')}\n\n`);
  out.write(`| what | ${POLICIES} NetworkPolicies | and ${2 * CLUSTER_POLICIES} ClusterNetworkPolicies | target |\n|---|---|---|---|\n`);
  for (const r of rows) out.write(`| ${r.join(' | ')} |\n`);
  out.write(`\nWhat the ClusterNetworkPolicies add (compiled, not applied): rules and chains must follow the policies, not pods x rules\n\n| scenario | rules / chains / ipsets / entries added |\n|---|---|\n`);
  for (const r of growth()) out.write(`| ${r.join(' | ')} |\n`);
}

await main();
