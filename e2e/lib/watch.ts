// When pods come up, seen from the API: shared by the suite (kube.ts) and the kind benches, so
// vitest-free with `.ts` specifiers.
import { type KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';

/**
 * Watches the pods of `namespace` with a label selector and records, client-side, when each was
 * first seen Running with an address. The API server closes watches from time to time: the watch
 * starts again until stop().
 */
export async function watchRunning(kc: KubeConfig, namespace: string, labelSelector: string): Promise<{ runningAt: Map<string, number>; addressedAt: Map<string, number>; stop: () => void }> {
  const runningAt = new Map<string, number>();
  // When the API first showed the pod's address, whatever its phase (kubelet may report it first).
  const addressedAt = new Map<string, number>();
  const watch = new Watch(kc);
  let controller: AbortController | undefined;
  let stopped = false;
  const start = async (): Promise<void> => {
    controller = await watch.watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector },
      (_type: string, p: V1Pod) => {
        const name = p.metadata?.name;
        if (name && p.status?.podIP && !addressedAt.has(name)) addressedAt.set(name, Date.now());
        if (name && p.status?.phase === 'Running' && p.status.podIP && !runningAt.has(name)) runningAt.set(name, Date.now());
      },
      () => {
        if (!stopped) setTimeout(() => void start(), 200);
      },
    );
  };
  await start();
  return {
    runningAt,
    addressedAt,
    stop: () => {
      stopped = true;
      controller?.abort();
    },
  };
}
