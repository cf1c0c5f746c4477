// API objects as a hostile or broken API server could send them: names, labels, addresses, CIDRs
// and ports holding newlines, quotes, '#', NUL, very long and unicode strings, and values of the
// wrong type. Whatever comes in, each converter either leaves the object out with one-line
// problems, or gives only values that pass the edge's checks (k8s-names.ts); it never throws.
// Property-based (fast-check, fixed seed; a failure prints the seed and the shrunk case), then the
// same through the fake API server and the informers, and the two cases by name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Namespace, V1NetworkPolicy, V1Node, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonical, formatCidr, parseCidr } from '../../net/ip.js';
import type { NodeInfo } from '../network/nodes.js';
import { type ClusterPeer, type ClusterPodSelection, type ClusterPolicy, type LabelSelector, type NamespaceInfo, type NodePeerInfo, type PodInfo, type Policy, PROTOCOLS, TIERS } from '../policy/model.js';
import { startFakeApiServer, until } from '../testing.js';
import { type ApiClusterNetworkPolicy, toClusterPolicy, toNodePeer } from './cnp-objects.js';
import { dnsLabelProblem, dnsSubdomainProblem, hostIpText, isPortNumber, labelsProblem, portNameProblem, readPodCidr } from './k8s-names.js';
import { KubernetesNodes, loadKubeConfig } from './kubernetes.js';
import { readNode } from './node-info.js';
import { toNamespace, toPod, toPolicy } from './policy-objects.js';
import { KubernetesPolicySource } from './policy-source.js';

const SEED = 14_2026;
const RUNS = 600;

// ---- generators: mostly well-formed objects with hostile or wrong-typed values mixed in ----

const HOSTILE = ['a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#', 'p"q', "it's", 'a#b', 'a\0b', 'a b', '\u2028', 'é', '😀', '', '-', 'A', 'x'.repeat(300), 'a/b/c', '__proto__', 'constructor'];
const nasty = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ unit: fc.constantFrom('a', 'b', '0', '-', '.', '_', '/', ':', ' ', '\n', '\r', '\0', '"', "'", '#', '\\', 'é'), maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ minLength: 250, maxLength: 1200 }),
);
/** A wrong type where a string, list or map belongs. */
const junk = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
/** Mostly good: an object has many fields, and a case should often have none or one bad. */
const mixed = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 48, arbitrary: good }, { weight: 2, arbitrary: nasty }, { weight: 1, arbitrary: junk });

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const subdomain = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,12}[a-z0-9])?$/);
const labelValue = fc.stringMatching(/^([A-Za-z0-9]([A-Za-z0-9._-]{0,8}[A-Za-z0-9])?)?$/);
const labels = fc.dictionary(fc.oneof({ weight: 3, arbitrary: fc.oneof(label, fc.constant('app.kubernetes.io/name')) }, { weight: 1, arbitrary: nasty }), mixed(labelValue), { maxKeys: 3 });
const ipv4 = fc.ipV4();
const ip = fc.oneof({ weight: 4, arbitrary: ipv4 }, { weight: 2, arbitrary: fc.ipV6() }, fc.constantFrom('0.0.0.0', '::', '198.18.0.2 ', '198.18.0.2\n-A FORWARD -j ACCEPT', 'FD42::1'));
const cidr = fc.oneof(
  fc.tuple(ipv4, fc.integer({ min: 0, max: 33 })).map(([a, p]) => `${a}/${p}`),
  fc.constantFrom('198.18.129.0/24', 'fd42:18:129::/64', '0.0.0.0/0', '198.18.129.0/24\n#', '198.18.129.7/24'),
);
const port = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 65535 }) }, fc.integer({ min: -1, max: 70000 }), { weight: 4, arbitrary: fc.stringMatching(/^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/) }, nasty);
const protocol = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PROTOCOLS, undefined) }, nasty);

