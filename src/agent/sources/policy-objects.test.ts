import type { V1Namespace, V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Policy } from '../policy/model.js';
import { toNamespace, toPod, toPolicy } from './policy-objects.js';

/** A NetworkPolicy x/NAME with this spec, as JSON gives it (rules with `from`). */
const np = (spec: Record<string, unknown>, name = 'np'): V1NetworkPolicy =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'x', name }, spec }) as V1NetworkPolicy;

/** The policy read from spec, which must have no problems. */
function clean(spec: Record<string, unknown>): Policy {
  const r = toPolicy(np(spec));
  expect(r.problems).toEqual([]);
  return r.policy!;
}

const all = { matchLabels: {}, matchExpressions: [] };
const app = (v: string): Record<string, unknown> => ({ matchLabels: { app: v } });
const sel = (labels: Record<string, string>) => ({ matchLabels: labels, matchExpressions: [] });

describe('toPolicy: policyTypes and their defaulting', () => {
  it('without policyTypes covers ingress always, with no rules meaning deny all', () => {
    expect(clean({ podSelector: {} })).toEqual({ namespace: 'x', name: 'np', podSelector: all, ingress: [] });
    expect(clean({ podSelector: {}, policyTypes: [] })).toEqual({ namespace: 'x', name: 'np', podSelector: all, ingress: [] });
  });

  it('without policyTypes covers egress only when there are egress rules', () => {
    expect(clean({ podSelector: {}, ingress: [{}], egress: [] })).toEqual({ namespace: 'x', name: 'np', podSelector: all, ingress: [{ peers: [], ports: [] }] });
    expect(clean({ podSelector: {}, egress: [{}] })).toEqual({ namespace: 'x', name: 'np', podSelector: all, ingress: [], egress: [{ peers: [], ports: [] }] });
  });

  it('with policyTypes covers exactly those, ignoring rules of the other direction', () => {
    const p = clean({ podSelector: {}, policyTypes: ['Egress'], ingress: [{}] });
    expect(p.ingress).toBeUndefined();
    expect(p.egress).toEqual([]);
    expect(clean({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] })).toMatchObject({ ingress: [], egress: [] });
    expect(clean({ podSelector: {}, policyTypes: ['Ingress'], egress: [{}] }).egress).toBeUndefined();
  });

  it('reports an unknown policy type and keeps the known ones', () => {
    const r = toPolicy(np({ podSelector: {}, policyTypes: ['Egress', 'Sideways'] }));
    expect(r.policy).toMatchObject({ egress: [] });
    expect(r.policy?.ingress).toBeUndefined();
    expect(r.problems).toEqual(['x/np: spec.policyTypes[1]: unknown policy type "Sideways" (ignored)']);
  });
});

