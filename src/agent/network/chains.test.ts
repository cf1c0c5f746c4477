// The agent's chains as seam-model data, and the iptables texts they make: the same text the agent
// wrote before the model (byte for byte), compared with what `iptables -S` prints.
import { describe, expect, it } from 'vitest';
import { chainsBackend } from '../../kernel/packet-filter/index.js';
import { iptablesHeld } from '../../kernel/packet-filter/iptables-chains.js';
import type { Rule } from '../../kernel/packet-filter/model.js';
import { AGENT_CHAINS, agentChains } from './chains.js';
import { MASQ_CHAIN, masqueradeRules } from './masquerade.js';
import { GUARD_CHAIN, guardRules } from './service-guard.js';

const IPT = chainsBackend('iptables');
const printed = (chain: string, rules: readonly Rule[], f: 4 | 6): string[] => rules.map((r) => IPT.printed(chain, r, f));
const masq = masqueradeRules({ family: 4, podCIDR: '198.18.128.0/24', keepTo: ['198.18.128.0/17'], nodeIPs: ['198.19.1.3', '198.19.1.2'] });
const want = printed(MASQ_CHAIN, masq, 4);
const masqJump = '-A POSTROUTING -m comment --comment gingham-masquerade -j GINGHAM-MASQ';
const guardJump = (from: string): string => `-A ${from} -m comment --comment gingham-service-guard -j GINGHAM-SVC-GUARD`;

/** The restore texts that make the kernel (IPv4 tables as listed) match the wanted rules. */
const texts = (wanted: { masquerade?: readonly Rule[]; guard?: readonly Rule[] }, nat: string[], filter: string[] = []): string[] => {
  const rules = agentChains({ masquerade: wanted.masquerade ? { 4: wanted.masquerade } : {}, serviceGuard: wanted.guard ? { 4: wanted.guard } : {} });
  const held = iptablesHeld(AGENT_CHAINS, { 4: { nat, filter }, 6: { nat: [], filter: [] } });
  return IPT.changes(AGENT_CHAINS, rules, held).map((c) => c.text);
};

describe('masquerade rules', () => {
  it('keep the source to the cluster and to every node, masquerade the rest (not multicast)', () => {
    expect(want).toEqual([
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.128.0/17 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.19.1.2/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.19.1.3/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 ! -d 224.0.0.0/4 -j MASQUERADE',
    ]);
    expect(printed(MASQ_CHAIN, masqueradeRules({ family: 6, podCIDR: 'fd42:18:8000::/64', keepTo: [], nodeIPs: ['fd42:19:1::2'] }), 6)).toEqual([
      '-A GINGHAM-MASQ -s fd42:18:8000::/64 -d fd42:19:1::2/128 -j RETURN',
      '-A GINGHAM-MASQ -s fd42:18:8000::/64 ! -d ff00::/8 -j MASQUERADE',
    ]);
  });
});

describe('service guard rules', () => {
  it('reject what is still addressed to a Service CIDR, per family', () => {
    expect(printed(GUARD_CHAIN, guardRules(['198.18.64.0/20']), 4)).toEqual(['-A GINGHAM-SVC-GUARD -d 198.18.64.0/20 -j REJECT --reject-with icmp-port-unreachable']);
    expect(printed(GUARD_CHAIN, guardRules(['fd42:18:6400::/112']), 6)).toEqual(['-A GINGHAM-SVC-GUARD -d fd42:18:6400::/112 -j REJECT --reject-with icmp6-port-unreachable']);
  });
});

describe('agent chains by the iptables backend', () => {
  it('writes the chain and the jump when absent, nothing when they match, the chain alone when it differs', () => {
    expect(texts({ masquerade: masq }, ['-P POSTROUTING ACCEPT', '-N KUBE-POSTROUTING'])).toEqual([`*nat\n:GINGHAM-MASQ - [0:0]\n${want.join('\n')}\n${masqJump}\nCOMMIT\n`]);
    expect(texts({ masquerade: masq }, ['-N GINGHAM-MASQ', masqJump, ...want])).toEqual([]);
    expect(texts({ masquerade: masq }, ['-N GINGHAM-MASQ', masqJump, ...want.slice(1)])).toEqual([`*nat\n:GINGHAM-MASQ - [0:0]\n${want.join('\n')}\nCOMMIT\n`]);
  });

  it('inserts the jumps of a chain that must come first at the top, each one that is missing', () => {
    const guard = guardRules(['198.18.64.0/20']);
    const rules = printed(GUARD_CHAIN, guard, 4);
    expect(texts({ guard }, [], ['-N GINGHAM-SVC-GUARD', guardJump('FORWARD'), ...rules])).toEqual([
      `*filter\n:GINGHAM-SVC-GUARD - [0:0]\n${rules[0]}\n-I OUTPUT 1 -m comment --comment gingham-service-guard -j GINGHAM-SVC-GUARD\nCOMMIT\n`,
    ]);
  });

  it('removal: the jumps and the chain go together, and only if there', () => {
    expect(texts({}, ['-N GINGHAM-MASQ', masqJump])).toEqual(['*nat\n:GINGHAM-MASQ - [0:0]\n-D POSTROUTING -m comment --comment gingham-masquerade -j GINGHAM-MASQ\n-X GINGHAM-MASQ\nCOMMIT\n']);
    expect(texts({}, [])).toEqual([]);
  });

  it('labels each change by chain and family, for the tool of the family', () => {
    const rules = agentChains({ masquerade: { 6: masqueradeRules({ family: 6, podCIDR: 'fd42:18:8000::/64', keepTo: [], nodeIPs: [] }) }, serviceGuard: {} });
    const [c] = IPT.changes(AGENT_CHAINS, rules, iptablesHeld(AGENT_CHAINS, { 4: {}, 6: {} }));
    expect([c?.what, c?.command, c?.family]).toEqual(['GINGHAM-MASQ/6', 'ip6tables-restore --noflush', 6]);
  });
});
