// What policy enforcement reads from the cluster: Pods, Namespaces, NetworkPolicies,
// ClusterNetworkPolicies and Nodes (for `nodes` peers), each kept by an informer (kubernetes.ts),
// converted to the policy model (policy-objects.ts, cnp-objects.ts). The agent takes snapshots;
// `gingham policy explain` lists the same once, without watching.
//
// The ClusterNetworkPolicy CRD may not be installed: a list answered 404 reads as no
// ClusterNetworkPolicies (logged once), and the informer keeps trying, so a CRD installed later is
// picked up. Any other failed list keeps the last good cache: a hiccup never reads as "none".
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  NetworkingV1Api,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { NodePeerInfo, PolicyInputs } from '../policy/model.js';
import { type ApiClusterNetworkPolicy, type ClusterPolicyReading, type NodePeerReading, toClusterPolicy, toNodePeer } from './cnp-objects.js';
import { WatchedCollection, guarded } from './kubernetes.js';
import { NewLines } from './new-lines.js';
import { type NamespaceReading, type PodReading, type PolicyReading, toNamespace, toPod, toPolicy } from './policy-objects.js';

/** ClusterNetworkPolicy v1beta1 (network-policy-api v0.3.0's storage version), cluster-scoped. */
const CNP = { group: 'policy.networking.k8s.io', version: 'v1beta1', plural: 'clusternetworkpolicies' } as const;
export const CNP_PATH = `/apis/${CNP.group}/${CNP.version}/${CNP.plural}`;

const isNotFound = (e: unknown): boolean => (e as { code?: unknown } | undefined)?.code === 404;

/**
 * What a list answered 404 reads as: no ClusterNetworkPolicies. resourceVersion "0" makes the
 * informer watch next, not list (a list that "succeeds" would reset its backoff, so it would retry
 * every second); the watch fails with 404 too and backs off, and once the CRD is there it succeeds,
 * starting, as a watch from "0" does, with an ADDED event for every object there is.
 */
const NO_CRD: KubernetesListObject<ApiClusterNetworkPolicy> = { apiVersion: `${CNP.group}/${CNP.version}`, kind: 'ClusterNetworkPolicyList', metadata: { resourceVersion: '0' }, items: [] };

/** Lists ClusterNetworkPolicies once; a 404 (no CRD) is none. */
async function listClusterPolicies(custom: CustomObjectsApi): Promise<KubernetesListObject<ApiClusterNetworkPolicy>> {
  try {
    return (await custom.listClusterCustomObject(CNP)) as KubernetesListObject<ApiClusterNetworkPolicy>;
  } catch (e) {
    if (isNotFound(e)) return NO_CRD;
    throw e;
  }
}

/** The inputs, and a line for each object (or part of one) that could not be read and is left out. */
export interface PolicyView {
  readonly inputs: PolicyInputs;
  readonly problems: readonly string[];
}

interface Converters {
  readonly pod: (p: V1Pod) => PodReading;
  readonly namespace: (n: V1Namespace) => NamespaceReading;
  readonly policy: (np: V1NetworkPolicy) => PolicyReading;
  readonly clusterPolicy: (cnp: ApiClusterNetworkPolicy) => ClusterPolicyReading;
  readonly node: (n: V1Node) => NodePeerReading;
}

const PLAIN: Converters = {
  pod: guarded('pod', toPod),
  namespace: guarded('namespace', toNamespace),
  policy: guarded('networkpolicy', toPolicy),
  clusterPolicy: guarded('clusternetworkpolicy', toClusterPolicy),
  node: guarded('node', toNodePeer),
};

/** The API objects a view is made of. */
interface Objects {
  readonly pods: readonly V1Pod[];
  readonly namespaces: readonly V1Namespace[];
  readonly policies: readonly V1NetworkPolicy[];
  readonly clusterPolicies: readonly ApiClusterNetworkPolicy[];
  readonly nodes: readonly V1Node[];
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byName = <T extends { readonly namespace?: string; readonly name: string }>(a: T, b: T): number =>
  compare(a.namespace ?? '', b.namespace ?? '') || compare(a.name, b.name);

const defined = <T>(v: T | undefined): v is T => v !== undefined;

/** Sorted by namespace and name, so equal clusters give equal inputs whatever order events came in. */
function toView(o: Objects, convert: Converters): PolicyView {
  const readings = {
    policies: o.policies.map(convert.policy),
    pods: o.pods.map(convert.pod),
    namespaces: o.namespaces.map(convert.namespace),
    clusterPolicies: o.clusterPolicies.map(convert.clusterPolicy),
    nodes: o.nodes.map(convert.node),
  };
  return {
    inputs: {
      policies: readings.policies.map((r) => r.policy).filter(defined).sort(byName),
      pods: readings.pods.map((r) => r.pod).filter(defined).sort(byName),
      namespaces: readings.namespaces.map((r) => r.namespace).filter(defined).sort(byName),
      clusterPolicies: readings.clusterPolicies.map((r) => r.policy).filter(defined).sort(byName),
      nodes: readings.nodes.map((r) => r.node).filter(defined).sort(byName),
    },
    problems: Object.values(readings)
      .flat()
      .flatMap((r: { readonly problems: readonly string[] }) => r.problems)
      .sort(),
  };
}

/**
 * Converts each object once: the informer replaces an object on every change and keeps it
 * otherwise, so the object itself keys its conversion, and the entry goes with the object.
 */
function memo<K extends object, V>(convert: (k: K) => V): (k: K) => V {
  const done = new WeakMap<K, { v: V }>();
  return (k) => {
    let hit = done.get(k);
    if (!hit) {
      hit = { v: convert(k) };
      done.set(k, hit);
    }
    return hit.v;
  };
}

/**
 * Node objects are rewritten every few seconds (status heartbeats) with nothing a `nodes` peer
 * reads changed: gives back the NodePeerInfo from before when name, labels and IPs are the same, so
 * the compiler, which takes an unchanged object for unchanged, does no work.
 */
class SameNodes {
  private last = new Map<string, NodePeerInfo>();

