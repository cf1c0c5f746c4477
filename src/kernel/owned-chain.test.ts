// The one ensure/remove of a chain of ours with jumps from built-in chains, as the bridge plugin
// plans it (the agent's chains are tested through chains.ts).
import { describe, expect, it } from 'vitest';
import { internalChain, masqChain, networkOwner, ourChains, planFirewall as planRules } from '../backends/bridge/firewall.js';
import type { BridgeConfig } from '../backends/bridge/config.js';
import { ownedChains } from './packet-filter/iptables-chains.js';
import { bridgeConfig, cidrs } from '../testing.js';
import { RefusedIptablesText } from './iptables-text.js';
import { type OwnedChain, ensureText, parseRules, removeText } from './owned-chain.js';

const config = (over: Partial<BridgeConfig> = {}): BridgeConfig => bridgeConfig({ isGateway: true, ...over });
const MASQ = masqChain('pods');
const INT = internalChain('pods');
const table = (...lines: string[]): ReturnType<typeof parseRules> => parseRules(lines);
/** The bridge plugin's IPv4 chains of both tables, as the iptables backend hands them over. */
const planFirewall = (network: string, cfg: BridgeConfig, subnets: ReturnType<typeof cidrs>): OwnedChain[] =>
  (['nat', 'filter'] as const).flatMap((t) => ownedChains(networkOwner(network, cfg), planRules(network, cfg, subnets)[4], 4, t));

describe('ensureText', () => {
  const masq = planFirewall('pods', config({ ipMasq: true }), cidrs('198.18.0.0/24'));
  const internal = planFirewall('pods', config({ internal: true }), cidrs('198.18.0.0/24'));
  // As iptables 1.8.9 prints it: a comment with ':' is quoted.
  const masqJump = `-A POSTROUTING -s 198.18.0.0/24 -m comment --comment "gingham:pods" -j ${MASQ}`;
  const masqRules = [`-A ${MASQ} -d 198.18.0.0/24 -j RETURN`, `-A ${MASQ} -d 224.0.0.0/4 -j RETURN`, `-A ${MASQ} -j MASQUERADE`];

  it('declares (and so flushes) the chain, fills it and appends the jump', () => {
    expect(ensureText('nat', masq, table('-P POSTROUTING ACCEPT'))).toBe(['*nat', `:${MASQ} - [0:0]`, ...masqRules, masqJump, 'COMMIT', ''].join('\n'));
  });

  it('writes nothing when chain and jump are as wanted, whichever way the comment is quoted', () => {
    expect(ensureText('nat', masq, table('-P POSTROUTING ACCEPT', `-N ${MASQ}`, masqJump, ...masqRules))).toBe('');
    expect(ensureText('nat', masq, table(`-N ${MASQ}`, masqJump.replace('"gingham:pods"', 'gingham:pods'), ...masqRules))).toBe('');
  });

  it('refills a chain that differs, without adding a jump that is already there', () => {
    const text = ensureText('nat', masq, table('-P POSTROUTING ACCEPT', `-N ${MASQ}`, masqJump));
    expect(text.split('\n').filter((l) => l.includes('POSTROUTING'))).toEqual([]);
    expect(text).toContain(`-A ${MASQ} -j MASQUERADE`);
  });

  it('inserts filter jumps at the top of their chain, once', () => {
    const text = ensureText('filter', internal, table());
    expect(text).toContain(`\n-I FORWARD 1 -m comment --comment "gingham:pods" -j ${INT}\n`);
    expect(text).not.toContain('-A FORWARD');
    const rules = internal[0]!.rules.map((r) => `-A ${INT} ${r}`);
    expect(ensureText('filter', internal, table(`-N ${INT}`, `-A FORWARD -m comment --comment "gingham:pods" -j ${INT}`, ...rules))).toBe('');
  });

  it('quotes a network name that holds a quote, and refuses one that would end the line', () => {
    const quote = planFirewall('a"b', config({ ipMasq: true }), cidrs('198.18.0.0/24'));
    expect(ensureText('nat', quote, table())).toContain('--comment "gingham:a\\"b" -j');
    const odd = planFirewall('a\n-I INPUT 1 -j ACCEPT', config({ ipMasq: true }), cidrs('198.18.0.0/24'));
    expect(() => ensureText('nat', odd, table())).toThrow(RefusedIptablesText);
  });
});

describe('removeText', () => {
  const current = table(
    '-P POSTROUTING ACCEPT',
    `-N ${MASQ}`,
    '-N OTHER',
    `-A POSTROUTING -s 198.18.0.0/24 -m comment --comment "gingham:pods" -j ${MASQ}`,
    '-A POSTROUTING -s 198.18.9.0/24 -j OTHER',
    `-A ${MASQ} -d 198.18.0.0/24 -j RETURN`,
    `-A ${MASQ} -j MASQUERADE`,
  );

  it('flushes our chains, deletes the jumps to them as printed, then deletes the chains', () => {
    expect(removeText('nat', ourChains('pods'), current)).toBe(
      ['*nat', `:${MASQ} - [0:0]`, `-D POSTROUTING -s 198.18.0.0/24 -m comment --comment "gingham:pods" -j ${MASQ}`, `-X ${MASQ}`, 'COMMIT', ''].join('\n'),
    );
  });

  it('leaves other chains and their jumps alone', () => {
    const text = removeText('nat', ourChains('pods'), current);
    expect(text).not.toContain('OTHER');
    expect(text).not.toContain('MASQUERADE');
  });

  it('returns "" when none of our chains or jumps is there', () => {
    expect(removeText('nat', ourChains('pods'), table('-P POSTROUTING ACCEPT', '-N OTHER', '-A POSTROUTING -j OTHER'))).toBe('');
    expect(removeText('filter', ourChains('pods'), table())).toBe('');
  });

  it("does not touch another network's chains", () => {
    const theirs = masqChain('other');
    expect(removeText('nat', ourChains('pods'), table(`-N ${theirs}`, `-A POSTROUTING -j ${theirs}`))).toBe('');
  });

  it('does not delete rules inside our own chains one by one (the flush removes them)', () => {
    const text = removeText('nat', ourChains('pods'), table(`-N ${MASQ}`, `-N ${INT}`, `-A ${INT} -j ${MASQ}`, `-A POSTROUTING -j ${MASQ}`));
    expect(text).toBe(['*nat', `:${MASQ} - [0:0]`, `:${INT} - [0:0]`, `-D POSTROUTING -j ${MASQ}`, `-X ${MASQ}`, `-X ${INT}`, 'COMMIT', ''].join('\n'));
  });
});
