// Tiny readers for untrusted JSON. Each one throws a CniError naming the offending key, so the
// edge of the plugin validates once and everything past it works on typed values.
import { invalidConfig } from './errors.js';
import { type Cidr, type Ip, parseCidr, parseIp } from '../net/ip.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function obj(v: unknown, key: string): Obj {
  if (!isObj(v)) throw invalidConfig(`${key} must be an object`);
  return v;
}

export function optObj(o: Obj, key: string, path = key): Obj | undefined {
  const v = o[key];
  return v === undefined || v === null ? undefined : obj(v, path);
}

export function str(o: Obj, key: string, path = key): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw invalidConfig(`${path} must be a non-empty string`);
  return v;
}

export function optStr(o: Obj, key: string, path = key): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalidConfig(`${path} must be a string`);
  return v;
}

export function optBool(o: Obj, key: string, path = key): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidConfig(`${path} must be true or false`);
  return v;
}

export function optInt(o: Obj, key: string, min: number, max: number, path = key): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidConfig(`${path} must be an integer from ${min} to ${max}`);
  }
  return v;
}

export function optArr(o: Obj, key: string, path = key): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalidConfig(`${path} must be a list`);
  return v;
}

export function ipOf(s: unknown, path: string): Ip {
  const ip = typeof s === 'string' ? parseIp(s) : undefined;
  if (!ip) throw invalidConfig(`${path} is not an IP address: ${JSON.stringify(s)}`);
  return ip;
}

export function cidrOf(s: unknown, path: string): Cidr {
  const c = typeof s === 'string' ? parseCidr(s) : undefined;
  if (!c) throw invalidConfig(`${path} is not a CIDR (address/prefix): ${JSON.stringify(s)}`);
  return c;
}

/**
 * Interface names that the kernel and the `ip -batch` parser both take literally, so the name the
 * result reports is the kernel's: 1-15 printable ASCII bytes without '/', ':' (the kernel's rules),
 * '#', quotes or backslash (the batch parser's comment, quoting and escape), and not ".", ".." or
 * "-" alone. Wider than any runtime needs (eth0, net1), narrow enough that nothing is reinterpreted.
 */
export function validIfName(name: string): boolean {
  return /^[\x21-\x7e]{1,15}$/.test(name) && !/[/:#"'\\]/.test(name) && name !== '.' && name !== '..' && name !== '-';
}

/**
 * A path that may be pasted into an `ip -batch` line or an nsenter argument as one token: absolute,
 * and no whitespace, control character, '#', quote or backslash (a newline would end the command).
 */
export function literalPath(path: string): boolean {
  return path.startsWith('/') && !/[\s\x00-\x1f\x7f#"'\\]/.test(path);
}

/** Kubernetes names: a DNS-1123 label (namespaces) and subdomain (pods), as the API server checks. */
export const dns1123Label = (s: string): boolean => s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);
export const dns1123Subdomain = (s: string): boolean =>
  s.length <= 253 && s.split('.').every((part) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(part));

/** A MAC address in the usual colon form, normalized to lower case. */
export function macOf(s: unknown, path: string): string {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(s)) {
    throw invalidConfig(`${path} is not a MAC address: ${JSON.stringify(s)}`);
  }
  return s.toLowerCase();
}
