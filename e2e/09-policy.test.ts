// NetworkPolicy (networking.k8s.io/v1) on the probe matrix of lib/netpol.ts: each scenario applies
// policies written from the spec, probes every pair, port, protocol and path (pod IP, Service
// ClusterIP, and both families in a dual-stack cluster) and compares the whole matrix with the
// verdicts the spec gives; then the policies go (afterEach). The expectations are predicates on a
// cell: `ingress` is the destination pod's verdict, `egress` the source pod's; a connection passes
// when both allow it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, DUAL, GINGHAM_IN_IMAGE, IP_FAMILY, NODE_NET, POD_CIDR, PRIMARY, SERVICE_CIDR } from './lib/env.js';
import { hostPort, inCidr } from './lib/ip.js';
import { type Cell, type Endpoint, FAMILIES, type Family, type Ns, NetpolMatrix, expected, inNs, isPod, parseRounds } from './lib/netpol.js';
import { kubectl } from './lib/probe.js';
import { log, phase, record, sleep, waitFor } from './lib/timing.js';

let m: NetpolMatrix;

beforeAll(async () => {
  m = new NetpolMatrix();
  await phase('netpol matrix: 9 pods, 9 Services, 3 node servers, baseline', () => m.setup());
});

afterEach(async () => {
  // Nothing to reset when the setup failed before the namespaces had their pods.
  if (m.pods.length > 0) await m.reset();
});

afterAll(async () => {
  log(m.summary());
  await m.destroy();
});

/** A scenario: its name is the test's and heads its rows in the time-to-enforce table. */
function scenario(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    m.begin(name);
    await fn();
  });
}

// Selectors, written as the YAML would be.
const ns = (n: Ns): object => ({ matchLabels: { ns: n } });
const pod = (p: string): object => ({ matchLabels: { pod: p } });
const ALL = {};
const is = (e: Endpoint, id: string): boolean => isPod(e, id);
const from = (c: Cell, id: string): boolean => is(c.from, id);
const to = (c: Cell, id: string): boolean => is(c.to, id);

/** A /32 or /128 for an address. */
const host = (ip: string | undefined): string => {
  if (!ip) throw new Error('no address of that family');
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
};
/** ipBlock peers, one per family of the cluster: cidr[family] with the given exceptions. */
const ipBlocks = (cidr: Partial<Record<Family, string>>, except: (f: Family) => string[] = () => []): { ipBlock: { cidr: string; except?: string[] } }[] =>
  FAMILIES.map((f) => ({ ipBlock: { cidr: cidr[f]!, ...(except(f).length > 0 ? { except: except(f) } : {}) } }));
/** Whether an address matches one of the ipBlock peers (in the cidr, in none of its exceptions). */
const inBlocks = (ip: string, blocks: { ipBlock: { cidr: string; except?: string[] } }[]): boolean =>
  blocks.some((b) => inCidr(ip, b.ipBlock.cidr) && !(b.ipBlock.except ?? []).some((e) => inCidr(ip, e)));

/** The node networks, as the step names say them. */
const nodeNets = FAMILIES.map((f) => NODE_NET[f]).join(' and ');

/** `gingham probe resolve` in a matrix pod: the resolver's verdict (true: it answered). */
async function resolves(id: string, name: string): Promise<boolean> {
  const p = m.pod(id);
  const r = await kubectl(['-n', p.namespace, 'exec', p.name, '-c', 'probe', '--', GINGHAM_IN_IMAGE, 'probe', 'resolve', name, '--timeout', '3000']);
  return r.exitCode === 0 && r.stdout.trim() !== '';
}

