// Our routes as data: the desired ones come from the network plan (plan.ts), the current ones from
// `ip -json route show proto 199`; diffRoutes says what to change. Pure functions only: the kernel
// side (kernel.ts) reads and applies.
import { type BatchLine, batchLine } from '../../kernel/ip-batch.js';
import { canonical, formatCidr, formatIp, parseCidr, parseIp } from '../../net/ip.js';

/**
 * The routing protocol number our routes carry (`proto 199`: the kernel's rtnetlink.h names 0-4,
 * 8-18, 42, 99 and 186-192; 199 is nobody's). We only ever read, replace and delete routes with
 * it, so a route someone else made is never touched, and ours are found again after a restart.
 */
export const ROUTE_PROTO = 199;

/**
 * vxlan: our routing table for pod -> other node traffic (see plan.ts, nodeRoutes), looked up by
 * a rule for this node's pod CIDR at priority RULE_PREF; both numbers are 199 as well.
 */
export const NODE_TABLE = 199;
export const RULE_PREF = 199;

export interface Route {
  /** Canonical CIDR, e.g. 198.18.129.0/24 or fd42:18:129::/64. */
  readonly dst: string;
  /** The gateway: the other node's InternalIP (host-gw), or its VTEP address (vxlan). */
  readonly via: string;
  /** vxlan: our VXLAN device; the route is `onlink` (the VTEP address is on no subnet of ours). */
  readonly dev?: string;
  /** Which node the route is for (desired routes only; the kernel does not know). */
  readonly node?: string;
  /** The kernel's metric, when a route read back has one; deletes name it so only it goes. */
  readonly metric?: number;
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

/** Same next hop; a desired route without a device leaves it to the kernel (host-gw). */
const sameHop = (have: Route, want: Route): boolean => have.via === want.via && (want.dev === undefined || have.dev === want.dev);

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
    const keep = have.find((r) => sameHop(r, w) && hasDefaultMetric(r)) ?? have.find((r) => sameHop(r, w));
    if (keep) {
      remove.push(...have.filter((r) => r !== keep));
      continue;
    }
    // The route with the wrong gateway is not deleted but swapped in place by `replace` (which hits
    // the route of the default metric), so traffic to that node never meets a missing route.
    // Except IPv6 onto another device: the kernel checks an onlink gateway against the main table,
    // where the old route to that very CIDR points at the old device ("Nexthop has invalid gateway
    // or device mismatch"), so the old route goes first (a backend switch only).
    const v6move = w.dev !== undefined && w.dst.includes(':');
    remove.push(...have.filter((r) => !hasDefaultMetric(r) || (v6move && r.dev !== w.dev)));
    replace.push(w);
  }
  for (const rest of byDst.values()) remove.push(...rest);
  return { replace, remove };
}

/** The `ip -batch` lines for a diff: removals first, then replacements. */
export function routeLines(diff: RouteDiff, table?: number, proto = ROUTE_PROTO): BatchLine[] {
  const t = table === undefined ? [] : ['table', table];
  const del = (r: Route): BatchLine =>
    batchLine('route', 'del', r.dst, ...(r.via ? ['via', r.via] : []), 'proto', proto, ...(r.metric === undefined ? [] : ['metric', r.metric]), ...t);
  const hop = (r: Route): string[] => ['via', r.via, ...(r.dev ? ['dev', r.dev, 'onlink'] : [])];
  return [...diff.remove.map(del), ...diff.replace.map((r) => batchLine('route', 'replace', r.dst, ...hop(r), 'proto', proto, ...t))];
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
    const dev = typeof o['dev'] === 'string' ? o['dev'] : undefined;
    out.push({ dst, via: gw ? formatIp(gw) : '', ...(dev !== undefined ? { dev } : {}), ...(metric !== undefined ? { metric } : {}) });
  }
  return out;
}
