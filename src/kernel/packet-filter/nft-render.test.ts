// The model rendered as nft commands, shape by shape, in the printed form `nft -s list` gives back
// (src/tests/nft.test.ts checks the same forms against the real nft): matches in the model's field
// order, actions, comments last, dispatch as a verdict map, hooks as base chains, 'nets' sets as
// the CIDRs of entries minus excepts (net/ip.ts cidrsMinus, checked here address by address).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Cidr, cidrsMinus, formatCidr, lastOf, networkOf, parseCidr } from '../../net/ip.js';
import { RefusedNftText } from '../nft-text.js';
import type { Rule } from './model.js';
import {
  addMapLines,
  addSetLines,
  deleteTableText,
  dispatchElementLines,
  hookChains,
  joinNft,
  nftChainName,
  printedHook,
  printedRule,
  printedStep,
  refillChainLines,
  replaceTableText,
  setElementLines,
  setElements,
} from './nft-render.js';

const p4 = (r: Rule): string => printedRule(r, 4);
const p6 = (r: Rule): string => printedRule(r, 6);

describe('printedRule', () => {
  it('addresses, interfaces, protocols and ports', () => {
    expect(p4({ src: { cidr: '198.18.0.1' }, action: { kind: 'return' } })).toBe('ip saddr 198.18.0.1 return');
    expect(p4({ src: { cidr: '198.18.0.1/32' }, action: { kind: 'return' } })).toBe('ip saddr 198.18.0.1 return');
    expect(p4({ dst: { cidr: '224.0.0.0/4', not: true }, action: { kind: 'accept' } })).toBe('ip daddr != 224.0.0.0/4 accept');
    expect(p6({ src: { cidr: 'fd42:18:0::/64' }, dst: { cidr: 'fd42:18::11/128' }, action: { kind: 'drop' } })).toBe('ip6 saddr fd42:18::/64 ip6 daddr fd42:18::11 drop');
    expect(p4({ iif: { name: 'br0' }, oif: { name: 'br0', not: true }, action: { kind: 'accept' } })).toBe('iifname "br0" oifname != "br0" accept');
    expect(p4({ proto: 'tcp', action: { kind: 'return' } })).toBe('meta l4proto tcp return');
    expect(p4({ proto: 'sctp', action: { kind: 'return' } })).toBe('meta l4proto sctp return');
    expect(p4({ proto: 'udp', dport: { from: 53, to: 53 }, action: { kind: 'return' } })).toBe('udp dport 53 return');
    expect(p4({ proto: 'tcp', dport: { from: 80, to: 90 }, action: { kind: 'return' } })).toBe('tcp dport 80-90 return');
    expect(p6({ proto: 'icmpv6', action: { kind: 'return' } })).toBe('meta l4proto ipv6-icmp return');
    expect(p6({ proto: 'icmpv6', icmpv6Type: 135, action: { kind: 'return' } })).toBe('icmpv6 type nd-neighbor-solicit return');
    expect(p6({ proto: 'icmpv6', icmpv6Type: 200, action: { kind: 'return' } })).toBe('icmpv6 type 200 return');
  });

  it('sets, conntrack, marks, limits and comments in the model order', () => {
    expect(p4({ proto: 'tcp', comment: 'x/y ingress rule 0', sets: [{ set: 'gh-np4-a', dir: 'src' }, { set: 'gh-np4-b', dir: 'dst' }], dport: { from: 80, to: 80 }, action: { kind: 'mark', value: 0x20000, mask: 0x20000 } })).toBe(
      'ip saddr @gh-np4-a ip daddr @gh-np4-b tcp dport 80 meta mark set meta mark | 0x00020000 comment "x/y ingress rule 0"',
    );
    expect(p4({ proto: 'udp', sets: [{ set: 'gh-np4-a', dir: 'src' }], action: { kind: 'return' } })).toBe('meta l4proto udp ip saddr @gh-np4-a return');
    expect(p4({ ct: 'established-related', action: { kind: 'return' } })).toBe('ct state established,related return');
    expect(p4({ ct: 'new', mark: { value: 0x20000, mask: 0x20000 }, limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: 'gingham accept ingress X', group: 9917, snaplen: 128 } })).toBe(
      'ct state new meta mark & 0x00020000 == 0x00020000 limit rate 10/second burst 20 packets log prefix "gingham accept ingress X" group 9917 snaplen 128',
    );
    expect(p4({ limit: { perSecond: 3, burst: 5 }, action: { kind: 'drop' } })).toBe('limit rate 3/second drop');
    expect(p4({ mark: { value: 5, mask: 0xffffffff }, action: { kind: 'return' } })).toBe('meta mark 0x00000005 return');
    expect(p4({ mark: { value: 0, mask: 0x40000 }, action: { kind: 'return' } })).toBe('meta mark & 0x00040000 == 0x00000000 return');
    expect(p4({ comment: 'a\\b #;{}', action: { kind: 'return' } })).toBe('return comment "a\\b #;{}"');
    // Comments are free text: what nft cannot say becomes '?', so a name can never stop a ruleset.
    expect(p4({ comment: 'rule "a" $b\n', action: { kind: 'return' } })).toBe('return comment "rule ?a? ?b?"');
    expect(p4({ comment: 'x'.repeat(129), action: { kind: 'return' } })).toBe(`return comment "${'x'.repeat(128)}"`);
  });

  it('actions', () => {
    expect(p4({ action: { kind: 'masquerade' } })).toBe('masquerade');
    expect(p4({ proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } })).toBe('meta l4proto tcp reject with tcp reset');
    expect(p6({ action: { kind: 'reject', with: 'port-unreachable' } })).toBe('reject');
    expect(p6({ dst: { cidr: 'fd42:18:48::/112' }, action: { kind: 'reject', with: 'port-unreachable' } })).toBe('ip6 daddr fd42:18:48::/112 reject with icmpv6 port-unreachable');
    expect(p4({ sets: [{ set: 'gingham-np4-a', dir: 'src' }], action: { kind: 'reject', with: 'port-unreachable' } })).toBe('ip saddr @gingham-np4-a reject with icmp port-unreachable');
    expect(p6({ action: { kind: 'jump', chain: 'GINGHAM-NP-POL' } })).toBe('jump GINGHAM-NP-POL-6');
    expect(p4({ action: { kind: 'goto', chain: 'GINGHAM-NP-POL' } })).toBe('goto GINGHAM-NP-POL-4');
    expect(p4({ action: { kind: 'mark', value: 0, mask: 0x20000 } })).toBe('meta mark set meta mark & 0xfffdffff');
    expect(p4({ action: { kind: 'mark', value: 0x10000, mask: 0x30000 } })).toBe('meta mark set meta mark & 0xfffdffff | 0x00010000');
    expect(p4({ action: { kind: 'mark', value: 7, mask: 0xffffffff } })).toBe('meta mark set 0x00000007');
    expect(p4({ action: { kind: 'log', prefix: 'p', group: 0, snaplen: 0 } })).toBe('log prefix "p" group 0 snaplen 0');
  });

  it('refuses what nft would read otherwise or not at all', () => {
    const bad: [Rule, 4 | 6][] = [
      [{ proto: 'icmpv6', action: { kind: 'return' } }, 4],
      [{ dport: { from: 80, to: 80 }, action: { kind: 'return' } }, 4],
      [{ icmpv6Type: 135, action: { kind: 'return' } }, 6],
      [{ action: { kind: 'reject', with: 'tcp-reset' } }, 4],
      [{ src: { cidr: 'fd42::1' }, action: { kind: 'return' } }, 4],
      [{ src: { cidr: 'localhost' }, action: { kind: 'return' } }, 4],
      [{ iif: { name: 'eth*' }, action: { kind: 'return' } }, 4],
      [{ iif: { name: 'x'.repeat(16) }, action: { kind: 'return' } }, 4],
      [{ mark: { value: 1, mask: 0 }, action: { kind: 'return' } }, 4],
      [{ mark: { value: 3, mask: 1 }, action: { kind: 'return' } }, 4],
      [{ action: { kind: 'mark', value: 0, mask: 0 } }, 4],
      [{ action: { kind: 'mark', value: 2, mask: 1 } }, 4],
      [{ action: { kind: 'log', prefix: '', group: 1, snaplen: 1 } }, 4],
      [{ action: { kind: 'log', prefix: 'x'.repeat(128), group: 1, snaplen: 1 } }, 4],
      [{ action: { kind: 'log', prefix: 'a$b', group: 1, snaplen: 1 } }, 4],
      [{ action: { kind: 'jump', chain: 'a b' } }, 4],
      [{ sets: [{ set: 'a b', dir: 'src' }], action: { kind: 'return' } }, 4],
      [{ limit: { perSecond: 0, burst: 5 }, action: { kind: 'return' } }, 4],
    ];
    for (const [r, f] of bad) expect(() => printedRule(r, f), JSON.stringify(r)).toThrow(RefusedNftText);
  });

  it('is memoised per rule object', () => {
    const r: Rule = { action: { kind: 'accept' } };
    expect(printedRule(r, 4)).toBe(printedRule(r, 4));
    expect(nftChainName('GINGHAM-NP-EGRESS', 6)).toBe('GINGHAM-NP-EGRESS-6');
  });
});

