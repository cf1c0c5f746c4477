// The VXLAN overlay as data: this node's device per family, and for every peer one neighbour entry
// (peer VTEP address -> peer VTEP MAC) and one FDB entry (peer VTEP MAC -> peer node address), all
// permanent, so the device never floods or learns. Pure: parse what the kernel reports, diff it
// with the plan, and write the `ip -batch` / `bridge -batch` lines of the difference.
import { type BatchLine, batchLine } from '../../kernel/ip-batch.js';
import { type Family, formatIp, parseIp } from '../../net/ip.js';

/** Our devices: `gingham-vx4` carries IPv4 pods over an IPv4 underlay, `gingham-vx6` IPv6 over IPv6. */
export const VXLAN_PREFIX = 'gingham-vx';
export const vxlanName = (family: Family): string => `${VXLAN_PREFIX}${family}`;
/** Only these two names are ours: a link of another name, whatever it starts with, is left alone. */
const isOurs = (name: string | undefined): name is string => name === vxlanName(4) || name === vxlanName(6);

/** Bytes VXLAN adds to each packet: outer IP (20 or 40) + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const vxlanOverhead = (family: Family): number => (family === 4 ? 50 : 70);

/**
 * A node's VTEP MAC, derived from its underlay address, so no node has to publish it: each node
 * computes every peer's MAC from the peer's InternalIP (no annotation, no write access to Node
 * objects). 0e = locally administered unicast; then 67 ("g") and the IPv4 address itself, readable
 * in `bridge fdb`; an IPv6 underlay gets 66 and a 32-bit FNV-1a hash of its 16 bytes.
 */
