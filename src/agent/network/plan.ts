// The whole desired network of one node as plain data, from the Node objects, the agent's config
// and this node's underlay: routes (host-gw: via the peer's InternalIP; vxlan: via the peer's VTEP
// through our device), the overlay's devices, neighbours and FDB entries, the masquerade rules, the
// service guard and the pods' MTU. Pure: the reconciler diffs it against the kernel; `gingham inspect` prints it.
import { refusal } from '../../kernel/ip-batch.js';
import { type Cidr, type Family, canonical, formatCidr, formatIp, networkOf, overlaps, parseCidr, parseIp } from '../../net/ip.js';
import type { Dataplane } from '../../kernel/packet-filter/index.js';
import type { Rule as FilterRule } from '../../kernel/packet-filter/model.js';
import type { AgentConfig } from '../config.js';
import { type MasqueradeInput, masqueradeRules } from './masquerade.js';
import { guardRules } from './service-guard.js';
import type { NodeInfo } from './nodes.js';
import type { Route } from './routes.js';
import type { Rule } from './rules.js';
import { type UnderlayAddr, onSubnet, underlayOf } from './underlay.js';
import { type FdbEntry, type Neighbour, type VxlanDevice, vtepMac, vxlanName, vxlanOverhead } from './vxlan.js';

export interface Skipped {
  readonly node: string;
  readonly reason: string;
}

/** One peer as the plan sees it: for people (inspect) and logs. */
export interface Peer {
  readonly node: string;
  readonly podCIDR: string;
  /** The peer's underlay address of the CIDR's family. */
  readonly nodeIP: string;
  /** How its pods are reached: through the overlay, or a direct route (host-gw, directRouting). */
  readonly via: 'vxlan' | 'direct';
  /** vxlan only: the peer's VTEP address and MAC. */
  readonly vtep?: string;
  readonly vtepMac?: string;
}

export interface NetworkPlan {
  readonly backend: AgentConfig['backend'];
  /** Which packet filter holds the masquerade and service guard. */
  readonly dataplane: Dataplane;
  readonly peers: Peer[];
  readonly routes: Route[];
  /** vxlan: table NODE_TABLE, one route per peer address through the device (see rules.ts). */
  readonly nodeRoutes: Route[];
  /** vxlan: this node's pod CIDRs looking up NODE_TABLE. */
  readonly rules: Rule[];
  readonly devices: VxlanDevice[];
  readonly neighbours: Neighbour[];
  readonly fdb: FdbEntry[];
  /** The masquerade chain's rules per family with a pod CIDR here. */
  readonly masquerade: Partial<Record<Family, FilterRule[]>>;
  /** The service guard's rules per family with a configured Service CIDR. */
  readonly serviceGuard: Partial<Record<Family, FilterRule[]>>;
  /** The pods' MTU for the conflist; undefined when the underlay is unknown (the kernel's default). */
  readonly mtu: number | undefined;
  readonly skipped: Skipped[];
}

/** The first InternalIP of a family, canonical. */
export function nodeIPOf(node: NodeInfo, family: Family): string | undefined {
  for (const s of node.internalIPs) {
    const ip = parseIp(s);
    if (ip?.family === family) return formatIp(ip);
  }
  return undefined;
}

const cidrsOf = (node: NodeInfo): Cidr[] => node.podCIDRs.map(parseCidr).filter((c): c is Cidr => c !== undefined).map(canonical);

/**
 * The plan for node `self` among `nodes`. `addrs` are this node's interface addresses (to find
 * the underlay); peers that cannot be reached are skipped with a reason, never fatal.
 */
