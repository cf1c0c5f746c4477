import { IPv4, IPv6, collapseIPv6Number, expandIPv6Number } from 'ip-num';
import { describe, expect, it } from 'vitest';
import { type Cidr, type Ip, bits, canonical, contains, formatCidr, formatIp, lastOf, networkOf, offset, overlaps, parseCidr, parseIp, sameIp } from './ip.js';
import { rng } from '../testing.js';

const ip = (s: string): Ip => {
  const v = parseIp(s);
  if (!v) throw new Error(`test setup: ${s} does not parse`);
  return v;
};
const cidr = (s: string): Cidr => {
  const c = parseCidr(s);
  if (!c) throw new Error(`test setup: ${s} does not parse`);
  return c;
};

describe('parseIp: IPv4', () => {
  it.each([
    ['0.0.0.0', 0n],
    ['255.255.255.255', 0xffffffffn],
    ['198.18.16.5', 0xc6121005n],
    ['198.18.0.1', 0xc6120001n],
  ])('%s', (s, value) => {
    expect(parseIp(s)).toEqual({ family: 4, value });
  });

  it.each(['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '256.0.0.1', '1.2.3.1000', '1..2.3', '1.2.3.-1', '', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '1.2.3.4/24', 'a.b.c.d', '+1.2.3.4'])(
    'rejects %j',
    (s) => {
      expect(parseIp(s)).toBeUndefined();
    },
  );
});

describe('parseIp: IPv6', () => {
  it.each([
    ['::', 0n],
    ['::1', 1n],
    ['1::', 1n << 112n],
    ['2001:db8::1', 0x20010db8000000000000000000000001n],
    ['2001:DB8::A', 0x20010db800000000000000000000000an],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 0x20010db8000000000000000000000001n],
    ['1:2:3:4:5:6:7:8', 0x00010002000300040005000600070008n],
    // "::" may stand for a single zero group when parsing.
    ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
    ['::2:3:4:5:6:7:8', 0x00000002000300040005000600070008n],
  ])('%s', (s, value) => {
    expect(parseIp(s)).toEqual({ family: 6, value });
  });

  it.each([
    ['::ffff:1.2.3.4', 0xffff01020304n],
    ['::1.2.3.4', 0x01020304n],
    ['64:ff9b::192.0.2.33', 0x0064ff9b0000000000000000c0000221n],
    ['1:2:3:4:5:6:1.2.3.4', 0x00010002000300040005000601020304n],
  ])('embedded IPv4 %s', (s, value) => {
    expect(parseIp(s)).toEqual({ family: 6, value });
  });

  it.each([
    '1:2:3:4:5:6:7:8:9',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::1',
    ':1::',
    '1::2:',
    ':1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:',
    '::1.2.3',
    '::256.1.1.1',
    '::01.2.3.4',
    '::1.2.3.4:5',
    '1.2.3.4::',
    '1:2:3:4:5:6:7:1.2.3.4',
    'fe80::1%eth0',
    '2001:db8::1/64',
    ' ::1',
  ])('rejects %j', (s) => {
    expect(parseIp(s)).toBeUndefined();
  });
});

describe('formatIp', () => {
  it('prints IPv4 dotted decimal', () => {
    expect(formatIp({ family: 4, value: 0xc6121005n })).toBe('198.18.16.5');
    expect(formatIp({ family: 4, value: 0n })).toBe('0.0.0.0');
  });

  it.each([
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    // Leading zeros dropped, lower case.
    ['2001:0DB8:0:0:0:0:0:00A1', '2001:db8::a1'],
    // A single zero group is not compressed.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // The longest run is compressed ...
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    // ... and the first one on a tie.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:1:0:0:1:1', '1::1:0:0:1:1'],
    ['0:0:1:0:0:0:0:0', '0:0:1::'],
    ['0:0:0:1:0:0:0:1', '::1:0:0:0:1'],
  ])('RFC 5952: %s -> %s', (input, want) => {
    expect(formatIp(ip(input))).toBe(want);
  });

  it('prints an IPv4-mapped address as hex words (round-trips)', () => {
    const mapped = ip('::ffff:1.2.3.4');
    expect(formatIp(mapped)).toBe('::ffff:102:304');
    expect(parseIp(formatIp(mapped))).toEqual(mapped);
  });
});

describe('parse and format agree with ip-num on random addresses', () => {
  const rand = rng(20240611);
  const word = (): bigint => {
    const r = rand();
    if (r < 0.45) return 0n; // many zeros, so runs of every length and position occur
    if (r < 0.6) return BigInt(Math.floor(rand() * 16));
    return BigInt(Math.floor(rand() * 0x10000));
  };

  it('300 IPv6 addresses', () => {
    for (let n = 0; n < 300; n++) {
      let value = 0n;
      for (let w = 0; w < 8; w++) value = (value << 16n) | word();
      const theirs = IPv6.fromBigInt(value);
      const text = formatIp({ family: 6, value });
      expect(text, `value ${value.toString(16)}`).toBe(collapseIPv6Number(theirs.toString()));
      expect(parseIp(text)).toEqual({ family: 6, value });
      expect(parseIp(expandIPv6Number(text))).toEqual({ family: 6, value });
      expect(new IPv6(text).getValue()).toBe(value);
    }
  });

  it('300 IPv4 addresses', () => {
    for (let n = 0; n < 300; n++) {
      const value = BigInt(Math.floor(rand() * 2 ** 32));
      const text = formatIp({ family: 4, value });
      expect(text).toBe(IPv4.fromNumber(value).toString());
      expect(parseIp(text)).toEqual({ family: 4, value });
    }
  });

  it('100 IPv6 addresses with an embedded IPv4 tail', () => {
    for (let n = 0; n < 100; n++) {
      const v4 = BigInt(Math.floor(rand() * 2 ** 32));
      const prefix = rand() < 0.5 ? '::ffff:' : '64:ff9b::';
      const text = `${prefix}${IPv4.fromNumber(v4).toString()}`;
      expect(parseIp(text)?.value, text).toBe(new IPv6(text).getValue());
    }
  });
});

