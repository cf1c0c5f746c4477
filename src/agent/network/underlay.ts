// The underlay: which interface holds an address of this node, its MTU and subnet, read from
// `ip -j addr show`. The overlay binds to it, the pods' MTU derives from it, and directRouting
// asks whether a peer is on its subnet.
import { type Cidr, contains, formatIp, parseIp } from '../../net/ip.js';

export interface UnderlayAddr {
  readonly ifname: string;
  readonly mtu: number;
  /** The address with its prefix length (the subnet the interface is on). */
  readonly cidr: Cidr;
}

/** Every global address of every interface, from `ip -j addr show`. */
export function parseAddrs(json: readonly unknown[]): UnderlayAddr[] {
  const out: UnderlayAddr[] = [];
  for (const l of json) {
    if (typeof l !== 'object' || l === null) continue;
    const o = l as Record<string, unknown>;
    if (typeof o['ifname'] !== 'string' || typeof o['mtu'] !== 'number' || !Array.isArray(o['addr_info'])) continue;
    for (const a of o['addr_info'] as Record<string, unknown>[]) {
      if (a['scope'] !== 'global' || typeof a['local'] !== 'string' || typeof a['prefixlen'] !== 'number') continue;
      const ip = parseIp(a['local']);
      if (ip) out.push({ ifname: o['ifname'], mtu: o['mtu'], cidr: { ip, prefix: a['prefixlen'] } });
    }
  }
  return out;
}

/** The interface that holds `ip` (undefined when no interface does: the node's InternalIP is not ours). */
export function underlayOf(addrs: readonly UnderlayAddr[], ip: string): UnderlayAddr | undefined {
  const want = parseIp(ip);
  if (!want) return undefined;
  return addrs.find((a) => a.cidr.ip.family === want.family && a.cidr.ip.value === want.value);
}

/** Whether `peer` lies on the subnet of our underlay address (reachable without a router). */
export function onSubnet(u: UnderlayAddr, peer: string): boolean {
  const ip = parseIp(peer);
  return ip !== undefined && formatIp(ip) !== formatIp(u.cidr.ip) && contains(u.cidr, ip);
}
