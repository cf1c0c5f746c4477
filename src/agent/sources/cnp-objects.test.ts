// ClusterNetworkPolicy and Node objects read at the edge: every field of v1beta1 as the model holds
// it, each row of the design's fail-closed table (notes §2.9, README Security), the API's limits,
// and nodes as `nodes` peers see them.
import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ClusterPolicy, ClusterRule } from '../policy/model.js';
import { type ApiClusterNetworkPolicy, toClusterPolicy, toNodePeer } from './cnp-objects.js';

const all = { matchLabels: {}, matchExpressions: [] };
const sel = (labels: Record<string, string>) => ({ matchLabels: labels, matchExpressions: [] });
const DENY_ALL: ClusterRule = { action: 'Deny', peers: 'all' };

/** A ClusterNetworkPolicy NAME of tier Admin, priority 10, subject every pod, with these spec fields. */
const cnp = (spec: Record<string, unknown>, name = 'cnp'): ApiClusterNetworkPolicy =>
  ({ apiVersion: 'policy.networking.k8s.io/v1beta1', kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ...spec } }) as ApiClusterNetworkPolicy;

/** The policy read, which must have no problems. */
function clean(spec: Record<string, unknown>): ClusterPolicy {
  const r = toClusterPolicy(cnp(spec));
  expect(r.problems).toEqual([]);
  return r.policy!;
}

/** The one egress rule read from `rule`, and the problem lines. */
function egress(rule: Record<string, unknown>): { rule: ClusterRule; problems: readonly string[] } {
  const r = toClusterPolicy(cnp({ egress: [rule] }));
  expect(r.policy?.egress).toHaveLength(1);
  return { rule: r.policy!.egress[0]!, problems: r.problems };
}

const GOOD_PEER = { namespaces: { matchLabels: { team: 'a' } } };
const BAD_PEER = { namespaces: { matchLabels: { 'bad key!': 'x' } } };
const TCP_80 = { tcp: { destinationPort: { number: 80 } } };
const BAD_PORT = { tcp: { destinationPort: { number: 0 } } };

describe('toClusterPolicy: what it reads', () => {
  it('reads tier, priority, a namespaces subject, and rules in written order with their names', () => {
    const p = clean({
      tier: 'Baseline',
      priority: 1000,
      ingress: [
        { name: 'from a', action: 'Accept', from: [GOOD_PEER] },
        { action: 'Pass', from: [{ pods: { podSelector: { matchLabels: { app: 'x' } } } }] },
      ],
      egress: [{ action: 'Deny', to: [{ networks: ['0.0.0.0/0', '::/0'] }] }],
    });
    expect(p).toEqual({
      name: 'cnp',
      tier: 'Baseline',
      priority: 1000,
      subject: { kind: 'namespaces', namespaces: all },
      ingress: [
        { name: 'from a', action: 'Accept', peers: [{ kind: 'namespaces', namespaces: sel({ team: 'a' }) }] },
        // A pods peer without namespaceSelector: every namespace.
        { action: 'Pass', peers: [{ kind: 'pods', namespaces: all, pods: sel({ app: 'x' }) }] },
      ],
      egress: [{ action: 'Deny', peers: [{ kind: 'networks', cidrs: ['0.0.0.0/0', '::/0'] }] }],
    });
  });

  it('reads a pods subject, nodes peers and every kind of protocol entry', () => {
    const p = clean({
      priority: 0,
      subject: { pods: { namespaceSelector: { matchLabels: { house: 'g' } }, podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] } } },
      egress: [
        {
          action: 'Accept',
          to: [{ nodes: {} }, { nodes: { matchLabels: { role: 'cp' } } }],
          protocols: [TCP_80, { udp: { destinationPort: { range: { start: 53, end: 5353 } } } }, { sctp: { destinationPort: { number: 9003 } } }],
        },
        { action: 'Accept', to: [GOOD_PEER], protocols: [{ destinationNamedPort: 'web' }] },
      ],
    });
    expect(p.subject).toEqual({ kind: 'pods', namespaces: sel({ house: 'g' }), pods: { matchLabels: {}, matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] } });
    expect(p.egress).toEqual([
      {
        action: 'Accept',
        peers: [{ kind: 'nodes', nodes: all }, { kind: 'nodes', nodes: sel({ role: 'cp' }) }],
        protocols: [{ kind: 'port', protocol: 'TCP', port: 80 }, { kind: 'port', protocol: 'UDP', port: 53, endPort: 5353 }, { kind: 'port', protocol: 'SCTP', port: 9003 }],
      },
      { action: 'Accept', peers: [{ kind: 'namespaces', namespaces: sel({ team: 'a' }) }], protocols: [{ kind: 'named', name: 'web' }] },
    ]);
    expect(p.ingress).toEqual([]);
  });

  it('gives networks in canonical text, each once', () => {
    const p = clean({ egress: [{ action: 'Deny', to: [{ networks: ['FD42:18::/64', 'fd42:18::/64', '198.18.0.0/15'] }] }] });
    expect(p.egress[0]!.peers).toEqual([{ kind: 'networks', cidrs: ['fd42:18::/64', '198.18.0.0/15'] }]);
  });

  it('keeps a rule name as free text of up to 100 characters (renderers quote it), and drops a longer one', () => {
    const hostile = 'a\n-A FORWARD -j ACCEPT\n"#\'';
    expect(egress({ name: hostile, action: 'Deny', to: [GOOD_PEER] }).rule.name).toBe(hostile);
    expect(egress({ name: '😀'.repeat(100), action: 'Deny', to: [GOOD_PEER] }).rule.name).toBe('😀'.repeat(100));
    const long = egress({ name: 'x'.repeat(101), action: 'Deny', to: [GOOD_PEER] });
    expect(long.rule).toEqual({ action: 'Deny', peers: [{ kind: 'namespaces', namespaces: sel({ team: 'a' }) }] });
    expect(long.problems).toEqual([expect.stringMatching(/^clusternetworkpolicy cnp: spec.egress\[0\].name: "x{64}"…\(101 characters\) is not a rule name .* \(name not used\)$/)]);
  });
});

