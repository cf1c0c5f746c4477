// The Kubernetes side of the suite, through @kubernetes/client-node: the test namespace, probe pods
// pinned to nodes, waits, Services, and a watch that times pods from creation to Running.
import { AppsV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig, type V1Node, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { FAMILIES, KUBECONFIG, PRIMARY } from './env.js';
import { ofFamily } from './ip.js';
import { SUITE_LABEL } from './pods.ts';
import { watchRunning as watchPods } from './watch.ts';
import { waitFor } from './timing.js';

export { type ProbePodOptions, SUITE_LABEL, probePod } from './pods.ts';

let kcCache: KubeConfig | undefined;
export function kubeConfig(): KubeConfig {
  if (!kcCache) {
    kcCache = new KubeConfig();
    kcCache.loadFromFile(KUBECONFIG);
  }
  return kcCache;
}
export const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);
export const apps = (): AppsV1Api => kubeConfig().makeApiClient(AppsV1Api);

/** The namespace the global setup created for this run. */
export const namespace = (): string => inject('namespace');

export interface NodeInfo {
  name: string;
  /** The InternalIP of the cluster's primary family (on the Docker network, 198.19.0.0/16 or fd42:19::/32). */
  internalIP: string;
  /** Every InternalIP: one per family of the cluster. */
  internalIPs: string[];
  /** spec.podCIDR: the first of podCIDRs, of the primary family. */
  podCIDR: string;
  /** spec.podCIDRs: one per family. */
  podCIDRs: string[];
  ready: boolean;
  controlPlane: boolean;
}

export function nodeInfo(n: V1Node): NodeInfo {
  const internalIPs = (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
  return {
    name: n.metadata?.name ?? '?',
    internalIP: ofFamily(internalIPs, PRIMARY) ?? internalIPs[0] ?? '',
    internalIPs,
    podCIDR: n.spec?.podCIDR ?? '',
    podCIDRs: n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []),
    ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    controlPlane: 'node-role.kubernetes.io/control-plane' in (n.metadata?.labels ?? {}),
  };
}

export async function listNodes(): Promise<NodeInfo[]> {
  const list = await core().listNode();
  return list.items.map(nodeInfo).sort((a, b) => a.name.localeCompare(b.name));
}

/** The cluster's nodes by role: the control plane and the two workers the suite expects. */
export async function clusterNodes(): Promise<{ all: NodeInfo[]; controlPlane: NodeInfo; workers: [NodeInfo, NodeInfo] }> {
  const all = await listNodes();
  const controlPlane = all.find((n) => n.controlPlane);
  const workers = all.filter((n) => !n.controlPlane);
  if (!controlPlane || workers.length < 2) throw new Error(`expected a control plane and two workers, got ${all.map((n) => n.name).join(', ')}`);
  return { all, controlPlane, workers: [workers[0]!, workers[1]!] };
}

export async function createPod(pod: V1Pod): Promise<V1Pod> {
  return core().createNamespacedPod({ namespace: namespace(), body: pod });
}

const isReady = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export function podSummary(p: V1Pod): string {
  const cs = p.status?.containerStatuses?.[0];
  const waiting = cs?.state?.waiting ? ` waiting ${cs.state.waiting.reason ?? ''}: ${cs.state.waiting.message ?? ''}` : '';
  const ips = (p.status?.podIPs ?? []).map((a) => a.ip).join(',') || '-';
  return `${p.metadata?.name} on ${p.spec?.nodeName}: ${p.status?.phase} ip=${ips} ready=${isReady(p)} restarts=${cs?.restartCount ?? 0}${waiting}`;
}

/** Pods of the test namespace by name. */
export async function podsByName(labelSelector?: string): Promise<Map<string, V1Pod>> {
  const list = await core().listNamespacedPod({ namespace: namespace(), ...(labelSelector ? { labelSelector } : {}) });
  return new Map(list.items.map((p) => [p.metadata?.name ?? '', p]));
}

