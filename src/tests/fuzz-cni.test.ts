// Property-based fuzzing of the real binary in a node namespace (issue 14): generated configs and
// CNI_* environments (fuzz-arbitraries.ts). Every call must end in bounded time with exactly one
// result or error JSON and an exit code to match; a successful ADD must have made what its result
// says, and its DEL must succeed; afterwards the node's links, addresses, routes, rules and ipsets,
// the pod's namespace and every directory a config can name are as they were before the case.
// A few cases the issue names must be refused outright. Seeded: a failure prints the seed and the
// shrunk case; GINGHAM_FUZZ_SEED=<seed> replays the run (add GINGHAM_FUZZ_PATH=<path> for the shrunk
// case alone), GINGHAM_FUZZ_RUNS=<n> runs more.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, GINGHAM, requirePrivileges } from './cluster.js';
import { type FuzzCase, type FuzzPaths, caseArb } from './fuzz-arbitraries.js';
import { type NsState, diffLines, diffState, fileTree, nsState } from './node-state.js';
import { type PluginRun, errorCode, runPlugin, shapeProblem } from './plugin-run.js';

requirePrivileges();

// ~200 ms per case on a 2-core VM (one to three calls of ~100 ms, a state read): 250 cases, ~50 s.
const RUNS = Number(process.env['GINGHAM_FUZZ_RUNS'] ?? 250);
const SEED = process.env['GINGHAM_FUZZ_SEED'] !== undefined ? Number(process.env['GINGHAM_FUZZ_SEED']) : undefined;
/** With the seed, the failure's `path` replays the shrunk case alone. */
const PATH = process.env['GINGHAM_FUZZ_PATH'];
/** A call that has not ended after this long fails the case (and is killed). */
const CALL_BOUND_MS = 10_000;
/** Shrinking a failure stops after this long; the best case found so far is reported. */
const SHRINK_BUDGET_MS = 180_000;
const DEFAULT_DATA_DIR = '/var/lib/cni/gingham';

interface World {
  node: NsState;
  pod: NsState;
  files: string[];
}