describe('toClusterPolicy: failing closed (notes §2.9)', () => {
  it('Accept: an unreadable peer is left out; the rule keeps the rest', () => {
    const r = egress({ action: 'Accept', to: [BAD_PEER, GOOD_PEER] });
    expect(r.rule).toEqual({ action: 'Accept', peers: [{ kind: 'namespaces', namespaces: sel({ team: 'a' }) }] });
    expect(r.problems).toEqual([expect.stringMatching(/^clusternetworkpolicy cnp: spec.egress\[0\].to\[0\].namespaces.matchLabels: label key "bad key!" .* \(peer not used\)$/)]);
  });

  it('Accept: with every peer unreadable, the rule matches nothing (peers [])', () => {
    const r = egress({ action: 'Accept', to: [BAD_PEER, { unknown: {} }] });
    expect(r.rule).toEqual({ action: 'Accept', peers: [] });
    expect(r.problems).toEqual([
      expect.stringMatching(/to\[0\].namespaces.matchLabels: .* \(peer not used\)$/),
      'clusternetworkpolicy cnp: spec.egress[0].to[1]: names "unknown", not exactly one egress peer (namespaces, pods, networks, nodes, domainNames) (peer not used)',
      'clusternetworkpolicy cnp: spec.egress[0]: nothing left to match (the rule matches nothing)',
    ]);
  });

  it('Accept: an unreadable protocol entry is left out; with none left the rule matches nothing (protocols [])', () => {
    expect(egress({ action: 'Accept', to: [GOOD_PEER], protocols: [BAD_PORT, TCP_80] }).rule.protocols).toEqual([{ kind: 'port', protocol: 'TCP', port: 80 }]);
    const r = egress({ action: 'Accept', to: [GOOD_PEER], protocols: [BAD_PORT] });
    expect(r.rule.protocols).toEqual([]);
    expect(r.problems).toEqual([
      'clusternetworkpolicy cnp: spec.egress[0].protocols[0].tcp.destinationPort.number: 0 is not a port number (protocol entry not used)',
      'clusternetworkpolicy cnp: spec.egress[0]: nothing left to match (the rule matches nothing)',
    ]);
  });

  it('Accept: an unreadable list of peers or protocols matches nothing', () => {
    expect(egress({ action: 'Accept', to: 'everyone' }).rule).toEqual({ action: 'Accept', peers: [] });
    expect(egress({ action: 'Accept', to: [] }).problems).toEqual(['clusternetworkpolicy cnp: spec.egress[0].to: no peers (the rule matches nothing)']);
    expect(egress({ action: 'Accept', to: [GOOD_PEER], protocols: {} }).rule.protocols).toEqual([]);
  });

  it.each(['Deny', 'Pass'])('%s: an unreadable peer, protocol entry or list makes the rule deny everything', (action) => {
    for (const rule of [
      { action, to: [BAD_PEER, GOOD_PEER] },
      { action, to: [GOOD_PEER], protocols: [TCP_80, BAD_PORT] },
      { action, to: [GOOD_PEER], protocols: [] },
      { action, to: null },
      { action, to: [GOOD_PEER, { networks: ['198.18.0.1/24'] }] },
    ]) {
      const r = egress(rule);
      expect(r.rule, JSON.stringify(rule)).toEqual(DENY_ALL);
      expect(r.problems.length).toBeGreaterThan(0);
      for (const p of r.problems) expect(p).toMatch(/^clusternetworkpolicy cnp: spec.egress\[0\].* \(the rule denies everything\)$/);
    }
  });

  it('a rule that denies everything keeps its name', () => {
    expect(egress({ name: 'no', action: 'Pass', to: [BAD_PEER] }).rule).toEqual({ name: 'no', action: 'Deny', peers: 'all' });
  });

  it('domainNames: kept in an Accept rule, matching nothing, said once per rule', () => {
    const r = egress({ action: 'Accept', to: [{ domainNames: ['*.example.com', 'example.org.'] }, { domainNames: ['kubernetes.io'] }, GOOD_PEER] });
    expect(r.rule.peers).toEqual([{ kind: 'domainNames', names: ['*.example.com', 'example.org.'] }, { kind: 'domainNames', names: ['kubernetes.io'] }, { kind: 'namespaces', namespaces: sel({ team: 'a' }) }]);
    expect(r.problems).toEqual(['clusternetworkpolicy cnp: spec.egress[0]: domainNames are not enforced by gingham; this peer matches nothing']);
  });

  it.each(['Deny', 'Pass'])('domainNames in a %s rule: the rule denies everything', (action) => {
    const r = egress({ action, to: [{ domainNames: ['example.com'] }, GOOD_PEER] });
    expect(r.rule).toEqual(DENY_ALL);
    expect(r.problems).toEqual(['clusternetworkpolicy cnp: spec.egress[0]: domainNames are for Accept rules only, and domainNames are not enforced by gingham; this peer matches nothing (the rule denies everything)']);
  });

  it('an unknown action: Deny on its peers and protocols when they are readable', () => {
    const r = egress({ action: 'Allow', to: [GOOD_PEER], protocols: [TCP_80] });
    expect(r.rule).toEqual({ action: 'Deny', peers: [{ kind: 'namespaces', namespaces: sel({ team: 'a' }) }], protocols: [{ kind: 'port', protocol: 'TCP', port: 80 }] });
    expect(r.problems).toEqual(['clusternetworkpolicy cnp: spec.egress[0].action: "Allow" is not Accept, Deny or Pass (read as Deny)']);
  });

  it('an unknown or missing action with anything unreadable, or a rule that is no object: Deny everything', () => {
    expect(egress({ action: 'Allow', to: [BAD_PEER] }).rule).toEqual(DENY_ALL);
    expect(egress({ to: [{ domainNames: ['example.com'] }] }).rule).toEqual(DENY_ALL);
    const r = toClusterPolicy(cnp({ ingress: ['allow everything', null] }));
    expect(r.policy?.ingress).toEqual([DENY_ALL, DENY_ALL]);
    expect(r.problems).toEqual(['clusternetworkpolicy cnp: spec.ingress[0]: "allow everything", not a rule (the rule denies everything)', 'clusternetworkpolicy cnp: spec.ingress[1]: null, not a rule (the rule denies everything)']);
  });

  it('a rule list that is not a list, or has more than 25 rules: one rule that denies everything', () => {
    const rule = { action: 'Accept', from: [GOOD_PEER] };
    expect(toClusterPolicy(cnp({ ingress: { rule } }))).toEqual({
      policy: expect.objectContaining({ ingress: [DENY_ALL], egress: [] }),
      problems: ['clusternetworkpolicy cnp: spec.ingress: an object, not a list (read as one rule that denies everything)'],
    });
    expect(toClusterPolicy(cnp({ ingress: Array(26).fill(rule) })).policy?.ingress).toEqual([DENY_ALL]);
    expect(toClusterPolicy(cnp({ ingress: Array(25).fill(rule) })).policy?.ingress).toHaveLength(25);
  });

  it.each([
    ['no tier', { tier: undefined }, 'spec.tier: nothing is not Admin or Baseline'],
    ['an unknown tier', { tier: 'admin' }, 'spec.tier: "admin" is not Admin or Baseline'],
    ['a priority above 1000', { priority: 1001 }, 'spec.priority: 1001 is not an integer from 0 to 1000'],
    ['a negative priority', { priority: -1 }, 'spec.priority: -1 is not an integer from 0 to 1000'],
    ['a fractional priority', { priority: 1.5 }, 'spec.priority: 1.5 is not an integer from 0 to 1000'],
    ['a priority in a string', { priority: '10' }, 'spec.priority: "10" is not an integer from 0 to 1000'],
    ['no subject', { subject: undefined }, 'spec.subject: missing'],
    ['an empty subject', { subject: {} }, 'spec.subject: names nothing, not exactly one of namespaces, pods'],
    ['two subjects', { subject: { namespaces: {}, pods: { podSelector: {} } } }, 'spec.subject: names "namespaces", "pods", not exactly one of namespaces, pods'],
    ['a subject of a newer API', { subject: { serviceAccounts: {} } }, 'spec.subject: names "serviceAccounts", not exactly one of namespaces, pods'],
    ['pods without podSelector', { subject: { pods: { namespaceSelector: {} } } }, 'spec.subject.pods.podSelector: missing'],
  ])('%s: the policy is left out, with a problem', (_what, spec, problem) => {
    expect(toClusterPolicy(cnp({ ...spec, egress: [{ action: 'Deny', to: [GOOD_PEER] }] }))).toEqual({ problems: [`clusternetworkpolicy cnp: ${problem} (policy ignored)`] });
  });

  it('an unreadable subject selector leaves the policy out', () => {
    const r = toClusterPolicy(cnp({ subject: { namespaces: { matchExpressions: [{ key: 'a', operator: 'Near' }] } } }));
    expect(r).toEqual({ problems: ['clusternetworkpolicy cnp: spec.subject.namespaces.matchExpressions[0]: unknown operator "Near" (policy ignored)'] });
  });

  it('a name that is not a DNS subdomain, or no spec: left out, the name quoted', () => {
    const name = 'a\n-I INPUT 1 -j ACCEPT\n#';
    expect(toClusterPolicy(cnp({}, name)).problems).toEqual([
      'clusternetworkpolicy "a\\n-I INPUT 1 -j ACCEPT\\n#": metadata.name: "a\\n-I INPUT 1 -j ACCEPT\\n#" is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .) (policy ignored)',
    ]);
    expect(toClusterPolicy({ metadata: {} } as ApiClusterNetworkPolicy).problems).toEqual(['clusternetworkpolicy ?: metadata.name: missing (policy ignored)']);
    expect(toClusterPolicy({ metadata: { name: 'x' }, spec: 'x' } as unknown as ApiClusterNetworkPolicy).problems).toEqual(['clusternetworkpolicy x: spec: "x", not a spec (policy ignored)']);
  });
});

