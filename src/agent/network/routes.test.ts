import { describe, expect, it } from 'vitest';
import { node } from '../testing.js';
import { type Route, diffRoutes, normalizeDst, parseRoutes, planRoutes, routeLines } from './routes.js';

const self = node('n1', ['198.18.128.0/24'], ['198.18.0.1']);
const n2 = node('n2', ['198.18.129.0/24'], ['198.18.0.2']);
const n3 = node('n3', ['198.18.130.0/24'], ['198.18.0.3']);

describe('planRoutes', () => {
  it('routes every other node\'s pod CIDR via its InternalIP, never our own', () => {
    expect(planRoutes(self, [n3, self, n2])).toEqual({
      routes: [
        { dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' },
        { dst: '198.18.130.0/24', via: '198.18.0.3', node: 'n3' },
      ],
      skipped: [],
    });
  });

  it('dual-stack: one route per family, each via the InternalIP of that family', () => {
    const me = node('n1', ['198.18.128.0/24', 'fd42:18:128::/64'], ['198.18.0.1', 'fd42:18::1']);
    const other = node('n2', ['fd42:18:0129::/64', '198.18.129.0/24'], ['fd42:18::2', '198.18.0.2']);
    expect(planRoutes(me, [me, other]).routes).toEqual([
      { dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' },
      { dst: 'fd42:18:129::/64', via: 'fd42:18::2', node: 'n2' },
    ]);
  });

  it('skips, with a reason, a node without podCIDR and a family without InternalIP', () => {
    const bare = node('n4', [], ['198.18.0.4']);
    const v4only = node('n5', ['198.18.131.0/24', 'fd42:18:131::/64'], ['198.18.0.5']);
    const plan = planRoutes(self, [bare, v4only]);
    expect(plan.routes).toEqual([{ dst: '198.18.131.0/24', via: '198.18.0.5', node: 'n5' }]);
    expect(plan.skipped).toEqual([
      { node: 'n4', reason: 'no podCIDR yet' },
      { node: 'n5', reason: 'no IPv6 InternalIP for fd42:18:131::/64' },
    ]);
  });

  it('uses the first InternalIP of the family, and canonical CIDRs', () => {
    const multi = node('n2', ['198.18.129.7/24'], ['fd42:18::2', '198.18.0.2', '198.18.0.22']);
    expect(planRoutes(self, [multi]).routes).toEqual([{ dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' }]);
  });

  it('never routes our own pod CIDR away, nor via our own address, nor one CIDR to two nodes', () => {
    const thief = node('a-thief', ['198.18.128.0/25'], ['198.18.0.9']);
    const loop = node('b-loop', ['198.18.140.0/24'], ['198.18.0.1']);
    const twin = node('z-twin', ['198.18.129.0/24'], ['198.18.0.8']);
    const plan = planRoutes(self, [twin, n2, thief, loop]);
    expect(plan.routes).toEqual([{ dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' }]);
    expect(plan.skipped.map((s) => s.node)).toEqual(['a-thief', 'b-loop', 'z-twin']);
    expect(plan.skipped[2]!.reason).toMatch(/already routed to node n2/);
  });

  it('skips a podCIDR that is not a CIDR', () => {
    expect(planRoutes(self, [node('n2', ['nonsense'], ['198.18.0.2'])])).toEqual({ routes: [], skipped: [{ node: 'n2', reason: 'podCIDR "nonsense" is not a CIDR' }] });
  });

  it('works before our own Node object is known', () => {
    expect(planRoutes(node('n1', [], []), [n2]).routes).toHaveLength(1);
  });
});

describe('diffRoutes', () => {
  const desired = planRoutes(self, [n2, n3]).routes;
  const current = (...r: Route[]): Route[] => r;

  it('changes nothing when the kernel already matches', () => {
    expect(diffRoutes(desired, current({ dst: '198.18.130.0/24', via: '198.18.0.3' }, { dst: '198.18.129.0/24', via: '198.18.0.2' }))).toEqual({ replace: [], remove: [] });
  });

  it('adds what is missing', () => {
    expect(diffRoutes(desired, [])).toEqual({ replace: desired, remove: [] });
  });

  it('removes the route of a node that left', () => {
    const after = planRoutes(self, [n2]).routes;
    const d = diffRoutes(after, current({ dst: '198.18.129.0/24', via: '198.18.0.2' }, { dst: '198.18.130.0/24', via: '198.18.0.3' }));
    expect(d).toEqual({ replace: [], remove: [{ dst: '198.18.130.0/24', via: '198.18.0.3' }] });
    expect(routeLines(d)).toEqual(['route del 198.18.130.0/24 via 198.18.0.3 proto 199']);
  });

  it('InternalIP change: replaces in place, deletes nothing', () => {
    const moved = planRoutes(self, [node('n2', ['198.18.129.0/24'], ['198.18.0.12'])]).routes;
    const d = diffRoutes(moved, current({ dst: '198.18.129.0/24', via: '198.18.0.2' }));
    expect(d).toEqual({ replace: [{ dst: '198.18.129.0/24', via: '198.18.0.12', node: 'n2' }], remove: [] });
    expect(routeLines(d)).toEqual(['route replace 198.18.129.0/24 via 198.18.0.12 proto 199']);
  });

  it('a node losing its podCIDR loses its route', () => {
    const d = diffRoutes(planRoutes(self, [node('n2', [], ['198.18.0.2'])]).routes, current({ dst: '198.18.129.0/24', via: '198.18.0.2' }));
    expect(d.remove).toEqual([{ dst: '198.18.129.0/24', via: '198.18.0.2' }]);
  });

  it('removes duplicates and stray copies by metric, keeps the one that is right', () => {
    const d = diffRoutes(desired, current(
      { dst: '198.18.129.0/24', via: '198.18.0.2', metric: 5 },
      { dst: '198.18.129.0/24', via: '198.18.0.2' },
      { dst: '198.18.130.0/24', via: '198.18.0.9', metric: 7 },
      { dst: '198.18.130.0/24', via: '198.18.0.8' },
    ));
    expect(d.remove).toEqual([{ dst: '198.18.129.0/24', via: '198.18.0.2', metric: 5 }, { dst: '198.18.130.0/24', via: '198.18.0.9', metric: 7 }]);
    expect(d.replace).toEqual([{ dst: '198.18.130.0/24', via: '198.18.0.3', node: 'n3' }]);
    expect(routeLines(d)).toEqual([
      'route del 198.18.129.0/24 via 198.18.0.2 proto 199 metric 5',
      'route del 198.18.130.0/24 via 198.18.0.9 proto 199 metric 7',
      'route replace 198.18.130.0/24 via 198.18.0.3 proto 199',
    ]);
  });

  it('an IPv6 route at the default metric 1024 is replaced, not deleted', () => {
    const want: Route[] = [{ dst: 'fd42:18:129::/64', via: 'fd42:18::2' }];
    expect(diffRoutes(want, [{ dst: 'fd42:18:129::/64', via: 'fd42:18::9', metric: 1024 }])).toEqual({ replace: want, remove: [] });
  });

  it('deletes a route of ours without a gateway', () => {
    expect(routeLines(diffRoutes([], [{ dst: '198.18.140.0/24', via: '' }]))).toEqual(['route del 198.18.140.0/24 proto 199']);
  });
});

describe('parseRoutes / normalizeDst', () => {
  it('reads `ip -j -4` and `ip -j -6 route show proto 199` output', () => {
    const v4 = JSON.parse('[{"dst":"198.18.129.0/24","gateway":"198.18.0.2","dev":"uplink","flags":[]},{"dst":"198.18.132.0/24","gateway":"198.18.0.3","dev":"uplink","metric":5,"flags":[]}]') as unknown[];
    const v6 = JSON.parse('[{"dst":"fd42:18:129::/64","gateway":"fd42:18::2","dev":"uplink","metric":1024,"flags":[],"pref":"medium"}]') as unknown[];
    expect(parseRoutes([...v4, ...v6])).toEqual([
      { dst: '198.18.129.0/24', via: '198.18.0.2' },
      { dst: '198.18.132.0/24', via: '198.18.0.3', metric: 5 },
      { dst: 'fd42:18:129::/64', via: 'fd42:18::2', metric: 1024 },
    ]);
  });

  it('keeps a host route, skips other route types and junk', () => {
    expect(parseRoutes([{ dst: '198.18.140.9', gateway: '198.18.0.2' }, { type: 'blackhole', dst: '198.18.141.0/24' }, 'x', null, { dst: 'default', gateway: '198.18.0.254' }])).toEqual([
      { dst: '198.18.140.9/32', via: '198.18.0.2' },
    ]);
  });

  it('normalizes CIDRs so the kernel\'s text and the API\'s text compare equal', () => {
    expect(normalizeDst('fd42:0018:0129:0::/64')).toBe('fd42:18:129::/64');
    expect(normalizeDst('198.18.129.5/24')).toBe('198.18.129.0/24');
    expect(normalizeDst('fd42:18::5')).toBe('fd42:18::5/128');
    expect(normalizeDst('garbage')).toBeUndefined();
  });
});
