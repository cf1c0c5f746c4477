import { describe, expect, it } from 'vitest';
import { Code } from '../cni/errors.js';
import type { Obj } from '../cni/validate.js';
import { formatCidr, formatIp } from '../net/ip.js';
import { DEFAULT_DATA_DIR, type Range, parseIpamConfig } from './config.js';

const invalid = (msg: RegExp): unknown => expect.objectContaining({ name: 'CniError', code: Code.InvalidConfig, message: expect.stringMatching(msg) });

/** A range as text, for readable comparisons. */
const show = (r: Range): Record<string, string> => ({ subnet: formatCidr(r.subnet), start: formatIp(r.start), end: formatIp(r.end), gateway: formatIp(r.gateway) });

const oneRange = (range: Obj): Record<string, string> => {
  const set = parseIpamConfig({ ranges: [[range]] }).rangeSets[0];
  if (set?.length !== 1 || !set[0]) throw new Error('test setup: expected one range');
  return show(set[0]);
};

describe('range defaults (as host-local)', () => {
  it('IPv4: start = network+1, end = broadcast-1, gateway = network+1', () => {
    expect(oneRange({ subnet: '198.18.16.0/24' })).toEqual({ subnet: '198.18.16.0/24', start: '198.18.16.1', end: '198.18.16.254', gateway: '198.18.16.1' });
  });

  it('IPv6: the range ends at the last address', () => {
    expect(oneRange({ subnet: 'fd42:19::/120' })).toEqual({ subnet: 'fd42:19::/120', start: 'fd42:19::1', end: 'fd42:19::ff', gateway: 'fd42:19::1' });
  });

  it('the smallest subnets that can allocate: /30 and /126', () => {
    expect(oneRange({ subnet: '198.18.0.4/30' })).toMatchObject({ start: '198.18.0.5', end: '198.18.0.6' });
    expect(oneRange({ subnet: 'fd42:18::/126' })).toMatchObject({ start: 'fd42:18::1', end: 'fd42:18::3' });
  });

  it('takes rangeStart, rangeEnd and gateway as given', () => {
    expect(oneRange({ subnet: '198.18.0.0/24', rangeStart: '198.18.0.100', rangeEnd: '198.18.0.200', gateway: '198.18.0.254' })).toEqual({
      subnet: '198.18.0.0/24',
      start: '198.18.0.100',
      end: '198.18.0.200',
      gateway: '198.18.0.254',
    });
  });

  it('treats empty strings as absent', () => {
    expect(oneRange({ subnet: '198.18.0.0/24', rangeStart: '', rangeEnd: '', gateway: '' })).toMatchObject({ start: '198.18.0.1', end: '198.18.0.254', gateway: '198.18.0.1' });
  });
});

