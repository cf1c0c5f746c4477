// Nodes from the Kubernetes API: one informer (list, then watch from that resourceVersion) whose
// cache is the agent's view of the cluster. The agent reads snapshots of it as plain NodeInfo; it
// reconciles nothing until the first list has succeeded, so an empty cache at start-up (or an API
// server that is down) never looks like "every node left".
import { CoreV1Api, KubeConfig, type V1Node, makeInformer } from '@kubernetes/client-node';
import { type Logger, errorText } from '../log.js';
import type { NodeInfo } from '../network/nodes.js';
import { toNodeInfo } from './node-info.js';

/** `--kubeconfig` if given; else KUBECONFIG, ~/.kube/config, then the pod's service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export interface NodeSource {
  /** Resolves once the first list is in, or has failed (then it retries in the background). */
  start(): Promise<void>;
  /** Every node, or undefined while no list has succeeded yet. */
  snapshot(): NodeInfo[] | undefined;
  stop(): Promise<void>;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export class KubernetesNodes implements NodeSource {
  private readonly informer;
  private listed = false;
  private stopped = false;
  private backoffMs = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | undefined;

  /** onChange: called on every add, update and delete, and after each successful (re)list. */
  constructor(
    kc: KubeConfig,
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {
    const api = kc.makeApiClient(CoreV1Api);
    const list = async (): Promise<Awaited<ReturnType<CoreV1Api['listNode']>>> => {
      const l = await api.listNode();
      this.listed = true;
      this.backoffMs = MIN_BACKOFF_MS;
      // The informer fills its cache right after this resolves; tell the agent once it has.
      setImmediate(() => this.onChange());
      return l;
    };
    this.informer = makeInformer<V1Node>(kc, '/api/v1/nodes', list);
    for (const verb of ['add', 'update', 'delete'] as const) this.informer.on(verb, () => this.onChange());
    // The informer stops on an error (API server gone, watch cut); start it again with backoff.
    // A restart watches on from the last resourceVersion, or lists again if that is too old.
    this.informer.on('error', (err?: unknown) => this.failed(err));
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.log('warn', 'node watch failed; retrying', { error: errorText(err), retryMs: this.backoffMs });
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

  async start(): Promise<void> {
    this.stopped = false;
    await this.kick();
  }

  snapshot(): NodeInfo[] | undefined {
    if (!this.listed) return undefined;
    return this.informer.list().map(toNodeInfo).filter((n): n is NodeInfo => n !== undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.informer.stop();
  }
}
