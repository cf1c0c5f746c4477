// ClusterNetworkPolicies (policy.networking.k8s.io v1beta1) and Nodes as their `nodes` peers see
// them, reduced to the policy model (ClusterPolicy, NodePeerInfo) and validated here once, as
// policy-objects.ts does for NetworkPolicy: names, selectors (its selector reader), CIDRs, ports and
// the API's limits (25 rules, 25 peers, 25 protocol entries). The CRD's own validation is not relied
// on (a server without it, an older or newer CRD, a watch event as sent).
//
// What cannot be read fails closed, as the API asks of implementations (the peer types' comments)
// and README's Security table says: an Accept rule loses the peer or protocol entry (none left: the
// rule matches nothing); a Deny or Pass rule with any part unreadable, or with domainNames (Accept
// only), becomes "Deny every peer, every protocol"; a rule with an unknown action is a Deny on its
// peers when those are readable, else a Deny of everything; a rule list that is not one, or too
// long, is one rule denying everything. A policy whose name, tier, priority or subject cannot be read
// is left out whole: there is no safe guess at whom it applies to or where it stands. domainNames
// are read and kept but not enforced (they match nothing), and each rule that has them says so.
// Every problem is one line naming `clusternetworkpolicy <name>`. Nothing here throws.
// Type-only imports from client-node: this file stays cheap to load.
import type { KubernetesObject, V1LabelSelector, V1Node } from '@kubernetes/client-node';
import { canonical, formatCidr, parseCidr } from '../../net/ip.js';
import type {
  ClusterAction,
  ClusterPeer,
  ClusterPodSelection,
  ClusterPolicy,
  ClusterPort,
  ClusterRule,
  Direction,
  LabelSelector,
  NodePeerInfo,
  Protocol,
  Tier,
} from '../policy/model.js';
import { dnsSubdomainProblem, hostIpText, isPortNumber, labelsProblem, portNameProblem, shown } from './k8s-names.js';
import { isObject, isSet, listOf, readSelector } from './policy-objects.js';

// ---- the API object, as JSON gives it (every field may be missing or of another type) ----

interface ApiPortRange {
  readonly start?: unknown;
  readonly end?: unknown;
}
interface ApiPort {
  readonly number?: unknown;
  readonly range?: ApiPortRange;
}
interface ApiProtocol {
  readonly tcp?: { readonly destinationPort?: ApiPort };
  readonly udp?: { readonly destinationPort?: ApiPort };
  readonly sctp?: { readonly destinationPort?: ApiPort };
  readonly destinationNamedPort?: unknown;
}
interface ApiNamespacedPod {
  readonly namespaceSelector?: V1LabelSelector;
  readonly podSelector?: V1LabelSelector;
}
interface ApiPeer {
  readonly namespaces?: V1LabelSelector;
  readonly pods?: ApiNamespacedPod;
  readonly nodes?: V1LabelSelector;
  readonly networks?: unknown[];
  readonly domainNames?: unknown[];
}
interface ApiRule {
  readonly name?: unknown;
  readonly action?: unknown;
  readonly from?: ApiPeer[];
  readonly to?: ApiPeer[];
  readonly protocols?: ApiProtocol[];
}

/** A ClusterNetworkPolicy as the API server (or a watch event) gives it. */
export interface ApiClusterNetworkPolicy extends KubernetesObject {
  readonly spec?: {
    readonly tier?: unknown;
    readonly priority?: unknown;
    readonly subject?: { readonly namespaces?: V1LabelSelector; readonly pods?: ApiNamespacedPod };
    readonly ingress?: ApiRule[];
    readonly egress?: ApiRule[];
  };
}

/** A policy as read, or none when it is left out; problems say what was not used as written and why. */
export interface ClusterPolicyReading {
  readonly policy?: ClusterPolicy;
  readonly problems: readonly string[];
}

/** A node as `nodes` peers see it, or none (then problems says why). */
export interface NodePeerReading {
  readonly node?: NodePeerInfo;
  readonly problems: readonly string[];
}

// ---- the API's limits ----

/** Rules per direction, peers per rule, protocol entries per rule, CIDRs and names per peer. */
const MAX_ITEMS = 25;
const MAX_RULE_NAME = 100;
/** A CIDR's text (the CRD's MaxLength), and a domain name's (a DNS name with "*." and a final dot). */
const MAX_CIDR = 43;
const MAX_DOMAIN_NAME = 255;
const MAX_PRIORITY = 1000;

