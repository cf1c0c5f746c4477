// Which address to hand out: pure functions over a range set, a "taken" predicate and the last
// address reserved. Like host-local, the search starts after the last reservation and wraps, so a
// released address is not handed out again until the range has gone round once.
import { type Cidr, type Ip, contains, lastOf, sameIp } from '../net/ip.js';
import type { Range, RangeSet } from './config.js';

/** May this address be handed out from this range at all (whoever holds it)? */
export function allocatable(r: Range, ip: Ip, exclude: readonly Cidr[]): boolean {
  if (!contains(r.subnet, ip) || ip.value < r.start.value || ip.value > r.end.value) return false;
  if (ip.value === r.subnet.ip.value || sameIp(ip, r.gateway)) return false;
  if (ip.family === 4 && ip.value === lastOf(r.subnet).value) return false;
  return !exclude.some((c) => contains(c, ip));
}

export function rangeOf(set: RangeSet, ip: Ip, exclude: readonly Cidr[]): Range | undefined {
  return set.find((r) => allocatable(r, ip, exclude));
}

/**
 * The next free address after `after`, going round the set's ranges once.
 * `taken` is asked only about allocatable addresses. Undefined when the set is full.
 */
export function nextFree(set: RangeSet, taken: (ip: Ip) => boolean, exclude: readonly Cidr[], after?: Ip): { ip: Ip; range: Range } | undefined {
  const at = after ? set.findIndex((r) => contains(r.subnet, after) && after.value >= r.start.value && after.value <= r.end.value) : -1;
  const first = Math.max(at, 0);
  const cursor = at >= 0 ? after!.value + 1n : set[0]?.start.value ?? 0n;
  // Segments in search order: the rest of the current range, every other range, then the current
  // range's beginning up to the cursor.
  const segments: { r: Range; from: bigint; to: bigint }[] = [];
  for (let k = 0; k < set.length; k++) {
    const r = set[(first + k) % set.length]!;
    segments.push(k === 0 ? { r, from: cursor, to: r.end.value } : { r, from: r.start.value, to: r.end.value });
  }
  const r0 = set[first];
  if (r0 && at >= 0) segments.push({ r: r0, from: r0.start.value, to: cursor - 1n });
  for (const { r, from, to } of segments) {
    for (let v = from; v <= to; v++) {
      const ip: Ip = { family: r.start.family, value: v };
      // Step over an excluded block at once: an IPv6 exclude can span billions of addresses.
      const block = exclude.find((c) => contains(c, ip));
      if (block) {
        v = lastOf(block).value;
        continue;
      }
      if (allocatable(r, ip, exclude) && !taken(ip)) return { ip, range: r };
    }
  }
  return undefined;
}
