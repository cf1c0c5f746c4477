// NetworkPolicies, Pods and Namespaces from the API reduced to the policy model (policy/model.ts),
// validated here once so the compiler never sees a malformed object. The API server validates these
// objects too, but the agent must not rely on that (an older or newer server, a field we do not
// know, a watch event's JSON as sent): every name, label, address and port is checked against the
// API's own format (k8s-names.ts), and whatever we cannot read is reported and fails closed. A rule
// we cannot read is dropped, so the policy still isolates its pods and allows less; a policy whose
// name or podSelector we cannot read is left out whole, since guessing which pods it selects could
// isolate or open the wrong ones. A Pod or Namespace that fails is left out whole (see toPod and
// toNamespace for what that means for isolation). Nothing here throws, whatever the JSON holds.
// Type-only imports from client-node: this file stays cheap to load.
import type {
  V1Container,
  V1IPBlock,
  V1LabelSelector,
  V1Namespace,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1Pod,
} from '@kubernetes/client-node';
import { type Cidr, canonical, contains, formatCidr, formatIp, parseCidr } from '../../net/ip.js';
import {
  type Direction,
  type LabelSelector,
  type NamedPort,
  type NamespaceInfo,
  type PodInfo,
  type Policy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyRule,
  PROTOCOLS,
  type Protocol,
  type SelectorOperator,
} from '../policy/model.js';
import {
  dnsLabelProblem,
  dnsSubdomainProblem,
  isPortNumber,
  labelKeyProblem,
  labelValueProblem,
  labelsProblem,
  portNameProblem,
  readHostIp,
  shown,
} from './k8s-names.js';

/** A policy as read, or none when it cannot be enforced at all; problems say what was left out and why. */
export interface PolicyReading {
  readonly policy?: Policy;
  readonly problems: readonly string[];
}

/** A pod as read, or none (finished, unscheduled, or invalid: then problems says why). */
export interface PodReading {
  readonly pod?: PodInfo;
  readonly problems: readonly string[];
}

/** A namespace as read, or none (invalid: then problems says why). */
export interface NamespaceReading {
  readonly namespace?: NamespaceInfo;
  readonly problems: readonly string[];
}

/** Collects "where: what" lines, e.g. "spec.ingress[1].ports[0]: endPort 70 < port 80". */
type Problems = string[];

const OPERATORS: ReadonlySet<string> = new Set<SelectorOperator>(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const SUPPORTED_PROTOCOLS: ReadonlySet<string> = new Set<Protocol>(PROTOCOLS);

export const isSet = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;
/** Not a type guard: the typed objects keep their types once we know they are objects at all. */
export const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A list field: absent reads as empty; anything but a list is a problem (and reads as empty). */
export function listOf<T>(v: readonly T[] | null | undefined, at: string, problems: Problems): readonly T[] {
  if (!isSet(v)) return [];
  if (Array.isArray(v)) return v;
  problems.push(`${at}: ${shown(v)}, not a list`);
  return [];
}

export function readSelector(sel: V1LabelSelector, at: string, problems: Problems): LabelSelector | undefined {
  if (!isObject(sel)) {
    problems.push(`${at}: ${shown(sel)}, not a selector`);
    return undefined;
  }
  const before = problems.length;
  const matchLabels: Record<string, string> = {};
  if (isSet(sel.matchLabels) && !isObject(sel.matchLabels)) problems.push(`${at}.matchLabels: ${shown(sel.matchLabels)}, not a map`);
  else {
    for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
      const why = labelKeyProblem(key) ?? labelValueProblem(value);
      if (why) problems.push(`${at}.matchLabels: ${why}`);
      else matchLabels[key] = value;
    }
  }
  const matchExpressions: LabelSelector['matchExpressions'][number][] = [];
  listOf(sel.matchExpressions, `${at}.matchExpressions`, problems).forEach((e, i) => {
    const where = `${at}.matchExpressions[${i}]`;
    if (!isObject(e)) {
      problems.push(`${where}: ${shown(e)}, not an expression`);
      return;
    }
    const values = listOf(e.values, `${where}.values`, problems);
    const takesValues = e.operator === 'In' || e.operator === 'NotIn';
    const badValue = values.map(labelValueProblem).find(isSet);
    const badKey = labelKeyProblem(e.key);
    if (badKey) problems.push(`${where}: ${badKey}`);
    else if (!OPERATORS.has(e.operator)) problems.push(`${where}: unknown operator ${shown(e.operator)}`);
    else if (takesValues && values.length === 0) problems.push(`${where}: ${e.operator} needs values`);
    else if (!takesValues && values.length > 0) problems.push(`${where}: ${e.operator} takes no values`);
    else if (badValue) problems.push(`${where}: ${badValue}`);
    else matchExpressions.push({ key: e.key, operator: e.operator as SelectorOperator, values: [...values] });
  });
  return problems.length === before ? { matchLabels, matchExpressions } : undefined;
}