const TIER_NAMES: ReadonlySet<string> = new Set<Tier>(['Admin', 'Baseline']);
const ACTIONS: ReadonlySet<string> = new Set<ClusterAction>(['Accept', 'Deny', 'Pass']);
const PORT_PROTOCOLS = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' } as const satisfies Record<string, Protocol>;
/** An optional "*." then DNS labels (letters, digits, '-' and '_' inside), an optional final dot. */
const DOMAIN_NAME = /^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;

const EVERYTHING: LabelSelector = { matchLabels: {}, matchExpressions: [] };
const DENY_ALL = (name: string | undefined): ClusterRule => ({ ...(name === undefined ? {} : { name }), action: 'Deny', peers: 'all' });

type Problems = string[];

/** The keys of an object whose values are set (not undefined or null): "exactly one of" counts these. */
const setKeys = (o: object): string[] => Object.entries(o).filter(([, v]) => isSet(v)).map(([k]) => k);

/** Keys for a problem line: the first three, quoted (an object may have thousands). */
const listed = (keys: readonly string[]): string =>
  keys.length === 0 ? 'nothing' : `${keys.slice(0, 3).map((k) => shown(k)).join(', ')}${keys.length > 3 ? ` and ${keys.length - 3} more` : ''}`;

/** A list of 1-25 entries, or undefined with a problem. */
function boundedList<T>(v: readonly T[] | null | undefined, at: string, what: string, problems: Problems): readonly T[] | undefined {
  if (!isSet(v)) problems.push(`${at}: missing`);
  else if (!Array.isArray(v)) problems.push(`${at}: ${shown(v)}, not a list`);
  else if (v.length === 0) problems.push(`${at}: no ${what}`);
  else if (v.length > MAX_ITEMS) problems.push(`${at}: ${v.length} ${what}, more than ${MAX_ITEMS}`);
  else return v;
  return undefined;
}

/** A subject or a pods peer: namespaces by labels, or pods by namespace and pod labels. */
function readPodSelection(kind: string, v: unknown, at: string, problems: Problems): ClusterPodSelection | undefined {
  if (kind === 'namespaces') {
    const namespaces = readSelector(v as V1LabelSelector, `${at}.namespaces`, problems);
    return namespaces && { kind: 'namespaces', namespaces };
  }
  const p = v as ApiNamespacedPod;
  if (!isObject(p)) {
    problems.push(`${at}.pods: ${shown(p)}, not a namespaced pod selector`);
    return undefined;
  }
  if (!isSet(p.podSelector)) {
    problems.push(`${at}.pods.podSelector: missing`);
    return undefined;
  }
  const before = problems.length;
  // namespaceSelector is optional: absent selects every namespace, as empty does.
  const namespaces = isSet(p.namespaceSelector) ? readSelector(p.namespaceSelector, `${at}.pods.namespaceSelector`, problems) : EVERYTHING;
  const pods = readSelector(p.podSelector, `${at}.pods.podSelector`, problems);
  return problems.length === before && namespaces && pods ? { kind: 'pods', namespaces, pods } : undefined;
}

/** 1-25 canonical CIDRs (no host bits), in canonical text, each once. */
function readNetworks(v: unknown[] | undefined, at: string, problems: Problems): string[] | undefined {
  const list = boundedList(v, at, 'CIDRs', problems);
  if (!list) return undefined;
  const before = problems.length;
  const cidrs = new Set<string>();
  list.forEach((text, i) => {
    const c = typeof text === 'string' && text.length <= MAX_CIDR ? parseCidr(text) : undefined;
    if (!c) problems.push(`${at}[${i}]: ${shown(text)} is not a CIDR`);
    else if (canonical(c).ip.value !== c.ip.value) problems.push(`${at}[${i}]: ${shown(text)} has host bits set (the network is ${formatCidr(canonical(c))})`);
    else cidrs.add(formatCidr(c));
  });
  return problems.length === before ? [...cidrs] : undefined;
}

/** 1-25 domain names (kept for people and explain; gingham does not enforce them). */
function readDomainNames(v: unknown[] | undefined, at: string, problems: Problems): string[] | undefined {
  const list = boundedList(v, at, 'domain names', problems);
  if (!list) return undefined;
  const before = problems.length;
  const names = new Set<string>();
  list.forEach((n, i) => {
    if (typeof n === 'string' && n.length <= MAX_DOMAIN_NAME && DOMAIN_NAME.test(n)) names.add(n);
    else problems.push(`${at}[${i}]: ${shown(n)} is not a domain name`);
  });
  return problems.length === before ? [...names] : undefined;
}