describe("toClusterPolicy: the API's formats and limits", () => {
  /** The problem an Accept egress rule's only peer or protocol entry gets, without the rule's prefix. */
  const peerProblem = (peer: unknown): string[] => egress({ action: 'Accept', to: [peer, GOOD_PEER] }).problems.map((p) => p.replace(/^clusternetworkpolicy cnp: spec.egress\[0\].to\[0\]/, ''));
  const protocolProblem = (entry: unknown): string[] =>
    egress({ action: 'Accept', to: [GOOD_PEER], protocols: [entry, TCP_80] }).problems.map((p) => p.replace(/^clusternetworkpolicy cnp: spec.egress\[0\].protocols\[0\]/, ''));

  it.each([
    ['a CIDR with host bits', { networks: ['198.18.0.7/24'] }, '.networks[0]: "198.18.0.7/24" has host bits set (the network is 198.18.0.0/24) (peer not used)'],
    ['a CIDR that is not one', { networks: ['198.18.0.0/24\n-j ACCEPT'] }, '.networks[0]: "198.18.0.0/24\\n-j ACCEPT" is not a CIDR (peer not used)'],
    ['a CIDR longer than 43 characters', { networks: ['0000:0000:0000:0000:0000:ffff:198.18.0.0/112'] }, '.networks[0]: "0000:0000:0000:0000:0000:ffff:198.18.0.0/112" is not a CIDR (peer not used)'],
    ['26 CIDRs', { networks: Array.from({ length: 26 }, (_, i) => `198.18.${i}.0/24`) }, '.networks: 26 CIDRs, more than 25 (peer not used)'],
    ['no CIDRs', { networks: [] }, '.networks: no CIDRs (peer not used)'],
    ['a domain name that is not one', { domainNames: ['a..b'] }, '.domainNames[0]: "a..b" is not a domain name (peer not used)'],
    ['a wildcard inside a name', { domainNames: ['a.*.b'] }, '.domainNames[0]: "a.*.b" is not a domain name (peer not used)'],
    ['two kinds in one peer', { namespaces: {}, networks: ['0.0.0.0/0'] }, ': names "namespaces", "networks", not exactly one egress peer (namespaces, pods, networks, nodes, domainNames) (peer not used)'],
    ['a peer that is not an object', 'all', ': "all", not a peer (peer not used)'],
    ['a peer of a thousand fields', Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, {}])), ': names "f0", "f1", "f2" and 997 more, not exactly one egress peer (namespaces, pods, networks, nodes, domainNames) (peer not used)'],
  ])('an unreadable peer: %s', (_what, peer, problem) => {
    expect(peerProblem(peer)).toEqual([problem]);
  });

  it('ingress peers are pods only: networks, nodes and domainNames are unreadable there', () => {
    for (const peer of [{ networks: ['0.0.0.0/0'] }, { nodes: {} }, { domainNames: ['example.com'] }]) {
      const r = toClusterPolicy(cnp({ ingress: [{ action: 'Deny', from: [peer] }] }));
      expect(r.policy?.ingress).toEqual([DENY_ALL]);
      expect(r.problems[0]).toMatch(/spec.ingress\[0\].from\[0\]: names "(networks|nodes|domainNames)", not exactly one ingress peer \(namespaces, pods\) \(the rule denies everything\)$/);
    }
  });

  it('more than 25 peers or protocol entries: the list is unreadable', () => {
    expect(egress({ action: 'Accept', to: Array(26).fill(GOOD_PEER) }).problems).toEqual(['clusternetworkpolicy cnp: spec.egress[0].to: 26 peers, more than 25 (the rule matches nothing)']);
    expect(egress({ action: 'Accept', to: Array(25).fill(GOOD_PEER), protocols: Array(25).fill(TCP_80) }).problems).toEqual([]);
    expect(egress({ action: 'Deny', to: [GOOD_PEER], protocols: Array(26).fill(TCP_80) }).rule).toEqual(DENY_ALL);
  });

  it.each([
    ['port 0', BAD_PORT, '.tcp.destinationPort.number: 0 is not a port number'],
    ['port 65536', { udp: { destinationPort: { number: 65536 } } }, '.udp.destinationPort.number: 65536 is not a port number'],
    ['a port in a string', { udp: { destinationPort: { number: '53' } } }, '.udp.destinationPort.number: "53" is not a port number'],
    ['a range of one port', { tcp: { destinationPort: { range: { start: 80, end: 80 } } } }, '.tcp.destinationPort.range: start 80 is not below end 80'],
    ['a range backwards', { tcp: { destinationPort: { range: { start: 90, end: 80 } } } }, '.tcp.destinationPort.range: start 90 is not below end 80'],
    ['a range without end', { tcp: { destinationPort: { range: { start: 90 } } } }, '.tcp.destinationPort.range.end: nothing is not a port number'],
    ['a number and a range', { tcp: { destinationPort: { number: 80, range: { start: 1, end: 2 } } } }, '.tcp.destinationPort: names "number", "range", not exactly one of number, range'],
    ['tcp: {}', { tcp: {} }, '.tcp.destinationPort: missing'],
    ['two protocols in one entry', { tcp: { destinationPort: { number: 80 } }, udp: { destinationPort: { number: 80 } } }, ': names "tcp", "udp", not exactly one of tcp, udp, sctp, destinationNamedPort'],
    ['a protocol of a newer API', { icmp: {} }, ': names "icmp", not exactly one of tcp, udp, sctp, destinationNamedPort'],
    ['a key of every object', { constructor: { destinationPort: { number: 80 } } }, ': names "constructor", not exactly one of tcp, udp, sctp, destinationNamedPort'],
    ['a named port with a capital', { destinationNamedPort: 'Web' }, '.destinationNamedPort: "Web": a port name has only a-z, 0-9 and -'],
    ['a named port that is a number', { destinationNamedPort: 80 }, '.destinationNamedPort: 80: not a string'],
  ])('an unreadable protocol entry: %s', (_what, entry, problem) => {
    expect(protocolProblem(entry)).toEqual([`${problem} (protocol entry not used)`]);
  });

  it('a named port beside networks, nodes or domainNames peers (which the CRD refuses): Accept matches nothing, Deny denies everything', () => {
    const rule = { to: [GOOD_PEER, { networks: ['198.18.0.0/15'] }], protocols: [{ destinationNamedPort: 'web' }] };
    const accept = egress({ ...rule, action: 'Accept' });
    expect(accept.rule).toEqual({ action: 'Accept', peers: [], protocols: [{ kind: 'named', name: 'web' }] });
    expect(accept.problems).toEqual(['clusternetworkpolicy cnp: spec.egress[0]: a destinationNamedPort with networks, nodes or domainNames peers, which have no named ports (the rule matches nothing)']);
    expect(egress({ ...rule, action: 'Deny' }).rule).toEqual(DENY_ALL);
  });
});

