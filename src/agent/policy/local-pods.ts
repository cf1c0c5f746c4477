// This node's pods learn their addresses from our IPAM before the API server does: kubelet reports
// status.podIPs only after the sandbox is up (often a second later), and a pod selected by a
// default-deny policy must be isolated before it can answer. The IPAM store records each
// reservation with the pod's namespace and name (from CNI_ARGS), and the agent watches it, so the
// pod's chains are in place within milliseconds of its CNI ADD.
import { type FSWatcher, readdirSync, watch } from 'node:fs';
import { Store } from '../../ipam/store.js';
import type { PodInfo } from './model.js';
import { podKey } from './resolve.js';

/** "namespace/name" -> addresses (no prefix length) of every reservation on this node. */
export function reservedPodIps(dataDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let networks: string[];
  try {
    networks = readdirSync(dataDir);
  } catch {
    return out;
  }
  for (const net of networks) {
    for (const r of new Store(dataDir, net).list()) {
      if (!r.podNamespace || !r.podName) continue;
      const key = `${r.podNamespace}/${r.podName}`;
      out.set(key, [...(out.get(key) ?? []), ...r.ips.map((ip) => ip.slice(0, ip.indexOf('/')))]);
    }
  }
  return out;
}

/** IPv4 first, as the API lists a dual-stack pod's addresses. */
const v4First = (ips: string[]): string[] => [...ips.filter((ip) => !ip.includes(':')), ...ips.filter((ip) => ip.includes(':'))];

/**
 * Pods of this node that the API lists without an address get the one our IPAM gave them. The
 * API's addresses win when it has them (a reservation left by a crashed sandbox may be stale).
 */
export function withReservedIps(pods: readonly PodInfo[], node: string, reserved: ReadonlyMap<string, string[]>): PodInfo[] {
  if (reserved.size === 0) return [...pods];
  return pods.map((p) => {
    if (p.ips.length > 0 || p.node !== node || p.hostNetwork) return p;
    const ips = reserved.get(podKey(p));
    return ips ? { ...p, ips: v4First(ips) } : p;
  });
}

/**
 * Calls onChange when a reservation is made or released (a recursive watch of the data dir), and
 * onGone when the watch ends by itself (the directory was removed). Returns a stop function;
 * undefined when the directory cannot be watched (no pod has been wired on this node yet): the
 * caller tries again later.
 */
export function watchReservations(dataDir: string, onChange: () => void, onGone: () => void): (() => void) | undefined {
  let w: FSWatcher;
  try {
    w = watch(dataDir, { recursive: true, persistent: false }, () => onChange());
  } catch {
    return undefined;
  }
  w.on('error', () => {
    w.close();
    onGone();
  });
  return () => w.close();
}