describe(`NetworkPolicy probe matrix (${BACKEND}, ${IP_FAMILY})`, () => {
  scenario('no policy: every pod reaches every pod, Service and node; nodes reach every pod', async () => {
    // The baseline already matched in beforeAll; here the matrix covers what the suite relies on.
    const cells = m.cells();
    expect(cells.every((c) => expected(c, {}))).toBe(true);
    const kinds = new Set(cells.map((c) => `${c.from.kind}>${c.to.kind}:${c.via}:${c.sameNode ? 'same' : 'cross'}:${c.family}`));
    for (const f of FAMILIES) {
      for (const k of ['pod>pod:ip:same', 'pod>pod:ip:cross', 'pod>pod:service:same', 'pod>pod:service:cross', 'node>pod:ip:same', 'node>pod:ip:cross', 'pod>node:ip:same', 'pod>node:ip:cross']) {
        expect(kinds.has(`${k}:${f}`), `${k} IPv${f}`).toBe(true);
      }
    }
    await m.step('still everything allowed', { expect: {} });
  });

  scenario('default-deny ingress in x isolates the pods of x, and only them', async () => {
    await m.step('deny-ingress in x', {
      apply: [m.policy('x', 'deny-ingress', { podSelector: ALL, policyTypes: ['Ingress'] })],
      expect: { ingress: (c) => !inNs(c.to, 'x') },
    });
  });

  scenario('default-deny ingress everywhere: a node still reaches the pods on it, not the pods on other nodes', async () => {
    const e = { ingress: (): boolean => false };
    // What this scenario is about: the node rows keep exactly their own node's pods.
    const nodeCells = m.cells().filter((c) => c.from.kind === 'node');
    expect(nodeCells.filter((c) => expected(c, e)).every((c) => c.sameNode)).toBe(true);
    expect(nodeCells.filter((c) => c.sameNode).every((c) => expected(c, e))).toBe(true);
    await m.step('deny-ingress in x, y and z', {
      apply: (['x', 'y', 'z'] as const).map((n) => m.policy(n, 'deny-ingress', { podSelector: ALL, policyTypes: ['Ingress'] })),
      expect: e,
    });
  });

  scenario('an ingress rule {} allows everything, adding up with a default-deny', async () => {
    await m.step('deny-ingress in x', { apply: [m.policy('x', 'deny-ingress', { podSelector: ALL, policyTypes: ['Ingress'] })], expect: { ingress: (c) => !inNs(c.to, 'x') } });
    await m.step('plus allow-all ingress in x', { apply: [m.policy('x', 'allow-all', { podSelector: ALL, ingress: [{}] })], expect: {} });
  });

  scenario('default-deny egress in x: nothing leaves x but to its own node, and DNS fails', async () => {
    await m.step('deny-egress in x', {
      apply: [m.policy('x', 'deny-egress', { podSelector: ALL, policyTypes: ['Egress'] })],
      expect: { egress: (c) => !inNs(c.from, 'x') },
    });
    expect(await resolves('x/a', 'kubernetes.default.svc.cluster.local'), 'x/a resolves a name with all egress denied').toBe(false);
    expect(await resolves('y/a', 'kubernetes.default.svc.cluster.local'), 'y/a (not isolated) resolves').toBe(true);
  });

  scenario('egress to kube-dns only (namespaceSelector AND podSelector, UDP and TCP 53): DNS works through its ClusterIP', async () => {
    await m.step('deny-egress in x but DNS', {
      apply: [
        m.policy('x', 'deny-egress', { podSelector: ALL, policyTypes: ['Egress'] }),
        m.policy('x', 'allow-dns', {
          podSelector: ALL,
          policyTypes: ['Egress'],
          egress: [
            {
              to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
              ports: [
                { protocol: 'UDP', port: 53 },
                { protocol: 'TCP', port: 53 },
              ],
            },
          ],
        }),
      ],
      expect: { egress: (c) => !inNs(c.from, 'x') },
    });
    await waitFor('x/a resolves through the kube-dns ClusterIP', 10_000, async () => ((await resolves('x/a', 'kubernetes.default.svc.cluster.local')) ? true : undefined));
  });

  scenario('podSelector peer: pods of the policy namespace only', async () => {
    await m.step('x/a from pod=b', {
      apply: [m.policy('x', 'a-from-b', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: pod('b') }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') || from(c, 'x/b') },
    });
  });

  scenario('namespaceSelector peer: every pod of the selected namespaces', async () => {
    await m.step('x/a from ns=y', {
      apply: [m.policy('x', 'a-from-y', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') || inNs(c.from, 'y') },
    });
  });

  scenario('namespaceSelector and podSelector in one peer: both must match (AND)', async () => {
    await m.step('x/a from ns=y AND pod=b', {
      apply: [m.policy('x', 'a-from-yb', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('b') }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') || from(c, 'y/b') },
    });
  });

  scenario('namespaceSelector and podSelector as two peers: either matches (OR)', async () => {
    await m.step('x/a from ns=y OR pod=b', {
      apply: [m.policy('x', 'a-from-y-or-b', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }, { podSelector: pod('b') }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') || inNs(c.from, 'y') || from(c, 'x/b') },
    });
  });

  scenario('matchExpressions In, on namespaces and pods', async () => {
    await m.step('x/a from ns In (y, z) AND pod In (a, b)', {
      apply: [
        m.policy('x', 'a-from-in', {
          podSelector: pod('a'),
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y', 'z'] }] },
                  podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] },
                },
              ],
            },
          ],
        }),
      ],
      expect: { ingress: (c) => !to(c, 'x/a') || (isPod(c.from) && c.from.ns !== 'x' && c.from.name !== 'c') },
    });
  });

  scenario('matchExpressions NotIn, in the policy podSelector and in a peer across all namespaces', async () => {
    await m.step('pods of x NotIn (c) from pods NotIn (a) of any namespace', {
      apply: [
        m.policy('x', 'not-in', {
          podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['c'] }] },
          ingress: [{ from: [{ namespaceSelector: ALL, podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a'] }] } }] }],
        }),
      ],
      expect: { ingress: (c) => !(to(c, 'x/a') || to(c, 'x/b')) || (isPod(c.from) && c.from.name !== 'a') },
    });
  });

  scenario('matchExpressions Exists: only peers that carry the label', async () => {
    await m.step('x/a from any pod with a team', {
      apply: [m.policy('x', 'a-from-teams', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ALL, podSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } }] }] })],
      // team is red on the a pods, blue on the b pods, absent on the c pods.
      expect: { ingress: (c) => !to(c, 'x/a') || (isPod(c.from) && c.from.name !== 'c') },
    });
  });

  scenario('matchExpressions DoesNotExist selects the pods without the label', async () => {
    await m.step('deny-ingress for pods of x without a team', {
      apply: [m.policy('x', 'no-team', { podSelector: { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, policyTypes: ['Ingress'] })],
      expect: { ingress: (c) => !to(c, 'x/c') },
    });
  });

  scenario('ipBlock with except, ingress: the pod CIDR but one pod', async () => {
    const yb = m.pod('y/b');
    const blocks = ipBlocks(POD_CIDR, (f) => [host(yb.ips[f])]);
    await m.step('x/a from the pod CIDR except y/b', {
      apply: [m.policy('x', 'a-from-block', { podSelector: pod('a'), ingress: [{ from: blocks }] })],
      // Judged by the source address the pod sees: nodes of other nodes fall in or out by theirs.
      expect: { ingress: (c) => !to(c, 'x/a') || inBlocks(c.srcIp, blocks) },
    });
  });

  scenario('ipBlock with except, egress: the pod CIDR but one pod, also through its Service', async () => {
    const zc = m.pod('z/c');
    const blocks = ipBlocks(POD_CIDR, (f) => [host(zc.ips[f])]);
    await m.step('x/a to the pod CIDR except z/c', {
      apply: [m.policy('x', 'a-to-block', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: blocks }] })],
      expect: { egress: (c) => !from(c, 'x/a') || inBlocks(c.dstIp, blocks) },
    });
  });

  scenario('ipBlock with except, egress to node addresses: the node network but one node', async () => {
    const w2 = m.node('n:w2');
    const blocks = ipBlocks(NODE_NET, (f) => [host(w2.ips[f])]);
    await m.step(`x/a to ${nodeNets} except worker 2`, {
      apply: [m.policy('x', 'a-to-nodes', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: blocks }] })],
      expect: { egress: (c) => !from(c, 'x/a') || (c.to.kind === 'node' && inBlocks(c.dstIp, blocks)) },
    });
  });

  scenario('ipBlock ingress from node addresses: pods denied, other nodes by the address they arrive from', async () => {
    const blocks = ipBlocks(NODE_NET);
    await m.step(`pods of x from ${nodeNets}`, {
      apply: [m.policy('x', 'from-nodes', { podSelector: ALL, ingress: [{ from: blocks }] })],
      expect: { ingress: (c) => !inNs(c.to, 'x') || inBlocks(c.srcIp, blocks) },
    });
  });

  scenario('a numeric port: TCP 80 only, from anywhere', async () => {
    await m.step('x/a on 80/TCP', {
      apply: [m.policy('x', 'a-80', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'TCP', port: 80 }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') || (c.port === 80 && c.proto === 'tcp') },
    });
  });

  scenario('a named port resolves per destination pod: "web" is 80 on a, 81 on b, absent on c', async () => {
    await m.step('pods of x on port "web"', {
      apply: [m.policy('x', 'web', { podSelector: ALL, ingress: [{ ports: [{ port: 'web' }] }] })],
      expect: {
        ingress: (c) => !isPod(c.to) || c.to.ns !== 'x' || (c.proto === 'tcp' && ((c.to.name === 'a' && c.port === 80) || (c.to.name === 'b' && c.port === 81))),
      },
    });
  });

  scenario('a named port matches name and protocol: "udp-81"/UDP opens it, "udp-80"/TCP opens nothing', async () => {
    await m.step('pods of x on udp-81/UDP and udp-80/TCP', {
      apply: [
        m.policy('x', 'named-proto', {
          podSelector: ALL,
          ingress: [
            {
              ports: [
                { protocol: 'UDP', port: 'udp-81' },
                { protocol: 'TCP', port: 'udp-80' },
              ],
            },
          ],
        }),
      ],
      expect: { ingress: (c) => !inNs(c.to, 'x') || (c.port === 81 && c.proto === 'udp') },
    });
  });

  scenario('a named port in an egress rule resolves per destination pod, also through Services', async () => {
    await m.step('x/a to port "web"', {
      apply: [m.policy('x', 'a-to-web', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ ports: [{ port: 'web' }] }] })],
      expect: {
        egress: (c) => !from(c, 'x/a') || (isPod(c.to) && c.proto === 'tcp' && ((c.to.name === 'a' && c.port === 80) || (c.to.name === 'b' && c.port === 81))),
      },
    });
  });

  scenario('endPort ranges: TCP 80-81 and UDP 81-90', async () => {
    await m.step('x/a on 80-81/TCP and 81-90/UDP', {
      apply: [
        m.policy('x', 'a-ranges', {
          podSelector: pod('a'),
          ingress: [
            {
              ports: [
                { protocol: 'TCP', port: 80, endPort: 81 },
                { protocol: 'UDP', port: 81, endPort: 90 },
              ],
            },
          ],
        }),
      ],
      expect: { ingress: (c) => !to(c, 'x/a') || c.proto === 'tcp' || c.port === 81 },
    });
  });

  scenario('a protocol without a port: every UDP port, no TCP', async () => {
    await m.step('pods of x on UDP', {
      apply: [m.policy('x', 'udp', { podSelector: ALL, ingress: [{ ports: [{ protocol: 'UDP' }] }] })],
      expect: { ingress: (c) => !inNs(c.to, 'x') || c.proto === 'udp' },
    });
  });

  scenario('a UDP-only egress rule: UDP 81 leaves, nothing else', async () => {
    await m.step('x/b to 81/UDP', {
      apply: [m.policy('x', 'b-udp-81', { podSelector: pod('b'), policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 81 }] }] })],
      expect: { egress: (c) => !from(c, 'x/b') || (c.proto === 'udp' && c.port === 81) },
    });
  });

  scenario('SCTP rules (no SCTP in this kernel) still isolate for TCP and UDP, and do not break the TCP rule beside them', async () => {
    await m.step('pods of x on SCTP 80 only', {
      apply: [m.policy('x', 'sctp', { podSelector: ALL, ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }] }] })],
      expect: { ingress: (c) => !inNs(c.to, 'x') },
    });
    await m.step('SCTP 80 and TCP 81 in x; y/a egress SCTP only', {
      apply: [
        m.policy('x', 'sctp', {
          podSelector: ALL,
          ingress: [
            {
              ports: [
                { protocol: 'SCTP', port: 80 },
                { protocol: 'TCP', port: 81 },
              ],
            },
          ],
        }),
        m.policy('y', 'a-sctp-out', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'SCTP' }] }] }),
      ],
      expect: { ingress: (c) => !inNs(c.to, 'x') || (c.proto === 'tcp' && c.port === 81), egress: (c) => !from(c, 'y/a') },
    });
  });

  scenario('an empty podSelector in a peer: every pod of the policy namespace, no other', async () => {
    await m.step('pods of y from pods of y', {
      apply: [m.policy('y', 'same-ns', { podSelector: ALL, ingress: [{ from: [{ podSelector: ALL }] }] })],
      expect: { ingress: (c) => !inNs(c.to, 'y') || inNs(c.from, 'y') },
    });
  });

  scenario('a policy in x never isolates pods of y or z with the same labels', async () => {
    await m.step('pod=a in x isolated both ways', {
      apply: [m.policy('x', 'isolate-a', { podSelector: pod('a'), policyTypes: ['Ingress', 'Egress'] })],
      expect: { ingress: (c) => !to(c, 'x/a'), egress: (c) => !from(c, 'x/a') },
    });
  });

  scenario('several policies on one pod add up', async () => {
    await m.step('x/a: from y on 80/TCP, from z on 81, from x/c on anything', {
      apply: [
        m.policy('x', 'a-y-80', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ protocol: 'TCP', port: 80 }] }] }),
        m.policy('x', 'a-z-81', {
          podSelector: pod('a'),
          ingress: [
            {
              from: [{ namespaceSelector: ns('z') }],
              ports: [
                { protocol: 'TCP', port: 81 },
                { protocol: 'UDP', port: 81 },
              ],
            },
          ],
        }),
        m.policy('x', 'a-c', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: pod('c') }] }] }),
      ],
      expect: {
        ingress: (c) => !to(c, 'x/a') || (inNs(c.from, 'y') && c.port === 80 && c.proto === 'tcp') || (inNs(c.from, 'z') && c.port === 81) || from(c, 'x/c'),
      },
    });
  });

  scenario('policyTypes defaulting: egress rules without policyTypes isolate ingress as well', async () => {
    await m.step('x/a with egress rules only, no policyTypes', {
      apply: [m.policy('x', 'a-egress-only', { podSelector: pod('a'), egress: [{ to: [{ namespaceSelector: ns('y') }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a'), egress: (c) => !from(c, 'x/a') || inNs(c.to, 'y') },
    });
  });

  scenario('policyTypes [Egress] without rules denies egress and leaves ingress open; an egress rule {} adds everything back', async () => {
    await m.step('x/a Egress, no rules', {
      apply: [m.policy('x', 'a-no-egress', { podSelector: pod('a'), policyTypes: ['Egress'] })],
      expect: { egress: (c) => !from(c, 'x/a') },
    });
    await m.step('plus egress [{}]', { apply: [m.policy('x', 'a-all-egress', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{}] })], expect: {} });
  });

  scenario('policyTypes [Ingress] with egress rules: the egress rules are ignored', async () => {
    await m.step('x/a Ingress only, an egress rule given', {
      apply: [m.policy('x', 'a-ingress-type', { podSelector: pod('a'), policyTypes: ['Ingress'], egress: [{ to: [{ podSelector: pod('b') }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') },
    });
  });

  scenario('replies to an allowed connection pass; the other side cannot initiate', async () => {
    const deny = (n: Ns, types: string[]): object => m.policy(n, `deny-${types.join('-').toLowerCase()}`, { podSelector: ALL, policyTypes: types });
    const ingress = (c: Cell): boolean => !(inNs(c.to, 'x') || inNs(c.to, 'y')) || (to(c, 'y/b') && from(c, 'x/a'));
    await m.step('x and y deny ingress; y/b admits x/a', {
      apply: [deny('x', ['Ingress']), deny('y', ['Ingress']), m.policy('y', 'b-from-xa', { podSelector: pod('b'), ingress: [{ from: [{ namespaceSelector: ns('x'), podSelector: pod('a') }] }] })],
      expect: { ingress },
    });
    await m.step('plus deny egress in y: y/b still answers x/a', { apply: [deny('y', ['Egress'])], expect: { ingress, egress: (c) => !inNs(c.from, 'y') } });
  });

  scenario('Services are judged after DNAT: egress to a pod covers its ClusterIP, egress to the Service CIDR covers nothing', async () => {
    await m.step('x/a to y/b', {
      apply: [m.policy('x', 'a-to-yb', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: ns('y'), podSelector: pod('b') }] }] })],
      expect: { egress: (c) => !from(c, 'x/a') || to(c, 'y/b') },
    });
    await m.deletePolicy('x', 'a-to-yb');
    await m.step('x/a to the Service CIDR only', {
      apply: [m.policy('x', 'a-to-services', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: ipBlocks(SERVICE_CIDR) }] })],
      expect: { egress: (c) => !from(c, 'x/a') },
    });
  });

  scenario('same-node and cross-node pairs alike: y admits x/a only', async () => {
    const e = { ingress: (c: Cell): boolean => !inNs(c.to, 'y') || from(c, 'x/a') };
    const podCells = m.cells().filter((c) => isPod(c.from) && inNs(c.to, 'y'));
    for (const same of [true, false]) {
      for (const verdict of [true, false]) {
        expect(podCells.some((c) => c.sameNode === same && expected(c, e) === verdict), `${same ? 'same' : 'cross'}-node ${verdict ? 'allowed' : 'denied'} cells`).toBe(true);
      }
    }
    await m.step('pods of y from x/a', { apply: [m.policy('y', 'from-xa', { podSelector: ALL, ingress: [{ from: [{ namespaceSelector: ns('x'), podSelector: pod('a') }] }] })], expect: e });
  });

  scenario('relabelling a pod moves it in and out of a policy, as target and as peer', async () => {
    const granted = (c: Cell): boolean => isPod(c.from) && c.from.id === 'y/c';
    await m.step('role=isolated selects nobody yet', {
      apply: [m.policy('x', 'isolated', { podSelector: { matchLabels: { role: 'isolated' } }, ingress: [{ from: [{ namespaceSelector: ALL, podSelector: { matchLabels: { access: 'granted' } } }] }] })],
      expect: {},
    });
    await m.step('x/b labelled role=isolated', { act: () => m.labelPod('x/b', { role: 'isolated' }), expect: { ingress: (c) => !to(c, 'x/b') } });
    await m.step('y/c labelled access=granted', { act: () => m.labelPod('y/c', { access: 'granted' }), expect: { ingress: (c) => !to(c, 'x/b') || granted(c) } });
    await m.step('x/b loses role', { act: () => m.labelPod('x/b', { role: null }), expect: {} });
  });

  scenario('relabelling a namespace moves its pods in and out of a namespaceSelector', async () => {
    await m.step('x/a from env=trusted namespaces: none yet', {
      apply: [m.policy('x', 'a-from-trusted', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'trusted' } } }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') },
    });
    await m.step('z labelled env=trusted', { act: () => m.labelNamespace('z', { env: 'trusted' }), expect: { ingress: (c) => !to(c, 'x/a') || inNs(c.from, 'z') } });
    await m.step('z loses env', { act: () => m.labelNamespace('z', { env: null }), expect: { ingress: (c) => !to(c, 'x/a') } });
  });

  scenario('deleting the policies restores full connectivity', async () => {
    await m.step('every pod isolated both ways', {
      apply: (['x', 'y', 'z'] as const).map((n) => m.policy(n, 'deny-all', { podSelector: ALL, policyTypes: ['Ingress', 'Egress'] })),
      expect: { ingress: () => false, egress: () => false },
    });
    await m.step('policies deleted', { act: () => Promise.all((['x', 'y', 'z'] as const).map((n) => m.deletePolicy(n, 'deny-all'))).then(() => undefined), expect: {} });
  });

  scenario('a pod created under a default-deny is isolated from its first packet, both ways', async () => {
    // Ingress for all of x (the matrix shows it in force), egress for the new pod x/d only
    // (applied with it, so in force too), before x/d exists.
    const yb = [{ namespaceSelector: ns('y'), podSelector: pod('b') }];
    await m.step('pods of x admit y/b only; pod=d may reach y/b only', {
      apply: [
        m.policy('x', 'in-from-yb', { podSelector: ALL, ingress: [{ from: yb }] }),
        m.policy('x', 'd-out-to-yb', { podSelector: pod('d'), policyTypes: ['Egress'], egress: [{ to: yb }] }),
      ],
      expect: { ingress: (c) => !inNs(c.to, 'x') || from(c, 'y/b') },
    });
    const node = m.node('n:w1').node;
    const yaIp = m.pod('y/a').ips[PRIMARY]!;
    const ybIp = m.pod('y/b').ips[PRIMARY]!;
    // Ingress: y/a (not allowed) and y/b (allowed) probe the addresses the IPAM will give next,
    // from before the pod exists; egress: the new pod probes y/a and y/b from its first instant.
    const candidates = await m.nextPodIPs(node, 3);
    const targets = candidates.flatMap((ip) => [`${hostPort(ip, 80)}/tcp`, `${hostPort(ip, 80)}/udp`]);
    // About 11 s of probing: from 1.5 s before the create to well past the pod's start.
    const rounds = { rounds: 40, intervalMs: 20, timeoutMs: 250 };
    const probers = Promise.all([m.probeRounds('y/a', targets, rounds), m.probeRounds('y/b', targets, rounds)]);
    await sleep(1500);
    const tCreate = Date.now();
    const egressTargets = [yaIp, ybIp].flatMap((ip) => [`${hostPort(ip, 80)}/tcp`, `${hostPort(ip, 80)}/udp`]);
    const serveAndProbe = `${GINGHAM_IN_IMAGE} probe serve --tcp 80,81 --udp 80,81 & ${GINGHAM_IN_IMAGE} probe matrix --rounds ${rounds.rounds} --interval ${rounds.intervalMs} --timeout ${rounds.timeoutMs} ${egressTargets.join(' ')}; wait`;
    await m.createExtraPod('x', 'd', node, { pod: 'd' }, ['sh', '-c', serveAndProbe]);
    const [fromYa, fromYb] = await probers;
    const d = await waitFor('x/d has an address', 30_000, async () => (await m.readPod('x', 'd')).status?.podIP);
    expect(candidates, `the IPAM gave x/d ${d}; the probers aimed at ${candidates.join(', ')}`).toContain(d);

    const answered = (rs: typeof fromYa, ip: string): number[] => rs.filter((r) => r.results.some((o) => o.ok && o.target.startsWith(`${hostPort(ip, 80)}/`))).map((r) => r.at);
    const leakedIn = answered(fromYa, d);
    const allowedIn = answered(fromYb, d);
    const out = await waitFor('x/d finished probing', 60_000, async () => {
      const rs = parseRounds(await m.podLog('x', 'd'));
      return rs.length >= rounds.rounds ? rs : undefined;
    });
    const leakedOut = answered(out, yaIp);
    const allowedOut = answered(out, ybIp);
    const first = (ts: number[], t0: number): string => (ts.length > 0 ? `${((ts[0]! - t0) / 1000).toFixed(2)} s` : 'never');
    const window = (ts: number[], t0: number): string => (ts.length > 0 ? `${ts.length} answered rounds, ${((ts[0]! - t0) / 1000).toFixed(2)}-${((ts.at(-1)! - t0) / 1000).toFixed(2)} s` : 'none');
    log(
      `netpol new pod x/d ${d}: ingress from y/b (allowed) first answered ${first(allowedIn, tCreate)} after create, from y/a (denied) ${window(leakedIn, tCreate)}; ` +
        `egress from its first probe ${first([out[0]!.at], tCreate)} after create: to y/b (allowed) first ${first(allowedOut, out[0]!.at)}, to y/a (denied) ${window(leakedOut, out[0]!.at)}`,
    );
    if (allowedIn.length > 0) record('netpol new pod: create to first allowed answer', (allowedIn[0]! - tCreate) / 1000, `unallowed answers: ${leakedIn.length} in, ${leakedOut.length} out`);
    expect(leakedIn, 'y/a reached the new pod').toEqual([]);
    expect(leakedOut, 'the new pod reached y/a').toEqual([]);
    expect(allowedIn.length, 'y/b never reached the new pod').toBeGreaterThan(0);
    expect(allowedOut.length, 'the new pod never reached y/b').toBeGreaterThan(0);
  });

  it.runIf(DUAL)('IPv6: an IPv6-only ipBlock admits IPv6 traffic and no IPv4', async () => {
    m.begin('IPv6 ipBlock');
    await m.step('x/a from the IPv6 pod CIDR', {
      apply: [m.policy('x', 'a-from-v6', { podSelector: pod('a'), ingress: [{ from: [{ ipBlock: { cidr: POD_CIDR[6]! } }] }] })],
      expect: { ingress: (c) => !to(c, 'x/a') || (c.family === 6 && inCidr(c.srcIp, POD_CIDR[6]!)) },
    });
  });
});
