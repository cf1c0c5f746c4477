import { describe, expect, it } from 'vitest';
import { type Route, diffRoutes, normalizeDst, parseRoutes, routeLines } from './routes.js';


describe('diffRoutes', () => {
  const desired: Route[] = [
    { dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' },
    { dst: '198.18.130.0/24', via: '198.18.0.3', node: 'n3' },
  ];
  const current = (...r: Route[]): Route[] => r;

  it('changes nothing when the kernel already matches', () => {
    expect(diffRoutes(desired, current({ dst: '198.18.130.0/24', via: '198.18.0.3' }, { dst: '198.18.129.0/24', via: '198.18.0.2' }))).toEqual({ replace: [], remove: [] });
  });

  it('adds what is missing', () => {
    expect(diffRoutes(desired, [])).toEqual({ replace: desired, remove: [] });
  });

  it('removes the route of a node that left', () => {
    const after = desired.slice(0, 1);
    const d = diffRoutes(after, current({ dst: '198.18.129.0/24', via: '198.18.0.2' }, { dst: '198.18.130.0/24', via: '198.18.0.3' }));
    expect(d).toEqual({ replace: [], remove: [{ dst: '198.18.130.0/24', via: '198.18.0.3' }] });
    expect(routeLines(d)).toEqual(['route del 198.18.130.0/24 via 198.18.0.3 proto 199']);
  });

  it('InternalIP change: replaces in place, deletes nothing', () => {
    const moved: Route[] = [{ dst: '198.18.129.0/24', via: '198.18.0.12', node: 'n2' }];
    const d = diffRoutes(moved, current({ dst: '198.18.129.0/24', via: '198.18.0.2' }));
    expect(d).toEqual({ replace: [{ dst: '198.18.129.0/24', via: '198.18.0.12', node: 'n2' }], remove: [] });
    expect(routeLines(d)).toEqual(['route replace 198.18.129.0/24 via 198.18.0.12 proto 199']);
  });

  it('a route nobody wants goes', () => {
    const d = diffRoutes([], current({ dst: '198.18.129.0/24', via: '198.18.0.2' }));
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

  it('vxlan: a route through the device is onlink; the same gateway on another device is replaced', () => {
    const want: Route[] = [{ dst: '198.18.129.0/24', via: '198.18.129.0', dev: 'gingham-vx4', node: 'n2' }];
    expect(diffRoutes(want, [{ dst: '198.18.129.0/24', via: '198.18.129.0', dev: 'gingham-vx4' }])).toEqual({ replace: [], remove: [] });
    const d = diffRoutes(want, [{ dst: '198.18.129.0/24', via: '198.18.0.2', dev: 'eth0' }]);
    expect(routeLines(d)).toEqual(['route replace 198.18.129.0/24 via 198.18.129.0 dev gingham-vx4 onlink proto 199']);
  });

  it('IPv6 onto the VXLAN device: the old route goes first (the kernel checks the onlink gateway against it)', () => {
    const want: Route[] = [{ dst: 'fd42:18:129::/64', via: 'fd42:18:129::', dev: 'gingham-vx6' }];
    const d = diffRoutes(want, [{ dst: 'fd42:18:129::/64', via: 'fd42:18::2', dev: 'eth0', metric: 1024 }]);
    expect(routeLines(d)).toEqual(['route del fd42:18:129::/64 via fd42:18::2 proto 199 metric 1024', 'route replace fd42:18:129::/64 via fd42:18:129:: dev gingham-vx6 onlink proto 199']);
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
      { dst: '198.18.129.0/24', via: '198.18.0.2', dev: 'uplink' },
      { dst: '198.18.132.0/24', via: '198.18.0.3', dev: 'uplink', metric: 5 },
      { dst: 'fd42:18:129::/64', via: 'fd42:18::2', dev: 'uplink', metric: 1024 },
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