/** The canonical text of a CIDR's network: "198.18.0.7/24" reads as 198.18.0.0/24, as the API does. */
const networkText = (c: Cidr): string => formatCidr(canonical(c));

function readIpBlock(b: V1IPBlock, at: string, problems: Problems): PolicyPeer['ipBlock'] {
  const cidr = isObject(b) && typeof b.cidr === 'string' ? parseCidr(b.cidr) : undefined;
  if (!cidr) {
    problems.push(`${at}.cidr: ${shown(isObject(b) ? b.cidr : b)} is not a CIDR`);
    return undefined;
  }
  const before = problems.length;
  const except: string[] = [];
  listOf(b.except, `${at}.except`, problems).forEach((text, i) => {
    const where = `${at}.except[${i}]`;
    const e = typeof text === 'string' ? parseCidr(text) : undefined;
    if (!e) problems.push(`${where}: ${shown(text)} is not a CIDR`);
    else if (e.ip.family !== cidr.ip.family) problems.push(`${where}: ${text} is not of the family of ${b.cidr}`);
    // A strict subset, as the API requires (an except equal to the cidr would leave nothing).
    else if (!contains(cidr, e.ip) || e.prefix <= cidr.prefix) problems.push(`${where}: ${text} is not inside ${b.cidr}`);
    else except.push(networkText(e));
  });
  return problems.length === before ? { cidr: networkText(cidr), except } : undefined;
}

function readPeer(p: V1NetworkPolicyPeer, at: string, problems: Problems): PolicyPeer | undefined {
  if (!isObject(p)) {
    problems.push(`${at}: ${shown(p)}, not a peer`);
    return undefined;
  }
  if (p.ipBlock) {
    if (p.podSelector || p.namespaceSelector) {
      problems.push(`${at}: ipBlock may not be combined with a selector`);
      return undefined;
    }
    const ipBlock = readIpBlock(p.ipBlock, `${at}.ipBlock`, problems);
    return ipBlock && { ipBlock };
  }
  if (!p.podSelector && !p.namespaceSelector) {
    problems.push(`${at}: names no peer (podSelector, namespaceSelector or ipBlock)`);
    return undefined;
  }
  // Absent and empty differ here: no podSelector (with a namespaceSelector) means every pod of those
  // namespaces; no namespaceSelector means the policy's own namespace. So keep absent absent.
  const before = problems.length;
  const podSelector = p.podSelector && readSelector(p.podSelector, `${at}.podSelector`, problems);
  const namespaceSelector = p.namespaceSelector && readSelector(p.namespaceSelector, `${at}.namespaceSelector`, problems);
  if (problems.length > before) return undefined;
  return { ...(podSelector ? { podSelector } : {}), ...(namespaceSelector ? { namespaceSelector } : {}) };
}