describe('parseIpamConfig', () => {
  it('reads the legacy single-subnet form as one set of one range', () => {
    const cfg = parseIpamConfig({ subnet: '198.18.0.0/24', rangeStart: '198.18.0.10', gateway: '198.18.0.1' });
    expect(cfg.rangeSets.map((s) => s.map(show))).toEqual([[{ subnet: '198.18.0.0/24', start: '198.18.0.10', end: '198.18.0.254', gateway: '198.18.0.1' }]]);
  });

  it('fills in dataDir, no routes and no exclusions', () => {
    const cfg = parseIpamConfig({ subnet: '198.18.0.0/24' });
    expect(cfg.dataDir).toBe(DEFAULT_DATA_DIR);
    expect(cfg.routes).toEqual([]);
    expect(cfg.exclude).toEqual([]);
    expect(cfg).not.toHaveProperty('resolvConf');
  });

  it('keeps dataDir and resolvConf', () => {
    const cfg = parseIpamConfig({ subnet: '198.18.0.0/24', dataDir: '/tmp/d', resolvConf: '/etc/resolv.conf' });
    expect(cfg.dataDir).toBe('/tmp/d');
    expect(cfg.resolvConf).toBe('/etc/resolv.conf');
  });

  it('reads a dual-stack config as two sets, several ranges in one set', () => {
    const cfg = parseIpamConfig({
      ranges: [[{ subnet: '198.18.0.0/24' }, { subnet: '198.18.1.0/24' }], [{ subnet: 'fd42:18::/64' }]],
    });
    expect(cfg.rangeSets.map((s) => s.map((r) => formatCidr(r.subnet)))).toEqual([['198.18.0.0/24', '198.18.1.0/24'], ['fd42:18::/64']]);
  });

  it('allows two ranges of one subnet that do not overlap', () => {
    const cfg = parseIpamConfig({
      ranges: [
        [
          { subnet: '198.18.0.0/24', rangeStart: '198.18.0.10', rangeEnd: '198.18.0.19' },
          { subnet: '198.18.0.0/24', rangeStart: '198.18.0.20', rangeEnd: '198.18.0.29' },
        ],
      ],
    });
    expect(cfg.rangeSets[0]).toHaveLength(2);
  });

  it.each<[string, Obj, RegExp]>([
    ['host bits set', { subnet: '198.18.0.1/24' }, /has host bits set; the network is 198\.18\.0\.0\/24/],
    ['a /31', { subnet: '198.18.0.0/31' }, /too small/],
    ['a /32', { subnet: '198.18.0.1/32' }, /too small/],
    ['a /127', { subnet: 'fd42:18::/127' }, /too small/],
    ['a subnet that is not a CIDR', { subnet: '198.18.0.0' }, /ipam.subnet is not a CIDR/],
    ['rangeStart outside the subnet', { subnet: '198.18.0.0/24', rangeStart: '198.18.1.5' }, /rangeStart 198\.18\.1\.5 is not in subnet/],
    ['rangeEnd outside the subnet', { subnet: '198.18.0.0/24', rangeEnd: '198.18.1.5' }, /rangeEnd 198\.18\.1\.5 is not in subnet/],
    ['rangeStart of the other family', { subnet: '198.18.0.0/24', rangeStart: 'fd42:18::5' }, /rangeStart fd42:18::5 is not in subnet/],
    ['gateway outside the subnet', { subnet: '198.18.0.0/24', gateway: '198.18.1.1' }, /gateway 198\.18\.1\.1 is not in subnet/],
    ['rangeStart not an address', { subnet: '198.18.0.0/24', rangeStart: '10.0.0' }, /rangeStart is not an IP address/],
    ['start after end', { subnet: '198.18.0.0/24', rangeStart: '198.18.0.50', rangeEnd: '198.18.0.40' }, /rangeStart 198\.18\.0\.50 is after rangeEnd 198\.18\.0\.40/],
    ['start after the default end', { subnet: '198.18.0.0/24', rangeStart: '198.18.0.255' }, /is after rangeEnd 198\.18\.0\.254/],
  ])('rejects %s', (_what, ipam, msg) => {
    expect(() => parseIpamConfig(ipam)).toThrow(invalid(msg));
  });

  it.each<[string, Obj, RegExp]>([
    ['neither ranges nor subnet', {}, /needs "ranges" or "subnet"/],
    ['ranges and subnet together', { ranges: [[{ subnet: '198.18.0.0/24' }]], subnet: '198.18.1.0/24' }, /either "ranges" or "subnet", not both/],
    ['an empty ranges', { ranges: [] }, /ipam.ranges is empty/],
    ['an empty set', { ranges: [[]] }, /ipam.ranges\[0\] must be a non-empty list/],
    ['a set that is not a list', { ranges: [{ subnet: '198.18.0.0/24' }] }, /ipam.ranges\[0\] must be a non-empty list/],
    ['ranges not a list', { ranges: { subnet: '198.18.0.0/24' } }, /ipam.ranges must be a list/],
    ['a range not an object', { ranges: [['198.18.0.0/24']] }, /ipam.ranges\[0\]\[0\] must be an object/],
    ['mixed families in a set', { ranges: [[{ subnet: '198.18.0.0/24' }, { subnet: 'fd42:18::/64' }]] }, /ipam.ranges\[0\] mixes IPv4 and IPv6/],
    ['the same subnet twice in a set', { ranges: [[{ subnet: '198.18.0.0/24' }, { subnet: '198.18.0.0/24' }]] }, /ipam.ranges\[0\]\[1\] overlaps ipam.ranges\[0\]\[0\]/],
    ['nested subnets', { ranges: [[{ subnet: '198.18.0.0/16' }, { subnet: '198.18.3.0/24' }]] }, /ipam.ranges\[0\]\[1\] overlaps ipam.ranges\[0\]\[0\]/],
    ['overlap across sets', { ranges: [[{ subnet: '198.18.0.0/24' }], [{ subnet: '198.18.0.0/25' }]] }, /ipam.ranges\[1\]\[0\] overlaps ipam.ranges\[0\]\[0\]/],
    [
      'overlapping start-end in one subnet',
      {
        ranges: [
          [
            { subnet: '198.18.0.0/24', rangeStart: '198.18.0.10', rangeEnd: '198.18.0.20' },
            { subnet: '198.18.0.0/24', rangeStart: '198.18.0.20', rangeEnd: '198.18.0.30' },
          ],
        ],
      },
      /overlaps/,
    ],
  ])('rejects %s', (_what, ipam, msg) => {
    expect(() => parseIpamConfig(ipam)).toThrow(invalid(msg));
  });

  it('allows ranges of different families in different sets even when the numbers overlap', () => {
    // ::a00:0/120 has the same low bits as 198.18.0.0/24.
    expect(parseIpamConfig({ ranges: [[{ subnet: '198.18.0.0/24' }], [{ subnet: '::a00:0/120' }]] }).rangeSets).toHaveLength(2);
  });
});

