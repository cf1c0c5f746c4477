// NetworkPolicies, Pods and Namespaces from the API reduced to the policy model (policy/model.ts),
// validated here once so the compiler never sees a malformed object. The API server validates these
// objects too, but the agent must not rely on that (an older or newer server, a field we do not
// know): whatever we cannot read is reported and fails closed. A rule we cannot read is dropped, so
// the policy still isolates its pods and allows less; a policy whose podSelector we cannot read is
// left out whole, since guessing which pods it selects could isolate or open the wrong ones.
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
import { type Cidr, canonical, contains, formatCidr, formatIp, parseCidr, parseIp } from '../../net/ip.js';
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

/** A policy as read, or none when it cannot be enforced at all; problems say what was left out and why. */
export interface PolicyReading {
  readonly policy?: Policy;
  readonly problems: readonly string[];
}

/** Collects "where: what" lines, e.g. "spec.ingress[1].ports[0]: endPort 70 < port 80". */
type Problems = string[];

const OPERATORS: ReadonlySet<string> = new Set<SelectorOperator>(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const SUPPORTED_PROTOCOLS: ReadonlySet<string> = new Set<Protocol>(PROTOCOLS);

const isSet = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

function readSelector(sel: V1LabelSelector, at: string, problems: Problems): LabelSelector | undefined {
  const before = problems.length;
  const matchLabels: Record<string, string> = {};
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    if (typeof value === 'string') matchLabels[key] = value;
    else problems.push(`${at}.matchLabels[${key}]: the value is not a string`);
  }
  const matchExpressions: LabelSelector['matchExpressions'][number][] = [];
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const where = `${at}.matchExpressions[${i}]`;
    const values = e.values ?? [];
    const takesValues = e.operator === 'In' || e.operator === 'NotIn';
    if (typeof e.key !== 'string' || e.key === '') problems.push(`${where}: no key`);
    else if (!OPERATORS.has(e.operator)) problems.push(`${where}: unknown operator ${JSON.stringify(e.operator)}`);
    else if (takesValues && values.length === 0) problems.push(`${where}: ${e.operator} needs values`);
    else if (!takesValues && values.length > 0) problems.push(`${where}: ${e.operator} takes no values`);
    else matchExpressions.push({ key: e.key, operator: e.operator as SelectorOperator, values: [...values] });
  });
  return problems.length === before ? { matchLabels, matchExpressions } : undefined;
}

/** The canonical text of a CIDR's network: "198.18.0.7/24" reads as 198.18.0.0/24, as the API does. */
const networkText = (c: Cidr): string => formatCidr(canonical(c));

function readIpBlock(b: V1IPBlock, at: string, problems: Problems): PolicyPeer['ipBlock'] {
  const cidr = parseCidr(b.cidr ?? '');
  if (!cidr) {
    problems.push(`${at}.cidr: ${JSON.stringify(b.cidr)} is not a CIDR`);
    return undefined;
  }
  const before = problems.length;
  const except: string[] = [];
  (b.except ?? []).forEach((text, i) => {
    const where = `${at}.except[${i}]`;
    const e = parseCidr(text);
    if (!e) problems.push(`${where}: ${JSON.stringify(text)} is not a CIDR`);
    else if (e.ip.family !== cidr.ip.family) problems.push(`${where}: ${text} is not of the family of ${b.cidr}`);
    // A strict subset, as the API requires (an except equal to the cidr would leave nothing).
    else if (!contains(cidr, e.ip) || e.prefix <= cidr.prefix) problems.push(`${where}: ${text} is not inside ${b.cidr}`);
    else except.push(networkText(e));
  });
  return problems.length === before ? { cidr: networkText(cidr), except } : undefined;
}

function readPeer(p: V1NetworkPolicyPeer, at: string, problems: Problems): PolicyPeer | undefined {
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

const isPortNumber = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;

/**
 * Why a string is not a port name (an IANA_SVC_NAME, as the API checks it), or undefined when it
 * is. A string port is always a name, "80" too: IntOrString keeps numbers and strings apart.
 */
function portNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return 'a port name has 1 to 15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'a port name has only a-z, 0-9 and -';
  if (!/[a-z]/.test(name)) return 'a port name needs a letter (a port number is given as a number, not a string)';
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) return 'a port name neither starts nor ends with -, nor has --';
  return undefined;
}