const selector = fc.record(
  {
    matchLabels: fc.oneof({ weight: 9, arbitrary: labels }, junk),
    matchExpressions: fc.array(fc.record({ key: mixed(label), operator: mixed(fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist')), values: fc.oneof({ weight: 9, arbitrary: fc.array(mixed(labelValue), { maxLength: 2 }) }, junk) }, { requiredKeys: ['key', 'operator'] }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const peer = fc.oneof(
  fc.record({ podSelector: selector, namespaceSelector: selector }, { requiredKeys: [] }),
  fc.record({ ipBlock: fc.record({ cidr: mixed(cidr), except: fc.array(mixed(cidr), { maxLength: 2 }) }, { requiredKeys: ['cidr'] }) }),
  junk,
);
const rule = (peers: 'from' | 'to') =>
  fc.oneof(fc.record({ [peers]: fc.array(peer, { maxLength: 2 }), ports: fc.array(fc.oneof(fc.record({ protocol, port, endPort: fc.oneof(port, fc.constant(undefined)) }, { requiredKeys: [] }), junk), { maxLength: 2 }) }, { requiredKeys: [] }), junk);

const networkPolicy = fc.record({
  metadata: fc.record({ namespace: mixed(label), name: mixed(subdomain) }, { requiredKeys: [] }),
  spec: fc.record(
    { podSelector: fc.oneof(selector, junk), policyTypes: fc.oneof(fc.array(fc.oneof(fc.constantFrom('Ingress', 'Egress'), nasty), { maxLength: 2 }), junk), ingress: fc.oneof(fc.array(rule('from'), { maxLength: 2 }), junk), egress: fc.oneof(fc.array(rule('to'), { maxLength: 2 }), junk) },
    { requiredKeys: [] },
  ),
});

const pod = fc.record({
  metadata: fc.record({ namespace: mixed(label), name: mixed(subdomain), labels: fc.oneof({ weight: 9, arbitrary: labels }, junk) }, { requiredKeys: ['namespace', 'name'] }),
  spec: fc.record(
    {
      nodeName: mixed(subdomain),
      hostNetwork: fc.oneof({ weight: 9, arbitrary: fc.boolean() }, junk),
      containers: fc.oneof(
        { weight: 9, arbitrary: fc.array(fc.record({ name: fc.constant('c'), ports: fc.oneof({ weight: 9, arbitrary: fc.array(fc.record({ name: mixed(port), containerPort: port, protocol }, { requiredKeys: [] }), { maxLength: 2 }) }, junk) }), { maxLength: 2 }) },
        junk,
      ),
    },
    { requiredKeys: ['nodeName'] },
  ),
  status: fc.record(
    { phase: fc.constantFrom('Running', 'Running', 'Pending', 'Succeeded', undefined), podIP: mixed(ip), podIPs: fc.oneof({ weight: 9, arbitrary: fc.array(fc.oneof({ weight: 9, arbitrary: fc.record({ ip: mixed(ip) }) }, junk), { maxLength: 2 }) }, junk) },
    { requiredKeys: [] },
  ),
});

const namespace = fc.record({ metadata: fc.record({ name: mixed(label), labels: fc.oneof({ weight: 5, arbitrary: labels }, junk) }, { requiredKeys: [] }) });

const node = fc.record({
  metadata: fc.record({ name: mixed(subdomain) }, { requiredKeys: [] }),
  spec: fc.record({ podCIDR: mixed(cidr), podCIDRs: fc.oneof(fc.array(mixed(cidr), { maxLength: 3 }), junk) }, { requiredKeys: [] }),
  status: fc.record({ addresses: fc.oneof(fc.array(fc.oneof(fc.record({ type: fc.constantFrom('InternalIP', 'ExternalIP', 'Hostname'), address: mixed(ip) }), junk), { maxLength: 3 }), junk) }, { requiredKeys: [] }),
});

/** ClusterNetworkPolicy (v1beta1): every field, mostly well-formed, some hostile or of the wrong type. */
const cnpSelector = fc.oneof({ weight: 2, arbitrary: fc.record({ matchLabels: fc.dictionary(label, labelValue, { maxKeys: 2 }) }) }, selector);
const cnpSelection = fc.oneof(
  { weight: 6, arbitrary: fc.record({ namespaces: cnpSelector }) },
  { weight: 6, arbitrary: fc.record({ pods: fc.record({ namespaceSelector: cnpSelector, podSelector: cnpSelector }, { requiredKeys: [] }) }) },
  fc.record({ namespaces: cnpSelector, pods: junk }),
  junk,
);
const domainName = fc.oneof(fc.constantFrom('example.com', '*.example.com', 'kubernetes.io.', 'a..b'), nasty);
const cnpPeer = fc.oneof(
  { weight: 8, arbitrary: cnpSelection },
  { weight: 3, arbitrary: fc.record({ networks: fc.oneof({ weight: 9, arbitrary: fc.array(mixed(cidr), { maxLength: 3 }) }, junk) }) },
  { weight: 3, arbitrary: fc.record({ nodes: cnpSelector }) },
  fc.record({ domainNames: fc.array(domainName, { maxLength: 2 }) }),
  fc.dictionary(nasty, junk, { maxKeys: 1 }),
);
const cnpPort = fc.oneof({ weight: 4, arbitrary: fc.record({ number: port }) }, { weight: 2, arbitrary: fc.record({ range: fc.record({ start: port, end: port }, { requiredKeys: [] }) }) }, junk);
const cnpProtocol = fc.oneof(
  { weight: 3, arbitrary: fc.record({ tcp: fc.record({ destinationPort: cnpPort }) }) },
  { weight: 3, arbitrary: fc.record({ udp: fc.record({ destinationPort: cnpPort }) }) },
  fc.record({ sctp: fc.record({ destinationPort: cnpPort }, { requiredKeys: [] }) }),
  { weight: 2, arbitrary: fc.record({ destinationNamedPort: port }) },
  junk,
);
const cnpRule = (peers: 'from' | 'to') =>
  fc.oneof(
    { weight: 9, arbitrary: fc.record({ name: mixed(fc.string({ maxLength: 110 })), action: mixed(fc.constantFrom('Accept', 'Deny', 'Pass')), [peers]: fc.oneof({ weight: 9, arbitrary: fc.array(cnpPeer, { minLength: 1, maxLength: 3 }) }, junk), protocols: fc.oneof({ weight: 9, arbitrary: fc.array(cnpProtocol, { minLength: 1, maxLength: 2 }) }, junk) }, { requiredKeys: ['action', peers] }) },
    junk,
  );
const clusterNetworkPolicy = fc.record({
  metadata: fc.record({ name: mixed(subdomain) }, { requiredKeys: [] }),
  spec: fc.record(
    {
      tier: mixed(fc.constantFrom('Admin', 'Baseline')),
      priority: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 1000 }) }, fc.integer(), fc.double(), junk),
      subject: fc.oneof({ weight: 9, arbitrary: cnpSelection }, junk),
      ingress: fc.oneof({ weight: 9, arbitrary: fc.array(cnpRule('from'), { maxLength: 3 }) }, junk),
      egress: fc.oneof({ weight: 9, arbitrary: fc.array(cnpRule('to'), { maxLength: 3 }) }, junk),
    },
    { requiredKeys: ['tier', 'priority', 'subject'] },
  ),
});

// ---- what a converter may give ----

const valid = (problem: string | undefined, what: unknown): void => expect(problem, JSON.stringify(what)).toBeUndefined();

/** Problem lines are single short lines of printable ASCII: each names its object and the reason. */
function checkProblems(problems: readonly string[]): void {
  for (const p of problems) {
    expect(p).toMatch(/^[\x20-\x7e…]+$/);
    expect(p.length).toBeLessThan(1200);
  }
}

function checkSelector(s: LabelSelector): void {
  valid(labelsProblem(s.matchLabels), s.matchLabels);
  for (const e of s.matchExpressions) {
    valid(labelsProblem({ [e.key]: '' }), e.key);
    for (const v of e.values) valid(labelsProblem({ k: v }), v);
  }
}

const isCanonicalCidr = (c: string): boolean => {
  const [addr, prefix] = c.split('/');
  const h = hostIpText(addr);
  return ('text' in h && h.text === addr) || addr === '0.0.0.0' || addr === '::' ? /^[0-9]{1,3}$/.test(prefix ?? '') : false;
};

function checkPolicy(p: Policy): void {
  valid(dnsLabelProblem(p.namespace), p.namespace);
  valid(dnsSubdomainProblem(p.name), p.name);
  checkSelector(p.podSelector);
  for (const r of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
    for (const peer of r.peers) {
      if (peer.podSelector) checkSelector(peer.podSelector);
      if (peer.namespaceSelector) checkSelector(peer.namespaceSelector);
      if (peer.ipBlock) for (const c of [peer.ipBlock.cidr, ...peer.ipBlock.except]) expect(isCanonicalCidr(c), c).toBe(true);
    }
    for (const port of r.ports) {
      expect(PROTOCOLS).toContain(port.protocol);
      if (typeof port.port === 'string') valid(portNameProblem(port.port), port.port);
      else if (port.port !== undefined) expect(isPortNumber(port.port)).toBe(true);
      if (port.endPort !== undefined) expect(isPortNumber(port.endPort) && typeof port.port === 'number' && port.endPort >= port.port).toBe(true);
    }
  }
}

function checkPod(p: PodInfo): void {
  valid(dnsLabelProblem(p.namespace), p.namespace);
  valid(dnsSubdomainProblem(p.name), p.name);
  valid(dnsSubdomainProblem(p.node), p.node);
  valid(labelsProblem(p.labels), p.labels);
  for (const a of p.ips) expect(hostIpText(a)).toEqual({ text: a });
  for (const np of p.namedPorts) {
    valid(portNameProblem(np.name), np.name);
    expect(isPortNumber(np.port)).toBe(true);
    expect(PROTOCOLS).toContain(np.protocol);
  }
  expect(typeof p.hostNetwork).toBe('boolean');
}

function checkNamespace(n: NamespaceInfo): void {
  valid(dnsLabelProblem(n.name), n.name);
  valid(labelsProblem(n.labels), n.labels);
  expect(n.labels['kubernetes.io/metadata.name']).toBe(n.name);
}

function checkNode(n: NodeInfo): void {
  valid(dnsSubdomainProblem(n.name), n.name);
  for (const c of n.podCIDRs) expect(readPodCidr(c)).toMatchObject({ text: c });
  for (const a of n.internalIPs) expect(hostIpText(a)).toEqual({ text: a });
  if (n.invalid !== undefined) expect([n.podCIDRs, n.internalIPs]).toEqual([[], []]);
}

function checkSelection(s: ClusterPodSelection): void {
  checkSelector(s.namespaces);
  if (s.kind === 'pods') checkSelector(s.pods);
}

const DOMAIN_NAME = /^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;

function checkClusterPeer(p: ClusterPeer): void {
  if (p.kind === 'namespaces' || p.kind === 'pods') checkSelection(p);
  else if (p.kind === 'nodes') checkSelector(p.nodes);
  else if (p.kind === 'networks') {
    expect(p.cidrs.length).toBeGreaterThan(0);
    // A network (no host bits) in canonical text; /0 too.
    for (const c of p.cidrs) expect(formatCidr(canonical(parseCidr(c)!)), c).toBe(c);
  } else for (const n of p.names) expect(n).toMatch(DOMAIN_NAME);
}

function checkClusterPolicy(p: ClusterPolicy): void {
  valid(dnsSubdomainProblem(p.name), p.name);
  expect(TIERS).toContain(p.tier);
  expect(Number.isInteger(p.priority) && p.priority >= 0 && p.priority <= 1000).toBe(true);
  checkSelection(p.subject);
  for (const rules of [p.ingress, p.egress]) {
    expect(rules.length).toBeLessThanOrEqual(25);
    for (const r of rules) {
      if (r.name !== undefined) expect(typeof r.name === 'string' && r.name !== '' && [...r.name].length <= 100).toBe(true);
      expect(['Accept', 'Deny', 'Pass']).toContain(r.action);
      if (r.peers === 'all') {
        expect(r.action).toBe('Deny');
        expect(r.protocols).toBeUndefined();
      } else {
        expect(r.peers.length).toBeLessThanOrEqual(25);
        for (const peer of r.peers) checkClusterPeer(peer);
      }
      for (const port of r.protocols ?? []) {
        if (port.kind === 'named') valid(portNameProblem(port.name), port.name);
        else {
          expect(PROTOCOLS).toContain(port.protocol);
          expect(isPortNumber(port.port)).toBe(true);
          if (port.endPort !== undefined) expect(isPortNumber(port.endPort) && port.endPort > port.port).toBe(true);
        }
      }
    }
  }
}

function checkNodePeer(n: NodePeerInfo): void {
  valid(dnsSubdomainProblem(n.name), n.name);
  valid(labelsProblem(n.labels), n.labels);
  for (const a of n.ips) expect(hostIpText(a)).toEqual({ text: a });
  expect(new Set(n.ips).size).toBe(n.ips.length);
}

describe('converters on hostile objects', () => {
  const runs = { seed: SEED, numRuns: RUNS };

  /** How many cases gave an object and how many left it out: the generators must reach both. */
  const both = (counts: { kept: number; left: number }): void => {
    expect(counts.kept, 'cases read').toBeGreaterThan(RUNS / 20);
    expect(counts.left, 'cases left out').toBeGreaterThan(RUNS / 20);
  };

  it('NetworkPolicy: left out with problems, or only valid values (a rule it cannot read is dropped)', () => {
    const counts = { kept: 0, left: 0 };
    fc.assert(
      fc.property(networkPolicy, (raw) => {
        const r = toPolicy(raw as unknown as V1NetworkPolicy);
        checkProblems(r.problems);
        if (r.policy) checkPolicy(r.policy);
        else expect(r.problems.length).toBeGreaterThan(0);
        counts[r.policy ? 'kept' : 'left']++;
      }),
      runs,
    );
    both(counts);
  });

  it('Pod: left out with one problem, or only valid values; finished and unscheduled pods quietly left out', () => {
    const counts = { kept: 0, left: 0 };
    fc.assert(
      fc.property(pod, (raw) => {
        const r = toPod(raw as unknown as V1Pod);
        checkProblems(r.problems);
        if (r.pod) checkPod(r.pod);
        const relevant = raw.spec.nodeName !== undefined && raw.spec.nodeName !== null && raw.spec.nodeName !== '' && raw.status.phase !== 'Succeeded';
        expect(r.problems).toHaveLength(!r.pod && relevant ? 1 : 0);
        counts[r.pod ? 'kept' : 'left']++;
      }),
      runs,
    );
    both(counts);
  });

  it('ClusterNetworkPolicy: left out with problems, or only valid values; every problem names the policy', () => {
    const counts = { kept: 0, left: 0 };
    const rules = { withPeers: 0, denyAll: 0, matchNothing: 0 };
    fc.assert(
      fc.property(clusterNetworkPolicy, (raw) => {
        const r = toClusterPolicy(raw as unknown as ApiClusterNetworkPolicy);
        checkProblems(r.problems);
        for (const p of r.problems) expect(p.startsWith('clusternetworkpolicy ')).toBe(true);
        if (r.policy) checkClusterPolicy(r.policy);
        else expect(r.problems.length).toBeGreaterThan(0);
        counts[r.policy ? 'kept' : 'left']++;
        for (const rule of [...(r.policy?.ingress ?? []), ...(r.policy?.egress ?? [])]) rules[rule.peers === 'all' ? 'denyAll' : rule.peers.length > 0 ? 'withPeers' : 'matchNothing']++;
      }),
      runs,
    );
    both(counts);
    // The generators reach each reading of a rule.
    for (const [what, n] of Object.entries(rules)) expect(n, what).toBeGreaterThan(RUNS / 20);
  });

  it('ClusterNetworkPolicy and Node from any JSON at all: never a throw', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (spec, status) => {
        for (const raw of [spec, { metadata: { name: 'x' }, spec }]) {
          const r = toClusterPolicy(raw as ApiClusterNetworkPolicy);
          checkProblems(r.problems);
          if (r.policy) checkClusterPolicy(r.policy);
          else expect(r.problems.length).toBeGreaterThan(0);
        }
        for (const raw of [status, { metadata: { name: 'x', labels: spec }, status }]) {
          const n = toNodePeer(raw as V1Node);
          checkProblems(n.problems);
          if (n.node) checkNodePeer(n.node);
        }
      }),
      runs,
    );
  });

  it('Node as a nodes peer: left out with a problem, or only valid values', () => {
    const counts = { kept: 0, left: 0 };
    fc.assert(
      fc.property(fc.record({ metadata: fc.record({ name: mixed(subdomain), labels: fc.oneof({ weight: 5, arbitrary: labels }, junk) }), status: node.map((n) => n.status) }), (raw) => {
        const n = toNodePeer(raw as unknown as V1Node);
        checkProblems(n.problems);
        if (n.node) checkNodePeer(n.node);
        else expect(n.problems).toHaveLength(1);
        counts[n.node ? 'kept' : 'left']++;
      }),
      runs,
    );
    both(counts);
  });

  it('Namespace and Node: left out or skipped with a problem, or only valid values', () => {
    const counts = { kept: 0, left: 0 };
    fc.assert(
      fc.property(namespace, node, (rawNs, rawNode) => {
        const ns = toNamespace(rawNs as unknown as V1Namespace);
        checkProblems(ns.problems);
        if (ns.namespace) checkNamespace(ns.namespace);
        else expect(ns.problems).toHaveLength(1);
        const n = readNode(rawNode as unknown as V1Node);
        checkProblems(n.problems);
        if (n.node) checkNode(n.node);
        expect(n.problems.length).toBe(!n.node || n.node.invalid !== undefined ? 1 : 0);
        counts[ns.namespace ? 'kept' : 'left']++;
        counts[n.node && n.node.invalid === undefined ? 'kept' : 'left']++;
      }),
      runs,
    );
    both(counts);
  });
});

