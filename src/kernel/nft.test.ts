// The parser of nft's printed form (nft.ts parseNftList) on a listing nft 1.0.6 printed for a
// table that nft-render.ts wrote: sets with elements over several lines, a verdict map, regular
// and base chains, quoted comments. The round trip against the real nft is src/tests/nft.test.ts.
import { describe, expect, it } from 'vitest';
import { NftReadError, parseNftList, parseNftVersion } from './nft.js';

const LISTING = [
  "table inet gingham-policy {",
  "\tset gh-a4 {",
  "\t\ttype ipv4_addr",
  "\t\telements = { 198.18.0.1, 198.18.0.2 }",
  "\t}",
  "",
  "\tset gh-n4 {",
  "\t\ttype ipv4_addr",
  "\t\tflags interval",
  "\t\telements = { 198.18.0.4/30, 198.18.0.8/29,",
  "\t\t\t     198.18.0.16/28, 198.18.0.32/27,",
  "\t\t\t     198.18.0.64/26, 198.18.0.128/25,",
  "\t\t\t     198.18.1.0/24, 198.18.2.0/23,",
  "\t\t\t     198.18.5.0/24, 198.18.6.0/23,",
  "\t\t\t     198.18.8.0/21, 198.18.16.0/20,",
  "\t\t\t     198.18.32.0/19, 198.18.64.0/18,",
  "\t\t\t     198.18.128.0/17 }",
  "\t}",
  "",
  "\tmap GH-D-4 {",
  "\t\ttype ipv4_addr : verdict",
  "\t\telements = { 198.18.0.5 : jump GH-P-4 }",
  "\t}",
  "",
  "\tchain GH-A-4 {",
  "\t\tip saddr 198.18.0.1 return",
  "\t\tip saddr @gh-a4 tcp dport 80-90 meta mark set meta mark | 0x00020000 comment \"x/y \u00e9\"",
  "\t\tip saddr vmap @GH-D-4",
  "\t\tct state new meta mark & 0x00020000 == 0x00020000 limit rate 10/second burst 20 packets log prefix \"gingham accept x\" group 9917 snaplen 128",
  "\t\tmeta l4proto tcp reject with tcp reset",
  "\t\treject",
  "\t}",
  "",
  "\tchain GH-P-4 {",
  "\t}",
  "",
  "\tchain GH-A-6 {",
  "\t\ticmpv6 type nd-neighbor-solicit return",
  "\t\treject",
  "\t}",
  "",
  "\tchain GH-M-6 {",
  "\t\tmasquerade",
  "\t}",
  "",
  "\tchain hook-forward {",
  "\t\ttype filter hook forward priority filter - 10; policy accept;",
  "\t\tmeta nfproto ipv4 jump GH-A-4",
  "\t\tip saddr 198.18.0.0/16 jump GH-A-4",
  "\t\tmeta nfproto ipv6 jump GH-A-6",
  "\t}",
  "",
  "\tchain hook-postrouting {",
  "\t\ttype nat hook postrouting priority srcnat + 10; policy accept;",
  "\t\tip6 saddr fd42::/64 jump GH-M-6",
  "\t}",
  "}",
].join('\n');

describe('parseNftList', () => {
  it('reads sets, maps and chains as nft prints them', () => {
    const t = parseNftList(`${LISTING}\n`);
    expect(t.sets.get('gh-a4')).toEqual({ kind: 'set', type: 'ipv4_addr', typeof: false, flags: [], elements: ['198.18.0.1', '198.18.0.2'] });
    const nets = t.sets.get('gh-n4')!;
    expect(nets.flags).toEqual(['interval']);
    expect(nets.elements).toHaveLength(15);
    // Sorted: a set has no order, and the wanted side (printedTable) sorts too.
    expect(nets.elements).toEqual([...nets.elements].sort());
    expect(nets.elements).toContain('198.18.0.4/30');
    expect(nets.elements).toContain('198.18.128.0/17');
    expect(t.sets.get('GH-D-4')).toEqual({ kind: 'map', type: 'ipv4_addr : verdict', typeof: false, flags: [], elements: ['198.18.0.5 : jump GH-P-4'] });
    expect(t.chains.get('GH-P-4')).toEqual({ rules: [] });
    expect(t.chains.get('GH-A-4')!.rules[1]).toBe('ip saddr @gh-a4 tcp dport 80-90 meta mark set meta mark | 0x00020000 comment "x/y é"');
    expect(t.chains.get('GH-A-4')!.rules).toHaveLength(6);
    expect(t.chains.get('hook-forward')).toEqual({
      base: 'type filter hook forward priority filter - 10; policy accept;',
      rules: ['meta nfproto ipv4 jump GH-A-4', 'ip saddr 198.18.0.0/16 jump GH-A-4', 'meta nfproto ipv6 jump GH-A-6'],
    });
    expect([...t.chains.keys()]).toEqual(['GH-A-4', 'GH-P-4', 'GH-A-6', 'GH-M-6', 'hook-forward', 'hook-postrouting']);
  });

  it('keeps quoted text whole: braces, commas and a closing brace inside quotes', () => {
    const t = parseNftList(['table inet t {', '\tset s {', '\t\ttype ipv4_addr', '\t\telements = { 198.18.0.1 comment "a, } b",', '\t\t\t     198.18.0.2 }', '\t}', '', '\tchain c-4 {', '\t\treturn comment "} { ; #"', '\t}', '}', ''].join('\n'));
    expect(t.sets.get('s')!.elements).toEqual(['198.18.0.1 comment "a, } b"', '198.18.0.2']);
    expect(t.chains.get('c-4')!.rules).toEqual(['return comment "} { ; #"']);
  });

  it('refuses what is not one table listing', () => {
    expect(() => parseNftList('')).toThrow(NftReadError);
    expect(() => parseNftList('table ip t {\n}\n')).toThrow(NftReadError);
    expect(() => parseNftList('table inet t {\n\tchain c {\n\t\treturn\n')).toThrow(NftReadError);
  });
});

describe('parseNftVersion', () => {
  it('reads the version line', () => {
    expect(parseNftVersion('nftables v1.0.6 (Lester Gooch #5)\n')).toEqual([1, 0, 6]);
    expect(parseNftVersion('nftables v0.9.8 (E.D.S.)')).toEqual([0, 9, 8]);
    expect(parseNftVersion('nope')).toBeUndefined();
  });
});