describe('toPolicy: rules and peers', () => {
  it('reads absent or empty from/to and ports as every peer and every port', () => {
    const p = clean({ podSelector: {}, ingress: [{ from: [], ports: [] }, {}], egress: [{ to: [] }] });
    expect(p.ingress).toEqual([{ peers: [], ports: [] }, { peers: [], ports: [] }]);
    expect(p.egress).toEqual([{ peers: [], ports: [] }]);
  });

  it('keeps podSelector and namespaceSelector as given: either, or both (AND)', () => {
    const p = clean({
      podSelector: app('web'),
      ingress: [{ from: [{ podSelector: app('a') }, { namespaceSelector: { matchLabels: { team: 'y' } } }, { podSelector: {}, namespaceSelector: {} }] }],
    });
    expect(p.podSelector).toEqual(sel({ app: 'web' }));
    expect(p.ingress![0]!.peers).toEqual([{ podSelector: sel({ app: 'a' }) }, { namespaceSelector: sel({ team: 'y' }) }, { podSelector: all, namespaceSelector: all }]);
  });

  it('reads ingress peers from `_from` too (client-node deserialised lists)', () => {
    const p = clean({ podSelector: {}, ingress: [{ _from: [{ podSelector: app('a') }] }] });
    expect(p.ingress).toEqual([{ peers: [{ podSelector: sel({ app: 'a' }) }], ports: [] }]);
  });

  it('reads every selector operator', () => {
    const exprs = [
      { key: 'app', operator: 'In', values: ['a', 'b'] },
      { key: 'tier', operator: 'NotIn', values: ['db'] },
      { key: 'team', operator: 'Exists' },
      { key: 'canary', operator: 'DoesNotExist', values: [] },
    ];
    expect(clean({ podSelector: { matchLabels: { x: '1' }, matchExpressions: exprs } }).podSelector).toEqual({
      matchLabels: { x: '1' },
      matchExpressions: [
        { key: 'app', operator: 'In', values: ['a', 'b'] },
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'team', operator: 'Exists', values: [] },
        { key: 'canary', operator: 'DoesNotExist', values: [] },
      ],
    });
  });

  it('drops a rule with a malformed peer and keeps the rest of the policy (fail closed)', () => {
    const r = toPolicy(
      np({
        podSelector: {},
        ingress: [
          { from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] } }] },
          { from: [{ podSelector: app('ok') }] },
          { from: [{}] },
          { from: [{ ipBlock: { cidr: '198.18.0.0/16' }, podSelector: {} }] },
          { from: [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['y'] }] } }] },
          { from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'Near', values: ['a'] }] } }] },
        ],
      }),
    );
    expect(r.policy?.ingress).toEqual([{ peers: [{ podSelector: sel({ app: 'ok' }) }], ports: [] }]);
    expect(r.problems).toEqual([
      'x/np: spec.ingress[0].from[0].podSelector.matchExpressions[0]: In needs values (rule ignored)',
      'x/np: spec.ingress[2].from[0]: names no peer (podSelector, namespaceSelector or ipBlock) (rule ignored)',
      'x/np: spec.ingress[3].from[0]: ipBlock may not be combined with a selector (rule ignored)',
      'x/np: spec.ingress[4].from[0].namespaceSelector.matchExpressions[0]: Exists takes no values (rule ignored)',
      'x/np: spec.ingress[5].from[0].podSelector.matchExpressions[0]: unknown operator "Near" (rule ignored)',
    ]);
  });

  it('still isolates when every egress rule is dropped: egress becomes [] (allows nothing), not uncovered', () => {
    const r = toPolicy(np({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: 'nope' } }] }] }));
    expect(r.policy).toEqual({ namespace: 'x', name: 'np', podSelector: all, ingress: [], egress: [] });
    expect(r.problems).toEqual(['x/np: spec.egress[0].to[0].ipBlock.cidr: "nope" is not a CIDR (rule ignored)']);
  });

  it('skips the whole policy when its podSelector cannot be read', () => {
    const r = toPolicy(np({ podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['a'] }] }, ingress: [{}] }, 'deny-all'));
    expect(r.policy).toBeUndefined();
    expect(r.problems).toEqual(['x/deny-all: spec.podSelector.matchExpressions[0]: Exists takes no values (policy ignored)']);
  });

  it('reads an absent podSelector as empty (every pod), as the API does', () => {
    expect(clean({ ingress: [] }).podSelector).toEqual(all);
  });

  it('skips an object without a namespace or name', () => {
    const r = toPolicy({ metadata: { name: 'n' }, spec: { podSelector: {} } } as V1NetworkPolicy);
    expect(r).toEqual({ problems: ['?/n: metadata.namespace: missing (policy ignored)'] });
  });
});

