// Pod specs of the gingham image, shared by the suite and e2e/bench (which runs outside vitest under
// Node's type stripping: hence no vitest import here and `.ts` specifiers).
import type { V1Pod } from '@kubernetes/client-node';
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

/** A pod of the gingham image on one node: `gingham probe serve` on TCP 8080 and UDP 8081. */
export function probePod(name: string, node: string, o: ProbePodOptions = {}): V1Pod {
  const tcp = { containerPort: TCP_PORT, protocol: 'TCP', name: 'probe-tcp', ...(o.hostPorts?.tcp ? { hostPort: o.hostPorts.tcp } : {}) };
  const udp = { containerPort: UDP_PORT, protocol: 'UDP', name: 'probe-udp', ...(o.hostPorts?.udp ? { hostPort: o.hostPorts.udp } : {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { ...SUITE_LABEL, ...o.labels } },
    spec: {
      nodeName: node,
      // Pinned pods on the control plane too, and kept through a node restart.
      tolerations: [{ operator: 'Exists' }],
      terminationGracePeriodSeconds: 1,
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'probe',
          image: IMAGE,
          imagePullPolicy: 'Never',
          command: o.command ?? [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', String(TCP_PORT), '--udp', String(UDP_PORT)],
          ports: [tcp, udp],
          ...(o.ready === false ? {} : { readinessProbe: { tcpSocket: { port: TCP_PORT }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 2 } }),
        },
      ],
    },
  };
}