export function vtepMac(underlayIp: string): string {
  const ip = parseIp(underlayIp);
  if (!ip) throw new Error(`not an IP address: ${underlayIp}`);
  let tail: number;
  if (ip.family === 4) tail = Number(ip.value);
  else {
    tail = 0x811c9dc5;
    for (let i = 15; i >= 0; i--) tail = Math.imul(tail ^ Number((ip.value >> BigInt(i * 8)) & 0xffn), 0x01000193) >>> 0;
  }
  const bytes = [0x0e, ip.family === 4 ? 0x67 : 0x66, tail >>> 24, (tail >>> 16) & 0xff, (tail >>> 8) & 0xff, tail & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export interface VxlanDevice {
  readonly name: string;
  readonly family: Family;
  readonly vni: number;
  readonly port: number;
  /** This node's underlay address (its InternalIP) the tunnel is bound to. */
  readonly local: string;
  /** The interface holding `local`. */
  readonly underlay: string;
  readonly mac: string;
  readonly mtu: number;
  /** This node's VTEP address: the first address of its pod CIDR of the family (Flannel's choice). */
  readonly vtep: string;
}

export interface Neighbour {
  readonly dev: string;
  readonly ip: string;
  readonly mac: string;
}

export interface FdbEntry {
  readonly dev: string;
  readonly mac: string;
  /** The peer node's underlay address. */
  readonly dst: string;
}

/** A device as the kernel reports it (`ip -d -j link show type vxlan` + its addresses). */
export interface VxlanLink {
  readonly name: string;
  readonly vni?: number;
  readonly port?: number;
  readonly local?: string;
  readonly underlay?: string;
  readonly learning?: boolean;
  readonly mac?: string;
  readonly mtu?: number;
  readonly up: boolean;
  /** Global addresses, "ip/prefix". */
  readonly addrs: string[];
}

export interface OverlayState {
  readonly links: VxlanLink[];
  readonly neighbours: Neighbour[];
  readonly fdb: FdbEntry[];
}

export interface OverlayPlan {
  readonly devices: VxlanDevice[];
  readonly neighbours: Neighbour[];
  readonly fdb: FdbEntry[];
}

const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const canonIp = (s: string | undefined): string | undefined => {
  const ip = s === undefined ? undefined : parseIp(s);
  return ip ? formatIp(ip) : undefined;
};
/** A MAC as the kernel prints one, lower case; anything else is not an entry of ours. */
const canonMac = (s: string | undefined): string | undefined => (s !== undefined && /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i.test(s) ? s.toLowerCase() : undefined);

/** Our devices from `ip -d -j link show type vxlan` and `ip -j addr show` (only our two names). */
export function parseVxlanLinks(links: readonly unknown[], addrs: readonly unknown[]): VxlanLink[] {
  const addrsOf = new Map<string, string[]>();
  for (const a of addrs.map(rec)) {
    const name = str(a['ifname']);
    if (!isOurs(name)) continue;
    const list = (Array.isArray(a['addr_info']) ? a['addr_info'] : []).map(rec).filter((i) => i['scope'] === 'global' && canonIp(str(i['local'])) && typeof i['prefixlen'] === 'number');
    addrsOf.set(name, list.map((i) => `${canonIp(str(i['local']))}/${String(i['prefixlen'])}`));
  }
  const out: VxlanLink[] = [];
  for (const l of links.map(rec)) {
    const name = str(l['ifname']);
    if (!isOurs(name)) continue;
    const info = rec(rec(l['linkinfo'])['info_data']);
    const flags = Array.isArray(l['flags']) ? l['flags'] : [];
    out.push({
      name,
      ...(typeof info['id'] === 'number' ? { vni: info['id'] } : {}),
      ...(typeof info['port'] === 'number' ? { port: info['port'] } : {}),
      ...(canonIp(str(info['local']) ?? str(info['local6'])) ? { local: canonIp(str(info['local']) ?? str(info['local6']))! } : {}),
      ...(str(info['link']) ? { underlay: str(info['link'])! } : {}),
      ...(typeof info['learning'] === 'boolean' ? { learning: info['learning'] } : {}),
      ...(str(l['address']) ? { mac: str(l['address'])! } : {}),
      ...(typeof l['mtu'] === 'number' ? { mtu: l['mtu'] } : {}),
      up: flags.includes('UP'),
      addrs: addrsOf.get(name) ?? [],
    });
  }
  return out;
}

/** Permanent neighbour entries on our devices (`ip -j neigh show`); learned ones are not ours. */
export function parseNeighbours(json: readonly unknown[]): Neighbour[] {
  const out: Neighbour[] = [];
  for (const n of json.map(rec)) {
    const dev = str(n['dev']);
    const ip = canonIp(str(n['dst']));
    const mac = canonMac(str(n['lladdr']));
    const state = Array.isArray(n['state']) ? n['state'] : [];
    if (isOurs(dev) && ip && mac && state.includes('PERMANENT')) out.push({ dev, ip, mac });
  }
  return out;
}

/** Unicast entries with a remote of one device (`bridge -j fdb show dev DEV`). */
export function parseFdb(dev: string, json: readonly unknown[]): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const e of json.map(rec)) {
    const mac = canonMac(str(e['mac']));
    const dst = canonIp(str(e['dst']));
    if (mac && dst) out.push({ dev, mac, dst });
  }
  return out;
}

export interface OverlayDiff {
  /** `ip -batch` lines: device removals and creations, addresses, neighbours. Routes come after. */
  readonly ipLines: BatchLine[];
  /** `bridge -batch` lines for the FDB, run after ipLines (a new device must exist first). */
  readonly fdbLines: BatchLine[];
  /** Devices deleted or recreated (their neighbours, FDB entries and routes go with them). */
  readonly recreated: string[];
  readonly removed: string[];
}

const prefixOf = (family: Family): number => (family === 4 ? 32 : 128);

/** Attributes the kernel cannot change on a live VXLAN device: a mismatch means delete and add. */
const immutableOk = (have: VxlanLink, want: VxlanDevice): boolean =>
  have.vni === want.vni && have.port === want.port && have.local === want.local && have.underlay === want.underlay && have.learning === false;