describe('tables', () => {
  const want = {
    4: {
      sets: [
        { name: 'gh-np4-a', family: 4, kind: 'addrs', entries: ['198.18.0.2', '198.18.0.1'] },
        { name: 'gh-np4-n', family: 4, kind: 'nets', entries: ['198.18.0.0/24'], except: ['198.18.0.0/25'] },
        { name: 'gh-np4-e', family: 4, kind: 'addrs', entries: [] },
      ],
      chains: [
        { name: 'GH-EGRESS', rules: [{ dispatch: { by: 'src', map: 'GH-EGRESS-MAP', entries: [{ addr: '198.18.0.1', chain: 'GH-POD', comment: 'ns/p' }] } }, { action: { kind: 'return' } }] },
        { name: 'GH-POD', rules: [{ sets: [{ set: 'gh-np4-a', dir: 'dst' }], action: { kind: 'return' } }] },
      ],
      hooks: [
        { at: 'forward', chain: 'GH-EGRESS' },
        { at: 'postrouting', chain: 'GH-POD', source: '198.18.0.0/24' },
      ],
    },
    6: { sets: [], chains: [{ name: 'GH-EGRESS', rules: [{ dispatch: { by: 'dst', map: 'GH-EGRESS-MAP', entries: [] } }] }], hooks: [{ at: 'forward', chain: 'GH-EGRESS' }] },
  } as const;

  it('replaces a whole table in one document: sets, chains, maps, rules, base chains', () => {
    expect(replaceTableText('gingham-policy', want).split('\n')).toEqual([
      'add table inet gingham-policy',
      'delete table inet gingham-policy',
      'add table inet gingham-policy',
      'add set inet gingham-policy gh-np4-a { type ipv4_addr; }',
      'add element inet gingham-policy gh-np4-a { 198.18.0.2, 198.18.0.1 }',
      'add set inet gingham-policy gh-np4-n { type ipv4_addr; flags interval; }',
      'add element inet gingham-policy gh-np4-n { 198.18.0.128/25 }',
      'add set inet gingham-policy gh-np4-e { type ipv4_addr; }',
      'add chain inet gingham-policy GH-EGRESS-4',
      'add chain inet gingham-policy GH-POD-4',
      'add chain inet gingham-policy GH-EGRESS-6',
      'add map inet gingham-policy GH-EGRESS-MAP-4 { type ipv4_addr : verdict; }',
      'add element inet gingham-policy GH-EGRESS-MAP-4 { 198.18.0.1 : jump GH-POD-4 }',
      'add map inet gingham-policy GH-EGRESS-MAP-6 { type ipv6_addr : verdict; }',
      'add rule inet gingham-policy GH-EGRESS-4 ip saddr vmap @GH-EGRESS-MAP-4',
      'add rule inet gingham-policy GH-EGRESS-4 return',
      'add rule inet gingham-policy GH-POD-4 ip daddr @gh-np4-a return',
      'add rule inet gingham-policy GH-EGRESS-6 ip6 daddr vmap @GH-EGRESS-MAP-6',
      'add chain inet gingham-policy hook-forward { type filter hook forward priority filter - 10; policy accept; }',
      'add rule inet gingham-policy hook-forward meta nfproto ipv4 jump GH-EGRESS-4',
      'add rule inet gingham-policy hook-forward meta nfproto ipv6 jump GH-EGRESS-6',
      'add chain inet gingham-policy hook-postrouting { type nat hook postrouting priority srcnat + 10; policy accept; }',
      'add rule inet gingham-policy hook-postrouting ip saddr 198.18.0.0/24 jump GH-POD-4',
      '',
    ]);
    expect(printedHook('postrouting')).toBe('type nat hook postrouting priority srcnat + 10; policy accept;');
    expect([...hookChains(want).keys()]).toEqual(['forward', 'postrouting']);
    expect(printedStep(want[6].chains[0]!.rules[0]!, 6)).toBe('ip6 daddr vmap @GH-EGRESS-MAP-6');
  });

  it('refuses a set of the other family and a table name outside our alphabet', () => {
    expect(() => replaceTableText('gingham', { 4: { sets: [{ name: 'gh-x6', family: 6, kind: 'addrs', entries: [] }], chains: [], hooks: [] }, 6: { sets: [], chains: [], hooks: [] } })).toThrow(RefusedNftText);
    expect(() => deleteTableText('filter')).toThrow(RefusedNftText);
    expect(deleteTableText('gh-net-0123')).toBe('add table inet gh-net-0123\ndelete table inet gh-net-0123\n');
  });

  it('event pieces join into one document', () => {
    const set = { name: 'gh-np6-a', family: 6, kind: 'addrs', entries: ['fd42:18::1'] } as const;
    expect(
      joinNft(
        addSetLines('gingham-policy', set),
        setElementLines('gingham-policy', 'delete', set, ['fd42:18:0::1']),
        setElementLines('gingham-policy', 'add', set, []),
        addMapLines('gingham-policy', { by: 'src', map: 'GH-M', entries: [] }, 6),
        dispatchElementLines('gingham-policy', 'delete', 'GH-M', 6, [{ addr: 'fd42:18::1', chain: 'GH-POD' }]),
        refillChainLines('gingham-policy', { name: 'GH-POD', rules: [{ action: { kind: 'drop' } }] }, 6),
      ),
    ).toBe(
      [
        'add set inet gingham-policy gh-np6-a { type ipv6_addr; }',
        'add element inet gingham-policy gh-np6-a { fd42:18::1 }',
        'delete element inet gingham-policy gh-np6-a { fd42:18::1 }',
        'add map inet gingham-policy GH-M-6 { type ipv6_addr : verdict; }',
        'delete element inet gingham-policy GH-M-6 { fd42:18::1 }',
        'flush chain inet gingham-policy GH-POD-6',
        'add rule inet gingham-policy GH-POD-6 drop',
        '',
      ].join('\n'),
    );
    expect(() => setElementLines('gingham-policy', 'add', set, ['localhost'])).toThrow(RefusedNftText);
  });

  it("'nets' sets: entries minus excepts as the fewest CIDRs", () => {
    expect(setElements({ name: 'gh-n', family: 4, kind: 'nets', entries: ['198.18.0.0/16'], except: ['198.18.0.0/17', '198.18.192.0/18'] })).toEqual(['198.18.128.0/18']);
    expect(setElements({ name: 'gh-n', family: 4, kind: 'nets', entries: ['198.18.0.0/25', '198.18.0.128/25', '198.18.1.7/32'] })).toEqual(['198.18.0.0/24', '198.18.1.7']);
    expect(setElements({ name: 'gh-n', family: 6, kind: 'nets', entries: ['fd42:18::/64'], except: ['fd42:18::/65'] })).toEqual(['fd42:18:0:0:8000::/65']);
    expect(setElements({ name: 'gh-n', family: 4, kind: 'nets', entries: ['198.18.0.0/24'], except: ['198.18.0.0/23'] })).toEqual([]);
  });
});

