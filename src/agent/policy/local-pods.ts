// This node's pods learn their addresses from our IPAM before the API server does: kubelet reports
// status.podIPs only after the sandbox is up (often a second later), and a pod selected by a
// default-deny policy must be isolated before it can answer. The IPAM store records each
// reservation with the pod's namespace and name (from CNI_ARGS), and the agent watches it, so the
// pod's chains are in place within milliseconds of its CNI ADD. Those names came from the
// runtime's CNI_ARGS and the files may have been written by anyone with access to the directory,
// so they are validated like API objects (sources/k8s-names.ts): a reservation whose pod name or
// address cannot be read is ignored whole, and reported.
import { type FSWatcher, readdirSync, watch } from 'node:fs';
import { Store } from '../../ipam/store.js';
import { parseCidr } from '../../net/ip.js';
import { dnsLabelProblem, dnsSubdomainProblem, hostIpText, shown } from '../sources/k8s-names.js';
import type { PodInfo } from './model.js';
import { podKey } from './resolve.js';

/** Why a reservation's pod name or addresses are refused, or its addresses in canonical text (no prefix length). */
function readReservation(podNamespace: unknown, podName: unknown, ips: readonly unknown[]): { ips: string[] } | { problem: string } {
  const badNs = dnsLabelProblem(podNamespace);
  if (badNs) return { problem: `podNamespace ${badNs}` };
  const badName = dnsSubdomainProblem(podName);
  if (badName) return { problem: `podName ${badName}` };
  const out: string[] = [];
  for (const text of ips) {
    // "198.18.16.2/24": the address with its subnet's prefix length.
    const address = typeof text === 'string' && parseCidr(text) ? text.slice(0, text.indexOf('/')) : undefined;
    const ip = address !== undefined ? hostIpText(address) : { problem: `${shown(text)} is not an address with a prefix length` };
    if ('problem' in ip) return ip;
    out.push(ip.text);
  }
  return { ips: out };
}

/** A reservation of this node's IPAM whose pod name and addresses could be read. */
export interface LocalReservation {
  readonly namespace: string;
  readonly name: string;
  /** Canonical, no prefix length. */
  readonly ips: string[];
  readonly containerId: string;
  readonly ifName: string;
  readonly created: string;
}

/**
 * Every reservation on this node made for a pod, in every network of the data dir. A reservation
 * that cannot be read is left out and passed to `skip` (the caller logs each once).
 */
export function localReservations(dataDir: string, skip: (problem: string) => void = () => undefined): LocalReservation[] {
  const out: LocalReservation[] = [];
  let networks: string[];
  try {
    networks = readdirSync(dataDir);
  } catch {
    return out;
  }
  for (const net of networks) {
    for (const r of new Store(dataDir, net).list()) {
      // Made outside Kubernetes (no K8S_POD_* in CNI_ARGS): no pod to give the addresses to.
      if (r.podNamespace === undefined && r.podName === undefined) continue;
      const read = readReservation(r.podNamespace, r.podName, r.ips);
      if ('problem' in read) {
        skip(`reservation of container ${shown(r.containerId)} in network ${shown(net)}: ${read.problem} (ignored)`);
        continue;
      }
      out.push({ namespace: r.podNamespace!, name: r.podName!, ips: read.ips, containerId: r.containerId, ifName: r.ifName, created: typeof r.created === 'string' ? r.created : '' });
    }
  }
  return out;
}

/** "namespace/name" -> addresses (canonical, no prefix length) of every reservation on this node. */
export function reservedPodIps(dataDir: string, skip: (problem: string) => void = () => undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of localReservations(dataDir, skip)) {
    const key = podKey(r);
    out.set(key, [...(out.get(key) ?? []), ...r.ips]);
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
