// Crash and race soak (issue 14): on a /29 (five addresses) for seven containers, steps of concurrent
// ADD/DEL/CHECK/GC/STATUS calls of the real binary, some killed with SIGKILL at a random moment,
// with out-of-order calls (DEL before any ADD, ADD of an attached container, two DELs at once).
// After every step: no address is held twice in the IPAM store, every record owns its claims, and
// no pod's namespace holds an address that IPAM does not reserve for that pod. At the end a DEL of
// every container and a GC with no valid attachment leave nothing (the bridge may stay).
// The runtime is modelled as CNI says it behaves: calls for one container are not concurrent except
// DEL (which must be idempotent), a killed DEL or GC is retried, GC lists the containers that are up
// or busy. SOAK_SECONDS (default 45) and SOAK_CYCLES bound it; SOAK_SEED replays the choices (the
// timing differs); `make soak` runs 1,000 cycles and prints the figures.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../testing.js';
import { Cluster, requirePrivileges } from './cluster.js';
import type { Conf } from './confs.js';
import { addrsOf, nsState, storeView } from './node-state.js';
import { type PluginRun, errorCode, shapeProblem, startPlugin } from './plugin-run.js';

requirePrivileges();

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? (process.env['SOAK_CYCLES'] ? 3600 : 45));
const CYCLES = Number(process.env['SOAK_CYCLES'] ?? Number.MAX_SAFE_INTEGER);
const SEED = Number(process.env['SOAK_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const CONTAINERS = 7;
/** Far over a call under load; the plugin's own cap (cniTimeout) is 30 s. A call that outlives it is a violation. */
const CALL_BOUND_MS = 60_000;

type Verb = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';

interface Ctr {
  id: string;
  pod: string;
  /** up: the last ADD succeeded; down: nothing of it should exist; doubt: an ADD was killed. */
  state: 'up' | 'down' | 'doubt';
  result?: Conf;
}

interface Op {
  verb: Verb;
  ctr?: Ctr;
  /** kill -9 this long after the start, if set. */
  killAfterMs?: number;
}

describe('soak: concurrent calls, kill -9 and out-of-order calls on a small range', () => {
  const c = new Cluster();
  const node = 'node';
  const ctrs: Ctr[] = [];
  const random = rng(SEED);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const stats = {
    cycles: 0,
    calls: new Map<string, number>(),
    kills: 0,
    maxConcurrent: 0,
    violations: [] as string[],
  };
  let inFlight = 0;

  const conf = (): Conf => ({
    cniVersion: '1.1.0',
    name: `${c.prefix}-soak`,
    type: 'gingham',
    bridge: 'gsk0',
    isGateway: true,
    ipMasq: true,
    ipam: { type: 'gingham', dataDir: join(c.tmp, 'ipam'), ranges: [[{ subnet: '198.18.40.0/29' }]] },
  });
  const storeDir = (): string => join(c.tmp, 'ipam', `${c.prefix}-soak`);

  beforeAll(async () => {
    await c.addNamespace(node);
    for (let i = 0; i < CONTAINERS; i++) {
      await c.addNamespace(`p${i}`);
      ctrs.push({ id: `${c.prefix}-c${i}`, pod: `p${i}`, state: 'down' });
    }
  });
  afterAll(() => c.destroy());

  const count = (key: string): void => {
    stats.calls.set(key, (stats.calls.get(key) ?? 0) + 1);
  };

  /** The containers GC must keep: those up, and those with a call in this step. */
  const validFor = (ops: Op[]): { containerID: string; ifname: string }[] =>
    ctrs.filter((x) => x.state === 'up' || ops.some((o) => o.ctr === x)).map((x) => ({ containerID: x.id, ifname: 'eth0' }));

  async function run(op: Op, ops: Op[]): Promise<PluginRun> {
    const base = conf();
    const stdin =
      op.verb === 'GC' ? { ...base, 'cni.dev/valid-attachments': validFor(ops) } : op.verb === 'CHECK' && op.ctr?.result ? { ...base, prevResult: op.ctr.result } : base;
    const env: Record<string, string> = {
      CNI_COMMAND: op.verb,
      CNI_PATH: '/nonexistent',
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      GINGHAM_LOG: join(c.tmp, 'gingham.log'),
      GINGHAM_RUN_DIR: join(c.tmp, 'run'),
      ...(op.ctr ? { CNI_CONTAINERID: op.ctr.id, CNI_IFNAME: 'eth0', CNI_NETNS: c.netnsPath(op.ctr.pod) } : {}),
    };
    inFlight++;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, inFlight);
    const running = startPlugin(c, node, { stdin: JSON.stringify(stdin), env, timeoutMs: CALL_BOUND_MS });
    const timer = op.killAfterMs !== undefined ? setTimeout(() => running.kill(), op.killAfterMs) : undefined;
    const r = await running.done;
    clearTimeout(timer);
    inFlight--;
    return r;
  }

  /** Error codes a call may end with, for a runtime that behaves: a full range, "try again". */
  function allowed(op: Op, code: number | undefined, upBefore: boolean): boolean {
    switch (op.verb) {
      case 'ADD':
        return code === 100 || code === 11;
      case 'CHECK':
        return !upBefore || code === 11;
      case 'STATUS':
        return code === 50 || code === 11;
      case 'GC':
        return code === 11;
      default:
        return false;
    }
  }

  /** Run ops at once; record outcomes; update the model. Returns violations of the call contract. */
  async function step(ops: Op[]): Promise<string[]> {
    const problems: string[] = [];
    const upBefore = new Map(ops.map((o) => [o, o.ctr?.state === 'up']));
    const results = await Promise.all(ops.map((o) => run(o, ops)));
    const retry: Op[] = [];
    let collected = false;
    results.forEach((r, i) => {
      const op = ops[i]!;
      const who = op.ctr ? ` ${op.ctr.pod}` : '';
      if (r.signal === 'SIGKILL' && !r.timedOut) {
        stats.kills++;
        count(`${op.verb} killed`);
        if (op.verb === 'ADD' && op.ctr) op.ctr.state = 'doubt';
        // A runtime retries a DEL or GC that did not report success.
        if (op.verb === 'DEL' || op.verb === 'GC') retry.push({ verb: op.verb, ...(op.ctr ? { ctr: op.ctr } : {}) });
        return;
      }
      const shape = shapeProblem(op.verb, r);
      const code = r.exitCode === 0 ? undefined : errorCode(r);
      count(`${op.verb} ${code === undefined ? 'ok' : `code ${code}`}`);
      if (shape) problems.push(`${op.verb}${who}: ${shape}`);
      else if (r.exitCode !== 0 && !allowed(op, code, upBefore.get(op) ?? false)) problems.push(`${op.verb}${who} failed: ${r.stdout.trim()}`);
      if (op.verb === 'GC' && r.exitCode === 0) collected = true;
      if (!op.ctr) return;
      if (op.verb === 'ADD') {
        if (r.exitCode === 0) {
          op.ctr.state = 'up';
          op.ctr.result = JSON.parse(r.stdout) as Conf;
        } else op.ctr.state = 'down';
      } else if (op.verb === 'DEL' && r.exitCode === 0) {
        op.ctr.state = 'down';
        delete op.ctr.result;
      }
    });
    if (collected) {
      // A finished GC released every container it was not told to keep.
      const kept = new Set(validFor(ops).map((v) => v.containerID));
      for (const x of ctrs) if (!kept.has(x.id)) x.state = 'down';
    }
    for (const op of retry) {
      const r = await run(op, [op]);
      count(`${op.verb} retry ${r.exitCode === 0 ? 'ok' : `code ${errorCode(r)}`}`);
      const shape = shapeProblem(op.verb, r);
      if (shape || r.exitCode !== 0) problems.push(`retried ${op.verb}${op.ctr ? ` ${op.ctr.pod}` : ''}: ${shape ?? r.stdout.trim()}`);
      if (op.ctr) {
        op.ctr.state = 'down';
        delete op.ctr.result;
      } else {
        const kept = new Set(validFor([]).map((v) => v.containerID));
        for (const x of ctrs) if (!kept.has(x.id)) x.state = 'down';
      }
    }
    return problems;
  }

  /** The store and the kernel agree, and no address is held twice. */
  async function consistency(): Promise<string[]> {
    const problems: string[] = [];
    const view = storeView(storeDir());
    const holders = new Map<string, string[]>();
    for (const [key, rec] of view.records) {
      for (const ip of rec.ips) {
        holders.set(ip, [...(holders.get(ip) ?? []), key]);
        if (view.claims.get(ip) !== rec.ino) problems.push(`record ${key} lists ${ip} but does not hold its claim`);
      }
    }
    for (const [ip, keys] of holders) if (keys.length > 1) problems.push(`address ${ip} is held twice: ${keys.join(', ')}`);
    const inKernel = new Map<string, string[]>();
    const held = await addrsOf(c, ctrs.map((x) => x.pod));
    for (const x of ctrs) {
      const reserved = view.records.get(`${x.id}@eth0`)?.ips ?? [];
      for (const ip of held.get(x.pod) ?? []) {
        inKernel.set(ip, [...(inKernel.get(ip) ?? []), x.pod]);
        if (!reserved.includes(ip)) problems.push(`${x.pod} holds ${ip} in the kernel, IPAM does not reserve it for ${x.id}`);
      }
    }
    for (const [ip, pods] of inKernel) if (pods.length > 1) problems.push(`pods ${pods.join(', ')} all hold ${ip}`);
    return problems;
  }

  function plan(): Op[] {
    const ops: Op[] = [];
    const busy = new Set<Ctr>();
    const n = 1 + Math.floor(random() * 5);
    for (let i = 0; i < n; i++) {
      const r = random();
      const free = ctrs.filter((x) => !busy.has(x));
      if (r < 0.08) ops.push({ verb: 'GC' });
      else if (r < 0.12) ops.push({ verb: 'STATUS' });
      else if (free.length > 0) {
        const ctr = pick(free);
        busy.add(ctr);
        const v = random();
        // Two DELs at once mostly for a container that is up: their race is over a real record.
        const twice = ctr.state === 'up' ? 0.25 : 0.05;
        if (v < 0.5) ops.push({ verb: 'ADD', ctr });
        else if (v < 0.5 + twice) ops.push({ verb: 'DEL', ctr }, { verb: 'DEL', ctr });
        else if (v < 0.88) ops.push({ verb: 'DEL', ctr });
        else ops.push({ verb: 'CHECK', ctr });
      }
    }
    for (const op of ops) if (random() < 0.2) op.killAfterMs = Math.floor(random() * 300);
    return ops;
  }

  const describeOps = (ops: Op[]): string => ops.map((o) => `${o.verb}${o.ctr ? ` ${o.ctr.pod}` : ''}${o.killAfterMs !== undefined ? ` (kill at ${o.killAfterMs} ms)` : ''}`).join(', ');

  function figures(seconds: number): string {
    const calls = [...stats.calls].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `  ${k}: ${v}`);
    const total = [...stats.calls.values()].reduce((a, b) => a + b, 0);
    return [
      `soak (seed ${SEED}): ${stats.cycles} cycles, ${total} calls, ${stats.kills} killed, at most ${stats.maxConcurrent} at once, ${seconds.toFixed(1)} s`,
      ...calls,
      `violations: ${stats.violations.length === 0 ? 'none' : `\n  ${stats.violations.join('\n  ')}`}`,
    ].join('\n');
  }

  it(
    'no address held twice, store and kernel agree after every step; DEL + GC leave nothing',
    async () => {
      const started = performance.now();
      try {
        while (stats.cycles < CYCLES && performance.now() - started < SECONDS * 1000) {
          const ops = plan();
          if (ops.length === 0) continue;
          stats.cycles++;
          const problems = [...(await step(ops)), ...(await consistency())];
          if (problems.length > 0) {
            stats.violations.push(`cycle ${stats.cycles} [${describeOps(ops)}]: ${problems.join('; ')}`);
            break;
          }
        }
        // The end: every container deleted (all at once), then a GC that keeps nothing.
        if (stats.violations.length === 0) {
          const end = await step(ctrs.map((ctr) => ({ verb: 'DEL', ctr })));
          for (const x of ctrs) x.state = 'down';
          end.push(...(await step([{ verb: 'GC' }])));
          const view = storeView(storeDir());
          if (view.claims.size + view.records.size + view.tmp.length > 0) {
            end.push(`the store is not empty: claims ${[...view.claims.keys()].join(' ')}, records ${[...view.records.keys()].join(' ')}, tmp ${view.tmp.join(' ')}`);
          }
          const nodeNow = await nsState(c, node);
          const veths = nodeNow.links.filter((l) => l.startsWith('gh-'));
          if (veths.length > 0) end.push(`host veths left: ${veths.join(', ')}`);
          const chains = nodeNow.rules.filter((l) => l.includes('GH-'));
          if (chains.length > 0) end.push(`rules left: ${chains.join(' | ')}`);
          for (const x of ctrs) {
            const links = (await nsState(c, x.pod)).links.filter((l) => !l.startsWith('lo '));
            if (links.length > 0) end.push(`${x.pod} still has ${links.join(', ')}`);
          }
          if (end.length > 0) stats.violations.push(`after the final DEL + GC: ${end.join('; ')}`);
        }
      } finally {
        console.log(figures((performance.now() - started) / 1000));
      }
      expect(stats.violations).toEqual([]);
      expect(stats.cycles).toBeGreaterThan(0);
    },
    (SECONDS + 300) * 1000,
  );
});