function readPort(p: V1NetworkPolicyPort, at: string, problems: Problems): PolicyPort | undefined {
  if (!isObject(p)) {
    problems.push(`${at}: ${shown(p)}, not a port`);
    return undefined;
  }
  const before = problems.length;
  const protocol = p.protocol ?? 'TCP';
  if (!SUPPORTED_PROTOCOLS.has(protocol)) problems.push(`${at}: unsupported protocol ${shown(p.protocol)}`);
  const { port, endPort } = p;
  if (!isSet(port)) {
    if (isSet(endPort)) problems.push(`${at}: endPort ${shown(endPort)} without a port`);
  } else if (typeof port === 'number') {
    if (!isPortNumber(port)) problems.push(`${at}: port ${port} is not a port number`);
    else if (isSet(endPort) && !isPortNumber(endPort)) problems.push(`${at}: endPort ${shown(endPort)} is not a port number`);
    else if (isSet(endPort) && endPort < port) problems.push(`${at}: endPort ${endPort} < port ${port}`);
  } else if (typeof port === 'string') {
    const why = portNameProblem(port);
    if (why) problems.push(`${at}: port ${shown(port)}: ${why}`);
    else if (isSet(endPort)) problems.push(`${at}: endPort ${shown(endPort)} with the named port ${shown(port)}`);
  } else {
    problems.push(`${at}: port ${shown(port)} is neither a number nor a name`);
  }
  if (problems.length > before) return undefined;
  return { protocol: protocol as Protocol, ...(isSet(port) ? { port } : {}), ...(isSet(endPort) ? { endPort } : {}) };
}

interface RawRule {
  readonly peers?: V1NetworkPolicyPeer[];
  readonly ports?: V1NetworkPolicyPort[];
}

/** One rule, or undefined (its problems pushed) when any part of it cannot be read. */
function readRule(r: RawRule, at: string, peersField: 'from' | 'to', problems: Problems): PolicyRule | undefined {
  const before = problems.length;
  const peers = listOf(r.peers, `${at}.${peersField}`, problems).map((p, i) => readPeer(p, `${at}.${peersField}[${i}]`, problems));
  const ports = listOf(r.ports, `${at}.ports`, problems).map((p, i) => readPort(p, `${at}.ports[${i}]`, problems));
  if (problems.length > before) return undefined;
  return { peers: peers.filter(isSet), ports: ports.filter(isSet) };
}

/**
 * The directions a policy covers: its policyTypes, or when it names none, as the API defaults them.
 * policyTypes that is not a list covers both (a direction covered with no rule read allows nothing).
 */
function coveredDirections(spec: V1NetworkPolicy['spec'], egress: readonly unknown[], problems: Problems): Set<Direction> {
  const raw = spec?.policyTypes;
  if (isSet(raw) && !Array.isArray(raw)) {
    problems.push(`spec.policyTypes: ${shown(raw)}, not a list (both directions isolated)`);
    return new Set<Direction>(['ingress', 'egress']);
  }
  const types = raw ?? [];
  if (types.length === 0) return new Set<Direction>(egress.length ? ['ingress', 'egress'] : ['ingress']);
  const covered = new Set<Direction>();
  types.forEach((t, i) => {
    if (t === 'Ingress') covered.add('ingress');
    else if (t === 'Egress') covered.add('egress');
    else problems.push(`spec.policyTypes[${i}]: unknown policy type ${shown(t)} (ignored)`);
  });
  return covered;
}

// client-node renames a rule's `from` to `_from` when it deserialises a list (its code generator
// avoids the keyword), while watch events carry the JSON as sent: an informer's cache holds both.
const ingressPeers = (rule: { _from?: V1NetworkPolicyPeer[]; from?: V1NetworkPolicyPeer[] }): V1NetworkPolicyPeer[] | undefined => rule._from ?? rule.from;

