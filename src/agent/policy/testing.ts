// Builders for the policy tests and the scale bench (never imported by the agent itself): the model's
// objects with short defaults, so a test reads like the policy it is about.
import type {
  ClusterAction,
  ClusterPeer,
  ClusterPodSelection,
  ClusterPolicy,
  ClusterPort,
  ClusterRule,
  LabelSelector,
  NamedPort,
  NamespaceInfo,
  PodInfo,
  Policy,
  PolicyPeer,
  PolicyPort,
  PolicyRule,
  Tier,
} from './model.js';

export const sel = (matchLabels: Record<string, string> = {}, matchExpressions: LabelSelector['matchExpressions'] = []): LabelSelector => ({ matchLabels, matchExpressions });

export const ns = (name: string, labels: Record<string, string> = { ns: name }): NamespaceInfo => ({ name, labels });

export function pod(namespace: string, name: string, ips: string[], o: { node?: string; labels?: Record<string, string>; namedPorts?: NamedPort[]; hostNetwork?: boolean } = {}): PodInfo {
  return { namespace, name, ips, node: o.node ?? 'n1', labels: o.labels ?? { pod: name }, hostNetwork: o.hostNetwork ?? false, namedPorts: o.namedPorts ?? [] };
}

export const rule = (peers: PolicyPeer[] = [], ports: PolicyPort[] = []): PolicyRule => ({ peers, ports });

export function policy(namespace: string, name: string, o: { select?: LabelSelector; ingress?: PolicyRule[]; egress?: PolicyRule[] }): Policy {
  return { namespace, name, podSelector: o.select ?? sel(), ...(o.ingress ? { ingress: o.ingress } : {}), ...(o.egress ? { egress: o.egress } : {}) };
}

/** ClusterNetworkPolicy pieces: `inNs(sel)` every pod of those namespaces, `podsOf(ns, pods)` some. */
export const inNs = (namespaces: LabelSelector): ClusterPodSelection => ({ kind: 'namespaces', namespaces });
export const podsOf = (namespaces: LabelSelector, pods: LabelSelector): ClusterPodSelection => ({ kind: 'pods', namespaces, pods });

export const cnpRule = (action: ClusterAction, peers: ClusterPeer[] | 'all', protocols?: ClusterPort[], name?: string): ClusterRule => ({
  action,
  peers,
  ...(protocols ? { protocols } : {}),
  ...(name !== undefined ? { name } : {}),
});

export function cnp(name: string, tier: Tier, priority: number, subject: ClusterPodSelection, o: { ingress?: ClusterRule[]; egress?: ClusterRule[] }): ClusterPolicy {
  return { name, tier, priority, subject, ingress: o.ingress ?? [], egress: o.egress ?? [] };
}

/**
 * A synthetic cluster for the scale bench and tests: `pods` pods on node n1 over 20 namespaces
 * (addresses from 198.18.160.0/19), and `policies` policies spread over the namespaces, each
 * selecting one app and allowing ingress from a tier in its namespace, from a team's namespaces,
 * from an ipBlock with an except and on a named port, plus egress to its namespace's databases.
 */
export function syntheticCluster(pods: number, policies: number): { pods: PodInfo[]; policies: Policy[]; namespaces: NamespaceInfo[] } {
  const NS = 20;
  const APPS = 25;
  const namespaces = Array.from({ length: NS }, (_, i) => ns(`ns${i}`, { ns: `ns${i}`, team: `t${i % 4}` }));
  const tiers = ['front', 'back', 'db'];
  const podList = Array.from({ length: pods }, (_, i) =>
    pod(`ns${i % NS}`, `pod${i}`, [`198.18.${160 + (i >> 8)}.${i & 255}`], {
      labels: { app: `app${Math.floor(i / NS) % APPS}`, tier: tiers[i % 3]! },
      namedPorts: [{ name: 'http', protocol: 'TCP', port: 8080 + (i % 2) }],
    }),
  );
  const policyList = Array.from({ length: policies }, (_, i) =>
    policy(`ns${i % NS}`, `policy${i}`, {
      select: sel({ app: `app${Math.floor(i / NS) % APPS}` }),
      ingress: [
        rule([{ podSelector: sel({ tier: tiers[i % 3]! }) }, { namespaceSelector: sel({ team: `t${i % 4}` }), podSelector: sel({}, [{ key: 'tier', operator: 'In', values: ['front', 'back'] }]) }], [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 'http' }]),
        rule([{ ipBlock: { cidr: '198.19.0.0/16', except: [`198.19.${i % 256}.0/24`] } }], [{ protocol: 'UDP', port: 5000, endPort: 5100 }]),
      ],
      egress: [rule([{ podSelector: sel({ tier: 'db' }) }], [{ protocol: 'TCP', port: 5432 }])],
    }),
  );
  return { pods: podList, policies: policyList, namespaces };
}
