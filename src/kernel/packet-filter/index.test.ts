// The chooser and the nftables backend's decisions for the single-owner chains: which backend a
// dataplane name gives, and what the nftables backend writes for a table as read (nothing when it
// is exactly the wanted one as nft prints it, the whole table otherwise, its deletion for nothing).
import { describe, expect, it } from 'vitest';
import { parseNftList } from '../nft.js';
import { type Owner, NO_RULES, chainsBackend, otherBackends } from './index.js';
import type { FamilyRules } from './model.js';

const OWNER: Owner = { table: 'gh-test', chains: [{ name: 'T-MASQ', kind: 'nat' }] };
const NONE: FamilyRules = { sets: [], chains: [], hooks: [] };
const want = {
  4: {
    sets: [],
    chains: [{ name: 'T-MASQ', rules: [{ src: { cidr: '198.18.17.0/24' }, dst: { cidr: '198.18.16.0/20' }, action: { kind: 'return' } }, { src: { cidr: '198.18.17.0/24' }, dst: { cidr: '224.0.0.0/4', not: true }, action: { kind: 'masquerade' } }] }],
    hooks: [{ at: 'postrouting', chain: 'T-MASQ', comment: 'test' }],
  },
  6: NONE,
} as const;
// As nft 1.0.6 prints the table replaceTableText(want) makes (nft -s list table inet gh-test).
const LISTED = `table inet gh-test {
\tchain T-MASQ-4 {
\t\tip saddr 198.18.17.0/24 ip daddr 198.18.16.0/20 return
\t\tip saddr 198.18.17.0/24 ip daddr != 224.0.0.0/4 masquerade
\t}

\tchain hook-postrouting {
\t\ttype nat hook postrouting priority srcnat + 10; policy accept;
\t\tmeta nfproto ipv4 jump T-MASQ-4
\t}
}
`;
const NFT = chainsBackend('nftables');
const held = (listing: string | undefined) => ({ dataplane: 'nftables' as const, present: listing !== undefined, table: listing === undefined ? undefined : parseNftList(listing) });

describe('chainsBackend', () => {
  it('gives each dataplane its backend, and the others for cleaning up after a switch', () => {
    expect(chainsBackend('iptables').dataplane).toBe('iptables');
    expect(NFT.dataplane).toBe('nftables');
    expect(otherBackends('iptables').map((b) => b.dataplane)).toEqual(['nftables']);
    expect(otherBackends('nftables').map((b) => b.dataplane)).toEqual(['iptables']);
  });
});

describe('the nftables backend', () => {
  it('writes nothing when the table is exactly the wanted one', () => {
    expect(NFT.changes(OWNER, want, held(LISTED))).toEqual([]);
  });

  it('replaces the whole table, in one transaction, when absent or different in anything', () => {
    for (const listing of [undefined, LISTED.replace('198.18.16.0/20', '198.18.16.0/21'), LISTED.replace('\t}\n}', '\t\tdrop\n\t}\n}')]) {
      const [c, ...more] = NFT.changes(OWNER, want, held(listing));
      expect(more).toEqual([]);
      expect(c).toMatchObject({ dataplane: 'nftables', what: 'inet gh-test', command: 'nft -f -' });
      expect(c!.text.split('\n').slice(0, 3)).toEqual(['add table inet gh-test', 'delete table inet gh-test', 'add table inet gh-test']);
      expect(c!.text).toContain('add chain inet gh-test hook-postrouting { type nat hook postrouting priority srcnat + 10; policy accept; }');
    }
  });

  it('deletes the table when nothing is wanted, and only if it is there', () => {
    expect(NFT.changes(OWNER, NO_RULES, held(LISTED)).map((c) => c.text)).toEqual(['add table inet gh-test\ndelete table inet gh-test\n']);
    expect(NFT.changes(OWNER, NO_RULES, held(undefined))).toEqual([]);
  });

  it('prints a rule as nft lists it, for people', () => {
    expect(NFT.printed('T-MASQ', want[4].chains[0].rules[1], 4)).toBe('ip saddr 198.18.17.0/24 ip daddr != 224.0.0.0/4 masquerade');
  });
});
