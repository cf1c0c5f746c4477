// ClusterNetworkPolicy in the compiler: the API's order of evaluation (Admin by priority, then
// NetworkPolicy, then Baseline, then allow) as explain judges it, each case one of the API's own
// examples or rules, and the ruleset's shape: tier chains only where a policy has local subjects,
// rules growing with rules and never with pods, and the incremental compiler equal to a fresh one.
import { describe, expect, it } from 'vitest';
import { PolicyCompiler, compile } from './compile.js';
import { type Connection, type Endpoint, explain, showClusterRule, showExplanation } from './explain.js';
import type { ClusterPolicy, NodePeerInfo, PodInfo, Policy, PolicyInputs } from './model.js';
import { resolveAll } from './resolve.js';
import { EGRESS_LOCAL_CHAIN, tierChain } from './ruleset.js';
import { cnp, cnpRule, inNs, ns, pod, podsOf, policy, rule, sel } from './testing.js';

const web = pod('shop', 'web', ['198.18.40.2', 'fd42:40::2'], { labels: { app: 'web' }, namedPorts: [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'dns', protocol: 'UDP', port: 53 }] });
const db = pod('shop', 'db', ['198.18.40.3'], { labels: { app: 'db' } });
const spy = pod('other', 'spy', ['198.18.41.2'], { node: 'n2', labels: { app: 'spy' } });
const mon = pod('monitoring', 'prom', ['198.18.41.3'], { node: 'n2', labels: { app: 'prometheus' } });
const NODES: NodePeerInfo[] = [
  { name: 'n1', labels: { 'kubernetes.io/os': 'linux', role: 'worker' }, ips: ['198.18.0.1'] },
  { name: 'n2', labels: { 'kubernetes.io/os': 'linux' }, ips: ['198.18.0.2', '198.19.0.2'] },
];

const inputs = (clusterPolicies: ClusterPolicy[], policies: Policy[] = [], pods: PodInfo[] = [web, db, spy, mon]): PolicyInputs => ({
  policies,
  pods,
  namespaces: [ns('shop'), ns('other'), ns('monitoring')],
  nodes: NODES,
  clusterPolicies,
});

const ep = (p: PodInfo): Endpoint => ({ kind: 'pod', pod: p, ip: p.ips[0]! });
const nodeEp = (n: NodePeerInfo): Endpoint => ({ kind: 'ip', ip: n.ips[0]!, node: n.name });
const conn = (from: Endpoint, to: Endpoint, port = 80, protocol: Connection['protocol'] = 'TCP'): Connection => ({ from, to, port, protocol });
const judge = (i: PolicyInputs, c: Connection) => {
  const { policies, cluster } = resolveAll(i);
  return explain(policies, c, cluster);
};

const shopOnly = inNs(sel({ ns: 'shop' }));
const fromOther = [inNs(sel({ ns: 'other' }))];

