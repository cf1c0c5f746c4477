import { describe, expect, it } from 'vitest';
import { chainRestore, parseChain } from './chains.js';
import { MASQUERADE, masqueradeRules } from './masquerade.js';
import { SERVICE_GUARD, guardRules } from './service-guard.js';

const want = masqueradeRules({ family: 4, podCIDR: '198.18.128.0/24', keepTo: ['198.18.128.0/17'], nodeIPs: ['198.19.1.3', '198.19.1.2'] });
const masqJump = '-A POSTROUTING -m comment --comment gingham-masquerade -j GINGHAM-MASQ';
const guardJump = (from: string): string => `-A ${from} -m comment --comment gingham-service-guard -j GINGHAM-SVC-GUARD`;

describe('masquerade rules', () => {
  it('keep the source to the cluster and to every node, masquerade the rest (not multicast)', () => {
    expect(want).toEqual([
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.128.0/17 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.19.1.2/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.19.1.3/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 ! -d 224.0.0.0/4 -j MASQUERADE',
    ]);
    expect(masqueradeRules({ family: 6, podCIDR: 'fd42:18:8000::/64', keepTo: [], nodeIPs: ['fd42:19:1::2'] })).toEqual([
      '-A GINGHAM-MASQ -s fd42:18:8000::/64 -d fd42:19:1::2/128 -j RETURN',
      '-A GINGHAM-MASQ -s fd42:18:8000::/64 ! -d ff00::/8 -j MASQUERADE',
    ]);
  });
});

describe('service guard rules', () => {
  it('reject what is still addressed to a Service CIDR, per family', () => {
    expect(guardRules(4, ['198.18.64.0/20'])).toEqual(['-A GINGHAM-SVC-GUARD -d 198.18.64.0/20 -j REJECT --reject-with icmp-port-unreachable']);
    expect(guardRules(6, ['fd42:18:6400::/112'])).toEqual(['-A GINGHAM-SVC-GUARD -d fd42:18:6400::/112 -j REJECT --reject-with icmp6-port-unreachable']);
  });
});

describe('owned chains', () => {
  it('writes the chain and the jump when absent, nothing when they match, the chain alone when it differs', () => {
    const absent = parseChain(MASQUERADE, ['-P POSTROUTING ACCEPT', '-N KUBE-POSTROUTING']);
    expect(chainRestore(MASQUERADE, want, absent)).toBe(`*nat\n:GINGHAM-MASQ - [0:0]\n${want.join('\n')}\n${masqJump}\nCOMMIT\n`);
    const present = parseChain(MASQUERADE, ['-N GINGHAM-MASQ', masqJump, ...want]);
    expect(chainRestore(MASQUERADE, want, present)).toBe('');
    const stale = parseChain(MASQUERADE, ['-N GINGHAM-MASQ', masqJump, ...want.slice(1)]);
    expect(chainRestore(MASQUERADE, want, stale)).toBe(`*nat\n:GINGHAM-MASQ - [0:0]\n${want.join('\n')}\nCOMMIT\n`);
  });

  it('inserts the jumps of a chain that must come first at the top, each one that is missing', () => {
    const rules = guardRules(4, ['198.18.64.0/20']);
    const half = parseChain(SERVICE_GUARD, ['-N GINGHAM-SVC-GUARD', guardJump('FORWARD'), ...rules]);
    expect(chainRestore(SERVICE_GUARD, rules, half)).toBe(
      `*filter\n:GINGHAM-SVC-GUARD - [0:0]\n${rules[0]}\n-I OUTPUT 1 -m comment --comment gingham-service-guard -j GINGHAM-SVC-GUARD\nCOMMIT\n`,
    );
  });

  it('removal: the jumps and the chain go together, and only if there', () => {
    expect(chainRestore(MASQUERADE, undefined, parseChain(MASQUERADE, ['-N GINGHAM-MASQ', masqJump]))).toBe(
      '*nat\n:GINGHAM-MASQ - [0:0]\n-D POSTROUTING -m comment --comment gingham-masquerade -j GINGHAM-MASQ\n-X GINGHAM-MASQ\nCOMMIT\n',
    );
    expect(chainRestore(MASQUERADE, undefined, parseChain(MASQUERADE, []))).toBe('');
  });
});