/** What to change so that the kernel's overlay (`current`) becomes exactly `plan`. */
export function diffOverlay(plan: OverlayPlan, current: OverlayState): OverlayDiff {
  const ip: BatchLine[] = [];
  const fdb: BatchLine[] = [];
  const recreated: string[] = [];
  const removed: string[] = [];
  const fresh = new Set<string>();
  const wanted = new Map(plan.devices.map((d) => [d.name, d]));
  for (const have of current.links) {
    if (!wanted.has(have.name)) {
      ip.push(batchLine('link', 'del', 'dev', have.name));
      removed.push(have.name);
    }
  }
  for (const want of plan.devices) {
    const have = current.links.find((l) => l.name === want.name);
    const vtep = `${want.vtep}/${prefixOf(want.family)}`;
    const nodad = want.family === 6 ? ['nodad'] : [];
    if (!have || !immutableOk(have, want)) {
      if (have) {
        ip.push(batchLine('link', 'del', 'dev', want.name));
        recreated.push(want.name);
      }
      fresh.add(want.name);
      ip.push(batchLine('link', 'add', 'name', want.name, 'address', want.mac, 'mtu', want.mtu, 'type', 'vxlan', 'id', want.vni, 'local', want.local, 'dstport', want.port, 'dev', want.underlay, 'nolearning'));
      ip.push(batchLine('link', 'set', 'dev', want.name, 'up'));
      ip.push(batchLine('addr', 'replace', vtep, 'dev', want.name, ...nodad));
      continue;
    }
    if (have.mac !== want.mac) ip.push(batchLine('link', 'set', 'dev', want.name, 'address', want.mac));
    if (have.mtu !== want.mtu) ip.push(batchLine('link', 'set', 'dev', want.name, 'mtu', want.mtu));
    if (!have.up) ip.push(batchLine('link', 'set', 'dev', want.name, 'up'));
    for (const a of have.addrs) if (a !== vtep) ip.push(batchLine('addr', 'del', a, 'dev', want.name));
    if (!have.addrs.includes(vtep)) ip.push(batchLine('addr', 'replace', vtep, 'dev', want.name, ...nodad));
  }
  // Entries of a device that is (re)created now start from nothing; of a removed one, go with it.
  const live = (dev: string): boolean => wanted.has(dev) && !fresh.has(dev);
  const key = (...p: string[]): string => p.join(' ');
  const wantN = new Set(plan.neighbours.map((n) => key(n.dev, n.ip, n.mac)));
  const haveN = new Set(current.neighbours.filter((n) => live(n.dev)).map((n) => key(n.dev, n.ip, n.mac)));
  for (const n of current.neighbours) if (live(n.dev) && !wantN.has(key(n.dev, n.ip, n.mac)) && !plan.neighbours.some((w) => w.dev === n.dev && w.ip === n.ip)) ip.push(batchLine('neigh', 'del', n.ip, 'dev', n.dev));
  for (const n of plan.neighbours) if (!haveN.has(key(n.dev, n.ip, n.mac))) ip.push(batchLine('neigh', 'replace', n.ip, 'lladdr', n.mac, 'dev', n.dev, 'nud', 'permanent'));
  const wantF = new Set(plan.fdb.map((e) => key(e.dev, e.mac, e.dst)));
  const haveF = new Set(current.fdb.filter((e) => live(e.dev)).map((e) => key(e.dev, e.mac, e.dst)));
  for (const e of current.fdb) if (live(e.dev) && !wantF.has(key(e.dev, e.mac, e.dst)) && !plan.fdb.some((w) => w.dev === e.dev && w.mac === e.mac)) fdb.push(batchLine('fdb', 'del', e.mac, 'dev', e.dev, 'dst', e.dst, 'self'));
  for (const e of plan.fdb) if (!haveF.has(key(e.dev, e.mac, e.dst))) fdb.push(batchLine('fdb', 'replace', e.mac, 'dev', e.dev, 'dst', e.dst, 'self', 'permanent'));
  return { ipLines: ip, fdbLines: fdb, recreated, removed };
}