/**
 * Waits until every named pod is Running with an address per family of the cluster (and Ready,
 * unless ready=false), and accept(pod) holds; returns them by name.
 */
export async function waitPods(names: readonly string[], o: { timeoutMs?: number; ready?: boolean; accept?: (p: V1Pod) => boolean } = {}): Promise<Map<string, V1Pod>> {
  return waitFor(`pods ${names.join(', ')} running`, o.timeoutMs ?? 180_000, async (why) => {
    const pods = await podsByName();
    const bad: string[] = [];
    for (const n of names) {
      const p = pods.get(n);
      if (!p) bad.push(`${n}: missing`);
      else if (p.status?.phase !== 'Running' || !p.status.podIP || (p.status.podIPs ?? []).length < FAMILIES.length || (o.ready !== false && !isReady(p)) || (o.accept && !o.accept(p))) bad.push(podSummary(p));
    }
    if (bad.length > 0) {
      why(bad.slice(0, 5).join('; ') + (bad.length > 5 ? ` (+${bad.length - 5} more)` : ''));
      return undefined;
    }
    return new Map(names.map((n) => [n, pods.get(n)!]));
  });
}

/** Creates the pods that do not exist yet (by name) and waits for all of them. */
export async function ensurePods(pods: readonly V1Pod[], timeoutMs = 180_000): Promise<Map<string, V1Pod>> {
  const have = await podsByName();
  await Promise.all(pods.filter((p) => !have.has(p.metadata!.name!)).map(createPod));
  return waitPods(
    pods.map((p) => p.metadata!.name!),
    { timeoutMs },
  );
}

/** Deletes pods (1 s grace) and waits until the API no longer has them (kubelet has torn them down). */
export async function deletePods(names: readonly string[], timeoutMs = 180_000): Promise<void> {
  await Promise.all(
    names.map((name) =>
      core()
        .deleteNamespacedPod({ name, namespace: namespace(), gracePeriodSeconds: 1 })
        .catch((e: unknown) => {
          if ((e as { code?: number }).code !== 404) throw e;
        }),
    ),
  );
  await waitFor(`pods ${names.length <= 5 ? names.join(', ') : `(${names.length})`} gone`, timeoutMs, async (why) => {
    const left = [...(await podsByName()).keys()].filter((n) => names.includes(n));
    why(`${left.length} left: ${left.slice(0, 5).join(', ')}`);
    return left.length === 0 ? true : undefined;
  });
}

/** Non-hostNetwork pods of every namespace on one node that are not finished: the pods gingham wired. */
export async function networkedPodsOn(node: string): Promise<V1Pod[]> {
  const list = await core().listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
  return list.items.filter((p) => !p.spec?.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}

export async function createService(svc: V1Service): Promise<V1Service> {
  return core().createNamespacedService({ namespace: namespace(), body: { ...svc, metadata: { ...svc.metadata, labels: { ...SUITE_LABEL, ...svc.metadata?.labels } } } });
}

/** Waits until the Service's endpoints list the given pod IPs (kube-proxy programs from these). */
export async function waitEndpoints(service: string, podIPs: readonly string[], timeoutMs = 60_000): Promise<void> {
  const discovery = kubeConfig().makeApiClient(DiscoveryV1Api);
  await waitFor(`endpoints of ${service}: ${podIPs.join(', ')}`, timeoutMs, async (why) => {
    const list = await discovery.listNamespacedEndpointSlice({ namespace: namespace(), labelSelector: `kubernetes.io/service-name=${service}` });
    const ready = list.items.flatMap((s) => s.endpoints.filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses));
    why(`ready endpoints: ${ready.join(', ') || 'none'}`);
    return podIPs.every((ip) => ready.includes(ip)) ? true : undefined;
  });
}

/** When each pod of the test namespace with the selector was first seen Running (lib/watch.ts). */
export const watchRunning = (labelSelector: string): ReturnType<typeof watchPods> => watchPods(kubeConfig(), namespace(), labelSelector);
