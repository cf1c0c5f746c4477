// A network's packet-filter state as data: one nat chain for masquerade (ipMasq) and one filter
// chain that keeps an internal network on the node, per family. The chains belong to the network,
// not to a pod, so DEL never needs the pod's addresses to clean up (the reference leaks its per-pod
// rules when the netns is gone, containernetworking/plugins#810). The backend the netconf's
// `dataplane` chooses writes them (kernel/packet-filter/index.ts).
import type { Owner, OwnerRules } from '../../kernel/packet-filter/index.js';
import type { FamilyRules, Hook, Rule } from '../../kernel/packet-filter/model.js';
import { type Cidr, formatCidr } from '../../net/ip.js';
import type { BridgeConfig } from './config.js';
import { chainId } from './names.js';

export type Family = 4 | 6;

export const masqChain = (network: string): string => `GH-MASQ-${chainId(network)}`;
export const internalChain = (network: string): string => `GH-INT-${chainId(network)}`;
export const ourChains = (network: string): string[] => [masqChain(network), internalChain(network)];

/**
 * The network as an owner of chains: those its config uses, or `all` of them (GC, which cannot
 * know the config a network had). nftables: the table `inet gh-net-<id>`.
 */
export function networkOwner(network: string, cfg: BridgeConfig | 'all'): Owner {
  const all = cfg === 'all';
  return {
    table: `gh-net-${chainId(network)}`,
    chains: [
      ...(all || cfg.ipMasq ? [{ name: masqChain(network), kind: 'nat' as const }] : []),
      ...(all || cfg.internal ? [{ name: internalChain(network), kind: 'filter' as const }] : []),
    ],
  };
}

export function planFirewall(network: string, cfg: BridgeConfig, subnets: readonly Cidr[]): OwnerRules {
  const comment = `gingham:${network}`;
  const family = (f: Family): FamilyRules => {
    const mine = subnets.filter((s) => s.ip.family === f);
    const chains: FamilyRules['chains'][number][] = [];
    const hooks: Hook[] = [];
    if (mine.length === 0) return { sets: [], chains, hooks };
    if (cfg.ipMasq) {
      const chain = masqChain(network);
      const keep = [...mine, ...cfg.ipMasqExclude.filter((c) => c.ip.family === f)];
      const rules: Rule[] = keep.map((s) => ({ dst: { cidr: formatCidr(s) }, action: { kind: 'return' } }));
      if (f === 4) rules.push({ dst: { cidr: '224.0.0.0/4' }, action: { kind: 'return' } });
      rules.push({ action: { kind: 'masquerade' } });
      chains.push({ name: chain, rules });
      hooks.push(...mine.map((s): Hook => ({ at: 'postrouting', chain, source: formatCidr(s), comment })));
    }
    if (cfg.internal) {
      const chain = internalChain(network);
      const br = cfg.bridge;
      chains.push({ name: chain, rules: [
        { iif: { name: br }, oif: { name: br, not: true }, action: { kind: 'drop' } },
        { iif: { name: br, not: true }, oif: { name: br }, action: { kind: 'drop' } },
      ] });
      hooks.push({ at: 'forward', chain, comment });
    }
    return { sets: [], chains, hooks };
  };
  return { 4: family(4), 6: family(6) };
}