describe('cidrsMinus', () => {
  const BASE = 0xc6120000n; // 198.18.0.0: a /24 of it, every address checked
  const cidr = fc.tuple(fc.integer({ min: 24, max: 32 }), fc.integer({ min: 0, max: 255 })).map(([prefix, host]): Cidr => ({ ip: { family: 4, value: BASE + BigInt(host) }, prefix }));
  const covers = (cs: readonly Cidr[], v: bigint): boolean => cs.some((c) => networkOf(c).value <= v && v <= lastOf(c).value);

  it('covers exactly the included addresses not excluded, sorted, disjoint, no two halves of one block', () => {
    fc.assert(
      fc.property(fc.array(cidr, { maxLength: 6 }), fc.array(cidr, { maxLength: 6 }), (inc, exc) => {
        const out = cidrsMinus(4, inc, exc);
        const got: boolean[] = [];
        const want: boolean[] = [];
        for (let h = 0n; h < 256n; h++) {
          got.push(covers(out, BASE + h));
          want.push(covers(inc, BASE + h) && !covers(exc, BASE + h));
        }
        expect(got).toEqual(want);
        for (let i = 1; i < out.length; i++) {
          const a = out[i - 1]!;
          const b = out[i]!;
          expect(lastOf(a).value < networkOf(b).value).toBe(true);
          // Two halves of one block would be one CIDR in a minimal list.
          const buddies = a.prefix === b.prefix && a.prefix > 0 && networkOf({ ip: a.ip, prefix: a.prefix - 1 }).value === networkOf({ ip: b.ip, prefix: b.prefix - 1 }).value;
          expect(buddies).toBe(false);
        }
        for (const c of out) expect(formatCidr(c)).toBe(formatCidr({ ip: networkOf(c), prefix: c.prefix }));
      }),
      { seed: 17_2026, numRuns: 300 },
    );
  });

  it('refuses a CIDR of the other family', () => {
    expect(() => cidrsMinus(4, [parseCidr('fd42::/64')!])).toThrow();
  });
});