  keep(n: NodePeerInfo): NodePeerInfo {
    const before = this.last.get(n.name);
    if (before && sameNodePeer(before, n)) return before;
    this.last.set(n.name, n);
    return n;
  }

  /** Forgets nodes that are gone. */
  retain(present: readonly NodePeerInfo[]): void {
    this.last = new Map(present.map((n) => [n.name, n]));
  }
}

function sameNodePeer(a: NodePeerInfo, b: NodePeerInfo): boolean {
  const labels = Object.keys(a.labels);
  return (
    a.ips.length === b.ips.length &&
    a.ips.every((ip, i) => ip === b.ips[i]) &&
    labels.length === Object.keys(b.labels).length &&
    labels.every((k) => Object.hasOwn(b.labels, k) && a.labels[k] === b.labels[k])
  );
}

/** Lists Pods, Namespaces, NetworkPolicies, ClusterNetworkPolicies (none without the CRD) and Nodes once (no watch) and converts them. */
export async function listPolicyInputs(kc: KubeConfig): Promise<PolicyView> {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const [pods, namespaces, policies, clusterPolicies, nodes] = await Promise.all([
    core.listPodForAllNamespaces(),
    core.listNamespace(),
    networking.listNetworkPolicyForAllNamespaces(),
    listClusterPolicies(kc.makeApiClient(CustomObjectsApi)),
    core.listNode(),
  ]);
  return toView({ pods: pods.items, namespaces: namespaces.items, policies: policies.items, clusterPolicies: clusterPolicies.items, nodes: nodes.items }, PLAIN);
}

/**
 * The log of the ClusterNetworkPolicy informer, which fails again and again while the CRD is not
 * installed (and may fail the same way for long otherwise): each warning once, until a list works
 * again. An error is known by its text without the response headers (their Date changes).
 */
class WarnOnce {
  private seen = new Set<string>();

  constructor(private readonly log: Logger) {}

  readonly logger: Logger = (level, msg, fields) => {
    if (level === 'warn') {
      const key = `${msg}\n${String(fields?.['error']).split('\nHeaders:')[0]}`;
      if (this.seen.has(key)) return;
      this.seen.add(key);
    }
    this.log(level, msg, fields);
  };

  reset(): void {
    this.seen.clear();
  }
}

export class KubernetesPolicySource {
  private readonly pods: WatchedCollection<V1Pod>;
  private readonly namespaces: WatchedCollection<V1Namespace>;
  private readonly policies: WatchedCollection<V1NetworkPolicy>;
  private readonly clusterPolicies: WatchedCollection<ApiClusterNetworkPolicy>;
  private readonly nodes: WatchedCollection<V1Node>;
  private readonly sameNodes = new SameNodes();
  private readonly convert: Converters = {
    pod: memo(PLAIN.pod),
    namespace: memo(PLAIN.namespace),
    policy: memo(PLAIN.policy),
    clusterPolicy: memo(PLAIN.clusterPolicy),
    node: memo((n: V1Node) => {
      const r = PLAIN.node(n);
      return r.node ? { ...r, node: this.sameNodes.keep(r.node) } : r;
    }),
  };
  /** The nodes (and their problems) the last change was signalled for: a heartbeat that changes neither is no change. */
  private nodesSeen: { nodes: readonly (NodePeerInfo | undefined)[]; problems: string } | undefined;
  /** The last list of ClusterNetworkPolicies said 404 (logged once per time it goes missing). */
  private crdMissing = false;
  /** A 404 while ClusterNetworkPolicies are cached is believed only when the next list says it again. */
  private notFoundOnce = false;
  /** Bumped on every change, so a view is only rebuilt when something changed. */
  private changes = 0;
  private last: { at: number; view: PolicyView } | undefined;
  private readonly reported = new NewLines();