/** Ingress peers are pods; egress peers may also be networks, nodes and domain names. */
const PEER_KINDS: Record<Direction, ReadonlySet<string>> = {
  ingress: new Set(['namespaces', 'pods']),
  egress: new Set(['namespaces', 'pods', 'networks', 'nodes', 'domainNames']),
};

function readPeer(p: ApiPeer, at: string, direction: Direction, problems: Problems): ClusterPeer | undefined {
  if (!isObject(p)) {
    problems.push(`${at}: ${shown(p)}, not a peer`);
    return undefined;
  }
  const keys = setKeys(p);
  // No field we know: a newer CRD's peer (the API's own case for failing closed).
  if (keys.length !== 1 || !PEER_KINDS[direction].has(keys[0]!)) {
    problems.push(`${at}: names ${keys.length === 0 ? 'no peer' : listed(keys)}, not exactly one ${direction} peer (${[...PEER_KINDS[direction]].join(', ')})`);
    return undefined;
  }
  const kind = keys[0]!;
  if (kind === 'namespaces' || kind === 'pods') return readPodSelection(kind, p[kind as 'namespaces' | 'pods'], at, problems);
  if (kind === 'nodes') {
    const nodes = readSelector(p.nodes!, `${at}.nodes`, problems);
    return nodes && { kind: 'nodes', nodes };
  }
  if (kind === 'networks') {
    const cidrs = readNetworks(p.networks, `${at}.networks`, problems);
    return cidrs && { kind: 'networks', cidrs };
  }
  const names = readDomainNames(p.domainNames, `${at}.domainNames`, problems);
  return names && { kind: 'domainNames', names };
}

function readDestinationPort(v: ApiPort | undefined, protocol: Protocol, at: string, problems: Problems): ClusterPort | undefined {
  if (!isObject(v)) {
    problems.push(`${at}: ${v === undefined ? 'missing' : `${shown(v)}, not a port`}`);
    return undefined;
  }
  const keys = setKeys(v!);
  if (keys.length !== 1 || (keys[0] !== 'number' && keys[0] !== 'range')) {
    problems.push(`${at}: names ${listed(keys)}, not exactly one of number, range`);
    return undefined;
  }
  if (keys[0] === 'number') {
    if (isPortNumber(v!.number)) return { kind: 'port', protocol, port: v!.number };
    problems.push(`${at}.number: ${shown(v!.number)} is not a port number`);
    return undefined;
  }
  const r = v!.range;
  if (!isObject(r)) problems.push(`${at}.range: ${shown(r)}, not a range`);
  else if (!isPortNumber(r!.start)) problems.push(`${at}.range.start: ${shown(r!.start)} is not a port number`);
  else if (!isPortNumber(r!.end)) problems.push(`${at}.range.end: ${shown(r!.end)} is not a port number`);
  else if (r!.start >= r!.end) problems.push(`${at}.range: start ${r!.start} is not below end ${r!.end}`);
  else return { kind: 'port', protocol, port: r!.start, endPort: r!.end };
  return undefined;
}

function readProtocol(p: ApiProtocol, at: string, problems: Problems): ClusterPort | undefined {
  if (!isObject(p)) {
    problems.push(`${at}: ${shown(p)}, not a protocol entry`);
    return undefined;
  }
  const keys = setKeys(p);
  const kind = keys[0];
  if (keys.length !== 1 || (kind !== 'destinationNamedPort' && !Object.hasOwn(PORT_PROTOCOLS, kind!))) {
    problems.push(`${at}: names ${listed(keys)}, not exactly one of tcp, udp, sctp, destinationNamedPort`);
    return undefined;
  }
  if (kind === 'destinationNamedPort') {
    const name = p.destinationNamedPort;
    const why = typeof name === 'string' ? portNameProblem(name) : 'not a string';
    if (why === undefined) return { kind: 'named', name: name as string };
    problems.push(`${at}.destinationNamedPort: ${shown(name)}: ${why}`);
    return undefined;
  }
  const k = kind as keyof typeof PORT_PROTOCOLS;
  const match = p[k];
  if (!isObject(match)) {
    problems.push(`${at}.${k}: ${shown(match)}, not a port match`);
    return undefined;
  }
  return readDestinationPort(match!.destinationPort, PORT_PROTOCOLS[k], `${at}.${k}.destinationPort`, problems);
}

/**
 * What a rule's parts read as, before its action decides what an unreadable part means. peers and
 * protocols hold what could be read; `problems` says what could not.
 */
