// gingham's own IPAM: host-local's behaviour on the store in store.ts. Used by the bridge backend
// directly, and by other main plugins through the binary's IPAM mode. ADD and DEL take no lock: a
// lost race for an address is a claim that fails, and the search moves on.
import { onTimeout } from '../cni/deadline.js';
import { CniError, Code } from '../cni/errors.js';
import type { Attachment } from '../cni/netconf.js';
import { readRegularFile } from '../cni/paths.js';
import type { Dns, Result, ResultIp } from '../cni/result.js';
import { type Ip, formatIp, parseCidr, parseIp, sameIp } from '../net/ip.js';
import { nextFree, rangeOf } from './allocator.js';
import type { IpamConfig, Range } from './config.js';
import { AddressHeld, type Reservation, Store } from './store.js';

export interface IpamRequest extends Attachment {
  network: string;
  /** Static requests (CNI_ARGS IP=, runtimeConfig.ips), with or without a prefix. */
  requested: string[];
  podNamespace?: string;
  podName?: string;
}

const ipOfEntry = (cidr: string): Ip | undefined => parseCidr(cidr)?.ip;

function resultIp(ip: Ip, r: Range): ResultIp {
  return { address: `${formatIp(ip)}/${r.subnet.prefix}`, gateway: formatIp(r.gateway) };
}

/** DNS settings from a resolv.conf-style file, as host-local's resolvConf does. */
export function readResolvConf(path: string): Dns {
  let text: string;
  try {
    text = readRegularFile(path);
  } catch (e) {
    throw new CniError(Code.IoFailure, `ipam.resolvConf: cannot read ${path}: ${(e as Error).message}`);
  }
  const dns: Dns = {};
  for (const line of text.split('\n')) {
    const [key, ...vals] = line.trim().split(/\s+/);
    if (key === 'nameserver' && vals[0]) (dns.nameservers ??= []).push(vals[0]);
    else if (key === 'domain' && vals[0]) dns.domain = vals[0];
    else if (key === 'search') dns.search = vals;
    else if (key === 'options') (dns.options ??= []).push(...vals);
  }
  return dns;
}

function toResult(cfg: IpamConfig, ips: ResultIp[], dns: Dns | undefined): Result {
  const result: Result = { ips, routes: cfg.routes.map((r) => ({ ...r })) };
  if (dns) result.dns = dns;
  return result;
}

/** Map each reserved address back to its range for the result's gateway and prefix. */
function describe(cfg: IpamConfig, r: Reservation): ResultIp[] {
  return r.ips.map((cidr) => {
    const ip = ipOfEntry(cidr);
    const range = ip && cfg.rangeSets.map((s) => rangeOf(s, ip, [])).find((x) => x);
    return range && ip ? resultIp(ip, range) : { address: cidr };
  });
}

function parseRequests(cfg: IpamConfig, requested: string[]): Map<number, Ip> {
  const bySet = new Map<number, Ip>();
  for (const s of requested) {
    const ip = parseIp(s.includes('/') ? s.slice(0, s.indexOf('/')) : s);
    if (!ip) throw new CniError(Code.InvalidConfig, `requested address "${s}" is not an IP address`);
    const set = cfg.rangeSets.findIndex((rs) => rangeOf(rs, ip, cfg.exclude));
    if (set < 0) throw new CniError(Code.AddressUnavailable, `requested address ${formatIp(ip)} is not an allocatable address of any range`);
    if (bySet.has(set)) throw new CniError(Code.InvalidConfig, `two requested addresses fall in range set ${set}`);
    bySet.set(set, ip);
  }
  return bySet;
}

/**
 * What this process's IPAM cleaned up: orphans removed by repair() and reservations released by GC.
 * The call's log line carries them (plugin.ts), which is where the agent's metrics count them.
 */
export const cleaned = { repaired: 0, released: 0 };

/** How often a search may lose a race for an address before the ADD gives up (code 11). */
const MAX_RACES = 200;

