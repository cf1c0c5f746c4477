// IPv4 and IPv6 helpers (on the project's own parser, src/net/ip.ts) and the suite's network
// safety guard: traffic is only ever sent to 198.18.0.0/15 (pods and Services in 198.18.0.0/16,
// the kind nodes' Docker network in 198.19.0.0/16) and to the ULA ranges fd42:18::/32 (pods,
// Services) and fd42:19::/32 (the Docker network).
import { type Family, contains, formatIp, parseCidr, parseIp } from '../../src/net/ip.js';

export const familyOf = (ip: string): Family | undefined => parseIp(ip)?.family;
export const isIPv6 = (ip: string): boolean => familyOf(ip) === 6;

/** True when ip lies in cidr (same family); false for anything that does not parse. */
export function inCidr(ip: string, cidr: string): boolean {
  const a = parseIp(ip);
  const c = parseCidr(cidr);
  return a !== undefined && c !== undefined && contains(c, a);
}

/** The address in canonical form (RFC 5952 for IPv6), so two spellings compare equal. */
export function canonicalIp(ip: string): string {
  const a = parseIp(ip);
  if (!a) throw new Error(`"${ip}" is not an IP address`);
  return formatIp(a);
}

/** The one address of a family in a list (a pod's status.podIPs), or undefined. */
export const ofFamily = (ips: readonly string[], family: Family): string | undefined => ips.find((ip) => familyOf(ip) === family);

/** HOST:PORT, with an IPv6 address in brackets. */
export const hostPort = (host: string, port: number): string => (isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

export const SAFE_RANGES = ['198.18.0.0/15', 'fd42:18::/32', 'fd42:19::/32'];

/** Throws unless ip is an address inside one of SAFE_RANGES. */
export function assertSafe(ip: string): void {
  if (!SAFE_RANGES.some((r) => inCidr(ip, r))) throw new Error(`refusing to send traffic to ${ip}: outside ${SAFE_RANGES.join(', ')}`);
}