export function planNetwork(self: NodeInfo, nodes: readonly NodeInfo[], cfg: AgentConfig, addrs: readonly UnderlayAddr[]): NetworkPlan {
  const own = cidrsOf(self);
  // A Node object that could not be read comes without podCIDRs and addresses: say why.
  const skipped: Skipped[] = self.invalid ? [{ node: self.name, reason: self.invalid }] : [];
  const devices = new Map<Family, VxlanDevice>();
  const underlays = new Map<Family, UnderlayAddr>();
  for (const family of [4, 6] as const) {
    const mine = own.find((c) => c.ip.family === family);
    const ip = nodeIPOf(self, family);
    const u = ip === undefined ? undefined : underlayOf(addrs, ip);
    if (u) underlays.set(family, u);
    if (!mine || cfg.backend !== 'vxlan') continue;
    if (!ip || !u) {
      skipped.push({ node: self.name, reason: ip ? `no interface here holds its InternalIP ${ip}: no IPv${family} overlay` : `no IPv${family} InternalIP: no IPv${family} overlay` });
      continue;
    }
    // The device binds to the underlay by name, a word of an `ip -batch` line: a name the kernel
    // allows but the batch parser would change ('#', quotes, backslash) cannot be used.
    const bad = refusal(u.ifname);
    if (bad !== undefined) {
      skipped.push({ node: self.name, reason: `its underlay interface ${JSON.stringify(u.ifname)} cannot be named in an ip batch (${bad}): no IPv${family} overlay` });
      continue;
    }
    devices.set(family, {
      name: vxlanName(family),
      family,
      vni: cfg.vni,
      port: cfg.port,
      local: ip,
      underlay: u.ifname,
      mac: vtepMac(ip),
      mtu: u.mtu - vxlanOverhead(family),
      vtep: formatIp(networkOf(mine)),
    });
  }

  const peers: Peer[] = [];
  const routes: Route[] = [];
  const nodeRoutes: Route[] = [];
  const neighbours: Neighbour[] = [];
  const fdb: FdbEntry[] = [];
  const ownIps = new Set(self.internalIPs.map((s) => parseIp(s)).filter((ip) => ip !== undefined).map(formatIp));
  const taken = new Map<string, string>();
  const overlay: OverlayPeer[] = [];
  for (const node of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (node.name === self.name) continue;
    if (node.invalid) {
      skipped.push({ node: node.name, reason: node.invalid });
      continue;
    }
    if (node.podCIDRs.length === 0) {
      skipped.push({ node: node.name, reason: 'no podCIDR yet' });
      continue;
    }
    for (const s of node.podCIDRs) {
      const parsed = parseCidr(s);
      if (!parsed) {
        skipped.push({ node: node.name, reason: `podCIDR "${s}" is not a CIDR` });
        continue;
      }
      const dst = canonical(parsed);
      const dstText = formatCidr(dst);
      const family = dst.ip.family;
      const nodeIP = nodeIPOf(node, family);
      if (!nodeIP) {
        skipped.push({ node: node.name, reason: `no IPv${family} InternalIP for ${dstText}` });
        continue;
      }
      // Defensive: a route must never pull our own pods' traffic off the node, nor point at us.
      if (own.some((o) => overlaps(o, dst))) {
        skipped.push({ node: node.name, reason: `${dstText} overlaps this node's podCIDRs` });
        continue;
      }
      if (ownIps.has(nodeIP)) {
        skipped.push({ node: node.name, reason: `its InternalIP ${nodeIP} is this node's own` });
        continue;
      }
      const holder = taken.get(dstText);
      if (holder !== undefined) {
        skipped.push({ node: node.name, reason: `${dstText} is already routed to node ${holder}` });
        continue;
      }
      const u = underlays.get(family);
      const direct = cfg.backend === 'host-gw' || (cfg.directRouting && u !== undefined && onSubnet(u, nodeIP));
      if (direct) {
        taken.set(dstText, node.name);
        routes.push({ dst: dstText, via: nodeIP, node: node.name });
        peers.push({ node: node.name, podCIDR: dstText, nodeIP, via: 'direct' });
        continue;
      }
      const dev = devices.get(family);
      if (!dev) {
        skipped.push({ node: node.name, reason: `no IPv${family} overlay on this node for ${dstText}` });
        continue;
      }
      taken.set(dstText, node.name);
      const vtep = formatIp(networkOf(dst));
      const mac = vtepMac(nodeIP);
      const peer: Peer = { node: node.name, podCIDR: dstText, nodeIP, via: 'vxlan', vtep, vtepMac: mac };
      overlay.push({ peer, family, dev, vtep, mac });
      peers.push(peer);
    }
  }
  // Checked once every peer is known: a clash is between two peers, whichever came first.
  const clashing = new Set<Peer>();
  for (const o of overlay) {
    const clash = macClash(o, overlay);
    if (clash !== undefined) {
      skipped.push({ node: o.peer.node, reason: clash });
      clashing.add(o.peer);
      continue;
    }
    const { peer, dev, vtep, mac } = o;
    routes.push({ dst: peer.podCIDR, via: vtep, dev: dev.name, node: peer.node });
    nodeRoutes.push({ dst: `${peer.nodeIP}/${o.family === 4 ? 32 : 128}`, via: vtep, dev: dev.name, node: peer.node });
    neighbours.push({ dev: dev.name, ip: vtep, mac });
    fdb.push({ dev: dev.name, mac, dst: peer.nodeIP });
  }
  routes.sort((a, b) => a.dst.localeCompare(b.dst));
  nodeRoutes.sort((a, b) => a.dst.localeCompare(b.dst));
  const rules: Rule[] = [...devices.values()].map((d) => ({ family: d.family, from: formatCidr(own.find((c) => c.ip.family === d.family)!) }));

  const masquerade: Partial<Record<Family, FilterRule[]>> = {};
  for (const family of [4, 6] as const) {
    const mine = own.find((c) => c.ip.family === family);
    if (!mine) continue;
    const clusterOfFamily = cfg.clusterCIDRs.map(parseCidr).filter((c): c is Cidr => c?.ip.family === family).map((c) => formatCidr(canonical(c)));
    const input: MasqueradeInput = {
      family,
      podCIDR: formatCidr(mine),
      // Without configured cluster CIDRs, every node's pod CIDR of the family stands in for them.
      keepTo: clusterOfFamily.length > 0 ? clusterOfFamily : nodes.flatMap(cidrsOf).filter((c) => c.ip.family === family).map(formatCidr),
      nodeIPs: nodes.map((n) => nodeIPOf(n, family)).filter((ip): ip is string => ip !== undefined),
    };
    masquerade[family] = masqueradeRules(input);
  }

  const serviceGuard: Partial<Record<Family, FilterRule[]>> = {};
  for (const family of [4, 6] as const) {
    const mine = cfg.serviceCIDRs.map(parseCidr).filter((c): c is Cidr => c?.ip.family === family).map((c) => formatCidr(canonical(c)));
    if (mine.length > 0) serviceGuard[family] = guardRules(mine);
  }

  return { backend: cfg.backend, dataplane: cfg.dataplane, peers: peers.filter((p) => !clashing.has(p)), routes, nodeRoutes, rules, devices: [...devices.values()], neighbours, fdb, masquerade, serviceGuard, mtu: podMtu(cfg, own, underlays, devices), skipped };
}

