// One line of ulogd's JSON output (its NFLOG -> BASE -> IP2STR -> JSON stack, see ulogd.ts) as a
// logged packet: when, the NFLOG prefix, the addresses, protocol and ports. Pure. ulogd is trusted
// no more than any input: a line that is not what the stack writes is left out, never guessed at.
import { formatIp, parseIp } from '../../net/ip.js';

export interface LoggedPacket {
  /** When the kernel logged it, ISO 8601 UTC to the millisecond. */
  readonly time: string;
  readonly prefix: string;
  /** TCP, UDP, SCTP, ICMP, ICMPv6, or "IP protocol N". */
  readonly protocol: string;
  /** Addresses in canonical text (IPv6 compressed). */
  readonly src: string;
  readonly dst: string;
  /** TCP, UDP and SCTP only. */
  readonly srcPort?: number;
  readonly dstPort?: number;
}

const PROTOCOLS: Readonly<Record<number, string>> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

const int = (v: unknown, max: number): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined);

const address = (v: unknown): string | undefined => {
  const ip = typeof v === 'string' ? parseIp(v) : undefined;
  return ip ? formatIp(ip) : undefined;
};

/**
 * The packet a line tells of (undefined: not JSON, or without the prefix, time or addresses). The
 * JSON plugin names the addresses src_ip/dest_ip and the ports src_port/dest_port, and copies the
 * kernel's timestamp as oob.time.sec/usec (its own "timestamp" is local time without a zone).
 */
export function parseUlogdLine(line: string): LoggedPacket | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  const prefix = r['oob.prefix'];
  const sec = int(r['oob.time.sec'], 2 ** 40);
  const usec = int(r['oob.time.usec'], 999_999);
  const src = address(r['src_ip']);
  const dst = address(r['dest_ip']);
  const proto = int(r['ip.protocol'], 255);
  if (typeof prefix !== 'string' || sec === undefined || usec === undefined || !src || !dst || proto === undefined) return undefined;
  const protocol = PROTOCOLS[proto] ?? `IP protocol ${proto}`;
  const ports = proto === 6 || proto === 17 || proto === 132;
  const srcPort = ports ? int(r['src_port'], 65535) : undefined;
  const dstPort = ports ? int(r['dest_port'], 65535) : undefined;
  return {
    time: new Date(sec * 1000 + Math.floor(usec / 1000)).toISOString(),
    prefix,
    protocol,
    src,
    dst,
    ...(srcPort !== undefined ? { srcPort } : {}),
    ...(dstPort !== undefined ? { dstPort } : {}),
  };
}