describe('toPolicy: ports', () => {
  const ports = (list: unknown[]) => toPolicy(np({ podSelector: {}, ingress: [{ ports: list }] }, 'deny-all'));

  it('defaults the protocol to TCP and keeps numeric and named ports apart', () => {
    const r = ports([{ port: 80 }, { protocol: 'UDP', port: 53 }, { protocol: 'SCTP' }, { port: 'http' }, { protocol: 'UDP', port: 'dns-udp' }]);
    expect(r.problems).toEqual([]);
    expect(r.policy?.ingress![0]!.ports).toEqual([
      { protocol: 'TCP', port: 80 },
      { protocol: 'UDP', port: 53 },
      { protocol: 'SCTP' },
      { protocol: 'TCP', port: 'http' },
      { protocol: 'UDP', port: 'dns-udp' },
    ]);
  });

  it('reads endPort ranges with a numeric port, endPort >= port', () => {
    const r = ports([{ port: 32000, endPort: 32768 }, { protocol: 'UDP', port: 81, endPort: 81 }]);
    expect(r.problems).toEqual([]);
    expect(r.policy?.ingress![0]!.ports).toEqual([
      { protocol: 'TCP', port: 32000, endPort: 32768 },
      { protocol: 'UDP', port: 81, endPort: 81 },
    ]);
  });

  it('says what and where for each bad port, and drops only that rule', () => {
    const r = toPolicy(
      np(
        {
          podSelector: {},
          ingress: [{ ports: [{ port: 81 }] }, { ports: [{ port: 80, endPort: 70 }] }, { ports: [{ port: 'http', endPort: 90 }] }, { ports: [{ endPort: 90 }] }],
        },
        'deny-all',
      ),
    );
    expect(r.policy?.ingress).toEqual([{ peers: [], ports: [{ protocol: 'TCP', port: 81 }] }]);
    expect(r.problems).toEqual([
      'x/deny-all: spec.ingress[1].ports[0]: endPort 70 < port 80 (rule ignored)',
      'x/deny-all: spec.ingress[2].ports[0]: endPort 90 with the named port "http" (rule ignored)',
      'x/deny-all: spec.ingress[3].ports[0]: endPort 90 without a port (rule ignored)',
    ]);
  });

  it('takes a string of digits as a (malformed) name, never as a number', () => {
    const r = ports([{ port: '80' }]);
    expect(r.policy?.ingress).toEqual([]);
    expect(r.problems).toEqual([
      'x/deny-all: spec.ingress[0].ports[0]: port "80": a port name needs a letter (a port number is given as a number, not a string) (rule ignored)',
    ]);
  });

  it('rejects out-of-range numbers, bad names and unknown protocols', () => {
    for (const [port, why] of [
      [{ port: 0 }, 'port 0 is not a port number'],
      [{ port: 65536 }, 'port 65536 is not a port number'],
      [{ port: 1000, endPort: 70000 }, 'endPort 70000 is not a port number'],
      [{ port: 'HTTP' }, 'port "HTTP": a port name has only a-z, 0-9 and -'],
      [{ port: 'a-very-long-port-name' }, 'port "a-very-long-port-name": a port name has 1 to 15 characters'],
      [{ port: 'web--ui' }, 'port "web--ui": a port name neither starts nor ends with -, nor has --'],
      [{ protocol: 'ICMP', port: 1 }, 'unsupported protocol "ICMP"'],
    ] as const) {
      expect(ports([port]).problems).toEqual([`x/deny-all: spec.ingress[0].ports[0]: ${why} (rule ignored)`]);
    }
  });
});

describe('toPolicy: ipBlock', () => {
  const block = (ipBlock: Record<string, unknown>) => toPolicy(np({ podSelector: {}, egress: [{ to: [{ ipBlock }] }] }));

  it('normalises the cidr and each except to the network address', () => {
    const r = block({ cidr: '198.18.7.9/16', except: ['198.18.200.1/24', '198.18.1.0/25'] });
    expect(r.problems).toEqual([]);
    expect(r.policy?.egress![0]!.peers).toEqual([{ ipBlock: { cidr: '198.18.0.0/16', except: ['198.18.200.0/24', '198.18.1.0/25'] } }]);
    expect(block({ cidr: '198.19.0.0/16' }).policy?.egress![0]!.peers).toEqual([{ ipBlock: { cidr: '198.19.0.0/16', except: [] } }]);
  });

  it('reads IPv6 blocks, in canonical text', () => {
    const r = block({ cidr: 'FD42:18:0:0::1/32', except: ['fd42:18:00ab::/48'] });
    expect(r.problems).toEqual([]);
    expect(r.policy?.egress![0]!.peers).toEqual([{ ipBlock: { cidr: 'fd42:18::/32', except: ['fd42:18:ab::/48'] } }]);
  });

  it('drops the rule when an except is outside the cidr, the whole cidr, or of the other family', () => {
    for (const [except, why] of [
      ['198.19.0.0/24', '198.19.0.0/24 is not inside 198.18.0.0/16'],
      ['198.18.0.0/16', '198.18.0.0/16 is not inside 198.18.0.0/16'],
      ['198.18.0.0/8', '198.18.0.0/8 is not inside 198.18.0.0/16'],
      ['fd42:18::/48', 'fd42:18::/48 is not of the family of 198.18.0.0/16'],
      ['198.18.0.0', '"198.18.0.0" is not a CIDR'],
    ]) {
      const r = block({ cidr: '198.18.0.0/16', except: [except] });
      expect(r.policy).toMatchObject({ egress: [] });
      expect(r.problems).toEqual([`x/np: spec.egress[0].to[0].ipBlock.except[0]: ${why} (rule ignored)`]);
    }
  });
});

