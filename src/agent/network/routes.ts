// host-gw as data (Flannel's idea): every other node's pod CIDR is reached through that node's
// InternalIP of the same family, which must be on our own link. Pure functions only: the kernel
// side (src/agent/network/kernel.ts) reads our routes and applies what diffRoutes returns.
import { type Cidr, type Family, canonical, formatCidr, formatIp, overlaps, parseCidr, parseIp } from '../../net/ip.js';
import type { NodeInfo } from './nodes.js';

/**
 * The routing protocol number our routes carry (`proto 199`: the kernel's rtnetlink.h names 0-4,
 * 8-18, 42, 99 and 186-192; 199 is nobody's). We only ever read, replace and delete routes with
 * it, so a route someone else made is never touched, and ours are found again after a restart.
 */
export const ROUTE_PROTO = 199;

export interface Route {
  /** Canonical CIDR, e.g. 198.18.129.0/24 or fd42:18:129::/64. */
  readonly dst: string;
  /** The gateway: the other node's InternalIP of dst's family. */
  readonly via: string;
  /** Which node the route is for (desired routes only; the kernel does not know). */
  readonly node?: string;
  /** The kernel's metric, when a route read back has one; deletes name it so only it goes. */
  readonly metric?: number;
}

export interface Skipped {
  readonly node: string;
  readonly reason: string;
}

export interface RoutePlan {
  readonly routes: Route[];
  /** Nodes (or CIDRs of nodes) that get no route, and why: logged, never fatal. */
  readonly skipped: Skipped[];
}

const familyOf = (c: Cidr): Family => c.ip.family;

/** The first InternalIP of a family, as a canonical string. */
function gatewayOf(node: NodeInfo, family: Family): string | undefined {
  for (const s of node.internalIPs) {
    const ip = parseIp(s);
    if (ip?.family === family) return formatIp(ip);
  }
  return undefined;
}

/**
 * Desired routes on node `self`: one per other node and pod CIDR, via that node's InternalIP of
 * the CIDR's family. Sorted by dst, so equal inputs give equal plans.
 */
export function planRoutes(self: NodeInfo, nodes: readonly NodeInfo[]): RoutePlan {
  const own = self.podCIDRs.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  const ownIps = new Set(self.internalIPs.map((s) => parseIp(s)).filter((ip) => ip !== undefined).map(formatIp));
  const routes: Route[] = [];
  const skipped: Skipped[] = [];
  const taken = new Map<string, string>();
  for (const node of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (node.name === self.name) continue;
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
      const via = gatewayOf(node, familyOf(dst));
      if (!via) {
        skipped.push({ node: node.name, reason: `no IPv${familyOf(dst)} InternalIP for ${dstText}` });
        continue;
      }
      // Defensive: a route must never pull our own pods' traffic off the node, nor point at us.
      if (own.some((o) => overlaps(o, dst))) {
        skipped.push({ node: node.name, reason: `${dstText} overlaps this node's podCIDRs` });
        continue;
      }
      if (ownIps.has(via)) {
        skipped.push({ node: node.name, reason: `its InternalIP ${via} is this node's own` });
        continue;
      }
      const holder = taken.get(dstText);
      if (holder !== undefined) {
        skipped.push({ node: node.name, reason: `${dstText} is already routed to node ${holder}` });
        continue;
      }
      taken.set(dstText, node.name);
      routes.push({ dst: dstText, via, node: node.name });
    }
  }
  routes.sort((a, b) => a.dst.localeCompare(b.dst));
  return { routes, skipped };
}

export interface RouteDiff {
  /** Routes to put in place with `route replace` (new ones, and ones whose gateway changed). */
  readonly replace: Route[];
  /** Routes of ours that must go (their node left, lost its podCIDR, or a duplicate). */
  readonly remove: Route[];
}

/** Canonical text of a CIDR or address, so "fd42:18:0129::/64" and "fd42:18:129::/64" match. */
export function normalizeDst(dst: string): string | undefined {
  const c = parseCidr(dst.includes('/') ? dst : `${dst}/${dst.includes(':') ? 128 : 32}`);
  return c ? formatCidr(canonical(c)) : undefined;
}

/** The metric `route replace` without one gives: 0 for IPv4, 1024 for IPv6. */
const hasDefaultMetric = (r: Route): boolean => r.metric === undefined || r.metric === (r.dst.includes(':') ? 1024 : 0);

/** What to change so that our routes (`current`, all with our proto) become exactly `desired`. */
export function diffRoutes(desired: readonly Route[], current: readonly Route[]): RouteDiff {
  const byDst = new Map<string, Route[]>();
  for (const r of current) byDst.set(r.dst, [...(byDst.get(r.dst) ?? []), r]);
  const replace: Route[] = [];
  const remove: Route[] = [];
  for (const w of desired) {
    const have = byDst.get(w.dst) ?? [];
    byDst.delete(w.dst);
    // Of several right ones keep the default-metric one: the one later `replace`s would hit.
    const keep = have.find((r) => r.via === w.via && hasDefaultMetric(r)) ?? have.find((r) => r.via === w.via);
    if (keep) {
      remove.push(...have.filter((r) => r !== keep));
      continue;
    }
    // The route with the wrong gateway is not deleted but swapped in place by `replace` (which hits
    // the route of the default metric), so traffic to that node never meets a missing route.
    remove.push(...have.filter((r) => !hasDefaultMetric(r)));
    replace.push(w);
  }
  for (const rest of byDst.values()) remove.push(...rest);
  return { replace, remove };
}

/** The `ip -batch` lines for a diff: removals first, then replacements. */
export function routeLines(diff: RouteDiff, proto = ROUTE_PROTO): string[] {
  const del = (r: Route): string => `route del ${r.dst}${r.via ? ` via ${r.via}` : ''} proto ${proto}${r.metric === undefined ? '' : ` metric ${r.metric}`}`;
  return [...diff.remove.map(del), ...diff.replace.map((r) => `route replace ${r.dst} via ${r.via} proto ${proto}`)];
}

/**
 * Our routes from `ip -json route show proto N` (one array per family). Entries without a
 * gateway (someone else's use of the number, or a route of ours damaged by hand) are kept with
 * via "" so the diff removes them; blackhole and other non-unicast types are left alone.
 */
export function parseRoutes(json: readonly unknown[]): Route[] {
  const out: Route[] = [];
  for (const e of json) {
    if (typeof e !== 'object' || e === null) continue;
    const o = e as Record<string, unknown>;
    if (typeof o['type'] === 'string' && o['type'] !== 'unicast') continue;
    if (typeof o['dst'] !== 'string') continue;
    const dst = o['dst'] === 'default' ? undefined : normalizeDst(o['dst']);
    if (!dst) continue;
    const gw = typeof o['gateway'] === 'string' ? parseIp(o['gateway']) : undefined;
    const metric = typeof o['metric'] === 'number' ? o['metric'] : undefined;
    out.push({ dst, via: gw ? formatIp(gw) : '', ...(metric !== undefined ? { metric } : {}) });
  }
  return out;
}
