// The compiler: resolution (selectors, peers, ports, ipBlocks), the ruleset's shape in the
// packet-filter model (checked through the iptables text it renders to), and explain.
import { describe, expect, it } from 'vitest';
import { iptablesRules } from '../../kernel/packet-filter/iptables-render.js';
import { compile } from './compile.js';
import { type Connection, type Endpoint, explain, showExplanation } from './explain.js';
import { FORWARD_HOOK, type PodInfo, type PolicyInputs, type Ruleset } from './model.js';
import { ipBlockEntries, resolvePolicies } from './resolve.js';
import { EGRESS_CHAIN, INGRESS_CHAIN, type RulesetOptions, names, parseEventPrefix } from './ruleset.js';
import { selects } from './selector.js';
import { ns, pod, policy, rule, sel } from './testing.js';

const OPTS = { node: 'n1', sctpPorts: true, logDrops: false };

// x/a and x/b on n1, y/c on n2; x/a dual-stack.
const xa = pod('x', 'a', ['198.18.129.2', 'fd42:18:8001::2'], { labels: { app: 'web' }, namedPorts: [{ name: 'http', protocol: 'TCP', port: 80 }] });
const xb = pod('x', 'b', ['198.18.129.3'], { labels: { app: 'db' }, namedPorts: [{ name: 'http', protocol: 'TCP', port: 81 }] });
const yc = pod('y', 'c', ['198.18.130.2'], { node: 'n2', labels: { app: 'web' } });
const host = pod('x', 'h', ['198.19.1.2'], { hostNetwork: true, labels: { app: 'web' } });
const NAMESPACES = [ns('x'), ns('y', { ns: 'y', team: 'blue' })];
const inputs = (...policies: PolicyInputs['policies'][number][]): PolicyInputs => ({ policies, pods: [xa, xb, yc, host], namespaces: NAMESPACES });

/** A chain with its rules as the iptables backend prints them. */
const chain = (r: Ruleset, f: 4 | 6, name: string): { name: string; rules: string[] } | undefined => {
  const c = r[f].chains.find((x) => x.name === name);
  return c && { name: c.name, rules: iptablesRules(c.rules, f) };
};
const setOf = (r: Ruleset, f: 4 | 6, rulePart: string): string[] => {
  const name = /--match-set (\S+)/.exec(rulePart)?.[1];
  const s = r[f].sets.find((x) => x.name === name);
  return s ? [...s.entries, ...(s.except ?? []).map((e) => `except ${e}`)] : ['<no set>'];
};
const ep = (p: PodInfo, i = 0): Endpoint => ({ kind: 'pod', pod: p, ip: p.ips[i]! });
const conn = (from: Endpoint, to: Endpoint, port = 80, protocol: Connection['protocol'] = 'TCP'): Connection => ({ from, to, port, protocol });

describe('selectors', () => {
  const labels = { app: 'web', tier: 'front' };
  it.each([
    [sel(), true],
    [sel({ app: 'web' }), true],
    [sel({ app: 'db' }), false],
    [sel({}, [{ key: 'tier', operator: 'In', values: ['front', 'back'] }]), true],
    [sel({}, [{ key: 'tier', operator: 'NotIn', values: ['front'] }]), false],
    [sel({}, [{ key: 'missing', operator: 'NotIn', values: ['x'] }]), true],
    [sel({}, [{ key: 'missing', operator: 'In', values: ['x'] }]), false],
    [sel({}, [{ key: 'app', operator: 'Exists', values: [] }]), true],
    [sel({}, [{ key: 'app', operator: 'DoesNotExist', values: [] }]), false],
    [sel({ app: 'web' }, [{ key: 'tier', operator: 'DoesNotExist', values: [] }]), false],
  ])('%j', (s, want) => expect(selects(s, labels)).toBe(want));
});

