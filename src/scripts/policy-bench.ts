// make bench, NetworkPolicy at scale: the agent's compiler and kernel layer against a synthetic
// cluster (1,000 pods on this node, 500 policies; testing.ts) in a network namespace of its own.
// Prints the full sync, a no-op sync, one pod added and one pod relabelled (compile + apply, median
// of the repeats), the rule and set counts and the memory it takes. The targets (DESIGN.md §5):
// full sync <= 1 s, one pod change <= 100 ms. Bundled by esbuild (Makefile), run as root:
//   node build/policy-bench.mjs [pods] [policies] [repeats]
import { spawnSync } from 'node:child_process';
import { PolicyApplier } from '../agent/policy/apply.js';
import { compile } from '../agent/policy/compile.js';
import type { PodInfo, PolicyInputs } from '../agent/policy/model.js';
import { pod, syntheticCluster } from '../agent/policy/testing.js';

const PODS = Number(process.argv[2] ?? 1000);
const POLICIES = Number(process.argv[3] ?? 500);
const REPEATS = Number(process.argv[4] ?? 15);
const NETNS = `gb${process.pid}-np`;
const OPTS = { node: 'n1', sctpPorts: true, logDrops: false };

function sh(...argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.toString().trim()}`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function timed(applier: PolicyApplier, inputs: PolicyInputs): Promise<{ compile: number; apply: number; restores: number }> {
  const t0 = performance.now();
  const { ruleset } = compile(inputs, OPTS);
  const t1 = performance.now();
  const r = await applier.sync(ruleset);
  const t2 = performance.now();
  if (r.failures.length > 0) throw new Error(`sync failed: ${JSON.stringify(r.failures)}`);
  return { compile: t1 - t0, apply: t2 - t1, restores: r.restores };
}

async function main(): Promise<void> {
  sh('ip', 'netns', 'add', NETNS);
  try {
    const applier = new PolicyApplier(NETNS);
    const cluster = syntheticCluster(PODS, POLICIES);
    const base: PolicyInputs = cluster;
    const heap0 = process.memoryUsage().heapUsed;
    const full = await timed(applier, base);
    const { ruleset } = compile(base, OPTS);
    const heap1 = process.memoryUsage().heapUsed;
    const noop = await timed(applier, base);

    // One pod comes (and goes again, so each repeat starts from the same state); one is relabelled.
    const added: number[] = [];
    const relabelled: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const fresh = pod('ns3', `new${i}`, [`198.18.190.${i + 1}`], { labels: { app: 'app3', tier: 'front' } });
      const a = await timed(applier, { ...base, pods: [...base.pods, fresh] });
      added.push(a.compile + a.apply);
      await timed(applier, base);
      const victim = base.pods[i * 7]!;
      const moved: PodInfo = { ...victim, labels: { ...victim.labels, app: 'app24', tier: 'db' } };
      const r = await timed(applier, { ...base, pods: base.pods.map((p) => (p === victim ? moved : p)) });
      relabelled.push(r.compile + r.apply);
      await timed(applier, base);
    }
    const rules = ruleset[4].chains.reduce((n, c) => n + c.rules.length, 0);
    const entries = ruleset[4].sets.reduce((n, s) => n + s.entries.length, 0);
    const rows = [
      ['full sync (compile + apply)', `${ms(full.compile + full.apply)} (compile ${ms(full.compile)}, apply ${ms(full.apply)})`, '<= 1 s'],
      ['no-op sync', `${ms(noop.compile + noop.apply)} (${noop.restores} restores)`, ''],
      [`one pod added (median of ${REPEATS})`, ms(median(added)), '<= 100 ms'],
      [`one pod relabelled (median of ${REPEATS})`, ms(median(relabelled)), '<= 100 ms'],
      ['rules / chains', `${rules} / ${ruleset[4].chains.length}`, ''],
      ['ipsets / entries', `${ruleset[4].sets.length} / ${entries}`, ''],
      ['compiled ruleset (heap)', `${((heap1 - heap0) / 2 ** 20).toFixed(1)} MiB`, ''],
      ['process RSS', `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`, ''],
    ];
    process.stdout.write(`\nNetworkPolicy at scale: ${PODS} pods on one node, ${POLICIES} policies (IPv4)\n\n| what | measured | target |\n|---|---|---|\n`);
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
    const c = await applier.cleanup();
    if (c.failures.length > 0) throw new Error(`cleanup failed: ${JSON.stringify(c.failures)}`);
  } finally {
    sh('ip', 'netns', 'del', NETNS);
  }
}

await main();