describe('exclude', () => {
  it('takes entries with and without a prefix', () => {
    const cfg = parseIpamConfig({ subnet: '198.18.0.0/24', exclude: ['198.18.0.5', '198.18.0.16/28', 'fd42:18::7', 'fd42:18::100/120'] });
    expect(cfg.exclude.map(formatCidr)).toEqual(['198.18.0.5/32', '198.18.0.16/28', 'fd42:18::7/128', 'fd42:18::100/120']);
  });

  it.each<[unknown, RegExp]>([
    ['198.18.0.300', /ipam.exclude\[0\] is not a CIDR/],
    ['198.18.0.0/33', /ipam.exclude\[0\] is not a CIDR/],
    [5, /ipam.exclude\[0\] is not a CIDR/],
  ])('rejects %j', (entry, msg) => {
    expect(() => parseIpamConfig({ subnet: '198.18.0.0/24', exclude: [entry] })).toThrow(invalid(msg));
  });

  it('must be a list', () => {
    expect(() => parseIpamConfig({ subnet: '198.18.0.0/24', exclude: '198.18.0.5' })).toThrow(invalid(/ipam.exclude must be a list/));
  });
});

describe('routes', () => {
  it('reads routes and canonicalizes dst and gw', () => {
    const cfg = parseIpamConfig({
      subnet: '198.18.0.0/24',
      routes: [{ dst: '0.0.0.0/0' }, { dst: '198.19.7.9/16', gw: '198.18.0.254' }, { dst: 'FD42:18::/16', gw: 'FD42:18::0001' }],
    });
    expect(cfg.routes).toEqual([{ dst: '0.0.0.0/0' }, { dst: '198.19.0.0/16', gw: '198.18.0.254' }, { dst: 'fd42::/16', gw: 'fd42:18::1' }]);
  });

  it.each<[string, Obj, RegExp]>([
    ['an IPv6 gw for an IPv4 dst', { dst: '0.0.0.0/0', gw: 'fd42:18::1' }, /ipam.routes\[0\]: gw fd42:18::1 is not of the family of 0\.0\.0\.0\/0/],
    ['an IPv4 gw for an IPv6 dst', { dst: '::/0', gw: '198.18.0.1' }, /ipam.routes\[0\]: gw 198\.18\.0\.1 is not of the family of ::\/0/],
    ['a dst without prefix', { dst: '198.18.0.0' }, /ipam.routes\[0\].dst is not a CIDR/],
    ['a gw that is not an address', { dst: '0.0.0.0/0', gw: 'router' }, /ipam.routes\[0\].gw is not an IP address/],
  ])('rejects %s', (_what, route, msg) => {
    expect(() => parseIpamConfig({ subnet: '198.18.0.0/24', routes: [route] })).toThrow(invalid(msg));
  });
});

describe('checked at the edge (issue 14)', () => {
  it.each([
    ['/0', '0.0.0.0/0'],
    ['/1', '128.0.0.0/1'],
    ['/7', '198.0.0.0/7'],
    ['IPv6 /0', '::/0'],
    ['IPv6 /15', 'fd42::/15'],
  ])('refuses a %s subnet (the bridge would route it on-link)', (_what, subnet) => {
    expect(() => parseIpamConfig({ subnet })).toThrow(invalid(/is too large: the prefix must be at least/));
  });

  it('takes a /8 and an IPv6 /16', () => {
    expect(() => parseIpamConfig({ ranges: [[{ subnet: '198.0.0.0/8' }], [{ subnet: 'fd42::/16' }]] })).not.toThrow();
  });

  it.each([
    ['empty', ''],
    ['relative', 'var/lib/cni'],
    ['dot-relative', './d'],
    ['under /proc', '/proc/self/x'],
    ['under /proc via ..', '/tmp/../proc/x'],
    ['/sys itself', '/sys'],
    ['under /dev', '/dev/shm/x'],
    ['not a string', 7],
  ])('refuses a dataDir that is %s', (_what, dataDir) => {
    expect(() => parseIpamConfig({ subnet: '198.18.0.0/24', dataDir })).toThrow(invalid(/ipam.dataDir/));
  });

  it('normalizes an absolute dataDir', () => {
    expect(parseIpamConfig({ subnet: '198.18.0.0/24', dataDir: '/var//lib/./cni/g/' }).dataDir).toBe('/var/lib/cni/g/');
  });
});