export async function ipamAdd(cfg: IpamConfig, req: IpamRequest): Promise<Result> {
  const requests = parseRequests(cfg, req.requested);
  // Everything that can fail is done before an address is reserved: a failure after it would leak
  // the reservation on runtimes that do not DEL after a failed ADD.
  const dns = cfg.resolvConf ? readResolvConf(cfg.resolvConf) : undefined;
  const store = new Store(cfg.dataDir, req.network);
  store.ensureDirs();
  const existing = store.get(req);
  if (existing) {
    // A repeated ADD for the same attachment gets the addresses it already holds, unless it now
    // asks for different ones: then the old reservation is replaced, never leaked.
    const held = existing.ips.map(ipOfEntry);
    const satisfied = [...requests.values()].every((want) => held.some((h) => h && sameIp(h, want)));
    if (satisfied) return toResult(cfg, describe(cfg, existing), dns);
    store.release(req);
  }
  // Addresses other processes took between our look and our claim: skipped in the next search.
  const lost = new Set<string>();
  const taken = (ip: Ip): boolean => lost.has(formatIp(ip)) || store.isClaimed(formatIp(ip));
  const pick = (): ResultIp[] =>
    cfg.rangeSets.map((set, i) => {
      const want = requests.get(i);
      if (want) {
        const name = formatIp(want);
        if (store.isClaimed(name)) {
          const h = store.holder(name);
          throw new CniError(Code.AddressUnavailable, `requested address ${name} is held by ${h ? `${h.containerId}/${h.ifName}` : 'another reservation'}`);
        }
        return resultIp(want, rangeOf(set, want, cfg.exclude)!);
      }
      const last = store.lastReserved(i);
      const found = nextFree(set, taken, cfg.exclude, last ? parseIp(last) : undefined);
      if (!found) throw new CniError(Code.AddressUnavailable, `no free address in range set ${i} (${set.map((r) => `${formatIp(r.start)}-${formatIp(r.end)}`).join(', ')})`);
      return resultIp(found.ip, found.range);
    });
  let repaired = false;
  for (let race = 0; race < MAX_RACES; race++) {
    let ips: ResultIp[];
    try {
      ips = pick();
    } catch (e) {
      // A full range may only look full: claims left by a crash are removed, then one more try.
      if (repaired || !(e instanceof CniError) || e.code !== Code.AddressUnavailable) throw e;
      cleaned.repaired += (await store.locked(() => store.repair())).length;
      lost.clear();
      repaired = true;
      continue;
    }
    const record: Reservation = { containerId: req.containerId, ifName: req.ifName, ips: ips.map((i) => i.address), created: new Date().toISOString() };
    if (req.podNamespace) record.podNamespace = req.podNamespace;
    if (req.podName) record.podName = req.podName;
    try {
      store.reserve(record);
    } catch (e) {
      if (!(e instanceof AddressHeld)) throw e;
      lost.add(e.address);
      continue;
    }
    // From here on the reservation is this call's: released if the call fails or times out.
    onTimeout(() => store.release(req));
    try {
      ips.forEach((ip, i) => {
        if (!requests.has(i)) store.setLastReserved(i, ip.address.slice(0, ip.address.indexOf('/')));
      });
      return toResult(cfg, ips, dns);
    } catch (e) {
      store.release(req);
      throw e;
    }
  }
  throw new CniError(Code.TryAgainLater, `network ${req.network}: lost the race for an address ${MAX_RACES} times`);
}

export async function ipamDel(cfg: IpamConfig, network: string, a: Attachment): Promise<void> {
  new Store(cfg.dataDir, network).release(a);
}

/** CHECK: the attachment still holds exactly the addresses of prevResult (when given). */
export async function ipamCheck(cfg: IpamConfig, network: string, a: Attachment, prev?: Result): Promise<void> {
  const r = new Store(cfg.dataDir, network).get(a);
  if (!r) throw new CniError(Code.IoFailure, `no IPAM reservation for ${a.containerId}/${a.ifName} in network ${network}`);
  if (!prev) return;
  const mine = new Set(r.ips);
  const theirs = prev.ips.map((ip) => ip.address).filter((addr) => {
    const ip = ipOfEntry(addr);
    return ip && cfg.rangeSets.some((s) => rangeOf(s, ip, []));
  });
  for (const addr of theirs) {
    if (!mine.has(addr)) throw new CniError(Code.IoFailure, `prevResult address ${addr} is not reserved for ${a.containerId}/${a.ifName}`);
  }
}

/** GC: release every reservation not in the valid list; returns what was released. */
export async function ipamGc(cfg: IpamConfig, network: string, valid: Attachment[]): Promise<Reservation[]> {
  const keep = new Set(valid.map((v) => `${v.containerId}@${v.ifName}`));
  const store = new Store(cfg.dataDir, network);
  return store.locked(() => {
    cleaned.repaired += store.repair().length;
    const gone = store.list().filter((r) => !keep.has(`${r.containerId}@${r.ifName}`));
    for (const r of gone) store.release(r);
    cleaned.released += gone.length;
    return gone;
  });
}

/** STATUS: the store is writable and every range set has a free address (as ADD would see it). */
export async function ipamStatus(cfg: IpamConfig, network: string): Promise<void> {
  const store = new Store(cfg.dataDir, network);
  cleaned.repaired += (await store.locked(() => store.repair())).length;
  cfg.rangeSets.forEach((set, i) => {
    const free = nextFree(set, (ip) => store.isClaimed(formatIp(ip)), cfg.exclude);
    if (!free) throw new CniError(Code.NotAvailable, `network ${network}: no free address in range set ${i}`);
  });
}