/** One part of an object's name for problem lines: as is when valid, "?" when missing, else quoted. */
const idPart = (v: unknown, problem: string | undefined): string => (problem === undefined ? (v as string) : problem === 'missing' ? '?' : shown(v));
const objectId = (namespace: unknown, name: unknown): string => `${idPart(namespace, dnsLabelProblem(namespace))}/${idPart(name, dnsSubdomainProblem(name))}`;

/** Why metadata's namespace or name is refused, or undefined. */
const namespacedNameProblem = (namespace: unknown, name: unknown): string | undefined => {
  const ns = dnsLabelProblem(namespace);
  if (ns) return `metadata.namespace: ${ns}`;
  const n = dnsSubdomainProblem(name);
  return n ? `metadata.name: ${n}` : undefined;
};

export function toPolicy(np: V1NetworkPolicy): PolicyReading {
  const namespace = np.metadata?.namespace;
  const name = np.metadata?.name;
  const id = objectId(namespace, name);
  const bad = namespacedNameProblem(namespace, name);
  if (bad) return { problems: [`${id}: ${bad} (policy ignored)`] };
  const problems: Problems = [];
  const spec = np.spec;
  // The API requires podSelector; Go clients read an absent one as empty (every pod), and so do we.
  const podSelector = readSelector(spec?.podSelector ?? {}, 'spec.podSelector', problems);
  if (!podSelector) return { problems: problems.map((p) => `${id}: ${p} (policy ignored)`) };

  // A rule list that is not a list reads as no rules: the direction, when covered, allows nothing.
  const ruleProblems: Problems = [];
  const rawIngress = listOf(spec?.ingress, 'spec.ingress', ruleProblems);
  const rawEgress = listOf(spec?.egress, 'spec.egress', ruleProblems);
  const covered = coveredDirections(spec, rawEgress, problems);
  const read = (raw: readonly unknown[], direction: Direction, toRaw: (r: Record<string, unknown>) => RawRule): PolicyRule[] =>
    raw
      .map((r, i) => {
        const at = `spec.${direction}[${i}]`;
        if (isObject(r)) return readRule(toRaw(r as Record<string, unknown>), at, direction === 'ingress' ? 'from' : 'to', ruleProblems);
        ruleProblems.push(`${at}: ${shown(r)}, not a rule`);
        return undefined;
      })
      .filter(isSet);
  const ingress = covered.has('ingress') ? read(rawIngress, 'ingress', (r) => ({ peers: ingressPeers(r), ports: r['ports'] }) as RawRule) : undefined;
  const egress = covered.has('egress') ? read(rawEgress, 'egress', (r) => ({ peers: r['to'], ports: r['ports'] }) as RawRule) : undefined;
  return {
    policy: { namespace: namespace as string, name: name as string, podSelector, ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) },
    problems: [...problems.map((p) => `${id}: ${p}`), ...ruleProblems.map((p) => `${id}: ${p} (rule ignored)`)],
  };
}

/**
 * Regular containers only, as the upstream reference (kube-network-policies) resolves named ports.
 * A named port we cannot read makes the pod unreadable; a port with a protocol we do not enforce (a
 * newer API's) is only left out, as today: no policy port can name it.
 */
function namedPorts(containers: unknown, problems: Problems): NamedPort[] {
  const out: NamedPort[] = [];
  listOf(containers as V1Container[] | undefined, 'spec.containers', problems).forEach((c, i) => {
    const ports = isObject(c) ? listOf(c.ports, `spec.containers[${i}].ports`, problems) : [];
    ports.forEach((p, j) => {
      const at = `spec.containers[${i}].ports[${j}]`;
      if (!isObject(p) || !isSet(p.name)) return;
      const protocol = p.protocol ?? 'TCP';
      const why = typeof p.name !== 'string' ? `${shown(p.name)} is not a port name` : portNameProblem(p.name);
      if (why) problems.push(`${at}.name: ${shown(p.name)}: ${why}`);
      else if (!isPortNumber(p.containerPort)) problems.push(`${at}.containerPort: ${shown(p.containerPort)} is not a port number`);
      else if (SUPPORTED_PROTOCOLS.has(protocol)) out.push({ name: p.name, protocol: protocol as Protocol, port: p.containerPort });
    });
  });
  return out;
}

