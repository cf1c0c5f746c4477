// make bench, NetworkPolicy at scale: the agent's compiler and kernel layer against a synthetic
// cluster (1,000 pods on this node, 500 policies; testing.ts) in a network namespace of its own,
// driven as the agent drives them: one PolicyCompiler kept across passes, event passes trusting the
// state the last sync left (`read: false`), the resync reading the kernel. Prints the full sync
// (a fresh compiler, an empty kernel), a no-op resync, one pod added and one pod relabelled
// (compile + apply, median of the repeats, with the execs they took), the rule and set counts and
// the memory it takes, and the load average (the figures are wall-clock times). The targets: full
// sync <= 1 s, one pod change <= 100 ms. The measuring runs in a copy of the process started
// inside the namespace, so iptables and ipset run there directly, as the agent's do on its node
// (not through `ip netns exec`, which would add its own cost to every exec).
// Bundled by esbuild (Makefile), run as root:
//   node build/policy-bench.mjs [pods] [policies] [repeats]
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { PolicyApplier, type PolicySyncResult } from '../agent/policy/apply.js';
import { PolicyCompiler } from '../agent/policy/compile.js';
import type { PodInfo, PolicyInputs } from '../agent/policy/model.js';
import { pod, syntheticCluster } from '../agent/policy/testing.js';

const PODS = Number(process.argv[2] ?? 1000);
const POLICIES = Number(process.argv[3] ?? 500);
const REPEATS = Number(process.argv[4] ?? 15);
const NETNS = `gb${process.pid}-np`;
/** Set in the copy started inside the namespace: its name. */
const INSIDE = process.env['GINGHAM_POLICY_BENCH_NETNS'];
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

const split = (p: Pass): string => `render ${ms(p.timings.renderMs)}, ipset ${ms(p.timings.ipsetMs)}, iptables ${ms(p.timings.iptablesMs)}`;

/** The median pass (by total time) of a series, as a table cell. */
function medianPass(passes: readonly Pass[]): string {
  const m = [...passes].sort((a, b) => a.total - b.total)[Math.floor(passes.length / 2)]!;
  return `${ms(m.total)} (compile ${ms(m.compile)}, apply ${ms(m.apply)}: ${split(m)}; ${m.restores} restores, ${m.reads} reads)`;
}

async function main(): Promise<void> {
  if (INSIDE !== undefined) return measure(INSIDE);
  sh('ip', 'netns', 'add', NETNS);
  try {
    const argv = [process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)];
    const r = spawnSync('ip', ['netns', 'exec', NETNS, ...argv], { stdio: 'inherit', env: { ...process.env, GINGHAM_POLICY_BENCH_NETNS: NETNS } });
    if (r.status !== 0) throw new Error(`the bench in ${NETNS} failed (${r.error?.message ?? `exit ${r.status}`})`);
  } finally {
    sh('ip', 'netns', 'del', NETNS);
  }
}

async function measure(netns: string): Promise<void> {
  // The applier below works in whatever namespace this process is in: make sure it is ours.
  const [self, ours] = [statSync('/proc/self/ns/net'), statSync(`/var/run/netns/${netns}`)];
  if (self.ino !== ours.ino || self.dev !== ours.dev) throw new Error(`not inside network namespace ${netns}: refusing to touch this one's tables`);
  const applier = new PolicyApplier();
  const compiler = new PolicyCompiler();
  const cluster = syntheticCluster(PODS, POLICIES);
  const base: PolicyInputs = cluster;
  const load = loadavg();
  const heap0 = process.memoryUsage().heapUsed;
  const full = await timed(compiler, applier, base);
  const { ruleset } = compiler.compile(base, OPTS);
  const heap1 = process.memoryUsage().heapUsed;
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
  const rules = ruleset[4].chains.reduce((n, c) => n + c.rules.length, 0);
  const entries = ruleset[4].sets.reduce((n, s) => n + s.entries.length, 0);
  const rows = [
    ['full sync (compile + apply)', `${ms(full.total)} (compile ${ms(full.compile)}, apply ${ms(full.apply)}: ${split(full)}; ${full.restores} restores)`, '<= 1 s'],
    ['no-op sync, reading the kernel (the resync)', `${ms(noop.total)} (${noop.restores} restores)`, ''],
    [`one pod added (median of ${REPEATS})`, medianPass(added), '<= 100 ms'],
    [`one pod relabelled (median of ${REPEATS})`, medianPass(relabelled), '<= 100 ms'],
    ['rules / chains', `${rules} / ${ruleset[4].chains.length}`, ''],
    ['ipsets / entries', `${ruleset[4].sets.length} / ${entries}`, ''],
    ['compiled ruleset and compiler memory (heap)', `${((heap1 - heap0) / 2 ** 20).toFixed(1)} MiB`, ''],
    ['process RSS', `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`, ''],
  ];
  process.stdout.write(`\nNetworkPolicy at scale: ${PODS} pods on one node, ${POLICIES} policies (IPv4); load average ${load.map((x) => x.toFixed(1)).join(' ')}\n\n| what | measured | target |\n|---|---|---|\n`);
  for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  const c = await applier.cleanup();
  if (c.failures.length > 0) throw new Error(`cleanup failed: ${JSON.stringify(c.failures)}`);
}

await main();
