// The iptables renderer prints exactly what `iptables -S` prints for every rule shape gingham
// writes (the strings below are the ones the pure layers wrote before the seam model).
import { describe, expect, it } from 'vitest';
import { iptablesRule, iptablesRules } from './iptables-render.js';
import type { Dispatch, Rule } from './model.js';

describe('iptablesRule', () => {
  const cases: [Rule, 4 | 6, string][] = [
    [{ src: { cidr: '198.18.16.0/24' }, dst: { cidr: '198.18.0.0/16' }, action: { kind: 'return' } }, 4, '-s 198.18.16.0/24 -d 198.18.0.0/16 -j RETURN'],
    [{ src: { cidr: '198.18.16.0/24' }, dst: { cidr: '224.0.0.0/4', not: true }, action: { kind: 'masquerade' } }, 4, '-s 198.18.16.0/24 ! -d 224.0.0.0/4 -j MASQUERADE'],
    [{ dst: { cidr: 'fd42:18:6400::/112' }, action: { kind: 'reject', with: 'port-unreachable' } }, 6, '-d fd42:18:6400::/112 -j REJECT --reject-with icmp6-port-unreachable'],
    [{ iif: { name: 'gh0' }, oif: { name: 'gh0', not: true }, action: { kind: 'drop' } }, 4, '-i gh0 ! -o gh0 -j DROP'],
    [{ proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } }, 4, '-p tcp -j REJECT --reject-with tcp-reset'],
    [{ action: { kind: 'reject', with: 'port-unreachable' } }, 4, '-j REJECT --reject-with icmp-port-unreachable'],
    [{ action: { kind: 'mark', value: 0x20000, mask: 0x20000 } }, 4, '-j MARK --set-xmark 0x20000/0x20000'],
    [{ action: { kind: 'mark', value: 0, mask: 0x60000 } }, 4, '-j MARK --set-xmark 0x0/0x60000'],
    [{ mark: { value: 0x20000, mask: 0x20000 }, action: { kind: 'return' } }, 4, '-m mark --mark 0x20000/0x20000 -j RETURN'],
    [{ ct: 'established-related', action: { kind: 'return' } }, 6, '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN'],
    [{ proto: 'icmpv6', icmpv6Type: 135, action: { kind: 'return' } }, 6, '-p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN'],
    [
      { proto: 'tcp', comment: 'default/web ingress rule 0', sets: [{ set: 'gingham-np4-0123456789ab', dir: 'src' }, { set: 'gingham-np4-ba9876543210', dir: 'dst' }], dport: { from: 80, to: 90 }, action: { kind: 'mark', value: 0x20000, mask: 0x20000 } },
      4,
      '-p tcp -m comment --comment "default/web ingress rule 0" -m set --match-set gingham-np4-0123456789ab src -m set --match-set gingham-np4-ba9876543210 dst -m tcp --dport 80:90 -j MARK --set-xmark 0x20000/0x20000',
    ],
    [{ proto: 'udp', dport: { from: 53, to: 53 }, action: { kind: 'goto', chain: 'GINGHAM-NP-PASS' } }, 4, '-p udp -m udp --dport 53 -g GINGHAM-NP-PASS'],
    [
      { ct: 'new', mark: { value: 0x20000, mask: 0x20000 }, limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: 'gingham accept ingress GINGHAM-NPI-0123456789ab', group: 9917, snaplen: 128 } },
      4,
      '-m conntrack --ctstate NEW -m mark --mark 0x20000/0x20000 -m limit --limit 10/sec --limit-burst 20 -j NFLOG --nflog-prefix "gingham accept ingress GINGHAM-NPI-0123456789ab" --nflog-group 9917 --nflog-size 128',
    ],
    [{ src: { cidr: '198.18.0.11' }, action: { kind: 'drop' } }, 4, '-s 198.18.0.11/32 -j DROP'],
    [{ comment: 'x', action: { kind: 'jump', chain: 'GINGHAM-NPPI-0123456789ab' } }, 4, '-m comment --comment x -j GINGHAM-NPPI-0123456789ab'],
  ];
  it.each(cases)('%j (IPv%s)', (rule, family, text) => expect(iptablesRule(rule, family)).toBe(text));

  it('renders a dispatch as one jump per address, in order', () => {
    const d: Dispatch = { dispatch: { by: 'dst', map: 'ingress-pods', entries: [{ addr: 'fd42:18::2', chain: 'GINGHAM-NPI-a', comment: 'ns/a ingress' }, { addr: 'fd42:18::3', chain: 'GINGHAM-NPI-b' }] } };
    expect(iptablesRules([d, { action: { kind: 'return' } }], 6)).toEqual(['-d fd42:18::2/128 -m comment --comment "ns/a ingress" -j GINGHAM-NPI-a', '-d fd42:18::3/128 -j GINGHAM-NPI-b', '-j RETURN']);
  });

  it('refuses what iptables would read otherwise', () => {
    expect(() => iptablesRule({ dst: { cidr: '198.18.0.0/16 -j ACCEPT' }, action: { kind: 'drop' } }, 4)).toThrow();
    expect(() => iptablesRule({ action: { kind: 'jump', chain: '-j' } }, 4)).toThrow();
    expect(() => iptablesRule({ dport: { from: 80, to: 80 }, action: { kind: 'drop' } }, 4)).toThrow();
    expect(() => iptablesRule({ action: { kind: 'mark', value: -1, mask: 1 } }, 4)).toThrow();
  });
});
