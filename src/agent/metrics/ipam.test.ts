import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseIpamConfig } from '../../ipam/config.js';
import { Store } from '../../ipam/store.js';
import { buildConflist, renderConflist } from '../network/conflist.js';
import { allocatableCount, collectIpamUsage, ipamUsage, networksOfConflist } from './ipam.js';
import { registry } from './registry.js';
import { valueOf } from './testing.js';

describe('IPAM usage', () => {
  let dir: string;
  let data: string;
  let conflist: string;
  beforeEach(() => {
    registry.resetMetrics();
    dir = mkdtempSync(join(tmpdir(), 'gingham-ipamm-'));
    data = join(dir, 'data');
    conflist = join(dir, '10-gingham.conflist');
    writeFileSync(conflist, renderConflist(buildConflist({ podCIDRs: ['198.18.40.0/24', 'fd42:18:40::/64'] })));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const reserve = (network: string, id: string, ips: string[]): void => {
    const s = new Store(data, network);
    s.ensureDirs();
    s.reserve({ containerId: id, ifName: 'eth0', ips, created: '' });
  };

  it('counts what a range may hand out: no network address, gateway, IPv4 broadcast or excluded address', () => {
    const cfg = (ipam: object) => parseIpamConfig({ type: 'gingham', ...ipam });
    const v4 = cfg({ subnet: '198.18.40.0/24' });
    expect(allocatableCount(v4.rangeSets[0]![0]!, v4.exclude)).toBe(253);
    const ex = cfg({ subnet: '198.18.40.0/24', exclude: ['198.18.40.0/28', '198.18.40.200'] });
    expect(allocatableCount(ex.rangeSets[0]![0]!, ex.exclude)).toBe(253 - 14 - 1);
    const part = cfg({ subnet: '198.18.40.0/24', rangeStart: '198.18.40.100', rangeEnd: '198.18.40.109' });
    expect(allocatableCount(part.rangeSets[0]![0]!, part.exclude)).toBe(10);
    const v6 = cfg({ subnet: 'fd42:18:40::/120' });
    expect(allocatableCount(v6.rangeSets[0]![0]!, v6.exclude)).toBe(254);
  });

  it('used and free per network and range of the conflist; other networks\' addresses under range ""', () => {
    expect(ipamUsage(data, networksOfConflist(conflist))).toEqual([
      { network: 'gingham', range: '198.18.40.0/24', used: 0, free: 253 },
      { network: 'gingham', range: 'fd42:18:40::/64', used: 0, free: 2 ** 64 - 2 },
    ]);
    reserve('gingham', 'a', ['198.18.40.2/24', 'fd42:18:40::2/64']);
    reserve('gingham', 'b', ['198.18.40.3/24']);
    reserve('other', 'c', ['198.19.1.2/24']);
    expect(ipamUsage(data, networksOfConflist(conflist))).toEqual([
      { network: 'gingham', range: '198.18.40.0/24', used: 2, free: 251 },
      { network: 'gingham', range: 'fd42:18:40::/64', used: 1, free: 2 ** 64 - 3 },
      { network: 'other', range: '', used: 1 },
    ]);
  });

  it('no conflist and no data dir: nothing; the gauge follows the store', async () => {
    expect(ipamUsage(join(dir, 'none'), networksOfConflist(join(dir, 'none.conflist')))).toEqual([]);
    reserve('gingham', 'a', ['198.18.40.2/24']);
    collectIpamUsage(data, conflist);
    expect(await valueOf('gingham_ipam_addresses', { network: 'gingham', range: '198.18.40.0/24', state: 'used' })).toBe(1);
    expect(await valueOf('gingham_ipam_addresses', { network: 'gingham', range: '198.18.40.0/24', state: 'free' })).toBe(252);
    new Store(data, 'gingham').release({ containerId: 'a', ifName: 'eth0' });
    collectIpamUsage(data, conflist);
    expect(await valueOf('gingham_ipam_addresses', { network: 'gingham', range: '198.18.40.0/24', state: 'used' })).toBe(0);
  });
});
