// The report of `make compare` (e2e/compare/report.ts): ratios per pair of burst rounds, the
// medians of the breakdown over rounds, and the tables rendered from them.
import { describe, expect, it } from 'vitest';
import type { Cni, Round } from './breakdown.ts';
import { type Measured, pairRatios, renderTable, summarize } from './report.ts';

/** A round whose start times are all `s` and whose clean took `clean`. */
function round(cni: Cni, pair: number, s: number, clean: number, cpuMs = 20): Round {
  const agentS = cni === 'bridge' ? {} : { agentS: 1 };
  return {
    cni,
    cluster: cni,
    pair,
    pods: 2,
    nodes: 1,
    startS: [s, s],
    clean: { allS: clean, apiGoneS: clean / 2, perNodeS: {} },
    runningS: s,
    burstS: s + clean,
    loads: [0.5, 1],
    timed: [cni, 'portmap'],
    calls: ['a', 'b'].flatMap((container) => [
      { node: 'n1', plugin: cni, cmd: 'ADD', container, startMs: 0, wallMs: 2 * cpuMs, userMs: cpuMs / 2, sysMs: cpuMs / 2, exit: 0 },
      { node: 'n1', plugin: 'portmap', cmd: 'ADD', container, startMs: 0, wallMs: 4, userMs: 1, sysMs: 1, exit: 0 },
      { node: 'n1', plugin: cni, cmd: 'DEL', container, startMs: 0, wallMs: 10, userMs: 3, sysMs: 2, exit: 0 },
    ]),
    sandboxes: [{ node: 'n1', pod: 'p', ms: 400 }],
    kubelet: [{ node: 'n1', sumS: 0.9, count: 2 }],
    cpu: [{ node: 'n1', toRunning: { nodeS: 4, kubeletS: 1, containerdS: 0.5, ...agentS }, burst: { nodeS: 8, kubeletS: 2, containerdS: 1, ...agentS } }],
  };
}

describe('pairRatios', () => {
  it("gingham's figures over each other CNI's, per pair that has both", () => {
    const rounds = [round('gingham', 1, 10, 20), round('flannel', 1, 5, 10), round('bridge', 1, 4, 40), round('bridge', 2, 5, 10), round('gingham', 2, 5, 10)];
    expect(pairRatios(rounds)).toEqual([
      { pair: 1, vs: 'flannel', p50: 2, p95: 2, clean: 2 },
      { pair: 1, vs: 'bridge', p50: 2.5, p95: 2.5, clean: 0.5 },
      { pair: 2, vs: 'bridge', p50: 1, p95: 1, clean: 1 },
    ]);
  });
  it('nothing without gingham', () => {
    expect(pairRatios([round('flannel', 1, 5, 10), round('bridge', 1, 4, 40)])).toEqual([]);
  });
});

describe('summarize', () => {
  it('medians over rounds of the per-round figures; CPU per ADD counts every plugin of the chain', () => {
    const s = summarize([round('gingham', 1, 10, 20, 20), round('gingham', 2, 10, 20, 40), round('gingham', 3, 10, 20, 60)]);
    expect(s.rounds).toBe(3);
    expect(s.addCalls).toBe(4);
    expect(s.addCpuP50Ms).toBe(42); // 40 + portmap's 2
    expect(s.addWallP50Ms).toBe(84);
    expect(s.cpuPerAddMs).toBe(42);
    expect(s.kubeletMeanMs).toBeCloseTo(450, 9);
    expect(s.burst).toEqual({ nodeS: 8, kubeletS: 2, containerdS: 1, agentS: 1 });
  });
  it('no agent figure for the bridge cluster', () => {
    expect(summarize([round('bridge', 1, 1, 1)]).burst.agentS).toBeUndefined();
  });
});

describe('renderTable', () => {
  it('rounds in the order run, the ratios with their median, and the breakdown per CNI', () => {
    const rounds = [round('gingham', 1, 10, 20), round('flannel', 1, 5, 10), round('bridge', 1, 5, 10), round('bridge', 2, 5, 10), round('flannel', 2, 5, 10), round('gingham', 2, 15, 10)];
    const md = renderTable([], rounds, new Date(0));
    const lines = md.split('\n');
    expect(lines).toContain('| **median** | 2.50 | 2.50 | 1.50 | 2.50 | 2.50 | 1.50 |');
    expect(lines.filter((l) => /^\| [12] \| (gingham|Flannel|bridge) \|/.test(l)).map((l) => l.split(' | ').slice(0, 2).join(' '))).toEqual(['| 1 gingham', '| 1 Flannel', '| 1 bridge', '| 2 bridge', '| 2 Flannel', '| 2 gingham']);
    expect(md).toContain('| agent CPU, s: whole burst (to all Running) | 1.00 (1.00) | 1.00 (1.00) | - (no agent) |');
    // The main table's start row is the median over each CNI's rounds.
    expect(md).toMatch(/p50 \/ p95 \(max\), s, median over the rounds \| \*\*12\.50\*\* \/ \*\*12\.50\*\* \(12\.50; 2 rounds\) \| \*\*5\.00\*\*/);
  });
  it('a full measurement of the bridge cluster has no agent and no VXLAN device', () => {
    const m: Measured = {
      cni: 'bridge',
      cluster: 'gingham-bridge',
      image: 'containernetworking-plugins 1.1.1+ds1-3+b5',
      backend: 'static routes',
      cpus: 2,
      loads: [1, 1],
      net: { client: 'gingham-bridge-worker', server: 'gingham-bridge-worker2', mtu: 1500, seconds: 5, podGbps: [10], podRetrans: [0], svcGbps: [9], svcRetrans: [0], pings: 2, rttsMs: [0.05, 0.06] },
      built: { node: 'gingham-bridge-worker', devices: ['cni0 (bridge, mtu 1500)'], podVeths: 0, podVethKind: 'veth* on cni0', routes: [], otherRoutes: [], rules: [], fdb: [], neigh: [], nat: {}, filter: {} },
      wallS: 30,
    };
    const md = renderTable([m], [], new Date(0));
    expect(md).toContain('| reference bridge + host-local 1.1.1 (static routes) |');
    expect(md).toContain('| agent CPU during the workload, s (3 nodes summed) | - (no agent) |');
    expect(md).toContain('| FDB entries on the VXLAN device (neighbour entries) | - (no VXLAN device) |');
    expect(md).not.toContain('Burst rounds');
  });
});