describe('fuzz: the real binary on generated configs and environments', () => {
  const c = new Cluster();
  const node = 'node';
  const mounts: string[] = [];
  let p: FuzzPaths;
  let baseline: World;
  const stats = { cases: 0, calls: 0, ok: 0, failed: 0, byCommand: new Map<string, number>() };

  const sh = async (argv: string[]): Promise<void> => {
    await execa(argv[0]!, argv.slice(1));
  };

  async function bindNetns(path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '');
    await sh(['mount', '--bind', c.netnsPath('pod'), path]);
    mounts.push(path);
  }

  /** Our directories under the default dataDir (a config with dataDir "" may fall back to it). */
  const defaultDirs = (): string[] => (existsSync(DEFAULT_DATA_DIR) ? readdirSync(DEFAULT_DATA_DIR).filter((n) => n.startsWith(c.prefix)).map((n) => join(DEFAULT_DATA_DIR, n)) : []);

  const skip = (n: string): boolean => n.startsWith('last_reserved_ip.');

  async function world(): Promise<World> {
    const files = [p.data, p.cwd, join(c.tmp, 'run'), ...defaultDirs()].flatMap((d) => fileTree(d, skip).map((f) => `${d}: ${f}`));
    const [n, pod] = await Promise.all([nsState(c, node), nsState(c, 'pod')]);
    return { node: n, pod, files };
  }

  const worldDiff = (a: World, b: World): string[] => [
    ...diffState(a.node, b.node).map((d) => `node ${d}`),
    ...diffState(a.pod, b.pod).map((d) => `pod ${d}`),
    ...diffLines(a.files, b.files).map((d) => `file ${d}`),
  ];

  /** Back to the baseline after a failed case, so that shrinking compares like with like. */
  async function reset(): Promise<void> {
    for (const [ns, base] of [
      [node, baseline.node],
      ['pod', baseline.pod],
    ] as const) {
      const now = await nsState(c, ns);
      for (const l of diffLines(base.links, now.links)) if (l.startsWith('+ ')) await c.sh(['ip', '-n', c.ns(ns), 'link', 'del', l.slice(2).split(' ')[0]!]);
      for (const bin of ['iptables', 'ip6tables']) for (const t of ['nat', 'filter']) for (const op of ['-F', '-X']) await c.sh(['ip', 'netns', 'exec', c.ns(ns), bin, '-w', '-t', t, op]);
      await c.sh(['ip', 'netns', 'exec', c.ns(ns), 'ipset', 'destroy']);
    }
    for (const d of [p.data, p.cwd, join(c.tmp, 'run')]) {
      for (const n of existsSync(d) ? readdirSync(d) : []) if (n !== 'fifo' && n !== 'file') rmSync(join(d, n), { recursive: true, force: true });
    }
    for (const d of defaultDirs()) rmSync(d, { recursive: true, force: true });
  }

  beforeAll(async () => {
    await c.addNamespace(node);
    await c.addNamespace('pod');
    const dirs = { data: join(c.tmp, 'data'), logs: join(c.tmp, 'logs'), fix: join(c.tmp, 'fix'), cwd: join(c.tmp, 'cwd'), ns: join(c.tmp, 'ns') };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    mkdirSync(join(dirs.fix, 'dir'));
    mkdirSync(join(dirs.logs, 'dir'));
    writeFileSync(join(dirs.fix, 'resolv.conf'), 'nameserver 198.18.0.53\nsearch a.example b.example\noptions ndots:5\n');
    writeFileSync(join(dirs.data, 'file'), 'not a directory\n');
    for (const f of [join(dirs.fix, 'fifo'), join(dirs.logs, 'fifo'), join(dirs.data, 'fifo')]) await sh(['mkfifo', f]);
    const odd = ['with space', 'with#hash', "q'uote", 'ünï', 'new\nline'].map((n) => join(dirs.ns, n));
    // The injection of the issue: both the path and the path up to its newline are a real netns.
    const injectionBase = join(dirs.ns, 'a');
    const injection = `${injectionBase}\nlink add evil type dummy`;
    for (const n of [join(dirs.ns, 'plain'), ...odd, injectionBase, injection]) await bindNetns(n);
    p = {
      ...dirs,
      bin: dirname(GINGHAM),
      netns: { plain: join(dirs.ns, 'plain'), named: c.netnsPath('pod'), odd, injection },
      network: `${c.prefix}-fz`,
      containerId: `${c.prefix}-ctr`,
    };
    baseline = await world();
  });

  afterAll(async () => {
    for (const m of mounts.reverse()) await execa('umount', [m], { reject: false });
    for (const d of p ? defaultDirs() : []) rmSync(d, { recursive: true, force: true });
    await c.destroy();
  });

  const call = async (fcase: FuzzCase, command: string): Promise<{ r: PluginRun; problem?: string }> => {
    const env = {
      ...fcase.env,
      CNI_COMMAND: command,
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      GINGHAM_LOG: join(p.logs, 'gingham.log'),
      GINGHAM_RUN_DIR: join(c.tmp, 'run'),
      // The plugin's own cap on a call, well inside the fuzz's bound: a hang ends as an error.
      GINGHAM_CNI_TIMEOUT: '5',
    };
    const stdin = typeof fcase.conf === 'string' ? fcase.conf : JSON.stringify(fcase.conf);
    const r = await runPlugin(c, node, { stdin, env, cwd: p.cwd, pidns: fcase.ownNetns, timeoutMs: CALL_BOUND_MS });
    stats.calls++;
    stats.byCommand.set(command, (stats.byCommand.get(command) ?? 0) + 1);
    if (r.exitCode === 0) stats.ok++;
    else stats.failed++;
    const problem = shapeProblem(command, r);
    return problem ? { r, problem: `${command}: ${problem}` } : { r };
  };

  /** Inputs the issue says must be refused: accepting them is a failure even if nothing is left behind. */
  function mustRefuse(fcase: FuzzCase): string | undefined {
    const ifName = fcase.env['CNI_IFNAME'] ?? '';
    // The netns and the interface name matter to the main plugin; IPAM mode only files them.
    const main = typeof fcase.conf !== 'string' && fcase.conf['type'] === 'gingham';
    if (main && fcase.ownNetns) return `CNI_NETNS ${fcase.env['CNI_NETNS']} is the plugin's own network namespace`;
    if (main && (/[#'"\u0000-\u001f\u007f]/.test(ifName) || ifName === '-')) return `CNI_IFNAME ${JSON.stringify(ifName)} is not taken literally by the kernel and the ip batch parser`;
    if ((fcase.env['CNI_ARGS'] ?? '').split(';').filter((kv) => kv.startsWith('IP=')).length > 1) return 'CNI_ARGS gives IP= twice';
    if (typeof fcase.conf === 'string') return undefined;
    const ipam = fcase.conf['ipam'] as Record<string, unknown> | undefined;
    if (ipam && typeof ipam === 'object') {
      const dataDir = ipam['dataDir'];
      if (dataDir === '' || (typeof dataDir === 'string' && !dataDir.startsWith('/'))) return `ipam.dataDir ${JSON.stringify(dataDir)} is empty or relative`;
      const subnets = [ipam['subnet'], ...(Array.isArray(ipam['ranges']) ? ipam['ranges'].flat().map((r) => (r as Record<string, unknown> | undefined)?.['subnet']) : [])];
      if (subnets.some((s) => typeof s === 'string' && /\/0+$/.test(s))) return 'a /0 subnet';
    }
    return undefined;
  }

  /** The ADD's result against the kernel: the pod interface it names is there, under that name. */
  async function resultProblem(fcase: FuzzCase, stdout: string): Promise<string | undefined> {
    // The main plugin's result (IPAM mode returns addresses only): whatever mode the case began in.
    if (typeof fcase.conf === 'string' || fcase.conf['type'] !== 'gingham') return undefined;
    const result = JSON.parse(stdout) as { interfaces?: { name: string; sandbox?: string }[] };
    const ifName = fcase.env['CNI_IFNAME'];
    const pod = (result.interfaces ?? []).find((i) => i.sandbox);
    if (!pod) return 'ADD result has no pod interface';
    if (pod.name !== ifName) return `ADD result names the pod interface ${JSON.stringify(pod.name)}, CNI_IFNAME was ${JSON.stringify(ifName)}`;
    const links = (await nsState(c, 'pod')).links.map((l) => l.slice(0, l.indexOf(' kind=')));
    if (!links.includes(ifName)) return `the pod has no interface ${JSON.stringify(ifName)} (it has ${JSON.stringify(links)})`;
    return undefined;
  }

  async function check(fcase: FuzzCase): Promise<void> {
    stats.cases++;
    const problems: string[] = [];
    const command = fcase.env['CNI_COMMAND']!;
    const first = await call(fcase, command);
    if (first.problem) problems.push(first.problem);
    const added = command === 'ADD' && first.r.exitCode === 0 && !first.problem;
    if (first.r.exitCode === 0 && command === 'ADD') {
      const refuse = mustRefuse(fcase);
      if (refuse) problems.push(`ADD succeeded but must be refused: ${refuse}`);
    }
    if (added) {
      const rp = await resultProblem(fcase, first.r.stdout);
      if (rp) problems.push(rp);
      const del = await call(fcase, 'DEL');
      if (del.problem) problems.push(del.problem);
      else if (del.r.exitCode !== 0) problems.push(`DEL after a successful ADD failed (code ${errorCode(del.r)}): ${del.r.stdout}`);
      // The bridge may outlive its last pod; the test removes it (and with it its addresses and routes).
      const now = await nsState(c, node);
      for (const l of diffLines(baseline.node.links, now.links)) {
        if (/^\+ \S+ kind=bridge /.test(l)) await c.sh(['ip', '-n', c.ns(node), 'link', 'del', l.slice(2).split(' ')[0]!]);
      }
    }
    const diff = worldDiff(baseline, await world());
    if (diff.length > 0) problems.push(`left behind (+) or removed (-):\n  ${diff.slice(0, 40).join('\n  ')}`);
    if (problems.length > 0) {
      await reset();
      const still = worldDiff(baseline, await world());
      if (still.length > 0) throw new Error(`fuzz: could not restore the baseline, giving up:\n  ${still.join('\n  ')}`);
      const r = first.r;
      throw new Error(`${problems.join('\n')}\n  (first call: exit ${r.exitCode}, ${Math.round(r.ms)} ms, stdout ${JSON.stringify(r.stdout.slice(0, 400))})`);
    }
  }

  it(
    `${RUNS} generated calls: bounded, one JSON document, nothing left behind`,
    async () => {
      const started = performance.now();
      try {
        await fc.assert(
          fc.asyncProperty(caseArb(p), (fcase) => check(fcase)),
          { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH ? { path: PATH } : {}), interruptAfterTimeLimit: RUNS * 1_000 + SHRINK_BUDGET_MS },
        );
      } finally {
        const s = (performance.now() - started) / 1000;
        const verbs = [...stats.byCommand].map(([k, v]) => `${JSON.stringify(k)} ${v}`).join(', ');
        console.log(`fuzz: ${stats.cases} cases, ${stats.calls} calls (${stats.ok} exit 0, ${stats.failed} errors; ${verbs}) in ${s.toFixed(1)} s`);
      }
      if (!PATH) expect(stats.cases).toBeGreaterThanOrEqual(RUNS);
    },
    RUNS * 1_000 + SHRINK_BUDGET_MS + 60_000,
  );
});
