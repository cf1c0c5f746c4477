// IPv4/IPv6 addresses as BigInt, parsed and printed by hand: the CNI binary starts for every pod,
// and a general IP library costs ~10 ms of module load there (measured; see README "Start-up").
export type Family = 4 | 6;

export interface Ip {
  readonly family: Family;
  readonly value: bigint;
}

/** An address with a prefix length, e.g. 198.18.16.5/24 (host bits kept). */
export interface Cidr {
  readonly ip: Ip;
  readonly prefix: number;
}

export const bits = (family: Family): number => (family === 4 ? 32 : 128);

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const words: number[] = [];
  const take = (list: string[], isLast: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i] ?? '';
      if (isLast && i === list.length - 1 && g.includes('.')) {
        const v4 = parseV4(g);
        if (v4 === undefined) return false;
        words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      words.push(parseInt(g, 16));
    }
    return true;
  };
  if (!take(head, halves.length === 1)) return undefined;
  const headLen = words.length;
  if (!take(tail, true)) return undefined;
  const tailWords = words.splice(headLen);
  if (halves.length === 2) {
    const missing = 8 - words.length - tailWords.length;
    if (missing < 1) return undefined;
    words.push(...new Array<number>(missing).fill(0));
  }
  words.push(...tailWords);
  if (words.length !== 8) return undefined;
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

export function parseIp(s: string): Ip | undefined {
  if (s.includes(':')) {
    const value = parseV6(s);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseV4(s);
  return value === undefined ? undefined : { family: 4, value };
}

export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join('.');
  }
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero words, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(ip.family)) return undefined;
  return { ip, prefix };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.ip)}/${c.prefix}`;

const hostMask = (c: Cidr): bigint => (1n << BigInt(bits(c.ip.family) - c.prefix)) - 1n;

export const networkOf = (c: Cidr): Ip => ({ family: c.ip.family, value: c.ip.value & ~hostMask(c) });
export const lastOf = (c: Cidr): Ip => ({ family: c.ip.family, value: c.ip.value | hostMask(c) });
export const canonical = (c: Cidr): Cidr => ({ ip: networkOf(c), prefix: c.prefix });

export function contains(c: Cidr, ip: Ip): boolean {
  return ip.family === c.ip.family && (ip.value & ~hostMask(c)) === networkOf(c).value;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.ip) || contains(b, a.ip);
}

export const sameIp = (a: Ip, b: Ip): boolean => a.family === b.family && a.value === b.value;
export const offset = (ip: Ip, by: bigint): Ip => ({ family: ip.family, value: ip.value + by });

/** A range of addresses of one family, first..last inclusive. */
interface Span {
  lo: bigint;
  hi: bigint;
}

/** Spans sorted and merged: overlapping or touching ones become one. */
function mergeSpans(spans: Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.lo <= last.hi + 1n) {
      if (s.hi > last.hi) last.hi = s.hi;
    } else out.push({ lo: s.lo, hi: s.hi });
  }
  return out;
}

/** The fewest CIDRs that cover exactly lo..hi: the largest aligned block at each step. */
function spanCidrs(family: Family, span: Span): Cidr[] {
  const width = bits(family);
  const out: Cidr[] = [];
  let lo = span.lo;
  while (lo <= span.hi) {
    let size = width;
    // Grow the block while lo stays aligned to it and it stays within the span.
    while (size > 0 && (lo & ((1n << BigInt(width - size + 1)) - 1n)) === 0n && lo + (1n << BigInt(width - size + 1)) - 1n <= span.hi) size--;
    out.push({ ip: { family, value: lo }, prefix: size });
    lo += 1n << BigInt(width - size);
  }
  return out;
}

/**
 * The addresses in `include` and in none of `exclude`, as the fewest CIDRs, sorted and not
 * overlapping (an ipBlock with its excepts, for a packet filter without ipset's `nomatch`). All
 * CIDRs must be of `family`; host bits are ignored.
 */
export function cidrsMinus(family: Family, include: readonly Cidr[], exclude: readonly Cidr[] = []): Cidr[] {
  const span = (c: Cidr): Span => {
    if (c.ip.family !== family) throw new Error(`${formatCidr(c)} is not an IPv${family} CIDR`);
    return { lo: networkOf(c).value, hi: lastOf(c).value };
  };
  let kept = mergeSpans(include.map(span));
  for (const cut of mergeSpans(exclude.map(span))) {
    const next: Span[] = [];
    for (const s of kept) {
      if (cut.hi < s.lo || cut.lo > s.hi) next.push(s);
      else {
        if (s.lo < cut.lo) next.push({ lo: s.lo, hi: cut.lo - 1n });
        if (s.hi > cut.hi) next.push({ lo: cut.hi + 1n, hi: s.hi });
      }
    }
    kept = next;
  }
  return kept.flatMap((s) => spanCidrs(family, s));
}
