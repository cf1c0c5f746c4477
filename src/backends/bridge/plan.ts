// The bridge backend as plain data: what the bridge, the host side and the pod side of an
// attachment should look like, as iproute2 batch lines. No I/O here; plugin.ts applies it. Every
// line comes from batchLine, so a name or path the batch parser would not take literally refuses the
// whole plan before anything runs; names always follow `dev` or `name`, which take the next word
// as it is (a bare name that prefixes a keyword, "he" for "help", would be read as the keyword).
import { CniError, Code } from '../../cni/errors.js';
import type { Result, ResultIp, ResultRoute } from '../../cni/result.js';
import { type BatchLine, batchLine } from '../../kernel/ip-batch.js';
import { type Cidr, canonical, formatCidr, formatIp, parseCidr, parseIp, sameIp } from '../../net/ip.js';
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

const v6 = (c: Cidr): string[] => (c.ip.family === 6 ? ['nodad'] : []);
const mtuOf = (cfg: BridgeConfig): (string | number)[] => (cfg.mtu ? ['mtu', cfg.mtu] : []);

/**
 * Lines that make the bridge exist, up, and hold the gateway addresses when it is a gateway.
 * `current` is what the bridge holds now (global addresses), or undefined if it does not exist.
 */
export function bridgeLines(cfg: BridgeConfig, current: Cidr[] | undefined, gateways: readonly Cidr[]): BatchLine[] {
  const br = cfg.bridge;
  const lines: BatchLine[] = [];
  if (!current) {
    const vlan = cfg.vlan ? ['vlan_filtering', 1] : [];
    lines.push(batchLine('link', 'add', 'name', br, 'address', macFrom(`bridge/${br}`), ...mtuOf(cfg), 'type', 'bridge', ...vlan));
  } else if (cfg.mtu) {
    // The MTU changed with the config (say, the agent moved to an overlay): new pods get it, and so
    // does the bridge, so the node does not send its pods frames their veths would drop.
    lines.push(batchLine('link', 'set', 'dev', br, 'mtu', cfg.mtu));
  }
  if (cfg.promiscMode) lines.push(batchLine('link', 'set', 'dev', br, 'promisc', 'on'));
  lines.push(batchLine('link', 'set', 'dev', br, 'up'));
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
      lines.push(batchLine('addr', 'del', formatCidr(old), 'dev', br));
    }
    lines.push(batchLine('addr', 'add', formatCidr(gw), 'dev', br, ...v6(gw)));
  }
  return lines;
}

/** `bridge -batch` lines for a VLAN: the port and the bridge itself carry it untagged. */
export function vlanLines(cfg: BridgeConfig, hostVeth: string | undefined): BatchLine[] {
  if (!cfg.vlan) return [];
  if (!hostVeth) return cfg.isGateway ? [batchLine('vlan', 'add', 'dev', cfg.bridge, 'vid', cfg.vlan, 'pvid', 'untagged', 'self')] : [];
  return [batchLine('vlan', 'del', 'dev', hostVeth, 'vid', 1), batchLine('vlan', 'add', 'dev', hostVeth, 'vid', cfg.vlan, 'pvid', 'untagged')];
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
  hostLines: BatchLine[];
  /** Pod namespace: addresses, link up, routes. */
  podLines: BatchLine[];
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
  // `netns WORD` opens WORD as a path only when it holds a '/'; otherwise it is a name under
  // /run/netns or, failing that, a PID ("1": the node's own namespace).
  if (!a.netns.startsWith('/')) throw new CniError(Code.InvalidConfig, `network namespace ${JSON.stringify(a.netns)} is not an absolute path`);
  const hostVeth = hostVethName(a.containerId, a.ifName);
  const hostMac = macFrom(`host/${a.containerId}/${a.ifName}`);
  const podMac = a.mac ?? macFrom(`pod/${a.containerId}/${a.ifName}`);
  const mtu = mtuOf(cfg);
  // One request makes the pair, puts the host end on the bridge and brings it up: each request
  // waits its turn for the kernel's rtnl lock, which a burst of pods keeps busy. One queue each
  // way: the kernel would otherwise shrink a new veth's queues from one per CPU to one while
  // holding that lock and waiting for an RCU grace period (seconds in a 60-pod burst on kind).
  // The port flags follow at once; the pod's end stays down until the pod lines, so no frame
  // crosses the port before they are in force.
  const queues = ['numtxqueues', '1', 'numrxqueues', '1'];
  const hostLines = [
    batchLine('link', 'add', 'name', hostVeth, 'address', hostMac, ...mtu, ...queues, 'master', cfg.bridge, 'up', 'type', 'veth', 'peer', 'name', a.ifName, 'address', podMac, ...mtu, ...queues, 'netns', a.netns),
  ];
  const flags = [...(cfg.hairpinMode ? ['hairpin', 'on'] : []), ...(cfg.isolation ? ['isolated', 'on'] : [])];
  if (flags.length > 0) hostLines.push(batchLine('link', 'set', 'dev', hostVeth, 'type', 'bridge_slave', ...flags));

  const podLines: BatchLine[] = [];
  const gwByFamily = new Map<number, string>();
  for (const ip of ips) {
    const c = parseCidr(ip.address);
    if (!c) throw new CniError(Code.InvalidConfig, `IPAM gave an address without prefix: ${ip.address}`);
    podLines.push(batchLine('addr', 'add', formatCidr(c), 'dev', a.ifName, ...v6(c)));
    if (ip.gateway && !gwByFamily.has(c.ip.family)) gwByFamily.set(c.ip.family, ip.gateway);
  }
  podLines.push(batchLine('link', 'set', 'dev', a.ifName, 'up'));
  for (const r of routes) {
    // IPAM (a delegated plugin, too) is outside input: the kernel gets its routes in canonical form.
    const dst = parseCidr(r.dst);
    if (!dst) throw new CniError(Code.InvalidConfig, `IPAM gave a route to ${JSON.stringify(r.dst)}, not a CIDR`);
    // As the reference plugins do, a route without gw goes through the family's gateway.
    const gwText = r.gw ?? gwByFamily.get(dst.ip.family);
    const gw = gwText === undefined ? undefined : parseIp(gwText);
    if (gwText !== undefined && gw?.family !== dst.ip.family) throw new CniError(Code.InvalidConfig, `IPAM gave the route to ${r.dst} the gateway ${JSON.stringify(gwText)}, not an IPv${dst.ip.family} address`);
    const via = gw ? ['via', formatIp(gw)] : [];
    podLines.push(batchLine('route', 'add', formatCidr(dst), ...via, 'dev', a.ifName));
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
