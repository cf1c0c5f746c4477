// The CNI result in the shape of spec 1.1.0, and its conversion to and from older versions.
import { CniError, Code } from './errors.js';
import { type Obj, isObj } from './validate.js';

export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

export interface ResultIp {
  /** CIDR: the address with its subnet's prefix length. */
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}

export interface ResultRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  interfaces?: ResultInterface[];
  ips: ResultIp[];
  routes?: ResultRoute[];
  dns?: Dns;
}

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST = '1.1.0';

export function isSupported(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compare two dotted versions numerically. */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** Fields that appeared in 1.1.0: routes carry mtu/advmss/priority/table/scope, interfaces mtu. */
const ROUTE_11_KEYS = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

/** Render a result for the version the runtime asked for. */
export function renderResult(r: Result, cniVersion: string): Obj {
  const pre1 = !versionAtLeast(cniVersion, '1.0.0');
  const v11 = versionAtLeast(cniVersion, '1.1.0');
  const out: Obj = { cniVersion };
  if (r.interfaces) {
    out['interfaces'] = r.interfaces.map((i) => {
      const o: Obj = { name: i.name };
      if (i.mac) o['mac'] = i.mac;
      if (v11 && i.mtu !== undefined) o['mtu'] = i.mtu;
      if (i.sandbox !== undefined) o['sandbox'] = i.sandbox;
      return o;
    });
  }
  out['ips'] = r.ips.map((ip) => {
    const o: Obj = {};
    // 0.3.x and 0.4.0 name the family of each address; 1.0.0 dropped the field.
    if (pre1) o['version'] = ip.address.includes(':') ? '6' : '4';
    o['address'] = ip.address;
    if (ip.gateway) o['gateway'] = ip.gateway;
    if (ip.interface !== undefined) o['interface'] = ip.interface;
    return o;
  });
  if (r.routes) {
    out['routes'] = r.routes.map((rt) => {
      const o: Obj = { dst: rt.dst };
      if (rt.gw) o['gw'] = rt.gw;
      if (v11) for (const k of ROUTE_11_KEYS) if (rt[k] !== undefined) o[k] = rt[k];
      return o;
    });
  }
  out['dns'] = r.dns ?? {};
  return out;
}

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;

/** Read a result of any supported version (prevResult, or a delegated plugin's stdout). */
export function parseResult(v: unknown, what: string): Result {
  const bad = (why: string): CniError => new CniError(Code.DecodingFailure, `${what}: ${why}`);
  if (!isObj(v)) throw bad('not an object');
  const ipsIn = v['ips'] ?? [];
  if (!Array.isArray(ipsIn)) throw bad('ips is not a list');
  const ips: ResultIp[] = ipsIn.map((ip, n) => {
    if (!isObj(ip) || typeof ip['address'] !== 'string') throw bad(`ips[${n}] has no address`);
    const o: ResultIp = { address: ip['address'] };
    if (typeof ip['gateway'] === 'string') o.gateway = ip['gateway'];
    if (typeof ip['interface'] === 'number') o.interface = ip['interface'];
    return o;
  });
  const result: Result = { ips };
  const ifs = v['interfaces'];
  if (Array.isArray(ifs)) {
    result.interfaces = ifs.map((i, n) => {
      if (!isObj(i) || typeof i['name'] !== 'string') throw bad(`interfaces[${n}] has no name`);
      const o: ResultInterface = { name: i['name'] };
      if (typeof i['mac'] === 'string') o.mac = i['mac'];
      if (typeof i['mtu'] === 'number') o.mtu = i['mtu'];
      if (typeof i['sandbox'] === 'string') o.sandbox = i['sandbox'];
      return o;
    });
  }
  const routes = v['routes'];
  if (Array.isArray(routes)) {
    result.routes = routes.map((rt, n) => {
      if (!isObj(rt) || typeof rt['dst'] !== 'string') throw bad(`routes[${n}] has no dst`);
      const o: ResultRoute = { dst: rt['dst'] };
      if (typeof rt['gw'] === 'string') o.gw = rt['gw'];
      for (const k of ROUTE_11_KEYS) if (typeof rt[k] === 'number') o[k] = rt[k];
      return o;
    });
  }
  const dns = v['dns'];
  if (isObj(dns)) {
    const d: Dns = {};
    const ns = strings(dns['nameservers']);
    const search = strings(dns['search']);
    const options = strings(dns['options']);
    if (ns) d.nameservers = ns;
    if (typeof dns['domain'] === 'string') d.domain = dns['domain'];
    if (search) d.search = search;
    if (options) d.options = options;
    result.dns = d;
  }
  return result;
}