describe('the issue 14 cases', () => {
  it('a NetworkPolicy named to inject an INPUT rule is left out, with one problem line', () => {
    const name = 'a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#';
    const r = toPolicy({ metadata: { namespace: 'x', name }, spec: { podSelector: {}, ingress: [{}] } } as V1NetworkPolicy);
    expect(r).toEqual({ problems: ['x/"a\\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\\n#": metadata.name: "a\\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\\n#" is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .) (policy ignored)'] });
  });

  it('a pod named p"q is left out, with one problem line', () => {
    const r = toPod({ metadata: { namespace: 'x', name: 'p"q' }, spec: { nodeName: 'n1', containers: [] }, status: { phase: 'Running', podIPs: [{ ip: '198.18.128.5' }] } } as unknown as V1Pod);
    expect(r).toEqual({ problems: ['pod x/"p\\"q": metadata.name: "p\\"q" is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .) (pod ignored)'] });
  });
});

describe('through the informers', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gh-agent-hostile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a batch of generated objects: only valid values come out, each problem is logged once, no handler throws', async () => {
    // Well-typed objects only: a watch event of the wrong JSON types is the converters' case above.
    const str = (v: unknown, dflt: string): string => (typeof v === 'string' ? v : dflt);
    const strings = fc.sample(fc.tuple(mixed(subdomain), mixed(labelValue), mixed(ip), mixed(cidr)), { seed: SEED, numRuns: 40 });
    const api = await startFakeApiServer();
    const podNames = new Set<string>();
    strings.forEach(([name, value, address, net], i) => {
      const n = `${str(name, 'n')}`;
      api.send('ADDED', { kind: 'Namespace', apiVersion: 'v1', metadata: { name: i % 2 ? n : `ns-${i}`, labels: { team: str(value, 'x') } } });
      api.send('ADDED', { kind: 'Pod', apiVersion: 'v1', metadata: { namespace: 'x', name: i % 2 ? `p-${i}` : n, labels: { app: str(value, 'x') } }, spec: { nodeName: 'n1', containers: [] }, status: { phase: 'Running', podIPs: [{ ip: str(address, '198.18.128.9') }] } });
      api.send('ADDED', { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', metadata: { namespace: 'x', name: n }, spec: { podSelector: { matchLabels: { app: str(value, 'x') } }, egress: [{ to: [{ ipBlock: { cidr: str(net, '198.18.0.0/24') } }] }] } });
      api.send('ADDED', { kind: 'Node', apiVersion: 'v1', metadata: { name: `${n}-${i}` }, spec: { podCIDRs: [str(net, '198.18.1.0/24')] }, status: { addresses: [{ type: 'InternalIP', address: str(address, '198.18.0.9') }] } });
      podNames.add(i % 2 ? `p-${i}` : n);
    });
    const kc = loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig')));
    const logged: string[] = [];
    const policies = new KubernetesPolicySource(kc, () => undefined, () => undefined);
    const nodes = new KubernetesNodes(kc, () => undefined, (_l, msg, f) => msg === 'node skipped' && logged.push(String(f?.['problem'])));
    await Promise.all([policies.start(), nodes.start()]);
    try {
      // Every object is in the caches (the fake server keys them by name, so a few collide).
      const snap = await until('the lists', () => policies.snapshot());
      const nodeList = await until('the nodes', () => nodes.snapshot());
      for (const p of snap.pods) checkPod(p);
      for (const n of snap.namespaces) checkNamespace(n);
      for (const p of snap.policies) checkPolicy(p);
      for (const n of nodeList) checkNode(n);
      const problems = policies.newProblems();
      checkProblems(problems);
      expect(problems.length).toBeGreaterThan(0);
      expect(policies.newProblems()).toEqual([]);
      // Each pod (all are scheduled and running) is either in the snapshot or named by one problem.
      const podProblems = problems.filter((p) => p.startsWith('pod '));
      expect(snap.pods.length + podProblems.length).toBe(podNames.size);
      expect(snap.pods.length).toBeGreaterThan(0);
      expect(podProblems.length).toBeGreaterThan(0);
      checkProblems(logged);
      expect(logged.length).toBeGreaterThan(0);
      nodes.snapshot();
      expect(new Set(logged).size).toBe(logged.length);
    } finally {
      await Promise.all([policies.stop(), nodes.stop()]);
      await api.stop();
    }
  });
});
