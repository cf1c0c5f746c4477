// ClusterNetworkPolicy (policy.networking.k8s.io v1beta1) precedence on the probe matrix of
// lib/netpol.ts: Admin tier by priority, then NetworkPolicy v1, then Baseline, then allow. Each
// scenario applies ClusterNetworkPolicies (and NetworkPolicies) written from the API's own text,
// waits for the whole matrix (pod IPs, Services, node servers; both families in a dual-stack
// cluster) to match the verdicts the tiers give, then checks what the matrix cannot see: that a
// ClusterNetworkPolicy Deny drops (the probe times out) while a v1 denial rejects (refused), ICMP,
// traffic to the pod's own node, and `gingham policy explain`. The pods are created once; the
// policies and labels of a scenario go in afterEach.
//
// ClusterNetworkPolicies are cluster-scoped: every one of this file is named and labelled with the
// run, and its subjects and peers select only this file's namespaces, by name.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { escapeRegExp } from './lib/checks.js';
import { BACKEND, IP_FAMILY, POD_CIDR } from './lib/env.js';
import { DEADLINE_MS, ClusterPolicies, expectPing, expectVerdicts, explain, hostCidr, installPing, port, recordEnforcement } from './lib/cluster-policy.js';
import { SUITE_LABEL, core, namespace } from './lib/kube.js';
import { type Cell, type Expect, FAMILIES, type Ns, NetpolMatrix, TCP_PORT_NAMES, inNs, isPod } from './lib/netpol.js';
import { log, phase } from './lib/timing.js';

let m: NetpolMatrix;
let cnp: ClusterPolicies;
/** The namespace of the node probe servers; the matrix namespaces are PREFIX-x, -y, -z. */
const prefix = (): string => `${namespace()}-cnp`;

beforeAll(async () => {
  m = new NetpolMatrix(prefix());
  cnp = new ClusterPolicies(m);
  await cnp.assertServed();
  await ClusterPolicies.deleteStale();
  await core().createNamespace({ body: { metadata: { name: prefix(), labels: SUITE_LABEL } } });
  await phase('cnp matrix: 9 pods, 9 Services, 3 node servers, baseline', () => m.setup());
});

afterEach(async () => {
  await cnp.deleteAll();
  if (m.pods.length > 0) await m.reset();
});

afterAll(async () => {
  recordEnforcement(m);
  // Each step runs even when an earlier one threw: nothing of this file may stay behind.
  const errors: unknown[] = [];
  for (const step of [() => cnp.deleteAll(), () => m.destroy(), () => core().deleteNamespace({ name: prefix(), gracePeriodSeconds: 0 })]) {
    await step().catch((e: unknown) => errors.push(e));
  }
  if (errors.length > 0) log(`cnp cleanup: ${errors.map((e) => (e as Error).message).join('; ')}`);
});

/** A scenario: its name heads its rows in the time-to-enforce table. */
function scenario(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    m.begin(name);
    await fn();
  });
}

const ALL_NS: readonly Ns[] = ['x', 'y', 'z'];
const to = (c: Cell, id: string): boolean => isPod(c.to, id);
const from = (c: Cell, id: string): boolean => isPod(c.from, id);
/** The TCP port a pod names "web" (80 on a, 81 on b, none on c). */
const isWeb = (c: Cell): boolean => isPod(c.to) && c.proto === 'tcp' && TCP_PORT_NAMES[c.to.name][c.port] === 'web';
const step = (name: string, o: { apply?: object[]; act?: () => Promise<void>; expect: Expect }): ReturnType<NetpolMatrix['step']> => m.step(name, { ...o, deadlineMs: DEADLINE_MS });
/** Lines of explain's output. */
const lines = (out: string): string[] => out.split('\n');

/**
 * `gingham policy explain` from `src` to `dst` on 80/TCP in every family: the verdict, and a line
 * naming the tier's policy at priority 10 and its rule 0 (followed by `tail`, e.g. "Pass").
 */
async function expectExplained(m: NetpolMatrix, src: string, dst: string, verdict: RegExp, tier: 'Admin' | 'Baseline', name: string, tail = ''): Promise<string[]> {
  const outs: string[] = [];
  for (const f of FAMILIES) {
    const out = await explain(m, src, dst, '80/TCP', f);
    expect(out).toMatch(verdict);
    expect(lines(out).some((l) => new RegExp(`${tier}\\s+${escapeRegExp(name)}\\s+\\(priority 10\\).*rule 0${tail ? `.*${tail}` : ''}`).test(l)), `${src}: a line "${tier} ${name} (priority 10) ... rule 0 ${tail}"`).toBe(true);
    outs.push(out);
  }
  return outs;
}

