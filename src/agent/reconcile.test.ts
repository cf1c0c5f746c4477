import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Level } from './log.js';
import type { NodeInfo } from './network/nodes.js';
import type { Route } from './network/routes.js';
import { ReconcileLoop, Reconciler } from './reconcile.js';
import type { NetworkKernel, Tool } from './network/kernel.js';
import { type AgentConfig, DEFAULT_CONFIG } from './config.js';
import type { Dataplane, FilterChange, Held, Owner } from '../kernel/packet-filter/index.js';
import { iptablesHeld } from '../kernel/packet-filter/iptables-chains.js';
import type { UnderlayAddr } from './network/underlay.js';
import type { OverlayState } from './network/vxlan.js';
import type { Family } from '../net/ip.js';
import { node } from './testing.js';

/**
 * A node kernel for the host-gw passes: applies route lines the way the kernel would (refusing
 * gateways off-link), has no overlay, and keeps the masquerade chains as text.
 */
class FakeKernel implements NetworkKernel {
  routes: Route[] = [];
  batches: string[][] = [];
  masq: Partial<Record<Family, string>> = {};
  reads = 0;
  constructor(private readonly onLink = /^198\.18\.0\.|^fd42:18::/) {}
  async readRoutes(table: 'main' | number): Promise<Route[]> {
    return table === 'main' ? this.routes.map((r) => ({ ...r })) : [];
  }
  async readRules(): Promise<[]> {
    return [];
  }
  async readOverlay(): Promise<OverlayState & { addrs: UnderlayAddr[] }> {
    this.reads++;
    return { links: [], neighbours: [], fdb: [], addrs: [] };
  }
  async readFilter(d: Dataplane, owner: Owner): Promise<Held> {
    if (d !== 'iptables') return { dataplane: d, present: false };
    const nat = (f: Family): string[] => (this.masq[f] ?? '').split('\n');
    return iptablesHeld(owner, { 4: { nat: nat(4), filter: [] }, 6: { nat: nat(6), filter: [] } });
  }
  async applyFilter(c: FilterChange): Promise<undefined> {
    // Enough of iptables-restore for one chain: the declared chain and its rules are what -S shows.
    const chain = /^:(\S+)/m.exec(c.text)?.[1];
    if (chain === 'GINGHAM-MASQ' && c.family) this.masq[c.family] = [`-N ${chain}`, ...c.text.split('\n').filter((l) => l.startsWith('-A '))].join('\n');
    return undefined;
  }
  async apply(tool: Tool, lines: readonly string[]): Promise<{ failed: { line: string; error: string }[] }> {
    if (lines.length > 0) this.batches.push([...lines]);
    const failed: { line: string; error: string }[] = [];
    for (const line of lines) {
      const [, verb, dst, via] = /^route (del|replace) (\S+)(?: via (\S+))? proto 199/.exec(line) ?? [];
      if (tool === 'ip' && verb === 'del') {
        const i = this.routes.findIndex((r) => r.dst === dst && (!via || r.via === via));
        if (i < 0) failed.push({ line, error: 'No such process' });
        else this.routes.splice(i, 1);
      } else if (tool === 'ip' && verb === 'replace' && dst && via) {
        if (!this.onLink.test(via)) failed.push({ line, error: 'Nexthop has invalid gateway.' });
        else this.routes = [...this.routes.filter((r) => r.dst !== dst), { dst, via }];
      } else failed.push({ line, error: 'bad line' });
    }
    return { failed };
  }
}

const self = node('n1', ['198.18.128.0/24'], ['198.18.0.1']);
const n2 = node('n2', ['198.18.129.0/24'], ['198.18.0.2']);
const n3 = node('n3', ['198.18.130.0/24', 'fd42:18:130::/64'], ['198.18.0.3', 'fd42:18::3']);
const sorted = (rs: Route[]): string[] => rs.map((r) => `${r.dst} via ${r.via}`).sort();

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gh-agent-rec-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(initial: NodeInfo[] | undefined): { table: FakeKernel; rec: Reconciler; set: (n: NodeInfo[] | undefined) => void; logs: [Level, string][]; conf: string } {
  let nodes = initial;
  const table = new FakeKernel();
  const logs: [Level, string][] = [];
  const conf = join(dir, '10-gingham.conflist');
  const config: AgentConfig = { ...DEFAULT_CONFIG, backend: 'host-gw' };
  const rec = new Reconciler({ nodeName: 'n1', nodes: () => nodes, config, kernel: table, cniConfPath: conf, statePath: join(dir, 'state.json'), log: (l, m) => logs.push([l, m]) });
  return { table, rec, set: (n) => (nodes = n), logs, conf };
}