describe('resolve', () => {
  it('selects pods of its own namespace only, never hostNetwork pods', () => {
    const [r] = resolvePolicies(inputs(policy('x', 'web', { select: sel({ app: 'web' }), ingress: [] })));
    expect(r!.selected.map((p) => p.name)).toEqual(['a']);
  });

  it('podSelector alone: own namespace; namespaceSelector alone: all pods there; both: AND', () => {
    const peers = [{ podSelector: sel({ app: 'web' }) }, { namespaceSelector: sel({ team: 'blue' }) }, { namespaceSelector: sel(), podSelector: sel({ app: 'web' }) }];
    const [r] = resolvePolicies(inputs(policy('x', 'p', { ingress: peers.map((p) => rule([p])) })));
    const podsOf = (i: number): string[] => {
      const peers = r!.ingress![i]!.peers;
      const peer = peers === 'all' ? undefined : peers[0];
      return peer?.kind === 'pods' ? peer.pods.map((p) => `${p.namespace}/${p.name}`) : [];
    };
    expect(podsOf(0)).toEqual(['x/a']);
    expect(podsOf(1)).toEqual(['y/c']);
    expect(podsOf(2)).toEqual(['x/a', 'y/c']);
  });

  it('ipBlock entries: the block and its excepts inside it, canonical; other family empty, fully excepted empty', () => {
    const none = { entries: [], except: [] };
    expect(ipBlockEntries('198.18.0.0/15', ['198.18.129.0/24', '198.20.0.0/24'], 4)).toEqual({ entries: ['198.18.0.0/15'], except: ['198.18.129.0/24'] });
    expect(ipBlockEntries('198.18.1.7/16', [], 4)).toEqual({ entries: ['198.18.0.0/16'], except: [] });
    expect(ipBlockEntries('::/0', ['fd42:18::1/32'], 6)).toEqual({ entries: ['::/0'], except: ['fd42:18::/32'] });
    expect(ipBlockEntries('198.18.0.0/15', [], 6)).toEqual(none);
    expect(ipBlockEntries('198.18.0.0/16', ['198.18.0.0/15'], 4)).toEqual(none);
  });
});

