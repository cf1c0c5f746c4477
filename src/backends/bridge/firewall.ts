// A network's iptables state as data: one nat chain for masquerade (ipMasq) and one filter chain
// that keeps an internal network on the node. The chains belong to the network, not to a pod, so
// DEL never needs the pod's addresses to clean up (the reference leaks its per-pod rules when the
// netns is gone, containernetworking/plugins#810).
import { type Cidr, formatCidr } from '../../net/ip.js';
import type { BridgeConfig } from './config.js';
import { chainId } from './names.js';

export type Family = 4 | 6;
export type Table = 'nat' | 'filter';

export interface ChainPlan {
  family: Family;
  table: Table;
  chain: string;
  /** The chain's rules, without "-A CHAIN". */
  rules: string[];
  /** Rules in built-in chains that jump to ours, in `-S` form ("-A POSTROUTING ..."). */
  jumps: string[];
  /** Put jumps first in their chain (filter rules must come before a blanket ACCEPT). */
  insertJumps: boolean;
}

export const masqChain = (network: string): string => `GH-MASQ-${chainId(network)}`;
export const internalChain = (network: string): string => `GH-INT-${chainId(network)}`;
export const ourChains = (network: string): string[] => [masqChain(network), internalChain(network)];

export function planFirewall(network: string, cfg: BridgeConfig, subnets: readonly Cidr[]): ChainPlan[] {
  const plans: ChainPlan[] = [];
  const comment = `-m comment --comment gingham:${network}`;
  for (const family of [4, 6] as const) {
    const mine = subnets.filter((s) => s.ip.family === family);
    if (mine.length === 0) continue;
    if (cfg.ipMasq) {
      const chain = masqChain(network);
      const keep = [...mine, ...cfg.ipMasqExclude.filter((c) => c.ip.family === family)];
      const rules = keep.map((s) => `-d ${formatCidr(s)} -j RETURN`);
      if (family === 4) rules.push('-d 224.0.0.0/4 -j RETURN');
      rules.push('-j MASQUERADE');
      plans.push({ family, table: 'nat', chain, rules, jumps: mine.map((s) => `-A POSTROUTING -s ${formatCidr(s)} ${comment} -j ${chain}`), insertJumps: false });
    }
    if (cfg.internal) {
      const chain = internalChain(network);
      const br = cfg.bridge;
      plans.push({ family, table: 'filter', chain, rules: [`-i ${br} ! -o ${br} -j DROP`, `-o ${br} ! -i ${br} -j DROP`], jumps: [`-A FORWARD ${comment} -j ${chain}`], insertJumps: true });
    }
  }
  return plans;
}

/** iptables-restore text that makes one table hold the plans exactly; `current` is its `-S`. */
export function renderEnsure(table: Table, plans: readonly ChainPlan[], current: readonly string[]): string {
  const lines = [`*${table}`];
  for (const p of plans) lines.push(`:${p.chain} - [0:0]`);
  for (const p of plans) {
    for (const r of p.rules) lines.push(`-A ${p.chain} ${r}`);
    for (const j of p.jumps) {
      if (current.includes(j)) continue;
      lines.push(p.insertJumps ? j.replace(/^-A (\S+)/, '-I $1 1') : j);
    }
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** iptables-restore text that removes the chains and every jump to them, or "" if none is there. */
export function renderRemove(table: Table, chains: readonly string[], current: readonly string[]): string {
  const present = chains.filter((c) => current.includes(`-N ${c}`));
  const lines = present.map((c) => `:${c} - [0:0]`);
  for (const l of current) {
    const target = /-j (\S+)$/.exec(l)?.[1];
    if (l.startsWith('-A ') && target && chains.includes(target) && !chains.includes(l.split(' ')[1] ?? '')) lines.push(`-D ${l.slice(3)}`);
  }
  for (const c of present) lines.push(`-X ${c}`);
  if (lines.length === 0) return '';
  return [`*${table}`, ...lines, 'COMMIT', ''].join('\n');
}
