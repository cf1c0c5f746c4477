// A network's iptables state as data: one nat chain for masquerade (ipMasq) and one filter chain
// that keeps an internal network on the node. The chains belong to the network, not to a pod, so
// DEL never needs the pod's addresses to clean up (the reference leaks its per-pod rules when the
// netns is gone, containernetworking/plugins#810). kernel/owned-chain.ts turns them into text.
import { word } from '../../kernel/iptables-text.js';
import type { OwnedChain } from '../../kernel/owned-chain.js';
import { type Cidr, formatCidr } from '../../net/ip.js';
import type { BridgeConfig } from './config.js';
import { chainId } from './names.js';

export type Family = 4 | 6;
export type { Table } from '../../kernel/owned-chain.js';

export interface ChainPlan extends OwnedChain {
  readonly family: Family;
}

export const masqChain = (network: string): string => `GH-MASQ-${chainId(network)}`;
export const internalChain = (network: string): string => `GH-INT-${chainId(network)}`;
export const ourChains = (network: string): string[] => [masqChain(network), internalChain(network)];

export function planFirewall(network: string, cfg: BridgeConfig, subnets: readonly Cidr[]): ChainPlan[] {
  const plans: ChainPlan[] = [];
  const comment = `gingham:${network}`;
  for (const family of [4, 6] as const) {
    const mine = subnets.filter((s) => s.ip.family === family);
    if (mine.length === 0) continue;
    if (cfg.ipMasq) {
      const chain = masqChain(network);
      const keep = [...mine, ...cfg.ipMasqExclude.filter((c) => c.ip.family === family)];
      const rules = keep.map((s) => `-d ${formatCidr(s)} -j RETURN`);
      if (family === 4) rules.push('-d 224.0.0.0/4 -j RETURN');
      rules.push('-j MASQUERADE');
      plans.push({ family, table: 'nat', chain, rules, jumps: mine.map((s) => ({ from: 'POSTROUTING', source: formatCidr(s), comment })), first: false });
    }
    if (cfg.internal) {
      const chain = internalChain(network);
      const br = word(cfg.bridge, 'bridge');
      plans.push({ family, table: 'filter', chain, rules: [`-i ${br} ! -o ${br} -j DROP`, `-o ${br} ! -i ${br} -j DROP`], jumps: [{ from: 'FORWARD', comment }], first: true });
    }
  }
  return plans;
}