describe('Reconciler', () => {
  it('does nothing at all before the first node list', async () => {
    const { table, rec } = setup(undefined);
    expect((await rec.pass()).ran).toBe(false);
    expect(table.reads).toBe(0);
  });

  it('routes to every other node (dual-stack where they are), then keeps still', async () => {
    const { table, rec } = setup([self, n2, n3]);
    const first = await rec.pass();
    expect(first.failed).toEqual([]);
    expect(sorted(table.routes)).toEqual(['198.18.129.0/24 via 198.18.0.2', '198.18.130.0/24 via 198.18.0.3', 'fd42:18:130::/64 via fd42:18::3']);
    const second = await rec.pass();
    expect(second.replaced.length + second.removed.length).toBe(0);
    expect(table.batches).toHaveLength(1);
  });

  it('a node that leaves loses its routes; a route deleted by hand comes back', async () => {
    const { table, rec, set } = setup([self, n2, n3]);
    await rec.pass();
    set([self, n2]);
    const r = await rec.pass();
    expect(sorted(r.removed)).toEqual(['198.18.130.0/24 via 198.18.0.3', 'fd42:18:130::/64 via fd42:18::3']);
    expect(sorted(table.routes)).toEqual(['198.18.129.0/24 via 198.18.0.2']);
    table.routes = [];
    await rec.pass();
    expect(sorted(table.routes)).toEqual(['198.18.129.0/24 via 198.18.0.2']);
  });

  it('an InternalIP change moves the route in one replace', async () => {
    const { table, rec, set } = setup([self, n2]);
    await rec.pass();
    set([self, node('n2', ['198.18.129.0/24'], ['198.18.0.22'])]);
    await rec.pass();
    expect(table.batches.at(-1)).toEqual(['route replace 198.18.129.0/24 via 198.18.0.22 proto 199']);
    expect(sorted(table.routes)).toEqual(['198.18.129.0/24 via 198.18.0.22']);
  });

  it('reports a route the kernel refuses, applies the rest, and tries it again next pass', async () => {
    const { table, rec, logs } = setup([self, n2, node('far', ['198.18.131.0/24'], ['198.19.7.7'])]);
    const r = await rec.pass();
    expect(r.failed).toEqual([{ line: 'route replace 198.18.131.0/24 via 198.19.7.7 proto 199', error: 'Nexthop has invalid gateway.' }]);
    expect(sorted(table.routes)).toEqual(['198.18.129.0/24 via 198.18.0.2']);
    expect(logs).toContainEqual(['error', 'change refused by the kernel; retried next pass']);
    expect((await rec.pass()).replaced.map((x) => x.dst)).toEqual(['198.18.131.0/24']);
  });

  it('writes the conflist from our own podCIDRs once, and again when they change', async () => {
    const { rec, set, conf } = setup([node('n1', [], ['198.18.0.1']), n2]);
    expect((await rec.pass()).conflistWritten).toBe(false);
    set([node('n1', ['198.18.128.0/24', 'fd42:18:128::/64'], ['198.18.0.1']), n2]);
    expect((await rec.pass()).conflistWritten).toBe(true);
    expect((await rec.pass()).conflistWritten).toBe(false);
    const written = JSON.parse(readFileSync(conf, 'utf8')) as { plugins: { ipam: unknown }[] };
    expect(written.plugins[0]!.ipam).toEqual({ type: 'gingham', ranges: [[{ subnet: '198.18.128.0/24' }], [{ subnet: 'fd42:18:128::/64' }]] });
  });

  it('reports the drift it healed by kind, its peers, and skipped nodes by a fixed word', async () => {
    const bad: NodeInfo = { name: 'bad', podCIDRs: [], internalIPs: [], invalid: 'spec.podCIDRs: "x", not a list' };
    const { table, rec } = setup([self, n2, bad, node('new', [], ['198.18.0.5']), node('far', ['198.18.131.0/24'], ['198.19.7.7']), node('twin', ['198.18.129.0/24'], ['198.18.0.6'])]);
    const r = await rec.pass();
    // n2's route, and far's which the kernel refused; the masquerade chain.
    expect(r.drift).toEqual({ route: { found: 2, healed: 1 }, chain: { found: 1, healed: 1 } });
    expect(r.peers.map((p) => p.node)).toEqual(['far', 'n2']);
    expect(r.skipped).toEqual([
      { node: 'bad', reason: 'unreadable' },
      { node: 'new', reason: 'no_pod_cidr' },
      { node: 'twin', reason: 'pod_cidr_taken' },
    ]);
    table.routes = [];
    expect((await rec.pass()).drift).toEqual({ route: { found: 2, healed: 1 } });
  });

  it('routes to the others even when our own Node object is missing, and says so once', async () => {
    const { table, rec, logs } = setup([n2]);
    await rec.pass();
    await rec.pass();
    expect(sorted(table.routes)).toEqual(['198.18.129.0/24 via 198.18.0.2']);
    expect(logs.filter(([, m]) => m.includes('not among the Node objects'))).toHaveLength(1);
  });
});

describe('ReconcileLoop', () => {
  it('folds a burst of triggers into few passes, never two at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let passes = 0;
    const loop = new ReconcileLoop(
      {
        pass: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          passes++;
          await new Promise((r) => setTimeout(r, 30));
          running--;
          return { ran: true, replaced: [], removed: [], overlay: [], filter: [], failed: [], conflistWritten: false, drift: {}, peers: [], skipped: [] };
        },
      },
      () => undefined,
      5,
    );
    loop.start(60_000);
    for (let i = 0; i < 20; i++) loop.trigger();
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 20; i++) loop.trigger();
    await new Promise((r) => setTimeout(r, 20));
    await loop.idle();
    await loop.stop();
    expect(maxRunning).toBe(1);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(passes).toBeLessThanOrEqual(3);
  });

  it('keeps going after a failing pass, and resyncs on its own', async () => {
    const errors: string[] = [];
    let passes = 0;
    const loop = new ReconcileLoop(
      {
        pass: async () => {
          passes++;
          throw new Error('ip is gone');
        },
      },
      (level, msg) => level === 'error' && errors.push(msg),
      1,
    );
    loop.start(20);
    await new Promise((r) => setTimeout(r, 150));
    await loop.stop();
    expect(passes).toBeGreaterThanOrEqual(3);
    expect(errors[0]).toMatch(/reconcile pass failed/);
    const after = passes;
    await new Promise((r) => setTimeout(r, 50));
    expect(passes).toBe(after);
  });
});
