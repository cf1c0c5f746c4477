import { describe, expect, it } from 'vitest';
import { bridgeConfig, cidrs } from '../../testing.js';
import type { BridgeConfig } from './config.js';
import { type ChainPlan, internalChain, masqChain, ourChains, planFirewall, renderEnsure, renderRemove } from './firewall.js';
import { chainId } from './names.js';

const config = (over: Partial<BridgeConfig> = {}): BridgeConfig => bridgeConfig({ isGateway: true, ...over });


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
  });

  it('masquerades IPv4 leaving the subnets, except to them and to multicast', () => {
    const plans = planFirewall('pods', config({ ipMasq: true }), cidrs('198.18.0.0/24', '198.18.1.0/24'));
    expect(plans).toEqual([
      {
        family: 4,
        table: 'nat',
        chain: MASQ,
        rules: ['-d 198.18.0.0/24 -j RETURN', '-d 198.18.1.0/24 -j RETURN', '-d 224.0.0.0/4 -j RETURN', '-j MASQUERADE'],
        jumps: [`-A POSTROUTING -s 198.18.0.0/24 -m comment --comment gingham:pods -j ${MASQ}`, `-A POSTROUTING -s 198.18.1.0/24 -m comment --comment gingham:pods -j ${MASQ}`],
        insertJumps: false,
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
          rules: ['-i cni0 ! -o cni0 -j DROP', '-o cni0 ! -i cni0 -j DROP'],
          jumps: [`-A FORWARD -m comment --comment gingham:pods -j ${INT}`],
          insertJumps: true,
        },
      ]);
    }
  });

  it('plans nothing for a family without subnets', () => {
    expect(planFirewall('pods', config({ ipMasq: true }), [])).toEqual([]);
  });
});

describe('renderEnsure', () => {
  const masq = planFirewall('pods', config({ ipMasq: true }), cidrs('198.18.0.0/24'));
  const internal = planFirewall('pods', config({ internal: true }), cidrs('198.18.0.0/24'));
  const masqJump = `-A POSTROUTING -s 198.18.0.0/24 -m comment --comment gingham:pods -j ${MASQ}`;

  it('declares (and so flushes) the chain, fills it and appends the jump', () => {
    expect(renderEnsure('nat', masq, ['-P POSTROUTING ACCEPT'])).toBe(
      [
        '*nat',
        `:${MASQ} - [0:0]`,
        `-A ${MASQ} -d 198.18.0.0/24 -j RETURN`,
        `-A ${MASQ} -d 224.0.0.0/4 -j RETURN`,
        `-A ${MASQ} -j MASQUERADE`,
        masqJump,
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('does not add a jump that is already there', () => {
    const text = renderEnsure('nat', masq, ['-P POSTROUTING ACCEPT', `-N ${MASQ}`, masqJump]);
    expect(text.split('\n').filter((l) => l.includes('POSTROUTING'))).toEqual([]);
    expect(text).toContain(`-A ${MASQ} -j MASQUERADE`);
  });

  it('inserts filter jumps at the top of their chain', () => {
    const text = renderEnsure('filter', internal, []);
    expect(text).toContain(`\n-I FORWARD 1 -m comment --comment gingham:pods -j ${INT}\n`);
    expect(text).not.toContain('-A FORWARD');
  });

  it('does not insert a filter jump that is already there', () => {
    const text = renderEnsure('filter', internal, [`-A FORWARD -m comment --comment gingham:pods -j ${INT}`]);
    expect(text).not.toContain('FORWARD');
  });
});

describe('renderRemove', () => {
  const current = [
    '-P POSTROUTING ACCEPT',
    `-N ${MASQ}`,
    '-N OTHER',
    `-A POSTROUTING -s 198.18.0.0/24 -m comment --comment gingham:pods -j ${MASQ}`,
    '-A POSTROUTING -s 198.18.9.0/24 -j OTHER',
    `-A ${MASQ} -d 198.18.0.0/24 -j RETURN`,
    `-A ${MASQ} -j MASQUERADE`,
  ];

  it('flushes our chains, deletes the jumps to them, then deletes the chains', () => {
    expect(renderRemove('nat', ourChains('pods'), current)).toBe(
      ['*nat', `:${MASQ} - [0:0]`, `-D POSTROUTING -s 198.18.0.0/24 -m comment --comment gingham:pods -j ${MASQ}`, `-X ${MASQ}`, 'COMMIT', ''].join('\n'),
    );
  });

  it('leaves other chains and their jumps alone', () => {
    const text = renderRemove('nat', ourChains('pods'), current);
    expect(text).not.toContain('OTHER');
    expect(text).not.toContain('MASQUERADE');
  });

  it('returns "" when none of our chains or jumps is there', () => {
    expect(renderRemove('nat', ourChains('pods'), ['-P POSTROUTING ACCEPT', '-N OTHER', '-A POSTROUTING -j OTHER'])).toBe('');
    expect(renderRemove('filter', ourChains('pods'), [])).toBe('');
  });

  it("does not touch another network's chains", () => {
    const theirs = masqChain('other');
    expect(renderRemove('nat', ourChains('pods'), [`-N ${theirs}`, `-A POSTROUTING -j ${theirs}`])).toBe('');
  });

  it('does not delete rules inside our own chains one by one (the flush removes them)', () => {
    const text = renderRemove('nat', ourChains('pods'), [`-N ${MASQ}`, `-N ${INT}`, `-A ${INT} -j ${MASQ}`, `-A POSTROUTING -j ${MASQ}`]);
    expect(text).toBe(['*nat', `:${MASQ} - [0:0]`, `:${INT} - [0:0]`, `-D POSTROUTING -j ${MASQ}`, `-X ${MASQ}`, `-X ${INT}`, 'COMMIT', ''].join('\n'));
  });

  it('removes a filter jump and chain', () => {
    const text = renderRemove('filter', ourChains('pods'), [`-N ${INT}`, `-A FORWARD -m comment --comment gingham:pods -j ${INT}`, `-A ${INT} -i cni0 ! -o cni0 -j DROP`]);
    expect(text).toBe(['*filter', `:${INT} - [0:0]`, `-D FORWARD -m comment --comment gingham:pods -j ${INT}`, `-X ${INT}`, 'COMMIT', ''].join('\n'));
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
