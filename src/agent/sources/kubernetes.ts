// The agent's view of the cluster: informers (list, then watch from that resourceVersion) whose
// caches the agent reads as plain data. Nothing is reconciled from a collection until its first list
// has succeeded, so an empty cache at start-up (or an API server that is down) never looks like
// "every node left" or "no policies". When the API server goes away the caches keep the last state.
import {
  CoreV1Api,
  type Informer,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Node,
  makeInformer,
} from '@kubernetes/client-node';
import { type Logger, errorText } from '../log.js';
import { metrics } from '../metrics/registry.js';
import type { NodeInfo } from '../network/nodes.js';
import { shown } from './k8s-names.js';
import { NewLines } from './new-lines.js';
import { type NodeReading, readNode } from './node-info.js';

/** `--kubeconfig` if given; else KUBECONFIG, ~/.kube/config, then the pod's service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * One API collection kept by an informer, restarted with backoff whenever it fails. A restart
 * watches on from the last resourceVersion, or lists again if that is too old.
 */
export class WatchedCollection<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private listedOnce = false;
  private stopped = false;
  private backoffMs = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | undefined;

  /**
   * what: names the collection in log lines ("node", "pod"). path: its API path (the watch URL);
   * list: the same collection from the typed client. onChange: called on every add, update and
   * delete, and after each successful (re)list.
   */
  constructor(
    kc: KubeConfig,
    private readonly what: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {
    const listed = async (): Promise<KubernetesListObject<T>> => {
      const l = await list();
      // The informer fills its cache from this list only after the promise resolves (a few
      // microtasks later); count the collection as listed, and tell the agent, once it has.
      setImmediate(() => {
        this.listedOnce = true;
        this.backoffMs = MIN_BACKOFF_MS;
        this.onChange();
      });
      return l;
    };
    this.informer = makeInformer<T>(kc, path, listed);
    for (const verb of ['add', 'update', 'delete'] as const) this.informer.on(verb, () => this.onChange());
    // The informer stops on an error (API server gone, watch cut); start it again with backoff.
    this.informer.on('error', (err?: unknown) => this.failed(err));
  }

  /** True once a list has succeeded (and stays true: the cache then holds the last known state). */
  get listed(): boolean {
    return this.listedOnce;
  }

  /** The cached objects; a new object replaces the cached one on every change (never mutated). */
  objects(): readonly T[] {
    return this.informer.list();
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    metrics.watchRestarts.inc({ resource: this.what });
    this.log('warn', `${this.what} watch failed; retrying`, { error: errorText(err), retryMs: this.backoffMs });
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.kick(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  /** informer.start() reports most failures through 'error', but can also reject (no cluster, auth). */
  private async kick(): Promise<void> {
    try {
      await this.informer.start();
    } catch (e) {
      this.failed(e);
    }
  }

  /** Resolves once the first list is in and the watch runs, or has failed (then it retries in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.informer.stop();
  }
}

/**
 * A converter that never throws: one that does (a shape nobody foresaw) reads the object as
 * unreadable, so one bad object can neither stop a pass nor hide the others.
 */
export function guarded<K extends KubernetesObject, V extends { readonly problems: readonly string[] }>(what: string, convert: (k: K) => V): (k: K) => V {
  return (k) => {
    try {
      return convert(k);
    } catch (e) {
      const ns = k?.metadata?.namespace;
      return { problems: [`${what} ${ns === undefined ? '' : `${shown(ns)}/`}${shown(k?.metadata?.name)}: cannot be read (${shown(errorText(e))}) (ignored)`] } as unknown as V;
    }
  };
}

export interface NodeSource {
  /** Resolves once the first list is in, or has failed (then it retries in the background). */
  start(): Promise<void>;
  /** Every node, or undefined while no list has succeeded yet. */
  snapshot(): NodeInfo[] | undefined;
  stop(): Promise<void>;
}

const readNodeSafely = guarded<V1Node, NodeReading>('node', readNode);

export class KubernetesNodes implements NodeSource {
  private readonly nodes: WatchedCollection<V1Node>;
  /** Each object read once: a change replaces the cached object, and the entry goes with it. */
  private readonly readings = new WeakMap<V1Node, NodeReading>();
  private readonly reported = new NewLines();

  /**
   * onChange: called on every add, update and delete, and after each successful (re)list. A Node
   * that cannot be read is logged once (log 'warn', 'node skipped') and left out or skipped.
   */
  constructor(kc: KubeConfig, onChange: () => void, private readonly log: Logger) {
    const api = kc.makeApiClient(CoreV1Api);
    this.nodes = new WatchedCollection<V1Node>(kc, 'node', '/api/v1/nodes', () => api.listNode(), onChange, log);
  }

  start(): Promise<void> {
    return this.nodes.start();
  }

  snapshot(): NodeInfo[] | undefined {
    if (!this.nodes.listed) return undefined;
    const readings = this.nodes.objects().map((o) => {
      let r = this.readings.get(o);
      if (!r) this.readings.set(o, (r = readNodeSafely(o)));
      return r;
    });
    const problems = readings.flatMap((r) => r.problems).sort();
    for (const p of this.reported.since(problems)) this.log('warn', 'node skipped', { problem: p });
    return readings.map((r) => r.node).filter((n): n is NodeInfo => n !== undefined);
  }

  stop(): Promise<void> {
    return this.nodes.stop();
  }
}