describe('the order of evaluation', () => {
  it('an Admin Deny wins over a NetworkPolicy that allows', () => {
    const allowAll = policy('shop', 'allow-all', { ingress: [rule()] });
    const e = judge(inputs([cnp('deny-other', 'Admin', 10, shopOnly, { ingress: [cnpRule('Deny', fromOther)] })], [allowAll]), conn(ep(spy), ep(web)));
    expect(e.ingress).toMatchObject({ allowed: false, reason: 'cluster-deny', tier: 'Admin', decided: { policy: 'deny-other', rule: 0, action: 'Deny' } });
  });

  it('an Admin Pass hands the decision to NetworkPolicy, which may allow or deny', () => {
    const admin = cnp('pass-other', 'Admin', 10, shopOnly, { ingress: [cnpRule('Pass', fromOther), cnpRule('Deny', fromOther)] });
    const webFromOther = policy('shop', 'web-from-other', { select: sel({ app: 'web' }), ingress: [rule([{ namespaceSelector: sel({ ns: 'other' }) }])] });
    const allowed = judge(inputs([admin], [webFromOther]), conn(ep(spy), ep(web)));
    expect(allowed.ingress).toMatchObject({ allowed: true, reason: 'allowed-by', tier: 'NetworkPolicy', policy: 'shop/web-from-other', passed: [{ policy: 'pass-other', action: 'Pass' }] });
    expect(showExplanation(conn(ep(spy), ep(web)), allowed)).toContain('ingress: passed on by Admin pass-other (priority 10) ingress rule 0 (from namespaces ns=other; any protocol): Pass');
    const denyDb = policy('shop', 'db-closed', { select: sel({ app: 'db' }), ingress: [] });
    expect(judge(inputs([admin], [denyDb]), conn(ep(spy), ep(db))).ingress).toMatchObject({ allowed: false, reason: 'no-rule-allows', tier: 'NetworkPolicy' });
    // Passed and no NetworkPolicy selects it: Baseline, then the default.
    expect(judge(inputs([admin]), conn(ep(spy), ep(db))).ingress).toMatchObject({ allowed: true, reason: 'not-isolated', tier: 'default' });
  });

  it('a Baseline Deny applies where no NetworkPolicy selects the pod, and loses to one that does', () => {
    const baseline = cnp('isolate-namespaces', 'Baseline', 0, inNs(sel()), { ingress: [cnpRule('Deny', fromOther)] });
    expect(judge(inputs([baseline]), conn(ep(spy), ep(web))).ingress).toMatchObject({ allowed: false, tier: 'Baseline', decided: { policy: 'isolate-namespaces' } });
    const open = policy('shop', 'web-open', { select: sel({ app: 'web' }), ingress: [rule()] });
    expect(judge(inputs([baseline], [open]), conn(ep(spy), ep(web))).ingress).toMatchObject({ allowed: true, tier: 'NetworkPolicy' });
    // A NetworkPolicy that selects the pod and allows nothing from there decides too: Baseline is never reached.
    const closed = policy('shop', 'web-closed', { select: sel({ app: 'web' }), ingress: [] });
    expect(judge(inputs([cnp('allow-other', 'Baseline', 0, shopOnly, { ingress: [cnpRule('Accept', fromOther)] })], [closed]), conn(ep(spy), ep(web))).ingress).toMatchObject({ allowed: false, tier: 'NetworkPolicy' });
  });

  it('an Admin Accept ends the direction: neither NetworkPolicy nor Baseline is asked', () => {
    const scrape = cnp('scrape', 'Admin', 5, shopOnly, { ingress: [cnpRule('Accept', [inNs(sel({ ns: 'monitoring' }))])] });
    const closed = policy('shop', 'closed', { ingress: [] });
    const e = judge(inputs([scrape, cnp('deny-all', 'Baseline', 0, shopOnly, { ingress: [cnpRule('Deny', 'all')] })], [closed]), conn(ep(mon), ep(web)));
    expect(e.ingress).toMatchObject({ allowed: true, reason: 'cluster-accept', tier: 'Admin' });
  });

  it('within a tier: lower priority first, equal priorities by name; within a policy: rules in written order', () => {
    const deny = (name: string, priority: number) => cnp(name, 'Admin', priority, shopOnly, { ingress: [cnpRule('Deny', fromOther)] });
    const accept = (name: string, priority: number) => cnp(name, 'Admin', priority, shopOnly, { ingress: [cnpRule('Accept', fromOther)] });
    expect(judge(inputs([deny('d', 20), accept('a', 10)]), conn(ep(spy), ep(web))).allowed).toBe(true);
    expect(judge(inputs([deny('d', 5), accept('a', 10)]), conn(ep(spy), ep(web))).allowed).toBe(false);
    expect(judge(inputs([deny('b', 10), accept('c', 10)]), conn(ep(spy), ep(web))).ingress).toMatchObject({ decided: { policy: 'b' } });
    const ordered = cnp('ordered', 'Admin', 1, shopOnly, { ingress: [cnpRule('Accept', fromOther, [{ kind: 'port', protocol: 'TCP', port: 80 }]), cnpRule('Deny', fromOther)] });
    expect(judge(inputs([ordered]), conn(ep(spy), ep(web), 80)).allowed).toBe(true);
    expect(judge(inputs([ordered]), conn(ep(spy), ep(web), 81)).ingress).toMatchObject({ allowed: false, decided: { rule: 1 } });
  });

  it('egress and ingress are judged apart: an egress Accept does not open the destination', () => {
    const out = cnp('out', 'Admin', 1, inNs(sel({ ns: 'other' })), { egress: [cnpRule('Accept', [shopOnly])] });
    const inn = cnp('in', 'Admin', 2, shopOnly, { ingress: [cnpRule('Deny', fromOther)] });
    const e = judge(inputs([out, inn]), conn(ep(spy), ep(web)));
    expect(e).toMatchObject({ allowed: false, egress: { allowed: true, tier: 'Admin' }, ingress: { allowed: false, tier: 'Admin' } });
  });
});

