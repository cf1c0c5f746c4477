import { describe, expect, it } from 'vitest';
import type { Obj } from '../cni/validate.js';
import { type Cidr, type Ip, formatIp, parseIp } from '../net/ip.js';
import { cidrs } from '../testing.js';
import { allocatable, nextFree, rangeOf } from './allocator.js';
import { type RangeSet, parseIpamConfig } from './config.js';

const ip = (s: string): Ip => {
  const v = parseIp(s);
  if (!v) throw new Error(`test setup: ${s}`);
  return v;
};

/** One range set built by the real config reader, so defaults are host-local's. */
const rangeSet = (...ranges: Obj[]): RangeSet => {
  const set = parseIpamConfig({ ranges: [ranges] }).rangeSets[0];
  if (!set) throw new Error('test setup: no set');
  return set;
};
/** A taken predicate over text addresses. */
const takenOf =
  (...held: string[]) =>
  (a: Ip): boolean =>
    held.includes(formatIp(a));
const none = takenOf();
const next = (set: RangeSet, taken: (a: Ip) => boolean, after?: string, exclude: Cidr[] = []): string | undefined => {
  const found = nextFree(set, taken, exclude, after === undefined ? undefined : ip(after));
  return found && formatIp(found.ip);
};

describe('nextFree', () => {
  const s24 = rangeSet({ subnet: '198.18.0.0/24' });

  it('starts at the beginning of the first range, skipping the gateway', () => {
    expect(next(s24, none)).toBe('198.18.0.2');
  });

  it('starts after `after`', () => {
    expect(next(s24, none, '198.18.0.5')).toBe('198.18.0.6');
  });

  it('skips taken addresses', () => {
    expect(next(s24, takenOf('198.18.0.6', '198.18.0.7'), '198.18.0.5')).toBe('198.18.0.8');
  });

  it('wraps round from the end of the range', () => {
    expect(next(s24, none, '198.18.0.254')).toBe('198.18.0.2');
  });

  it('does not hand out a just-released address while others are free', () => {
    // 198.18.0.7 was the last one reserved and has just been released.
    expect(next(s24, takenOf('198.18.0.2', '198.18.0.3'), '198.18.0.7')).toBe('198.18.0.8');
  });

  it('comes back to `after` itself only after going round once', () => {
    const all: string[] = [];
    for (let i = 2; i <= 254; i++) if (i !== 7) all.push(`198.18.0.${i}`);
    expect(next(s24, takenOf(...all), '198.18.0.7')).toBe('198.18.0.7');
  });

  it('finds a free address before `after` when the rest of the range is taken', () => {
    const rest: string[] = [];
    for (let i = 10; i <= 254; i++) rest.push(`198.18.0.${i}`);
    expect(next(s24, takenOf(...rest), '198.18.0.9')).toBe('198.18.0.2');
  });

  it('starts at the beginning when `after` is in no range (a stale hint)', () => {
    expect(next(s24, none, '198.19.0.9')).toBe('198.18.0.2');
    expect(next(s24, none, 'fd42:18::9')).toBe('198.18.0.2');
  });

  it('starts at the beginning when `after` is in the subnet but outside the range', () => {
    const set = rangeSet({ subnet: '198.18.0.0/24', rangeStart: '198.18.0.100', rangeEnd: '198.18.0.110' });
    expect(next(set, none, '198.18.0.50')).toBe('198.18.0.100');
    expect(next(set, none, '198.18.0.105')).toBe('198.18.0.106');
  });

  it('starts at the first range when `after` is past every range of the subnet (the range shrank)', () => {
    const set = rangeSet({ subnet: '198.18.0.0/24', rangeStart: '198.18.0.10', rangeEnd: '198.18.0.19' }, { subnet: '198.18.0.0/24', rangeStart: '198.18.0.20', rangeEnd: '198.18.0.29' });
    expect(next(set, none, '198.18.0.50')).toBe('198.18.0.10');
  });

  it('skips a gateway in the middle of the range', () => {
    const set = rangeSet({ subnet: '198.18.0.0/24', gateway: '198.18.0.10' });
    expect(next(set, none, '198.18.0.9')).toBe('198.18.0.11');
    expect(next(set, none)).toBe('198.18.0.1');
  });

  it('never hands out the network or the IPv4 broadcast address', () => {
    const set = rangeSet({ subnet: '198.18.0.0/30', rangeStart: '198.18.0.0', rangeEnd: '198.18.0.3', gateway: '198.18.0.1' });
    expect(next(set, none)).toBe('198.18.0.2');
    expect(next(set, none, '198.18.0.2')).toBe('198.18.0.2');
    expect(next(set, takenOf('198.18.0.2'))).toBeUndefined();
  });

  it('skips excluded addresses and subnets', () => {
    expect(next(s24, none, undefined, cidrs('198.18.0.2/32', '198.18.0.4/30'))).toBe('198.18.0.3');
    expect(next(s24, none, '198.18.0.3', cidrs('198.18.0.2/32', '198.18.0.4/30'))).toBe('198.18.0.8');
  });

  it('returns undefined when every address is taken or excluded', () => {
    const set = rangeSet({ subnet: '198.18.0.0/29' });
    expect(next(set, takenOf('198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5', '198.18.0.6'))).toBeUndefined();
    expect(next(set, takenOf('198.18.0.2', '198.18.0.3'), '198.18.0.3', cidrs('198.18.0.4/30'))).toBeUndefined();
  });

  it('returns the range the address came from', () => {
    const set = rangeSet({ subnet: '198.18.0.0/30' }, { subnet: '198.18.1.0/30' });
    expect(nextFree(set, takenOf('198.18.0.2'), [])?.range).toBe(set[1]);
  });

  it('asks `taken` only about allocatable addresses', () => {
    const asked: string[] = [];
    const set = rangeSet({ subnet: '198.18.0.0/29', rangeStart: '198.18.0.0', rangeEnd: '198.18.0.7' });
    nextFree(set, (a) => (asked.push(formatIp(a)), true), cidrs('198.18.0.4/32'));
    expect(asked).toEqual(['198.18.0.2', '198.18.0.3', '198.18.0.5', '198.18.0.6']);
  });

  describe('several ranges in one set', () => {
    // Each /30 has exactly one allocatable address: .2 (.1 is the gateway, .3 the broadcast).
    const set = rangeSet({ subnet: '198.18.0.0/30' }, { subnet: '198.18.1.0/30' }, { subnet: '198.18.2.0/30' });

    it('moves on to the next range', () => {
      expect(next(set, none, '198.18.0.2')).toBe('198.18.1.2');
      expect(next(set, none, '198.18.1.2')).toBe('198.18.2.2');
    });

    it('wraps from the last range to the first', () => {
      expect(next(set, none, '198.18.2.2')).toBe('198.18.0.2');
    });

    it('skips a full range on the way round', () => {
      expect(next(set, takenOf('198.18.2.2'), '198.18.1.2')).toBe('198.18.0.2');
    });

    it('searches the other ranges before the beginning of the current one', () => {
      const wide = rangeSet({ subnet: '198.18.0.0/29' }, { subnet: '198.18.1.0/29' });
      expect(next(wide, takenOf('198.18.0.5', '198.18.0.6'), '198.18.0.4')).toBe('198.18.1.2');
    });

    it('is undefined when all are full', () => {
      expect(next(set, takenOf('198.18.0.2', '198.18.1.2', '198.18.2.2'), '198.18.1.2')).toBeUndefined();
    });
  });

  describe('IPv6', () => {
    const set = rangeSet({ subnet: 'fd42:18::/120' });

    it('starts after the gateway and hands out the last address (no broadcast)', () => {
      expect(next(set, none)).toBe('fd42:18::2');
      expect(next(set, none, 'fd42:18::fe')).toBe('fd42:18::ff');
    });

    it('wraps round', () => {
      expect(next(set, none, 'fd42:18::ff')).toBe('fd42:18::2');
    });

    it('honours exclusions with /128 and shorter prefixes', () => {
      expect(next(set, none, undefined, cidrs('fd42:18::2/128', 'fd42:18::4/126'))).toBe('fd42:18::3');
      expect(next(set, none, 'fd42:18::3', cidrs('fd42:18::2/128', 'fd42:18::4/126'))).toBe('fd42:18::8');
    });

    // An excluded IPv6 block can span billions of addresses: the search must jump over it.
    it('finds nothing, quickly, when an exclusion covers the whole range', () => {
      const big = rangeSet({ subnet: 'fd42:18::/64' });
      expect(next(big, none, undefined, cidrs('fd42:18::/48'))).toBeUndefined();
    });

    it('steps over a large excluded block at once', () => {
      const big = rangeSet({ subnet: 'fd42:18::/64' });
      const t0 = performance.now();
      expect(next(big, none, undefined, cidrs('fd42:18::/108'))).toBe('fd42:18::10:0');
      expect(performance.now() - t0).toBeLessThan(100);
    });

    it('works in a large subnet', () => {
      const big = rangeSet({ subnet: '2001:db8::/64' });
      expect(next(big, none, '2001:db8::ffff:ffff')).toBe('2001:db8::1:0:0');
    });
  });
});