/** The pod's addresses in canonical text, IPv4 first (each family in the API's order); problems for any that is not one. */
function podIps(status: V1Pod['status'], problems: Problems): string[] {
  const listed = listOf(status?.podIPs, 'status.podIPs', problems);
  const given: unknown[] = listed.length ? listed.map((p) => (isObject(p) ? p.ip : (p as unknown))) : isSet(status?.podIP) ? [status.podIP] : [];
  const ips = [];
  for (const g of given) {
    const r = readHostIp(g);
    if ('problem' in r) problems.push(`status.podIPs: ${r.problem}`);
    else ips.push(r.ip);
  }
  return ips.sort((a, b) => a.family - b.family).map(formatIp);
}

/**
 * A pod as policies see it, or none while it has no place in them: not scheduled, or finished (its
 * address may already be another pod's). A pod being deleted keeps its place until the object is
 * gone. A scheduled pod without an address yet is kept (ips []): its node's agent learns the
 * address from our IPAM before the API has it (policy/local-pods.ts).
 *
 * A pod with any value we cannot read (namespace, name, node name, labels, addresses, named ports)
 * is left out whole, with a problem. Left out, it is no peer: no pod selector allows it (an ipBlock
 * that holds its address still does), so peers fail closed. Nor is it a target: no policy selects
 * it, so gingham does not isolate it, as a pod no policy selects. Isolating it instead would need
 * the very labels we could not read; and the API server never stores such a pod, so one seen here
 * means the server itself is not to be trusted, which no node agent can make safe.
 */
export function toPod(pod: V1Pod): PodReading {
  const node = pod.spec?.nodeName;
  const phase = pod.status?.phase;
  if (!isSet(node) || node === '' || phase === 'Succeeded' || phase === 'Failed') return { problems: [] };
  const namespace = pod.metadata?.namespace;
  const name = pod.metadata?.name;
  const problems: Problems = [];
  const bad = namespacedNameProblem(namespace, name);
  if (bad) problems.push(bad);
  const badNode = dnsSubdomainProblem(node);
  if (badNode) problems.push(`spec.nodeName: ${badNode}`);
  const labels = pod.metadata?.labels;
  const badLabels = labelsProblem(labels);
  if (badLabels) problems.push(`metadata.labels: ${badLabels}`);
  const ips = podIps(pod.status, problems);
  const ports = namedPorts(pod.spec?.containers, problems);
  if (problems.length > 0) return { problems: [`pod ${objectId(namespace, name)}: ${problems.join('; ')} (pod ignored)`] };
  return {
    pod: {
      namespace: namespace as string,
      name: name as string,
      labels: { ...(labels ?? {}) },
      ips,
      node,
      hostNetwork: pod.spec?.hostNetwork === true,
      namedPorts: ports,
    },
    problems: [],
  };
}

/** The label the API server puts on every namespace (since 1.21); supplied when an object lacks it. */
const NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * A namespace, or none when its name or labels cannot be read (with a problem). Left out, no
 * namespace selector picks it; its pods and policies have its invalid name and are left out too.
 * The name label is always the name, as the API server sets it: an object cannot claim another's.
 */
export function toNamespace(ns: V1Namespace): NamespaceReading {
  const name = ns.metadata?.name;
  const labels = ns.metadata?.labels;
  const badName = dnsLabelProblem(name);
  const why = badName ? `metadata.name: ${badName}` : labelsProblem(labels);
  if (why) return { problems: [`namespace ${idPart(name, badName)}: ${why} (namespace ignored)`] };
  return { namespace: { name: name as string, labels: { ...(labels ?? {}), [NAME_LABEL]: name as string } }, problems: [] };
}