describe('peers and ports', () => {
  it('networks match pods too, of their own family only', () => {
    const p = cnp('no-range', 'Admin', 1, shopOnly, { egress: [cnpRule('Deny', [{ kind: 'networks', cidrs: ['198.18.41.0/24'] }])] });
    expect(judge(inputs([p]), conn(ep(web), ep(spy))).egress).toMatchObject({ allowed: false });
    expect(judge(inputs([p]), conn(ep(web), ep(db))).egress).toMatchObject({ allowed: true });
  });

  it('nodes match every address of the selected nodes, the pod\'s own node included', () => {
    const p = cnp('no-nodes', 'Baseline', 1, shopOnly, { egress: [cnpRule('Deny', [{ kind: 'nodes', nodes: sel({ role: 'worker' }) }])] });
    expect(judge(inputs([p]), conn(ep(web), nodeEp(NODES[0]!))).egress).toMatchObject({ allowed: false, tier: 'Baseline' });
    expect(judge(inputs([p]), conn(ep(web), nodeEp(NODES[1]!))).egress).toMatchObject({ allowed: true });
    // A NetworkPolicy isolating the pod decides traffic to its own node (allowed) before Baseline.
    const iso = policy('shop', 'egress-closed', { select: sel({ app: 'web' }), egress: [] });
    expect(judge(inputs([p], [iso]), conn(ep(web), nodeEp(NODES[0]!))).egress).toMatchObject({ allowed: true, reason: 'own-node' });
    // The node reaching its pods crosses no hook of ours.
    const closed = cnp('closed', 'Admin', 1, shopOnly, { ingress: [cnpRule('Deny', 'all')] });
    expect(judge(inputs([closed]), conn(nodeEp(NODES[0]!), ep(web))).ingress).toMatchObject({ allowed: true, reason: 'from-own-node' });
  });

  it('a named port takes its protocol and number from the destination pod', () => {
    const p = cnp('named', 'Admin', 1, inNs(sel({ ns: 'other' })), { egress: [cnpRule('Accept', [shopOnly], [{ kind: 'named', name: 'dns' }]), cnpRule('Deny', [shopOnly])] });
    expect(judge(inputs([p]), conn(ep(spy), ep(web), 53, 'UDP')).egress.allowed).toBe(true);
    expect(judge(inputs([p]), conn(ep(spy), ep(web), 53, 'TCP')).egress.allowed).toBe(false);
    expect(judge(inputs([p]), conn(ep(spy), ep(db), 53, 'UDP')).egress.allowed).toBe(false);
  });

  it('domainNames are not enforced: the peer matches nothing', () => {
    const p = cnp('names', 'Admin', 1, shopOnly, { egress: [cnpRule('Accept', [{ kind: 'domainNames', names: ['example.org'] }]), cnpRule('Deny', 'all')] });
    const e = judge(inputs([p]), conn(ep(web), ep(spy)));
    expect(e.egress).toMatchObject({ allowed: false, decided: { rule: 1 } });
    expect(showClusterRule(resolveAll(inputs([p])).cluster[0]!.egress[0]!, 'egress')).toBe('to domainNames example.org (not enforced: matches nothing); any protocol');
  });
});