interface RuleParts {
  /** Undefined: the list itself could not be read. */
  readonly peers?: readonly ClusterPeer[];
  /** Undefined: absent (every protocol). [] when the list could not be read, or none of its entries. */
  readonly protocols?: readonly ClusterPort[];
  /** A named port beside peers that have none, which the CRD refuses. */
  readonly conflict: boolean;
  /** Problems by what they cost an Accept rule: the whole rule, a peer, or a protocol entry. */
  readonly problems: { readonly rule: Problems; readonly peer: Problems; readonly protocol: Problems };
}

function readParts(r: ApiRule, at: string, direction: Direction): RuleParts {
  const field = direction === 'ingress' ? 'from' : 'to';
  const problems = { rule: [] as Problems, peer: [] as Problems, protocol: [] as Problems };
  const peers = boundedList(r[field], `${at}.${field}`, 'peers', problems.rule)
    ?.map((p, i) => readPeer(p, `${at}.${field}[${i}]`, direction, problems.peer))
    .filter(isSet);
  const protocols = isSet(r.protocols)
    ? (boundedList(r.protocols, `${at}.protocols`, 'protocol entries', problems.rule)
        ?.map((p, i) => readProtocol(p, `${at}.protocols[${i}]`, problems.protocol))
        .filter(isSet) ?? [])
    : undefined;
  const conflict = (peers ?? []).some((p) => p.kind === 'networks' || p.kind === 'nodes' || p.kind === 'domainNames') && (protocols ?? []).some((p) => p.kind === 'named');
  if (conflict) problems.rule.push(`${at}: a destinationNamedPort with networks, nodes or domainNames peers, which have no named ports`);
  return { ...(peers ? { peers } : {}), ...(protocols ? { protocols } : {}), conflict, problems };
}

/** A rule's name, kept for comments and explain: free text of at most 100 characters. */
function readRuleName(v: unknown, at: string, problems: Problems): string | undefined {
  if (!isSet(v) || v === '') return undefined;
  // Characters as the API counts them (code points); more than twice as many UTF-16 units is too many.
  if (typeof v === 'string' && v.length <= 2 * MAX_RULE_NAME && [...v].length <= MAX_RULE_NAME) return v;
  problems.push(`${at}.name: ${shown(v)} is not a rule name (text of at most ${MAX_RULE_NAME} characters) (name not used)`);
  return undefined;
}

const DENIES_EVERYTHING = '(the rule denies everything)';
const NOT_ENFORCED = 'domainNames are not enforced by gingham; this peer matches nothing';

/** One rule, always: what cannot be read fails closed by the rule's action (this file's header). */
function readRule(r: ApiRule, at: string, direction: Direction, problems: Problems): ClusterRule {
  if (!isObject(r)) {
    problems.push(`${at}: ${shown(r)}, not a rule ${DENIES_EVERYTHING}`);
    return DENY_ALL(undefined);
  }
  const name = readRuleName(r.name, at, problems);
  const withName = name === undefined ? {} : { name };
  const parts = readParts(r, at, direction);
  const domainNames = parts.peers?.some((p) => p.kind === 'domainNames') ?? false;
  const action = r.action;
  if (action === 'Accept') {
    // An unreadable protocol list reads as [] (nothing), as does one whose every entry is unreadable.
    const peers = parts.conflict ? [] : (parts.peers ?? []);
    const protocols = parts.protocols;
    problems.push(
      ...parts.problems.rule.map((p) => `${p} (the rule matches nothing)`),
      ...parts.problems.peer.map((p) => `${p} (peer not used)`),
      ...parts.problems.protocol.map((p) => `${p} (protocol entry not used)`),
    );
    if (domainNames && !parts.conflict) problems.push(`${at}: ${NOT_ENFORCED}`);
    if (parts.problems.rule.length === 0 && (peers.length === 0 || protocols?.length === 0)) problems.push(`${at}: nothing left to match (the rule matches nothing)`);
    return { ...withName, action, peers, ...(protocols ? { protocols } : {}) };
  }
  const unreadable = [...parts.problems.rule, ...parts.problems.peer, ...parts.problems.protocol];
  if (domainNames) unreadable.push(`${at}: domainNames are for Accept rules only, and ${NOT_ENFORCED}`);
  const known = ACTIONS.has(action as string);
  if (unreadable.length === 0) {
    if (!known) problems.push(`${at}.action: ${shown(action)} is not Accept, Deny or Pass (read as Deny)`);
    return { ...withName, action: known ? (action as ClusterAction) : 'Deny', peers: parts.peers!, ...(parts.protocols ? { protocols: parts.protocols } : {}) };
  }
  if (!known) problems.push(`${at}.action: ${shown(action)} is not Accept, Deny or Pass ${DENIES_EVERYTHING}`);
  problems.push(...unreadable.map((p) => `${p} ${DENIES_EVERYTHING}`));
  return DENY_ALL(name);
}

