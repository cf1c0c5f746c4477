// IPAM configuration with host-local's keys and meaning (ranges, subnet, rangeStart, rangeEnd,
// gateway, routes, dataDir, resolvConf) plus "exclude". Defaults follow host-local: the range
// starts after the network address, ends before the IPv4 broadcast, and the gateway is the first
// address of the subnet.
import { invalidConfig } from '../cni/errors.js';
import { configPath } from '../cni/paths.js';
import type { ResultRoute } from '../cni/result.js';
import { type Obj, cidrOf, ipOf, obj, optArr, optStr } from '../cni/validate.js';
import { type Cidr, type Ip, bits, canonical, contains, formatCidr, formatIp, lastOf, networkOf, offset, overlaps } from '../net/ip.js';

export interface Range {
  subnet: Cidr;
  start: Ip;
  end: Ip;
  gateway: Ip;
}

/** One address is given out per range set: a set of IPv4 ranges, or of IPv6 ranges. */
export type RangeSet = Range[];

export interface IpamConfig {
  rangeSets: RangeSet[];
  routes: ResultRoute[];
  dataDir: string;
  resolvConf?: string;
  exclude: Cidr[];
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/gingham';
export const MIN_PREFIX_V4 = 8;
export const MIN_PREFIX_V6 = 16;

function readRange(o: Obj, path: string): Range {
  const subnet = cidrOf(o['subnet'], `${path}.subnet`);
  if (networkOf(subnet).value !== subnet.ip.value) {
    throw invalidConfig(`${path}.subnet ${formatCidr(subnet)} has host bits set; the network is ${formatCidr(canonical(subnet))}`);
  }
  if (subnet.prefix > bits(subnet.ip.family) - 2) throw invalidConfig(`${path}.subnet ${formatCidr(subnet)} is too small to allocate from`);
  // A pod subnet is on-link for the bridge: /0 would make it the node's default route, /1 half of
  // it. The shortest prefix taken is a whole IPv4 class A or IPv6 /16, more than any node needs.
  const shortest = subnet.ip.family === 4 ? MIN_PREFIX_V4 : MIN_PREFIX_V6;
  if (subnet.prefix < shortest) throw invalidConfig(`${path}.subnet ${formatCidr(subnet)} is too large: the prefix must be at least /${shortest}`);
  const lastUsable = subnet.ip.family === 4 ? offset(lastOf(subnet), -1n) : lastOf(subnet);
  const inSubnet = (key: string, fallback: Ip): Ip => {
    const s = optStr(o, key, `${path}.${key}`);
    if (s === undefined) return fallback;
    const ip = ipOf(s, `${path}.${key}`);
    if (!contains(subnet, ip)) throw invalidConfig(`${path}.${key} ${s} is not in subnet ${formatCidr(subnet)}`);
    return ip;
  };
  const first = offset(subnet.ip, 1n);
  const start = inSubnet('rangeStart', first);
  const end = inSubnet('rangeEnd', lastUsable);
  if (start.value > end.value) throw invalidConfig(`${path}: rangeStart ${formatIp(start)} is after rangeEnd ${formatIp(end)}`);
  return { subnet, start, end, gateway: inSubnet('gateway', first) };
}

function readRangeSets(ipam: Obj): RangeSet[] {
  const listed = optArr(ipam, 'ranges', 'ipam.ranges');
  let sets: RangeSet[];
  if (listed) {
    if (ipam['subnet'] !== undefined) throw invalidConfig('ipam: give either "ranges" or "subnet", not both');
    sets = listed.map((set, i) => {
      if (!Array.isArray(set) || set.length === 0) throw invalidConfig(`ipam.ranges[${i}] must be a non-empty list of ranges`);
      return set.map((r, j) => readRange(obj(r, `ipam.ranges[${i}][${j}]`), `ipam.ranges[${i}][${j}]`));
    });
  } else if (ipam['subnet'] !== undefined) {
    sets = [[readRange(ipam, 'ipam')]];
  } else {
    throw invalidConfig('ipam needs "ranges" or "subnet"');
  }
  if (sets.length === 0) throw invalidConfig('ipam.ranges is empty');
  const all: { r: Range; where: string }[] = [];
  sets.forEach((set, i) => {
    const family = set[0]?.subnet.ip.family;
    set.forEach((r, j) => {
      if (r.subnet.ip.family !== family) throw invalidConfig(`ipam.ranges[${i}] mixes IPv4 and IPv6 ranges`);
      for (const other of all) {
        const clash = overlaps(r.subnet, other.r.subnet) && r.start.value <= other.r.end.value && other.r.start.value <= r.end.value;
        if (clash) throw invalidConfig(`ipam.ranges[${i}][${j}] overlaps ${other.where}`);
      }
      all.push({ r, where: `ipam.ranges[${i}][${j}]` });
    });
  });
  return sets;
}

function readRoutes(ipam: Obj): ResultRoute[] {
  return (optArr(ipam, 'routes', 'ipam.routes') ?? []).map((r, i) => {
    const o = obj(r, `ipam.routes[${i}]`);
    const dst = canonical(cidrOf(o['dst'], `ipam.routes[${i}].dst`));
    const route: ResultRoute = { dst: formatCidr(dst) };
    const gw = optStr(o, 'gw', `ipam.routes[${i}].gw`);
    if (gw !== undefined) {
      const ip = ipOf(gw, `ipam.routes[${i}].gw`);
      if (ip.family !== dst.ip.family) throw invalidConfig(`ipam.routes[${i}]: gw ${gw} is not of the family of ${route.dst}`);
      route.gw = formatIp(ip);
    }
    return route;
  });
}

export function parseIpamConfig(ipam: Obj): IpamConfig {
  const exclude = (optArr(ipam, 'exclude', 'ipam.exclude') ?? []).map((e, i) => {
    const s = typeof e === 'string' ? (e.includes('/') ? e : `${e}/${e.includes(':') ? 128 : 32}`) : e;
    return cidrOf(s, `ipam.exclude[${i}]`);
  });
  const cfg: IpamConfig = {
    rangeSets: readRangeSets(ipam),
    routes: readRoutes(ipam),
    // Given, it must be usable as it is: "" or a relative path silently meant something else.
    dataDir: ipam['dataDir'] === undefined || ipam['dataDir'] === null ? DEFAULT_DATA_DIR : configPath(ipam['dataDir'], 'ipam.dataDir'),
    exclude,
  };
  const resolvConf = optStr(ipam, 'resolvConf', 'ipam.resolvConf');
  if (resolvConf) cfg.resolvConf = resolvConf;
  return cfg;
}