describe('allocatable / rangeOf', () => {
  const set = rangeSet({ subnet: '198.18.0.0/24', rangeStart: '198.18.0.0', rangeEnd: '198.18.0.255' }, { subnet: '198.18.1.0/24', rangeStart: '198.18.1.10', rangeEnd: '198.18.1.20' });
  const [r0, r1] = set;

  it.each([
    ['198.18.0.5', true],
    ['198.18.0.0', false], // network
    ['198.18.0.1', false], // gateway
    ['198.18.0.255', false], // broadcast
    ['198.18.1.5', false], // another subnet
    ['fd42:18::5', false], // another family
  ])('%s from range 0: %s', (a, want) => {
    expect(allocatable(r0!, ip(a), [])).toBe(want);
  });

  it('respects rangeStart/rangeEnd and exclusions', () => {
    expect(allocatable(r1!, ip('198.18.1.9'), [])).toBe(false);
    expect(allocatable(r1!, ip('198.18.1.10'), [])).toBe(true);
    expect(allocatable(r1!, ip('198.18.1.20'), [])).toBe(true);
    expect(allocatable(r1!, ip('198.18.1.21'), [])).toBe(false);
    expect(allocatable(r1!, ip('198.18.1.15'), cidrs('198.18.1.12/30'))).toBe(false);
  });

  it('rangeOf finds the range that may hand the address out', () => {
    expect(rangeOf(set, ip('198.18.1.15'), [])).toBe(r1);
    expect(rangeOf(set, ip('198.18.0.15'), [])).toBe(r0);
    expect(rangeOf(set, ip('198.18.1.5'), [])).toBeUndefined();
    expect(rangeOf(set, ip('198.18.0.15'), cidrs('198.18.0.15/32'))).toBeUndefined();
  });
});