function readRules(v: ApiRule[] | undefined, direction: Direction, problems: Problems): ClusterRule[] {
  const at = `spec.${direction}`;
  if (!isSet(v)) return [];
  if (!Array.isArray(v) || v.length > MAX_ITEMS) {
    problems.push(`${at}: ${Array.isArray(v) ? `${v.length} rules, more than ${MAX_ITEMS}` : `${shown(v)}, not a list`} (read as one rule that denies everything)`);
    return [DENY_ALL(undefined)];
  }
  return v.map((r, i) => readRule(r, `${at}[${i}]`, direction, problems));
}

function readSubject(v: unknown, problems: Problems): ClusterPodSelection | undefined {
  if (!isObject(v)) {
    problems.push(`spec.subject: ${v === undefined ? 'missing' : `${shown(v)}, not a subject`}`);
    return undefined;
  }
  const keys = setKeys(v as object);
  if (keys.length !== 1 || (keys[0] !== 'namespaces' && keys[0] !== 'pods')) {
    problems.push(`spec.subject: names ${listed(keys)}, not exactly one of namespaces, pods`);
    return undefined;
  }
  return readPodSelection(keys[0], (v as Record<string, unknown>)[keys[0]], 'spec.subject', problems);
}

export function toClusterPolicy(cnp: ApiClusterNetworkPolicy): ClusterPolicyReading {
  const name = cnp?.metadata?.name;
  const badName = dnsSubdomainProblem(name);
  const id = `clusternetworkpolicy ${badName === undefined ? (name as string) : badName === 'missing' ? '?' : shown(name)}`;
  const ignored = (lines: readonly string[]): ClusterPolicyReading => ({ problems: lines.map((p) => `${id}: ${p} (policy ignored)`) });
  if (badName) return ignored([`metadata.name: ${badName}`]);
  const spec = cnp.spec;
  if (!isObject(spec)) return ignored([`spec: ${shown(spec)}, not a spec`]);
  const problems: Problems = [];
  const tier = spec!.tier;
  if (!TIER_NAMES.has(tier as string)) problems.push(`spec.tier: ${shown(tier)} is not Admin or Baseline`);
  const priority = spec!.priority;
  if (!Number.isInteger(priority) || (priority as number) < 0 || (priority as number) > MAX_PRIORITY) problems.push(`spec.priority: ${shown(priority)} is not an integer from 0 to ${MAX_PRIORITY}`);
  const subject = readSubject(spec!.subject, problems);
  if (problems.length > 0 || !subject) return ignored(problems);
  const ruleProblems: Problems = [];
  const ingress = readRules(spec!.ingress, 'ingress', ruleProblems);
  const egress = readRules(spec!.egress, 'egress', ruleProblems);
  return {
    policy: { name: name as string, tier: tier as Tier, priority: priority as number, subject, ingress, egress },
    problems: ruleProblems.map((p) => `${id}: ${p}`),
  };
}

/**
 * A node for `nodes` peers: its name, labels and every InternalIP and ExternalIP (canonical text,
 * each once). A node whose name or labels cannot be read is left out (no selector can take it); an
 * address that cannot be read is left out of its IPs.
 */
export function toNodePeer(node: V1Node): NodePeerReading {
  const name = node?.metadata?.name;
  const badName = dnsSubdomainProblem(name);
  if (badName) return { problems: [`node ${badName === 'missing' ? '?' : shown(name)}: metadata.name: ${badName} (no nodes peer selects it)`] };
  const labels = node.metadata?.labels;
  const badLabels = labelsProblem(labels);
  if (badLabels) return { problems: [`node ${name as string}: metadata.labels: ${badLabels} (no nodes peer selects it)`] };
  const problems: Problems = [];
  const ips = new Set<string>();
  listOf(node.status?.addresses, 'status.addresses', problems).forEach((a, i) => {
    if (!isObject(a) || (a.type !== 'InternalIP' && a.type !== 'ExternalIP')) return;
    const r = hostIpText(a.address);
    if ('text' in r) ips.add(r.text);
    else problems.push(`status.addresses[${i}]: ${a.type} ${r.problem}`);
  });
  return {
    node: { name: name as string, labels: { ...(labels ?? {}) }, ips: [...ips] },
    problems: problems.map((p) => `node ${name as string}: ${p} (not used by nodes peers)`),
  };
}
