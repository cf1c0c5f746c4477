// What NetworkPolicy enforcement reads from the cluster: Pods, Namespaces and NetworkPolicies, each
// kept by an informer (kubernetes.ts), converted to the policy model (policy-objects.ts). The agent
// takes snapshots; `gingham policy explain` lists the same once, without watching.
import {
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { PolicyInputs } from '../policy/model.js';
import { WatchedCollection, guarded } from './kubernetes.js';
import { NewLines } from './new-lines.js';
import { type NamespaceReading, type PodReading, type PolicyReading, toNamespace, toPod, toPolicy } from './policy-objects.js';

/** The inputs, and a line for each object (or part of one) that could not be read and is left out. */
export interface PolicyView {
  readonly inputs: PolicyInputs;
  readonly problems: readonly string[];
}

interface Converters {
  readonly pod: (p: V1Pod) => PodReading;
  readonly namespace: (n: V1Namespace) => NamespaceReading;
  readonly policy: (np: V1NetworkPolicy) => PolicyReading;
}

const PLAIN: Converters = { pod: guarded('pod', toPod), namespace: guarded('namespace', toNamespace), policy: guarded('networkpolicy', toPolicy) };

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byName = <T extends { readonly namespace?: string; readonly name: string }>(a: T, b: T): number =>
  compare(a.namespace ?? '', b.namespace ?? '') || compare(a.name, b.name);

const defined = <T>(v: T | undefined): v is T => v !== undefined;

/** Sorted by namespace and name, so equal clusters give equal inputs whatever order events came in. */
function toView(pods: readonly V1Pod[], namespaces: readonly V1Namespace[], policies: readonly V1NetworkPolicy[], convert: Converters): PolicyView {
  const readings = { policies: policies.map(convert.policy), pods: pods.map(convert.pod), namespaces: namespaces.map(convert.namespace) };
  return {
    inputs: {
      policies: readings.policies.map((r) => r.policy).filter(defined).sort(byName),
      pods: readings.pods.map((r) => r.pod).filter(defined).sort(byName),
      namespaces: readings.namespaces.map((r) => r.namespace).filter(defined).sort(byName),
    },
    problems: [...readings.policies, ...readings.pods, ...readings.namespaces].flatMap((r) => r.problems).sort(),
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

/** Lists Pods, Namespaces and NetworkPolicies once (no watch) and converts them. */
export async function listPolicyInputs(kc: KubeConfig): Promise<PolicyView> {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const [pods, namespaces, policies] = await Promise.all([
    core.listPodForAllNamespaces(),
    core.listNamespace(),
    networking.listNetworkPolicyForAllNamespaces(),
  ]);
  return toView(pods.items, namespaces.items, policies.items, PLAIN);
}

export class KubernetesPolicySource {
  private readonly pods: WatchedCollection<V1Pod>;
  private readonly namespaces: WatchedCollection<V1Namespace>;
  private readonly policies: WatchedCollection<V1NetworkPolicy>;
  private readonly convert: Converters = { pod: memo(PLAIN.pod), namespace: memo(PLAIN.namespace), policy: memo(PLAIN.policy) };
  /** Bumped on every change, so a view is only rebuilt when something changed. */
  private changes = 0;
  private last: { at: number; view: PolicyView } | undefined;
  private readonly reported = new NewLines();

  /**
   * onChange: called on every add, update and delete of any of the three, and after each
   * successful (re)list. Watch failures are logged and retried with backoff.
   */
  constructor(kc: KubeConfig, onChange: () => void, log: Logger) {
    const core = kc.makeApiClient(CoreV1Api);
    const networking = kc.makeApiClient(NetworkingV1Api);
    const changed = (): void => {
      this.changes++;
      onChange();
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
  }

  private get all(): readonly WatchedCollection<V1Pod | V1Namespace | V1NetworkPolicy>[] {
    return [this.pods, this.namespaces, this.policies];
  }

  /** Resolves once each of the three has listed, or failed (then it retries in the background). */
  async start(): Promise<void> {
    await Promise.all(this.all.map((c) => c.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop()));
  }

  private current(): PolicyView {
    if (this.last?.at !== this.changes) {
      this.last = { at: this.changes, view: toView(this.pods.objects(), this.namespaces.objects(), this.policies.objects(), this.convert) };
    }
    return this.last.view;
  }

  /**
   * Everything policies need, or undefined until all three collections have listed once (an empty
   * cache must never read as "no policies"). The same object is returned until something changes.
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