function readPort(p: V1NetworkPolicyPort, at: string, problems: Problems): PolicyPort | undefined {
  const before = problems.length;
  const protocol = p.protocol ?? 'TCP';
  if (!SUPPORTED_PROTOCOLS.has(protocol)) problems.push(`${at}: unsupported protocol ${JSON.stringify(p.protocol)}`);
  const { port, endPort } = p;
  if (!isSet(port)) {
    if (isSet(endPort)) problems.push(`${at}: endPort ${endPort} without a port`);
  } else if (typeof port === 'number') {
    if (!isPortNumber(port)) problems.push(`${at}: port ${port} is not a port number`);
    else if (isSet(endPort) && !isPortNumber(endPort)) problems.push(`${at}: endPort ${endPort} is not a port number`);
    else if (isSet(endPort) && endPort < port) problems.push(`${at}: endPort ${endPort} < port ${port}`);
  } else if (typeof port === 'string') {
    const why = portNameProblem(port);
    if (why) problems.push(`${at}: port ${JSON.stringify(port)}: ${why}`);
    else if (isSet(endPort)) problems.push(`${at}: endPort ${endPort} with the named port ${JSON.stringify(port)}`);
  } else {
    problems.push(`${at}: port ${JSON.stringify(port)} is neither a number nor a name`);
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
  const peers = (r.peers ?? []).map((p, i) => readPeer(p, `${at}.${peersField}[${i}]`, problems));
  const ports = (r.ports ?? []).map((p, i) => readPort(p, `${at}.ports[${i}]`, problems));
  if (problems.length > before) return undefined;
  return { peers: peers.filter(isSet), ports: ports.filter(isSet) };
}

/** The directions a policy covers: its policyTypes, or when it names none, as the API defaults them. */
function coveredDirections(np: V1NetworkPolicy, problems: Problems): Set<Direction> {
  const types = np.spec?.policyTypes ?? [];
  if (types.length === 0) return new Set<Direction>(np.spec?.egress?.length ? ['ingress', 'egress'] : ['ingress']);
  const covered = new Set<Direction>();
  types.forEach((t, i) => {
    if (t === 'Ingress') covered.add('ingress');
    else if (t === 'Egress') covered.add('egress');
    else problems.push(`spec.policyTypes[${i}]: unknown policy type ${JSON.stringify(t)} (ignored)`);
  });
  return covered;
}

// client-node renames a rule's `from` to `_from` when it deserialises a list (its code generator
// avoids the keyword), while watch events carry the JSON as sent: an informer's cache holds both.
const ingressPeers = (rule: { _from?: V1NetworkPolicyPeer[]; from?: V1NetworkPolicyPeer[] }): V1NetworkPolicyPeer[] | undefined => rule._from ?? rule.from;

export function toPolicy(np: V1NetworkPolicy): PolicyReading {
  const namespace = np.metadata?.namespace;
  const name = np.metadata?.name;
  const id = `${namespace || '?'}/${name || '?'}`;
  if (!namespace || !name) return { problems: [`${id}: a NetworkPolicy without a namespace or a name (policy ignored)`] };
  const problems: Problems = [];
  // The API requires podSelector; Go clients read an absent one as empty (every pod), and so do we.
  const podSelector = readSelector(np.spec?.podSelector ?? {}, 'spec.podSelector', problems);
  if (!podSelector) return { problems: problems.map((p) => `${id}: ${p} (policy ignored)`) };
  const covered = coveredDirections(np, problems);

  const ruleProblems: Problems = [];
  const read = (raw: RawRule[], direction: Direction): PolicyRule[] =>
    raw.map((r, i) => readRule(r, `spec.${direction}[${i}]`, direction === 'ingress' ? 'from' : 'to', ruleProblems)).filter(isSet);
  const ingress = covered.has('ingress') ? read((np.spec?.ingress ?? []).map((r) => ({ peers: ingressPeers(r), ports: r.ports })), 'ingress') : undefined;
  const egress = covered.has('egress') ? read((np.spec?.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports })), 'egress') : undefined;
  return {
    policy: { namespace, name, podSelector, ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) },
    problems: [...problems.map((p) => `${id}: ${p}`), ...ruleProblems.map((p) => `${id}: ${p} (rule ignored)`)],
  };
}

// Regular containers only, as the upstream reference (kube-network-policies) resolves named ports.
function namedPorts(containers: readonly V1Container[]): NamedPort[] {
  const out: NamedPort[] = [];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      const protocol = p.protocol ?? 'TCP';
      if (p.name && SUPPORTED_PROTOCOLS.has(protocol) && isPortNumber(p.containerPort)) out.push({ name: p.name, protocol: protocol as Protocol, port: p.containerPort });
    }
  }
  return out;
}

/**
 * A pod as policies see it, or undefined while it has no place in them: not scheduled, or finished
 * (its address may already be another pod's). A pod being deleted keeps its place until the object
 * is gone. A scheduled pod without an address yet is kept (ips []): its node's agent learns the
 * address from our IPAM before the API has it (policy/local-pods.ts).
 */
export function toPod(pod: V1Pod): PodInfo | undefined {
  const namespace = pod.metadata?.namespace;
  const name = pod.metadata?.name;
  const node = pod.spec?.nodeName;
  const phase = pod.status?.phase;
  if (!namespace || !name || !node || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const status = pod.status;
  const given = status?.podIPs?.length ? status.podIPs.map((p) => p.ip) : status?.podIP ? [status.podIP] : [];
  const ips = given
    .map(parseIp)
    .filter(isSet)
    .sort((a, b) => a.family - b.family) // stable: IPv4 first, each family in the API's order
    .map(formatIp);
  return {
    namespace,
    name,
    labels: { ...(pod.metadata?.labels ?? {}) },
    ips,
    node,
    hostNetwork: pod.spec?.hostNetwork === true,
    namedPorts: namedPorts(pod.spec?.containers ?? []),
  };
}

/** The label the API server puts on every namespace (since 1.21); supplied when an object lacks it. */
const NAME_LABEL = 'kubernetes.io/metadata.name';

export function toNamespace(ns: V1Namespace): NamespaceInfo | undefined {
  const name = ns.metadata?.name;
  if (!name) return undefined;
  return { name, labels: { [NAME_LABEL]: name, ...(ns.metadata?.labels ?? {}) } };
}
