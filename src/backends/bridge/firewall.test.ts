import { describe, expect, it } from 'vitest';
import { bridgeConfig, cidrs } from '../../testing.js';
import { type BridgeConfig, parseBridgeConfig } from './config.js';
import { type OwnedChain } from '../../kernel/owned-chain.js';
import { ownedChains } from '../../kernel/packet-filter/iptables-chains.js';
import { internalChain, masqChain, networkOwner, ourChains, planFirewall as planRules } from './firewall.js';
import { chainId } from './names.js';

const config = (over: Partial<BridgeConfig> = {}): BridgeConfig => bridgeConfig({ isGateway: true, ...over });

/** The plan as the iptables backend writes it: per family and table, the chains with their jumps. */
type ChainPlan = OwnedChain & { family: 4 | 6 };
const planFirewall = (network: string, cfg: BridgeConfig, subnets: Parameters<typeof planRules>[2]): ChainPlan[] => {
  const rules = planRules(network, cfg, subnets);
  return ([4, 6] as const).flatMap((family) =>
    (['nat', 'filter'] as const).flatMap((table) => ownedChains(networkOwner(network, cfg), rules[family], family, table).map((c) => ({ family, ...c }))),
  );
};

const MASQ = masqChain('pods');
const INT = internalChain('pods');
const only = (plans: ChainPlan[], family: 4 | 6, table: 'nat' | 'filter'): ChainPlan[] => plans.filter((p) => p.family === family && p.table === table);

describe('chain names', () => {
  it('are per network and fit iptables (28 bytes)', () => {
    expect(MASQ).toBe(`GH-MASQ-${chainId('pods')}`);
    expect(INT).toBe(`GH-INT-${chainId('pods')}`);
    expect(ourChains('pods')).toEqual([MASQ, INT]);
    expect(MASQ.length).toBeLessThanOrEqual(28);
    expect(masqChain('other')).not.toBe(MASQ);
  });
});

describe('planFirewall', () => {
  it('plans nothing without ipMasq or internal', () => {
    expect(planFirewall('pods', config(), cidrs('198.18.0.0/24'))).toEqual([]);
    expect(networkOwner('pods', config()).chains).toEqual([]);
  });

  it('names the network as an owner: its table and the chains its config uses (GC: all)', () => {
    expect(networkOwner('pods', config({ ipMasq: true }))).toEqual({ table: `gh-net-${chainId('pods')}`, chains: [{ name: MASQ, kind: 'nat' }] });
    expect(networkOwner('pods', 'all').chains).toEqual([{ name: MASQ, kind: 'nat' }, { name: INT, kind: 'filter' }]);
  });

  it('masquerades IPv4 leaving the subnets, except to them and to multicast', () => {
    const plans = planFirewall('pods', config({ ipMasq: true }), cidrs('198.18.0.0/24', '198.18.1.0/24'));
    expect(plans).toEqual([
      {
        family: 4,
        table: 'nat',
        chain: MASQ,
        rules: ['-d 198.18.0.0/24 -j RETURN', '-d 198.18.1.0/24 -j RETURN', '-d 224.0.0.0/4 -j RETURN', '-j MASQUERADE'],
        jumps: [
          { from: 'POSTROUTING', source: '198.18.0.0/24', comment: 'gingham:pods' },
          { from: 'POSTROUTING', source: '198.18.1.0/24', comment: 'gingham:pods' },
        ],
        first: false,
      },
    ]);
  });

  it('plans each family on its own, IPv6 without the IPv4 multicast rule', () => {
    const plans = planFirewall('pods', config({ ipMasq: true }), cidrs('fd42:18::/64', '198.18.0.0/24'));
    expect(plans.map((p) => p.family)).toEqual([4, 6]);
    expect(only(plans, 6, 'nat')[0]?.rules).toEqual(['-d fd42:18::/64 -j RETURN', '-j MASQUERADE']);
  });

  it('keeps an internal network on the node with a filter chain jumped to first', () => {
    const plans = planFirewall('pods', config({ internal: true }), cidrs('198.18.0.0/24', 'fd42:18::/64'));
    expect(plans).toHaveLength(2);
    for (const family of [4, 6] as const) {
      expect(only(plans, family, 'filter')).toEqual([
        {
          family,
          table: 'filter',
          chain: INT,
          // As iptables -S prints the second rule: interfaces in the order -i, -o.
          rules: ['-i cni0 ! -o cni0 -j DROP', '! -i cni0 -o cni0 -j DROP'],
          jumps: [{ from: 'FORWARD', comment: 'gingham:pods' }],
          first: true,
        },
      ]);
    }
  });

  it('plans nothing for a family without subnets', () => {
    expect(planFirewall('pods', config({ ipMasq: true }), [])).toEqual([]);
  });
});

describe('ipMasqExclude', () => {
  it('leaves the excluded destinations of each family unmasqueraded, after the pod subnets', () => {
    const cfg = config({ ipMasq: true, ipMasqExclude: cidrs('198.18.128.0/17', 'fd42:18:8000::/56') });
    const [v4, v6] = planFirewall('net', cfg, cidrs('198.18.129.0/24', 'fd42:18:8001::/64'));
    expect(v4!.rules).toEqual(['-d 198.18.129.0/24 -j RETURN', '-d 198.18.128.0/17 -j RETURN', '-d 224.0.0.0/4 -j RETURN', '-j MASQUERADE']);
    expect(v6!.rules).toEqual(['-d fd42:18:8001::/64 -j RETURN', '-d fd42:18:8000::/56 -j RETURN', '-j MASQUERADE']);
  });
});

describe('the dataplane key', () => {
  it('defaults to iptables, takes nftables, refuses anything else (a CNI config error)', () => {
    expect(parseBridgeConfig({}).dataplane).toBe('iptables');
    expect(parseBridgeConfig({ dataplane: 'nftables' }).dataplane).toBe('nftables');
    expect(() => parseBridgeConfig({ dataplane: 'ebpf' })).toThrow(/dataplane "ebpf" is not one of iptables, nftables/);
  });
});