/** A peer reached through the overlay, before the VTEP MACs are checked for clashes. */
interface OverlayPeer {
  readonly peer: Peer;
  readonly family: Family;
  readonly dev: VxlanDevice;
  readonly vtep: string;
  readonly mac: string;
}

/**
 * Why a peer's VTEP MAC cannot be used, if it cannot. The MAC is derived from the node's address
 * (vtepMac; for IPv6 a 32-bit hash, so two addresses can share one): the FDB maps a MAC to one node,
 * so of two peers with one MAC the traffic for both would go to one of them. Every peer whose MAC
 * is this node's own or another peer's (a different address) is skipped; none is guessed right.
 */
function macClash(p: OverlayPeer, all: readonly OverlayPeer[]): string | undefined {
  const from = `its VTEP MAC ${p.mac} (from ${p.peer.nodeIP})`;
  if (p.mac === p.dev.mac) return `${from} is this node's own (from ${p.dev.local}): no overlay to it`;
  const others = all.filter((o) => o.mac === p.mac && o.peer.nodeIP !== p.peer.nodeIP);
  if (others.length === 0) return undefined;
  return `${from} is also that of ${[...new Set(others.map((o) => `node ${o.peer.node} (${o.peer.nodeIP})`))].join(', ')}: no overlay to either`;
}

/** The override, else the smallest MTU a pod's packet meets on its way: the device's, or the underlay's. */
function podMtu(cfg: AgentConfig, own: readonly Cidr[], underlays: Map<Family, UnderlayAddr>, devices: Map<Family, VxlanDevice>): number | undefined {
  if (cfg.mtu > 0) return cfg.mtu;
  const mtus: number[] = [];
  for (const c of own) {
    const family = c.ip.family;
    const dev = devices.get(family);
    const u = underlays.get(family);
    if (dev) mtus.push(dev.mtu);
    else if (u) mtus.push(u.mtu);
  }
  return mtus.length > 0 ? Math.min(...mtus) : undefined;
}