describe('toNodePeer', () => {
  const node = (o: Record<string, unknown>): V1Node => o as V1Node;

  it('takes the name, labels and every InternalIP and ExternalIP in canonical text, each once', () => {
    const r = toNodePeer(
      node({
        metadata: { name: 'w1', labels: { 'kubernetes.io/hostname': 'w1', 'node-role.kubernetes.io/control-plane': '' } },
        status: {
          addresses: [
            { type: 'InternalIP', address: '198.18.0.2' },
            { type: 'InternalIP', address: 'FD42:18::2' },
            { type: 'ExternalIP', address: '198.19.0.2' },
            { type: 'ExternalIP', address: '198.18.0.2' },
            { type: 'Hostname', address: 'w1' },
          ],
        },
      }),
    );
    expect(r).toEqual({ node: { name: 'w1', labels: { 'kubernetes.io/hostname': 'w1', 'node-role.kubernetes.io/control-plane': '' }, ips: ['198.18.0.2', 'fd42:18::2', '198.19.0.2'] }, problems: [] });
  });

  it('a node without status has no IPs; a bad address is left out with a problem', () => {
    expect(toNodePeer(node({ metadata: { name: 'new' } }))).toEqual({ node: { name: 'new', labels: {}, ips: [] }, problems: [] });
    expect(toNodePeer(node({ metadata: { name: 'w2' }, status: { addresses: [{ type: 'ExternalIP', address: '0.0.0.0' }, { type: 'InternalIP', address: '198.18.0.3' }] } }))).toEqual({
      node: { name: 'w2', labels: {}, ips: ['198.18.0.3'] },
      problems: ['node w2: status.addresses[0]: ExternalIP "0.0.0.0" is the unspecified address (not used by nodes peers)'],
    });
  });

  it('a node whose name or labels cannot be read is left out: no nodes peer can select it', () => {
    expect(toNodePeer(node({ metadata: { name: 'W"1' } }))).toEqual({ problems: [expect.stringMatching(/^node "W\\"1": metadata.name: .* \(no nodes peer selects it\)$/)] });
    expect(toNodePeer(node({ metadata: { name: 'w1', labels: { a: 'b\nc' } } }))).toEqual({ problems: ['node w1: metadata.labels: label value "b\\nc" is not 0-63 of A-Z, a-z, 0-9, -, _, . (no nodes peer selects it)'] });
  });
});