describe('parseCidr / formatCidr', () => {
  it('keeps host bits', () => {
    expect(parseCidr('198.18.16.5/24')).toEqual({ ip: { family: 4, value: 0xc6121005n }, prefix: 24 });
  });

  it.each(['198.18.0.0/0', '198.18.0.0/32', '::/0', '2001:db8::/128'])('accepts %s', (s) => {
    expect(formatCidr(cidr(s))).toBe(s);
  });

  it('formats IPv6 CIDRs canonically', () => {
    expect(formatCidr(cidr('2001:0DB8:0:0::1/64'))).toBe('2001:db8::1/64');
  });

  it.each(['198.18.0.0', '198.18.0.0/', '198.18.0.0/33', '::/129', '198.18.0.0/024', '198.18.0.0/-1', '198.18.0.0/24/1', '10.0.0/24', 'x/24', '/24', '198.18.0.0/ 24'])(
    'rejects %j',
    (s) => {
      expect(parseCidr(s)).toBeUndefined();
    },
  );
});

describe('networkOf / lastOf / canonical', () => {
  it.each([
    ['198.19.2.3/16', '198.19.0.0', '198.19.255.255'],
    ['198.19.2.3/32', '198.19.2.3', '198.19.2.3'],
    ['198.19.2.3/0', '0.0.0.0', '255.255.255.255'],
    ['198.18.1.130/25', '198.18.1.128', '198.18.1.255'],
    ['2001:db8::1:2/64', '2001:db8::', '2001:db8::ffff:ffff:ffff:ffff'],
    ['2001:db8::1/128', '2001:db8::1', '2001:db8::1'],
    ['::1/0', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('%s: network %s, last %s', (c, net, last) => {
    expect(formatIp(networkOf(cidr(c)))).toBe(net);
    expect(formatIp(lastOf(cidr(c)))).toBe(last);
  });

  it('canonical clears host bits and keeps the prefix', () => {
    expect(formatCidr(canonical(cidr('198.19.2.3/15')))).toBe('198.18.0.0/15');
    expect(formatCidr(canonical(cidr('fd42:18::5/120')))).toBe('fd42:18::/120');
  });

  it('bits', () => {
    expect(bits(4)).toBe(32);
    expect(bits(6)).toBe(128);
  });
});

describe('contains', () => {
  const net = cidr('198.18.1.0/24');
  it.each([
    ['198.18.1.0', true],
    ['198.18.1.255', true],
    ['198.18.1.77', true],
    ['198.18.0.255', false],
    ['198.18.2.0', false],
  ])('198.18.1.0/24 contains %s: %s', (a, want) => {
    expect(contains(net, ip(a))).toBe(want);
  });

  it('works on a CIDR with host bits', () => {
    expect(contains(cidr('198.18.1.200/24'), ip('198.18.1.3'))).toBe(true);
  });

  it('never matches across families', () => {
    // ::a00:100 has the same low 32 bits as 198.18.1.0.
    expect(contains(net, ip('::a00:100'))).toBe(false);
    expect(contains(cidr('::/0'), ip('198.18.1.1'))).toBe(false);
  });

  it('/0 holds every address of its family', () => {
    expect(contains(cidr('0.0.0.0/0'), ip('255.255.255.255'))).toBe(true);
    expect(contains(cidr('::/0'), ip('2001:db8::1'))).toBe(true);
  });
});

describe('overlaps', () => {
  it.each([
    ['198.18.0.0/15', '198.19.0.0/16', true],
    ['198.18.0.0/24', '198.18.0.0/24', true],
    ['198.18.0.0/24', '198.18.1.0/24', false],
    ['198.18.0.0/25', '198.18.0.128/25', false],
    // Host bits in either operand do not hide an overlap.
    ['198.18.0.200/16', '198.18.0.0/24', true],
    ['198.18.5.0/24', '198.18.200.1/16', true],
    ['fd42:18::/64', 'fd42:18::1:0/112', true],
    ['fd42:18::/64', 'fd42:18:0:1::/64', false],
    ['198.18.0.0/16', '::/0', false],
  ])('%s and %s: %s', (a, b, want) => {
    expect(overlaps(cidr(a), cidr(b))).toBe(want);
    expect(overlaps(cidr(b), cidr(a))).toBe(want);
  });
});

describe('sameIp / offset', () => {
  it('sameIp compares family and value', () => {
    expect(sameIp(ip('198.18.0.1'), ip('198.18.0.1'))).toBe(true);
    expect(sameIp(ip('198.18.0.1'), ip('198.18.0.2'))).toBe(false);
    expect(sameIp({ family: 4, value: 1n }, { family: 6, value: 1n })).toBe(false);
  });

  it('offset moves by a signed amount and keeps the family', () => {
    expect(formatIp(offset(ip('198.18.0.255'), 1n))).toBe('198.18.1.0');
    expect(formatIp(offset(ip('198.18.1.0'), -1n))).toBe('198.18.0.255');
    expect(offset(ip('fd42:18::ffff'), 1n)).toEqual(ip('fd42:18::1:0'));
  });
});
