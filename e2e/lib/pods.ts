// Pod specs of the gingham image, shared by the suite and e2e/bench (which runs outside vitest under
// Node's type stripping: hence no vitest import here and `.ts` specifiers).
import type { V1ContainerPort, V1Pod } from '@kubernetes/client-node';
import { GINGHAM_IN_IMAGE, IMAGE, TCP_PORT, UDP_PORT } from './env.ts';

/** Every object the suite creates carries this label. */
export const SUITE_LABEL = { 'app.kubernetes.io/part-of': 'gingham-e2e' };

export interface ProbePodOptions {
  labels?: Record<string, string>;
  /** hostPort for the probe's TCP and UDP ports (portmap). */
  hostPorts?: { tcp?: number; udp?: number };
  /** Readiness through kubelet's TCP probe of the pod's address (default true). */
  ready?: boolean;
  /** Another command than the probe server (e.g. sleep, for the churn pods). */
  command?: string[];
}

/** The one container of a pinned pod, named "probe", running the gingham image. */
export interface PinnedContainer {
  command: string[];
  ports?: V1ContainerPort[];
  /** kubelet's TCP readiness probe of the pod's address on this port; none when undefined. */
  readyPort?: number;
}

/**
 * A pod of the gingham image pinned to one node (the control plane too, and kept through a node
 * restart): the skeleton every test pod shares.
 */
export function pinnedPod(name: string, node: string, c: PinnedContainer, o: { labels: Record<string, string>; hostNetwork?: boolean; graceSeconds?: number }): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { ...SUITE_LABEL, ...o.labels } },
    spec: {
      nodeName: node,
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      tolerations: [{ operator: 'Exists' }],
      terminationGracePeriodSeconds: o.graceSeconds ?? 1,
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'probe',
          image: IMAGE,
          imagePullPolicy: 'Never',
          command: c.command,
          ...(c.ports ? { ports: c.ports } : {}),
          ...(c.readyPort === undefined ? {} : { readinessProbe: { tcpSocket: { port: c.readyPort }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 2 } }),
        },
      ],
    },
  };
}

/** A pod of the gingham image on one node: `gingham probe serve` on TCP 8080 and UDP 8081. */
export function probePod(name: string, node: string, o: ProbePodOptions = {}): V1Pod {
  const tcp = { containerPort: TCP_PORT, protocol: 'TCP', name: 'probe-tcp', ...(o.hostPorts?.tcp ? { hostPort: o.hostPorts.tcp } : {}) };
  const udp = { containerPort: UDP_PORT, protocol: 'UDP', name: 'probe-udp', ...(o.hostPorts?.udp ? { hostPort: o.hostPorts.udp } : {}) };
  const command = o.command ?? [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', String(TCP_PORT), '--udp', String(UDP_PORT)];
  return pinnedPod(name, node, { command, ports: [tcp, udp], ...(o.ready === false ? {} : { readyPort: TCP_PORT }) }, { labels: o.labels ?? {} });
}

