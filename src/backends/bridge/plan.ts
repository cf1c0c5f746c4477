// The bridge backend as plain data: what the bridge, the host side and the pod side of an
// attachment should look like, as iproute2 batch lines. No I/O here; plugin.ts applies it.
import { CniError, Code } from '../../cni/errors.js';
import type { Result, ResultIp, ResultRoute } from '../../cni/result.js';
import { type Cidr, canonical, formatCidr, parseCidr, parseIp, sameIp } from '../../net/ip.js';
import type { BridgeConfig } from './config.js';
import { hostVethName, macFrom } from './names.js';

/** Gateway addresses for the bridge: each pod address's gateway, with that address's prefix. */
export function gatewaysOf(ips: readonly ResultIp[]): Cidr[] {
  const out: Cidr[] = [];
  for (const ip of ips) {
    const addr = parseCidr(ip.address);
    const gw = ip.gateway ? parseIp(ip.gateway) : undefined;
    if (!addr || !gw) continue;
    if (!out.some((c) => sameIp(c.ip, gw))) out.push({ ip: gw, prefix: addr.prefix });
  }
  return out;
}

/** Canonical subnets of the pod's addresses (what masquerade must leave alone). */
export function subnetsOf(ips: readonly ResultIp[]): Cidr[] {
  const out: Cidr[] = [];
  for (const ip of ips) {
    const c = parseCidr(ip.address);
    if (c && !out.some((o) => formatCidr(o) === formatCidr(canonical(c)))) out.push(canonical(c));
  }
  return out;
}

const v6 = (c: Cidr): string => (c.ip.family === 6 ? ' nodad' : '');

/**
 * Lines that make the bridge exist, up, and hold the gateway addresses when it is a gateway.
 * `current` is what the bridge holds now (global addresses), or undefined if it does not exist.
 */
export function bridgeLines(cfg: BridgeConfig, current: Cidr[] | undefined, gateways: readonly Cidr[]): string[] {
  const br = cfg.bridge;
  const lines: string[] = [];
  if (!current) {
    const mtu = cfg.mtu ? ` mtu ${cfg.mtu}` : '';
    const vlan = cfg.vlan ? ' vlan_filtering 1' : '';
    lines.push(`link add name ${br} address ${macFrom(`bridge/${br}`)}${mtu} type bridge${vlan}`);
  } else if (cfg.mtu) {
    // The MTU changed with the config (say, the agent moved to an overlay): new pods get it, and so
    // does the bridge, so the node does not send its pods frames their veths would drop.
    lines.push(`link set ${br} mtu ${cfg.mtu}`);
  }
  if (cfg.promiscMode) lines.push(`link set ${br} promisc on`);
  lines.push(`link set ${br} up`);
  if (!cfg.isGateway) return lines;
  const have = current ?? [];
  for (const gw of gateways) {
    if (have.some((c) => sameIp(c.ip, gw.ip) && c.prefix === gw.prefix)) continue;
    // Another address of the gateway's subnet on the bridge is refused, or replaced with
    // forceAddress. Addresses of other subnets stay: one bridge may be the gateway of several.
    const clash = have.filter((c) => c.ip.family === gw.ip.family && formatCidr(canonical(c)) === formatCidr(canonical(gw)));
    for (const old of clash) {
      if (!cfg.forceAddress) {
        throw new CniError(Code.InvalidConfig, `bridge ${br} already has ${formatCidr(old)}, not the gateway ${formatCidr(gw)} (set forceAddress to replace it)`);
      }
      lines.push(`addr del ${formatCidr(old)} dev ${br}`);
    }
    lines.push(`addr add ${formatCidr(gw)} dev ${br}${v6(gw)}`);
  }
  return lines;
}

/** `bridge -batch` lines for a VLAN: the port and the bridge itself carry it untagged. */
export function vlanLines(cfg: BridgeConfig, hostVeth: string | undefined): string[] {
  if (!cfg.vlan) return [];
  if (!hostVeth) return cfg.isGateway ? [`vlan add dev ${cfg.bridge} vid ${cfg.vlan} pvid untagged self`] : [];
  return [`vlan del dev ${hostVeth} vid 1`, `vlan add dev ${hostVeth} vid ${cfg.vlan} pvid untagged`];
}