describe('ruleset', () => {
  it('no policy: nothing at all, for either family', () => {
    const { ruleset } = compile(inputs(), OPTS);
    expect(ruleset).toEqual({ 4: { sets: [], chains: [], hooks: [] }, 6: { sets: [], chains: [], hooks: [] } });
  });

  it('a policy isolating only pods of another node leaves this node without chains', () => {
    const { ruleset } = compile(inputs(policy('y', 'deny', { ingress: [] })), OPTS);
    expect(ruleset[4].chains).toEqual([]);
    expect(compile(inputs(policy('y', 'deny', { ingress: [] })), { ...OPTS, node: 'n2' }).ruleset[4].chains).not.toEqual([]);
  });

  it('default deny ingress: a dispatch jump and a pod chain that rejects, per family', () => {
    const { ruleset } = compile(inputs(policy('x', 'deny', { select: sel({ app: 'web' }), ingress: [] })), OPTS);
    // The pods' jumps are one dispatch step (nftables: one map lookup), each address an entry.
    expect(ruleset[4].chains.find((c) => c.name === INGRESS_CHAIN)!.rules).toEqual([
      { dispatch: { by: 'dst', map: 'ingress-pods', entries: [{ addr: '198.18.129.2', chain: names.podChain(xa, 'ingress'), comment: 'x/a ingress' }] } },
    ]);
    expect(ruleset[4].hooks).toEqual([FORWARD_HOOK]);
    expect(chain(ruleset, 4, INGRESS_CHAIN)!.rules).toEqual([`-d 198.18.129.2/32 -m comment --comment "x/a ingress" -j ${names.podChain(xa, 'ingress')}`]);
    expect(chain(ruleset, 4, EGRESS_CHAIN)!.rules).toEqual([]);
    const podChain = chain(ruleset, 4, names.podChain(xa, 'ingress'))!;
    expect(podChain.rules).toEqual([
      '-j MARK --set-xmark 0x0/0x20000',
      `-m comment --comment "x/deny ingress" -j ${names.policyChain('x/deny', 'ingress')}`,
      '-m mark --mark 0x20000/0x20000 -j RETURN',
      '-p tcp -j REJECT --reject-with tcp-reset',
      '-j REJECT --reject-with icmp-port-unreachable',
    ]);
    expect(chain(ruleset, 4, names.policyChain('x/deny', 'ingress'))!.rules).toEqual([]);
    expect(chain(ruleset, 6, INGRESS_CHAIN)!.rules).toEqual([`-d fd42:18:8001::2/128 -m comment --comment "x/a ingress" -j ${names.podChain(xa, 'ingress')}`]);
    expect(chain(ruleset, 6, names.podChain(xa, 'ingress'))!.rules.at(-1)).toBe('-j REJECT --reject-with icmp6-port-unreachable');
    // IPv6 neighbour discovery passes before any pod is judged; IPv4 has ARP, outside iptables.
    expect(chain(ruleset, 6, 'GINGHAM-NP-FORWARD')!.rules.filter((r) => r.includes('--icmpv6-type'))).toHaveLength(4);
    expect(chain(ruleset, 4, 'GINGHAM-NP-FORWARD')!.rules).toEqual(['-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN', '-j GINGHAM-NP-EGRESS', '-j GINGHAM-NP-INGRESS']);
  });

  it('a rule with peers and ports: one mark rule per peer and port, a set per peer', () => {
    const p = policy('x', 'p', {
      select: sel({ app: 'db' }),
      ingress: [rule([{ podSelector: sel({ app: 'web' }) }, { namespaceSelector: sel({ ns: 'y' }) }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.1.0/24'] } }], [{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 80, endPort: 81 }])],
    });
    const { ruleset } = compile(inputs(p), OPTS);
    const rules = chain(ruleset, 4, names.policyChain('x/p', 'ingress'))!.rules;
    expect(rules).toHaveLength(6);
    expect(rules[0]).toMatch(/^-p tcp -m comment --comment "x\/p ingress rule 0" -m set --match-set gingham-np4-\w{12} src -m tcp --dport 80 -j MARK --set-xmark 0x20000\/0x20000$/);
    expect(rules[1]).toMatch(/^-p udp .* -m udp --dport 80:81 -j MARK/);
    expect(setOf(ruleset, 4, rules[0]!)).toEqual(['198.18.129.2']);
    expect(setOf(ruleset, 4, rules[2]!)).toEqual(['198.18.130.2']);
    expect(setOf(ruleset, 4, rules[4]!)).toEqual(['198.19.0.0/16', 'except 198.19.1.0/24']);
    expect(ruleset[4].sets.map((s) => s.kind).sort()).toEqual(['addrs', 'addrs', 'nets']);
    // x/b has no IPv6 address: no IPv6 chains at all.
    expect(ruleset[6].chains).toEqual([]);
  });

  it('named ports: one rule per number, each limited to the pods giving the name that number', () => {
    const p = policy('x', 'p', { ingress: [rule([], [{ protocol: 'TCP', port: 'http' }])] });
    const { ruleset } = compile(inputs(p), OPTS);
    const rules = chain(ruleset, 4, names.policyChain('x/p', 'ingress'))!.rules;
    expect(rules.map((r) => /--dport (\d+)/.exec(r)?.[1])).toEqual(['80', '81']);
    expect(setOf(ruleset, 4, rules[0]!)).toEqual(['198.18.129.2']);
    expect(setOf(ruleset, 4, rules[1]!)).toEqual(['198.18.129.3']);
  });

  it('a named port nobody gives, or SCTP ports the kernel cannot match, allow nothing (the pod stays isolated)', () => {
    const p = policy('x', 'p', { ingress: [rule([], [{ protocol: 'TCP', port: 'nope' }, { protocol: 'SCTP', port: 80 }])] });
    const without = compile(inputs(p), { ...OPTS, sctpPorts: false }).ruleset;
    expect(chain(without, 4, names.policyChain('x/p', 'ingress'))!.rules).toEqual([]);
    expect(chain(without, 4, INGRESS_CHAIN)!.rules).toHaveLength(2);
    const withSctp = compile(inputs(p), OPTS).ruleset;
    expect(chain(withSctp, 4, names.policyChain('x/p', 'ingress'))!.rules).toEqual(['-p sctp -m comment --comment "x/p ingress rule 0" -m sctp --dport 80 -j MARK --set-xmark 0x20000/0x20000']);
  });

  it('egress: dispatch by source, peers matched as destination; an empty rule allows everything', () => {
    const p = policy('x', 'out', { select: sel({ app: 'web' }), egress: [rule([{ podSelector: sel({ app: 'db' }) }]), rule()] });
    const { ruleset } = compile(inputs(p), OPTS);
    expect(chain(ruleset, 4, EGRESS_CHAIN)!.rules).toEqual([`-s 198.18.129.2/32 -m comment --comment "x/a egress" -j ${names.podChain(xa, 'egress')}`]);
    const rules = chain(ruleset, 4, names.policyChain('x/out', 'egress'))!.rules;
    expect(rules[0]).toMatch(/--match-set \S+ dst -j MARK/);
    expect(rules[1]).toBe('-m comment --comment "x/out egress rule 1" -j MARK --set-xmark 0x20000/0x20000');
  });

  it('several policies on one pod: one chain each, jumped to in turn; rules grow with policies, not pods x policies', () => {
    const pods = Array.from({ length: 50 }, (_, i) => pod('x', `p${i}`, [`198.18.129.${10 + i}`], { labels: { app: 'web' } }));
    const policies = [policy('x', 'one', { ingress: [rule([{ podSelector: sel() }])] }), policy('x', 'two', { ingress: [rule([], [{ protocol: 'TCP', port: 80 }])] })];
    const { ruleset } = compile({ policies, pods, namespaces: NAMESPACES }, OPTS);
    const policyRules = ruleset[4].chains.filter((c) => c.name.startsWith('GINGHAM-NPPI-')).flatMap((c) => c.rules);
    expect(policyRules).toHaveLength(2);
    expect(chain(ruleset, 4, names.podChain(pods[0]!, 'ingress'))!.rules.filter((r) => r.includes('-j GINGHAM-NPPI-'))).toHaveLength(2);
  });

  it('verdict events: NFLOG before the REJECT (drops) and before the RETURN (new accepted connections), rate-limited, naming the verdict, direction and pod chain', () => {
    const podChain = names.podChain(xa, 'ingress');
    const rules = (opts: Partial<RulesetOptions>): readonly string[] => chain(compile(inputs(policy('x', 'deny', { ingress: [] })), { ...OPTS, ...opts }).ruleset, 4, podChain)!.rules;
    const deny = `-m limit --limit 10/sec --limit-burst 20 -j NFLOG --nflog-prefix "gingham deny ingress ${podChain}" --nflog-group 9917 --nflog-size 128`;
    const accept = `-m conntrack --ctstate NEW -m mark --mark 0x20000/0x20000 -m limit --limit 10/sec --limit-burst 20 -j NFLOG --nflog-prefix "gingham accept ingress ${podChain}" --nflog-group 9917 --nflog-size 128`;
    const reject = ['-p tcp -j REJECT --reject-with tcp-reset', '-j REJECT --reject-with icmp-port-unreachable'];
    expect(rules({ logDrops: true }).slice(-3)).toEqual([deny, ...reject]);
    expect(rules({ logDrops: true, logAccepts: true }).slice(-5)).toEqual([accept, '-m mark --mark 0x20000/0x20000 -j RETURN', deny, ...reject]);
    expect(rules({}).some((r) => r.includes('NFLOG'))).toBe(false);
    expect(parseEventPrefix(`gingham deny ingress ${podChain}`)).toEqual({ verdict: 'deny', direction: 'ingress', chain: podChain });
    expect(parseEventPrefix('gingham drop in x/a: ')).toBeUndefined();
  });

  it('equal peers share one set, whichever policy names them', () => {
    const peer = { namespaceSelector: sel({ ns: 'y' }), podSelector: sel({}, [{ key: 'app', operator: 'In', values: ['web', 'db'] }]) };
    const same = { namespaceSelector: sel({ ns: 'y' }), podSelector: sel({}, [{ key: 'app', operator: 'In', values: ['db', 'web'] }]) };
    const { ruleset } = compile(inputs(policy('x', 'p1', { ingress: [rule([peer])] }), policy('x', 'p2', { ingress: [rule([same], [{ protocol: 'TCP', port: 80 }])] })), OPTS);
    expect(ruleset[4].sets).toHaveLength(1);
    expect(ruleset[4].sets[0]!.entries).toEqual(['198.18.130.2']);
  });

  it('set and chain names fit the kernel limits (31 and 28 characters)', () => {
    const p = policy('a-very-long-namespace-name-indeed', 'a-very-long-policy-name-that-goes-on', { ingress: [rule([{ podSelector: sel() }])] });
    const { ruleset } = compile({ ...inputs(p), pods: [pod('a-very-long-namespace-name-indeed', 'p', ['198.18.129.9'])] }, OPTS);
    for (const c of ruleset[4].chains) expect(c.name.length).toBeLessThanOrEqual(28);
    for (const s of ruleset[4].sets) expect(s.name.length).toBeLessThanOrEqual(31);
  });
});

describe('explain', () => {
  const verdict = (ps: PolicyInputs['policies'], c: Connection): boolean => explain(resolvePolicies({ ...inputs(), policies: ps }), c).allowed;

  it('no policy: allowed, nobody isolated', () => {
    const e = explain(resolvePolicies(inputs()), conn(ep(yc), ep(xa)));
    expect(e).toMatchObject({ allowed: true, egress: { reason: 'not-isolated' }, ingress: { reason: 'not-isolated' } });
  });

  it('names the policy and rule that allowed it, and says DENIED when none does', () => {
    const ps = [policy('x', 'deny', { ingress: [] }), policy('x', 'web', { select: sel({ app: 'web' }), ingress: [rule([{ namespaceSelector: sel({ team: 'blue' }) }], [{ protocol: 'TCP', port: 80 }])] })];
    const ok = explain(resolvePolicies({ ...inputs(), policies: ps }), conn(ep(yc), ep(xa)));
    expect(ok.ingress).toMatchObject({ allowed: true, reason: 'allowed-by', policy: 'x/web', rule: 0, policies: ['x/deny', 'x/web'] });
    expect(showExplanation(conn(ep(yc), ep(xa)), ok)).toContain('allowed by NetworkPolicy x/web ingress rule 0 (from namespaces team=blue; 80/TCP)');
    expect(verdict(ps, conn(ep(yc), ep(xa), 81))).toBe(false);
    expect(verdict(ps, conn(ep(yc), ep(xb)))).toBe(false);
    expect(showExplanation(conn(ep(yc), ep(xb)), explain(resolvePolicies({ ...inputs(), policies: ps }), conn(ep(yc), ep(xb))))).toMatch(/^y\/c \(198.18.130.2\) -> x\/b \(198.18.129.3\) 80\/TCP: DENIED/);
  });

  it('named ports are resolved on the destination pod', () => {
    const ps = [policy('x', 'p', { ingress: [rule([], [{ protocol: 'TCP', port: 'http' }])] })];
    expect(verdict(ps, conn(ep(yc), ep(xa), 80))).toBe(true);
    expect(verdict(ps, conn(ep(yc), ep(xa), 81))).toBe(false);
    expect(verdict(ps, conn(ep(yc), ep(xb), 81))).toBe(true);
  });

  it('ipBlock except, endPort, protocol', () => {
    const ps = [policy('x', 'p', { ingress: [rule([{ ipBlock: { cidr: '198.18.128.0/17', except: ['198.18.130.0/24'] } }], [{ protocol: 'UDP', port: 80, endPort: 90 }])] })];
    const from = (ip: string): Endpoint => ({ kind: 'ip', ip });
    expect(verdict(ps, conn(from('198.18.131.5'), ep(xa), 85, 'UDP'))).toBe(true);
    expect(verdict(ps, conn(from('198.18.131.5'), ep(xa), 91, 'UDP'))).toBe(false);
    expect(verdict(ps, conn(from('198.18.131.5'), ep(xa), 85, 'TCP'))).toBe(false);
    expect(verdict(ps, conn(ep(yc), ep(xa), 85, 'UDP'))).toBe(false);
  });

  it('egress and ingress both count; own node always reaches its pod', () => {
    const ps = [policy('x', 'out', { select: sel({ app: 'web' }), egress: [] }), policy('x', 'in', { ingress: [] })];
    const e = explain(resolvePolicies({ ...inputs(), policies: ps }), conn(ep(xa), ep(xb)));
    expect(e).toMatchObject({ allowed: false, egress: { allowed: false, reason: 'no-rule-allows' }, ingress: { allowed: false } });
    expect(verdict(ps, conn({ kind: 'ip', ip: '198.19.1.2', node: 'n1' }, ep(xb)))).toBe(true);
    expect(verdict(ps, conn(ep(host), ep(xb)))).toBe(true);
    expect(verdict(ps, conn({ kind: 'ip', ip: '198.19.1.3', node: 'n2' }, ep(xb)))).toBe(false);
    // Egress to its own node passes too; to another node it does not.
    expect(verdict(ps, conn(ep(xa), { kind: 'ip', ip: '198.19.1.2', node: 'n1' }))).toBe(true);
    expect(verdict(ps, conn(ep(xa), { kind: 'ip', ip: '198.19.1.3', node: 'n2' }))).toBe(false);
  });

  it('a policy in one namespace never isolates pods in another', () => {
    expect(verdict([policy('x', 'deny', { ingress: [] })], conn(ep(xa), ep(yc)))).toBe(true);
  });
});