describe('the ruleset', () => {
  const opts = { node: 'n1', sctpPorts: true, logDrops: true };
  const names = (i: PolicyInputs, f: 4 | 6 = 4) => compile(i, opts).ruleset[f].chains.map((c) => c.name);

  it('tier chains only for policies with subjects on this node; an INPUT hook only for egress', () => {
    const remote = cnp('remote', 'Admin', 1, inNs(sel({ ns: 'other' })), { ingress: [cnpRule('Deny', [shopOnly])] });
    expect(compile(inputs([remote]), opts).ruleset[4].chains).toEqual([]);
    const ingressOnly = cnp('in', 'Admin', 1, shopOnly, { ingress: [cnpRule('Deny', fromOther)] });
    expect(names(inputs([ingressOnly]))).toContain(tierChain('Admin', 'ingress'));
    expect(names(inputs([ingressOnly]))).not.toContain('GINGHAM-NP-INPUT');
    const egress = cnp('out', 'Baseline', 1, shopOnly, { egress: [cnpRule('Deny', [{ kind: 'nodes', nodes: sel() }])] });
    expect(names(inputs([egress]))).toEqual(expect.arrayContaining(['GINGHAM-NP-INPUT', EGRESS_LOCAL_CHAIN, tierChain('Baseline', 'egress'), 'GINGHAM-NP-BASELINE-DROP-E']));
    // db has no IPv6 address and web's is the only one: IPv6 gets chains for web's policy alone.
    expect(names(inputs([cnp('db', 'Admin', 1, podsOf(sel({ ns: 'shop' }), sel({ app: 'db' })), { ingress: [cnpRule('Deny', fromOther)] })]), 6)).toEqual([]);
  });

  it('rules grow with rules, not with pods', () => {
    const p = cnp('iso', 'Baseline', 1, shopOnly, { ingress: [cnpRule('Deny', fromOther), cnpRule('Accept', [inNs(sel({ ns: 'monitoring' }))], [{ kind: 'port', protocol: 'TCP', port: 9090 }])] });
    const count = (n: number) => {
      const many = Array.from({ length: n }, (_, i) => pod('shop', `p${i}`, [`198.18.42.${i + 2}`], { labels: { app: 'web' } }));
      return compile(inputs([p], [], [...many, spy, mon]), opts).ruleset[4].chains.reduce((k, c) => k + c.rules.length, 0);
    };
    expect(count(200)).toBe(count(2));
  });

  it('the compiler kept from pass to pass gives what a fresh one gives, and keeps what did not change', () => {
    const c = new PolicyCompiler();
    const ps = [
      cnp('a', 'Admin', 3, shopOnly, { ingress: [cnpRule('Pass', fromOther, [{ kind: 'named', name: 'http' }]), cnpRule('Deny', fromOther)] }),
      cnp('b', 'Baseline', 3, podsOf(sel(), sel({ app: 'web' })), { egress: [cnpRule('Deny', [{ kind: 'networks', cidrs: ['0.0.0.0/0', '::/0'] }, { kind: 'nodes', nodes: sel() }])] }),
    ];
    const first = c.compile(inputs(ps), opts);
    expect(first.ruleset).toEqual(compile(inputs(ps), opts).ruleset);
    // Another pod of another node comes: the tiers' chains are the same objects.
    const more = inputs(ps, [], [web, db, spy, mon, pod('other', 'new', ['198.18.41.9'], { node: 'n2' })]);
    const second = c.compile(more, opts);
    expect(second.ruleset).toEqual(compile(more, opts).ruleset);
    for (const name of [tierChain('Admin', 'ingress'), tierChain('Baseline', 'egress')]) {
      expect(second.ruleset[4].chains.find((x) => x.name === name)).toBe(first.ruleset[4].chains.find((x) => x.name === name));
    }
    // A priority change reorders the tier chain, nothing else.
    const moved = inputs([{ ...ps[0]!, priority: 1 }, cnp('c', 'Admin', 2, shopOnly, { ingress: [cnpRule('Accept', fromOther)] }), ps[1]!]);
    expect(c.compile(moved, opts).ruleset).toEqual(compile(moved, opts).ruleset);
  });
});