export interface Attachment {
  containerId: string;
  ifName: string;
  netns: string;
  /** runtimeConfig.mac, if the runtime asked for one. */
  mac?: string;
}

export interface PodPlan {
  hostVeth: string;
  hostMac: string;
  podMac: string;
  /** Host namespace: create the pair (peer straight into the pod) and attach it. */
  hostLines: string[];
  /** Pod namespace: addresses, link up, routes. */
  podLines: string[];
  routes: ResultRoute[];
}

/** The pod's routes: IPAM's, plus a default route per family for isDefaultGateway; none when internal. */
export function podRoutes(cfg: BridgeConfig, ipamRoutes: readonly ResultRoute[], ips: readonly ResultIp[]): ResultRoute[] {
  if (cfg.internal) return [];
  const routes = ipamRoutes.map((r) => ({ ...r }));
  if (cfg.isDefaultGateway) {
    for (const ip of ips) {
      if (!ip.gateway) throw new CniError(Code.InvalidConfig, `isDefaultGateway: IPAM gave ${ip.address} no gateway`);
      const dst = ip.address.includes(':') ? '::/0' : '0.0.0.0/0';
      if (!routes.some((r) => r.dst === dst)) routes.push({ dst, gw: ip.gateway });
    }
  }
  return routes;
}

export function planPod(cfg: BridgeConfig, a: Attachment, ips: readonly ResultIp[], routes: readonly ResultRoute[]): PodPlan {
  const hostVeth = hostVethName(a.containerId, a.ifName);
  const hostMac = macFrom(`host/${a.containerId}/${a.ifName}`);
  const podMac = a.mac ?? macFrom(`pod/${a.containerId}/${a.ifName}`);
  const mtu = cfg.mtu ? ` mtu ${cfg.mtu}` : '';
  const hostLines = [
    `link add name ${hostVeth} address ${hostMac}${mtu} type veth peer name ${a.ifName} address ${podMac}${mtu} netns ${a.netns}`,
    `link set ${hostVeth} master ${cfg.bridge}`,
  ];
  const flags = [cfg.hairpinMode ? 'hairpin on' : '', cfg.isolation ? 'isolated on' : ''].filter((f) => f).join(' ');
  if (flags) hostLines.push(`link set ${hostVeth} type bridge_slave ${flags}`);
  hostLines.push(`link set ${hostVeth} up`);

  const podLines: string[] = [];
  const gwByFamily = new Map<number, string>();
  for (const ip of ips) {
    const c = parseCidr(ip.address);
    if (!c) throw new CniError(Code.InvalidConfig, `IPAM gave an address without prefix: ${ip.address}`);
    podLines.push(`addr add ${formatCidr(c)} dev ${a.ifName}${v6(c)}`);
    if (ip.gateway && !gwByFamily.has(c.ip.family)) gwByFamily.set(c.ip.family, ip.gateway);
  }
  podLines.push(`link set ${a.ifName} up`);
  for (const r of routes) {
    const family = r.dst.includes(':') ? 6 : 4;
    // As the reference plugins do, a route without gw goes through the family's gateway.
    const gw = r.gw ?? gwByFamily.get(family);
    podLines.push(gw ? `route add ${r.dst} via ${gw} dev ${a.ifName}` : `route add ${r.dst} dev ${a.ifName}`);
  }
  return { hostVeth, hostMac, podMac, hostLines, podLines, routes: [...routes] };
}

/** The ADD result: bridge, host veth, pod interface (with sandbox); every IP on the pod interface. */
export function buildResult(cfg: BridgeConfig, a: Attachment, plan: PodPlan, bridgeMac: string, ips: readonly ResultIp[], dns: Result['dns']): Result {
  const mtu = cfg.mtu ? { mtu: cfg.mtu } : {};
  const result: Result = {
    interfaces: [
      { name: cfg.bridge, mac: bridgeMac, ...mtu },
      { name: plan.hostVeth, mac: plan.hostMac, ...mtu },
      { name: a.ifName, mac: plan.podMac, ...mtu, sandbox: a.netns },
    ],
    ips: ips.map((ip) => ({ ...ip, interface: 2 })),
    routes: plan.routes,
  };
  if (dns) result.dns = dns;
  return result;
}