describe('toPod', () => {
  const pod = (over: { spec?: Record<string, unknown>; status?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}): V1Pod =>
    ({
      metadata: { namespace: 'x', name: 'a', labels: { pod: 'a' }, ...over.metadata },
      spec: {
        nodeName: 'n1',
        containers: [
          { name: 'web', ports: [{ name: 'serve-80', containerPort: 80 }, { containerPort: 8080 }, { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' }] },
          { name: 'side', ports: [{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }] },
        ],
        initContainers: [{ name: 'init', ports: [{ name: 'init-port', containerPort: 7000 }] }],
        ...over.spec,
      },
      status: { phase: 'Running', podIP: '198.18.128.5', podIPs: [{ ip: '198.18.128.5' }], ...over.status },
    }) as V1Pod;

  it('reads labels, addresses, node and the named ports of regular containers', () => {
    expect(toPod(pod()).pod).toEqual({
      namespace: 'x',
      name: 'a',
      labels: { pod: 'a' },
      ips: ['198.18.128.5'],
      node: 'n1',
      hostNetwork: false,
      namedPorts: [
        { name: 'serve-80', protocol: 'TCP', port: 80 },
        { name: 'serve-81-udp', protocol: 'UDP', port: 81 },
        { name: 'metrics', protocol: 'TCP', port: 9100 },
      ],
    });
  });

  it('puts IPv4 first on dual-stack pods, in canonical text', () => {
    const p = toPod(pod({ status: { podIP: 'fd42:18:128::5', podIPs: [{ ip: 'FD42:18:128:0::5' }, { ip: '198.18.128.5' }] } })).pod;
    expect(p?.ips).toEqual(['198.18.128.5', 'fd42:18:128::5']);
  });

  it('falls back to podIP; keeps a scheduled pod without an address (its node may know it from IPAM)', () => {
    expect(toPod(pod({ status: { podIPs: undefined } })).pod?.ips).toEqual(['198.18.128.5']);
    expect(toPod(pod({ status: { podIP: undefined, podIPs: [] } })).pod?.ips).toEqual([]);
    expect(toPod(pod({ spec: { nodeName: undefined } }))).toEqual({ problems: [] });
  });

  it('leaves out finished pods but keeps pending and terminating ones', () => {
    expect(toPod(pod({ status: { phase: 'Succeeded' } }))).toEqual({ problems: [] });
    expect(toPod(pod({ status: { phase: 'Failed' } }))).toEqual({ problems: [] });
    expect(toPod(pod({ status: { phase: 'Pending' } })).pod?.name).toBe('a');
    expect(toPod(pod({ metadata: { deletionTimestamp: new Date() } })).pod?.name).toBe('a');
  });

  it('flags hostNetwork pods', () => {
    expect(toPod(pod({ spec: { hostNetwork: true }, status: { podIPs: [{ ip: '198.19.0.10' }] } })).pod).toMatchObject({ hostNetwork: true, ips: ['198.19.0.10'] });
  });

  it('gives a pod without labels or ports empty ones', () => {
    expect(toPod(pod({ metadata: { labels: undefined }, spec: { containers: [{ name: 'c' }] } })).pod).toMatchObject({ labels: {}, namedPorts: [] });
  });
});

describe('toNamespace', () => {
  it('reads name and labels, with the name label the API server sets', () => {
    expect(toNamespace({ metadata: { name: 'y', labels: { team: 'y' } } } as V1Namespace).namespace).toEqual({
      name: 'y',
      labels: { 'kubernetes.io/metadata.name': 'y', team: 'y' },
    });
    expect(toNamespace({ metadata: { name: 'z' } } as V1Namespace)).toEqual({ namespace: { name: 'z', labels: { 'kubernetes.io/metadata.name': 'z' } }, problems: [] });
    // The name label is the name, whatever the object says: a namespace cannot pass for another.
    expect(toNamespace({ metadata: { name: 'z', labels: { 'kubernetes.io/metadata.name': 'kube-system' } } } as V1Namespace).namespace?.labels).toEqual({ 'kubernetes.io/metadata.name': 'z' });
  });
});