  /**
   * onChange: called on every add, update and delete of any of them (a Node only when what `nodes`
   * peers read of it changed), and after each successful (re)list. Watch failures are logged and
   * retried with backoff.
   */
  constructor(kc: KubeConfig, onChange: () => void, log: Logger) {
    const core = kc.makeApiClient(CoreV1Api);
    const networking = kc.makeApiClient(NetworkingV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const changed = (): void => {
      this.changes++;
      onChange();
    };
    const quiet = new WarnOnce(log);
    const listCnps = async (): Promise<KubernetesListObject<ApiClusterNetworkPolicy>> => {
      try {
        const l = (await custom.listClusterCustomObject(CNP)) as KubernetesListObject<ApiClusterNetworkPolicy>;
        this.crdMissing = this.notFoundOnce = false;
        quiet.reset();
        return l;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        // Not at once when some are cached: an API server starting up can 404 a CRD's path briefly.
        if (this.clusterPolicies.objects().length > 0 && !this.notFoundOnce) {
          this.notFoundOnce = true;
          throw e;
        }
        this.notFoundOnce = false;
        if (!this.crdMissing) log('info', 'the ClusterNetworkPolicy CRD is not installed: no ClusterNetworkPolicies; watching for it', { path: CNP_PATH });
        this.crdMissing = true;
        return NO_CRD;
      }
    };
    const cnpChanged = (): void => {
      // Objects after a 404: the CRD is back (its watch from "0" began with them).
      if (this.clusterPolicies.objects().length > 0) this.crdMissing = false;
      changed();
    };
    const nodesChanged = (): void => {
      if (!this.nodes.listed) return changed();
      const readings = this.nodes.objects().map(this.convert.node);
      const now = { nodes: readings.map((r) => r.node), problems: readings.flatMap((r) => r.problems).join('\n') };
      const before = this.nodesSeen;
      if (before && before.problems === now.problems && before.nodes.length === now.nodes.length && before.nodes.every((n, i) => n === now.nodes[i])) return;
      this.nodesSeen = now;
      changed();
    };
    this.pods = new WatchedCollection<V1Pod>(kc, 'pod', '/api/v1/pods', () => core.listPodForAllNamespaces(), changed, log);
    this.namespaces = new WatchedCollection<V1Namespace>(kc, 'namespace', '/api/v1/namespaces', () => core.listNamespace(), changed, log);
    this.policies = new WatchedCollection<V1NetworkPolicy>(
      kc,
      'networkpolicy',
      '/apis/networking.k8s.io/v1/networkpolicies',
      () => networking.listNetworkPolicyForAllNamespaces(),
      changed,
      log,
    );
    // The CRD's 404 lines are quiet (WarnOnce): the info line above says it once.
    const cnpLog: Logger = (level, msg, fields) => {
      if (level === 'warn' && this.crdMissing && fields?.['error'] === 'Not Found') return;
      quiet.logger(level, msg, fields);
    };
    this.clusterPolicies = new WatchedCollection<ApiClusterNetworkPolicy>(kc, 'clusternetworkpolicy', CNP_PATH, listCnps, cnpChanged, cnpLog);
    this.nodes = new WatchedCollection<V1Node>(kc, 'node', '/api/v1/nodes', () => core.listNode(), nodesChanged, log);
  }

  private get all(): readonly WatchedCollection<KubernetesObject>[] {
    return [this.pods, this.namespaces, this.policies, this.clusterPolicies, this.nodes];
  }

  /** Resolves once each collection has listed, or failed (then it retries in the background). */
  async start(): Promise<void> {
    await Promise.all(this.all.map((c) => c.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop()));
  }

  private current(): PolicyView {
    if (this.last?.at !== this.changes) {
      const view = toView(
        { pods: this.pods.objects(), namespaces: this.namespaces.objects(), policies: this.policies.objects(), clusterPolicies: this.clusterPolicies.objects(), nodes: this.nodes.objects() },
        this.convert,
      );
      this.sameNodes.retain(view.inputs.nodes ?? []);
      this.last = { at: this.changes, view };
    }
    return this.last.view;
  }

  /**
   * Everything policies need, or undefined until every collection has listed once (an empty cache
   * must never read as "no policies"; a 404 for ClusterNetworkPolicies is a list, of none). The
   * same object is returned until something changes.
   */
  snapshot(): PolicyInputs | undefined {
    return this.all.every((c) => c.listed) ? this.current().inputs : undefined;
  }

  /** A line for each object (or part of one) in the caches that could not be read and is left out. */
  problems(): readonly string[] {
    return this.current().problems;
  }

  /** The problems that have appeared since the last call, so each is logged once (NewLines). */
  newProblems(): string[] {
    return this.reported.since(this.problems());
  }
}