describe(`ClusterNetworkPolicy precedence on the probe matrix (${BACKEND}, ${IP_FAMILY})`, () => {
  scenario('Admin Deny overrides a NetworkPolicy allow', async () => {
    const v1 = m.policy('y', 'a-from-x', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }] }] });
    await step('v1: y/a admits namespace x', { apply: [v1], expect: { ingress: (c) => !to(c, 'y/a') || inNs(c.from, 'x') } });
    await step('plus Admin (priority 10): y/a denies x/b', {
      apply: [cnp.policy('admin-deny', 'Admin', 10, { pods: cnp.pods(['y'], { pod: 'a' }) }, { ingress: [{ name: 'deny-x-b', action: 'Deny', peers: [{ pods: cnp.pods(['x'], { pod: 'b' }) }] }] })],
      expect: { ingress: (c) => !to(c, 'y/a') || (inNs(c.from, 'x') && !from(c, 'x/b')) },
    });
    await expectVerdicts(m, 'Admin Deny drops, v1 rejects', [
      { from: 'x/b', to: 'y/a', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/b', to: 'y/a', port: 81, proto: 'udp', want: 'dropped' },
      { from: 'x/b', to: 'y/a', port: 80, proto: 'tcp', via: 'service', want: 'dropped' },
      { from: 'z/a', to: 'y/a', port: 80, proto: 'tcp', want: 'refused' },
      { from: 'z/a', to: 'y/a', port: 81, proto: 'udp', want: 'refused' },
      { from: 'x/a', to: 'y/a', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'y/b', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    await expectExplained(m, 'x/b', 'y/a', /DENIED/, 'Admin', cnp.name('admin-deny'));
  });

  scenario('Admin Pass hands the decision to NetworkPolicy, which allows and denies; Admin rules after the Pass do not apply', async () => {
    const subject = { pods: cnp.pods(['y'], { pod: 'a' }) };
    await step('Admin Pass from x (priority 10), Admin Deny from every namespace (priority 20), v1: y/a admits x/a only', {
      apply: [
        cnp.policy('pass-x', 'Admin', 10, subject, { ingress: [{ name: 'pass-x', action: 'Pass', peers: [{ namespaces: cnp.namespaces(['x']) }] }] }),
        cnp.policy('deny-all', 'Admin', 20, subject, { ingress: [{ name: 'deny-all', action: 'Deny', peers: [{ namespaces: cnp.namespaces(ALL_NS) }] }] }),
        m.policy('y', 'a-from-xa', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] }),
      ],
      expect: { ingress: (c) => !to(c, 'y/a') || from(c, 'x/a') },
    });
    await expectVerdicts(m, 'Pass then v1', [
      { from: 'x/a', to: 'y/a', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'y/a', port: 80, proto: 'tcp', want: 'refused' },
      { from: 'x/c', to: 'y/a', port: 81, proto: 'udp', want: 'refused' },
      { from: 'y/b', to: 'y/a', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'z/c', to: 'y/a', port: 81, proto: 'udp', want: 'dropped' },
    ]);
    for (const [src, verdict] of [
      ['x/a', /ALLOWED/],
      ['x/b', /DENIED/],
    ] as const) {
      for (const out of await expectExplained(m, src, 'y/a', verdict, 'Admin', cnp.name('pass-x'), 'Pass')) {
        expect(out, `${src}: the NetworkPolicy that decided after the Pass`).toContain('a-from-xa');
      }
    }
  });

  scenario('Baseline Deny applies to a pod no NetworkPolicy selects', async () => {
    await step('Baseline (priority 10): namespace z denies namespace x', {
      apply: [cnp.policy('baseline-z', 'Baseline', 10, { namespaces: cnp.namespaces(['z']) }, { ingress: [{ name: 'deny-x', action: 'Deny', peers: [{ namespaces: cnp.namespaces(['x']) }] }] })],
      expect: { ingress: (c) => !inNs(c.to, 'z') || !inNs(c.from, 'x') },
    });
    await expectVerdicts(m, 'Baseline Deny drops', [
      { from: 'x/a', to: 'z/b', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/c', to: 'z/a', port: 81, proto: 'udp', want: 'dropped' },
      { from: 'x/a', to: 'z/b', port: 80, proto: 'tcp', via: 'service', want: 'dropped' },
      { from: 'y/a', to: 'z/b', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/a', to: 'y/b', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    await expectExplained(m, 'x/a', 'z/b', /DENIED/, 'Baseline', cnp.name('baseline-z'));
  });

  scenario('Baseline Deny loses to a NetworkPolicy allow (and v1 alone decides for the pods it selects)', async () => {
    const baselineOnly = (c: Cell): boolean => !inNs(c.to, 'z') || !inNs(c.from, 'x');
    await step('Baseline (priority 10): namespace z denies namespace x', {
      apply: [cnp.policy('baseline-z', 'Baseline', 10, { namespaces: cnp.namespaces(['z']) }, { ingress: [{ action: 'Deny', peers: [{ namespaces: cnp.namespaces(['x']) }] }] })],
      expect: { ingress: baselineOnly },
    });
    await step('plus v1: z/a admits namespace x', {
      apply: [m.policy('z', 'a-from-x', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }] }] })],
      expect: { ingress: (c) => (to(c, 'z/a') ? inNs(c.from, 'x') : baselineOnly(c)) },
    });
    await expectVerdicts(m, 'v1 over Baseline', [
      { from: 'x/b', to: 'z/a', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'z/a', port: 81, proto: 'udp', want: 'allowed' },
      { from: 'y/a', to: 'z/a', port: 80, proto: 'tcp', want: 'refused' },
      { from: 'x/b', to: 'z/c', port: 80, proto: 'tcp', want: 'dropped' },
    ]);
  });

  scenario('same-priority Admin policies with disjoint subjects do not bleed into each other', async () => {
    const peers = [{ namespaces: cnp.namespaces(ALL_NS) }];
    await step('three Admin policies at priority 20: x/a TCP 80 in, x/b UDP 81 in, x/c TCP 81 out to y', {
      apply: [
        cnp.policy('same-a', 'Admin', 20, { pods: cnp.pods(['x'], { pod: 'a' }) }, { ingress: [{ action: 'Deny', peers, protocols: [port('tcp', 80)] }] }),
        cnp.policy('same-b', 'Admin', 20, { pods: cnp.pods(['x'], { pod: 'b' }) }, { ingress: [{ action: 'Deny', peers, protocols: [port('udp', 81)] }] }),
        cnp.policy('same-c', 'Admin', 20, { pods: cnp.pods(['x'], { pod: 'c' }) }, { egress: [{ action: 'Deny', peers: [{ namespaces: cnp.namespaces(['y']) }], protocols: [port('tcp', 81)] }] }),
      ],
      expect: {
        ingress: (c) => !isPod(c.from) || !((to(c, 'x/a') && c.proto === 'tcp' && c.port === 80) || (to(c, 'x/b') && c.proto === 'udp' && c.port === 81)),
        egress: (c) => !(from(c, 'x/c') && inNs(c.to, 'y') && c.proto === 'tcp' && c.port === 81),
      },
    });
    await expectVerdicts(m, 'same priority', [
      { from: 'y/a', to: 'x/a', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'y/a', to: 'x/b', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'y/a', to: 'x/b', port: 81, proto: 'udp', want: 'dropped' },
      { from: 'y/a', to: 'x/a', port: 81, proto: 'udp', want: 'allowed' },
      { from: 'x/c', to: 'y/b', port: 81, proto: 'tcp', want: 'dropped' },
      { from: 'x/b', to: 'y/b', port: 81, proto: 'tcp', want: 'allowed' },
    ]);
  });

  scenario('changing the priority of a live policy flips the outcome', async () => {
    const subject = { pods: cnp.pods(['y'], { pod: 'b' }) };
    const accept = (priority: number): object => cnp.policy('accept-x', 'Admin', priority, subject, { ingress: [{ action: 'Accept', peers: [{ namespaces: cnp.namespaces(['x']) }] }] });
    const deny = (priority: number): object => cnp.policy('deny-x', 'Admin', priority, subject, { ingress: [{ action: 'Deny', peers: [{ namespaces: cnp.namespaces(['x']) }] }] });
    const isolated = m.policy('y', 'b-deny', { podSelector: { matchLabels: { pod: 'b' } }, policyTypes: ['Ingress'] });
    const accepted = { ingress: (c: Cell): boolean => !to(c, 'y/b') || inNs(c.from, 'x') };
    const denied = { ingress: (c: Cell): boolean => !to(c, 'y/b') };
    await step('v1 isolates y/b; Admin Accept from x at 30 before Deny at 40: x gets through', { apply: [isolated, accept(30), deny(40)], expect: accepted });
    await expectVerdicts(m, 'Accept first', [
      { from: 'x/a', to: 'y/b', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'z/a', to: 'y/b', port: 80, proto: 'tcp', want: 'refused' },
    ]);
    await step('Deny moved to 20: x is dropped', { apply: [deny(20)], expect: denied });
    await expectVerdicts(m, 'Deny first', [
      { from: 'x/a', to: 'y/b', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'z/a', to: 'y/b', port: 80, proto: 'tcp', want: 'refused' },
    ]);
    await step('Accept moved to 10: x gets through again', { apply: [accept(10)], expect: accepted });
  });

  scenario('relabelling a namespace moves it in and out of the subject, a pod in and out of a peer', async () => {
    // team=red is on the a pods; y/b is blue until relabelled.
    const red = new Set(['x/a', 'y/a', 'z/a']);
    const guarded = (nss: Ns[]) => ({ ingress: (c: Cell): boolean => !(nss.some((n) => inNs(c.to, n)) && isPod(c.from) && red.has(c.from.id)) });
    await step('Admin: namespaces with cnp-guard=on deny team=red pods; none guarded yet', {
      apply: [
        cnp.policy('guard', 'Admin', 50, { namespaces: cnp.namespaces(ALL_NS, { 'cnp-guard': 'on' }) }, { ingress: [{ action: 'Deny', peers: [{ pods: { namespaceSelector: cnp.namespaces(ALL_NS), podSelector: { matchLabels: { team: 'red' } } } }] }] }),
      ],
      expect: {},
    });
    await step('z labelled cnp-guard=on', { act: () => m.labelNamespace('z', { 'cnp-guard': 'on' }), expect: guarded(['z']) });
    red.add('y/b');
    await step('y/b labelled team=red', { act: () => m.labelPod('y/b', { team: 'red' }), expect: guarded(['z']) });
    await expectVerdicts(m, 'y/b now a peer', [
      { from: 'y/b', to: 'z/c', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'y/c', to: 'z/c', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    red.delete('y/b');
    await step('y/b back to team=blue', { act: () => m.labelPod('y/b', { team: 'blue' }), expect: guarded(['z']) });
    await step('z loses cnp-guard', { act: () => m.labelNamespace('z', { 'cnp-guard': null }), expect: {} });
  });

  scenario('relabelling a pod moves it in and out of the subject, a namespace in and out of a peer (Baseline)', async () => {
    const cut = (id: string, n: Ns) => ({ egress: (c: Cell): boolean => !(from(c, id) && inNs(c.to, n)) });
    await step('Baseline: cnp-role=locked pods may not reach cnp-zone=restricted namespaces; y restricted, nobody locked', {
      apply: [
        cnp.policy('locked', 'Baseline', 50, { pods: { namespaceSelector: cnp.namespaces(ALL_NS), podSelector: { matchLabels: { 'cnp-role': 'locked' } } } }, { egress: [{ action: 'Deny', peers: [{ namespaces: cnp.namespaces(ALL_NS, { 'cnp-zone': 'restricted' }) }] }] }),
      ],
      act: () => m.labelNamespace('y', { 'cnp-zone': 'restricted' }),
      expect: {},
    });
    await step('x/c labelled cnp-role=locked', { act: () => m.labelPod('x/c', { 'cnp-role': 'locked' }), expect: cut('x/c', 'y') });
    await step('y loses cnp-zone', { act: () => m.labelNamespace('y', { 'cnp-zone': null }), expect: {} });
    await step('z labelled cnp-zone=restricted', { act: () => m.labelNamespace('z', { 'cnp-zone': 'restricted' }), expect: cut('x/c', 'z') });
    await expectVerdicts(m, 'x/c locked out of z', [
      { from: 'x/c', to: 'z/a', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/c', to: 'z/a', port: 80, proto: 'tcp', via: 'service', want: 'dropped' },
      { from: 'x/b', to: 'z/a', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    await step('x/c loses cnp-role', { act: () => m.labelPod('x/c', { 'cnp-role': null }), expect: {} });
  });

  scenario('networks peers: Accept one pod address, Deny the pod CIDR, ICMP included', async () => {
    const yb = m.pod('y/b');
    await installPing(m, ['x/a', 'x/b']);
    await step('Admin: x/a egress Accept y/b, then Deny the pod CIDR (no protocols: ICMP too)', {
      apply: [
        cnp.policy('networks', 'Admin', 60, { pods: cnp.pods(['x'], { pod: 'a' }) }, {
          egress: [
            { name: 'accept-y-b', action: 'Accept', peers: [{ networks: FAMILIES.map((f) => hostCidr(yb.ips[f])) }] },
            { name: 'deny-pods', action: 'Deny', peers: [{ networks: FAMILIES.map((f) => POD_CIDR[f]!) }] },
          ],
        }),
      ],
      // Node addresses are outside the pod CIDR; Services are judged after DNAT, by the pod's address.
      expect: { egress: (c) => !from(c, 'x/a') || c.to.kind === 'node' || to(c, 'y/b') },
    });
    await expectVerdicts(m, 'networks', [
      { from: 'x/a', to: 'y/c', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/a', to: 'y/c', port: 81, proto: 'udp', want: 'dropped' },
      { from: 'x/a', to: 'y/b', port: 80, proto: 'tcp', via: 'service', want: 'allowed' },
      { from: 'x/a', to: 'n:w1', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    await expectPing(m, 'x/a', 'y/b', true);
    await expectPing(m, 'x/a', 'y/c', false);
    await expectPing(m, 'x/b', 'y/c', true);
  });

  scenario('nodes peers (egress): a node server on the pod\'s own node, then on another node', async () => {
    // x/a runs on the control plane (n:cp), x/b on worker 1 (n:w1).
    const own = m.node('n:cp');
    const other = m.node('n:w1');
    expect(m.pod('x/a').node).toBe(own.node);
    expect(m.pod('x/b').node).toBe(other.node);
    const nodesPolicy = (node: string): object =>
      cnp.policy('nodes', 'Admin', 70, { pods: cnp.pods(['x'], { pod: 'a' }) }, { egress: [{ action: 'Deny', peers: [{ nodes: { matchLabels: { 'kubernetes.io/hostname': node } } }] }] });
    await expectVerdicts(m, 'node servers before the policy', [
      { from: 'x/a', to: 'n:cp', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/a', to: 'n:w1', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    // The own node is out of the matrix's reach (it passes pod <-> own node, as v1 does): probed alone.
    await m.apply([nodesPolicy(own.node)]);
    await expectVerdicts(m, 'x/a denied its own node', [
      { from: 'x/a', to: 'n:cp', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/a', to: 'n:cp', port: 81, proto: 'udp', want: 'dropped' },
      { from: 'x/a', to: 'n:w1', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/a', to: 'n:w2', port: 81, proto: 'udp', want: 'allowed' },
      { from: 'y/c', to: 'n:cp', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'n:cp', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/a', to: 'y/a', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
    await step('the same policy moved to worker 1', { apply: [nodesPolicy(other.node)], expect: { egress: (c) => !(from(c, 'x/a') && c.to.kind === 'node' && c.to.id === 'n:w1') } });
    await expectVerdicts(m, 'x/a denied worker 1', [
      { from: 'x/a', to: 'n:w1', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/a', to: 'n:w1', port: 81, proto: 'udp', want: 'dropped' },
      { from: 'x/a', to: 'n:cp', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'n:w1', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
  });

  scenario('named ports (destinationNamedPort): egress resolves on the peer pod, ingress on the subject pod', async () => {
    const egress = (c: Cell): boolean => !(from(c, 'x/a') && inNs(c.to, 'y') && isWeb(c));
    await step('Admin: x/a may not reach "web" of pods in y', {
      apply: [cnp.policy('named-out', 'Admin', 80, { pods: cnp.pods(['x'], { pod: 'a' }) }, { egress: [{ action: 'Deny', peers: [{ pods: { namespaceSelector: cnp.namespaces(['y']), podSelector: {} } }], protocols: [{ destinationNamedPort: 'web' }] }] })],
      expect: { egress },
    });
    await step('plus Admin: pods of z deny "web" to namespace x', {
      apply: [cnp.policy('named-in', 'Admin', 81, { namespaces: cnp.namespaces(['z']) }, { ingress: [{ action: 'Deny', peers: [{ namespaces: cnp.namespaces(['x']) }], protocols: [{ destinationNamedPort: 'web' }] }] })],
      expect: { egress, ingress: (c) => !(inNs(c.to, 'z') && inNs(c.from, 'x') && isWeb(c)) },
    });
    await expectVerdicts(m, 'named ports', [
      { from: 'x/a', to: 'y/a', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/a', to: 'y/b', port: 81, proto: 'tcp', want: 'dropped' },
      { from: 'x/a', to: 'y/b', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/a', to: 'y/c', port: 80, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'z/a', port: 80, proto: 'tcp', want: 'dropped' },
      { from: 'x/b', to: 'z/b', port: 81, proto: 'tcp', via: 'service', want: 'dropped' },
      { from: 'x/b', to: 'z/a', port: 81, proto: 'tcp', want: 'allowed' },
      { from: 'x/b', to: 'z/c', port: 80, proto: 'tcp', want: 'allowed' },
    ]);
  });
});
