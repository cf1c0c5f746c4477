// The pods most tests share, created by the first file that needs them and reused by the next
// (the namespace goes at the end of the run): two on the first worker (same-node pairs), one on
// the second worker and one on the control plane (cross-node pairs).
import type { V1Pod } from '@kubernetes/client-node';
import { ofFamily } from './ip.js';
import { type NodeInfo, clusterNodes, ensurePods, probePod } from './kube.js';

export interface Placed {
  name: string;
  node: NodeInfo;
  /** status.podIP: the address of the cluster's primary family (IPv4 unless IPv6-only). */
  ip: string;
  /** status.podIPs: one address per family. */
  ips: string[];
  /** The IPv6 address, in a dual-stack cluster. */
  ip6?: string;
  pod: V1Pod;
}

export interface Fixture {
  controlPlane: NodeInfo;
  w1: NodeInfo;
  w2: NodeInfo;
  /** a1 and a2 on worker 1, b1 on worker 2, c1 on the control plane. */
  pods: Record<'a1' | 'a2' | 'b1' | 'c1', Placed>;
}

export async function fixture(): Promise<Fixture> {
  const { controlPlane, workers } = await clusterNodes();
  const [w1, w2] = workers;
  const where = { a1: w1, a2: w1, b1: w2, c1: controlPlane } as const;
  const running = await ensurePods(Object.entries(where).map(([name, node]) => probePod(name, node.name, { labels: { probe: name } })));
  const placed = (name: keyof typeof where): Placed => {
    const pod = running.get(name)!;
    const ips = (pod.status!.podIPs ?? []).map((a) => a.ip);
    const ip6 = ofFamily(ips, 6);
    return { name, node: where[name], ip: pod.status!.podIP!, ips, ...(ip6 ? { ip6 } : {}), pod };
  };
  return { controlPlane, w1, w2, pods: { a1: placed('a1'), a2: placed('a2'), b1: placed('b1'), c1: placed('c1') } };
}
