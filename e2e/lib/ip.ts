// IPv4 helpers and the suite's network safety guard: traffic is only ever sent to 198.18.0.0/15
// (pods, Services: 198.18.0.0/16; the Docker network of the kind nodes: 198.19.0.0/16).
const toInt = (ip: string): number | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
};

export const isIPv4 = (ip: string): boolean => toInt(ip) !== undefined;

export function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const a = toInt(ip);
  const b = toInt(net ?? '');
  const bits = Number(len);
  if (a === undefined || b === undefined || !(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

export const SAFE_RANGE = '198.18.0.0/15';

/** Throws unless ip is an IPv4 address inside 198.18.0.0/15. */
export function assertSafe(ip: string): void {
  if (!inCidr(ip, SAFE_RANGE)) throw new Error(`refusing to send traffic to ${ip}: outside ${SAFE_RANGE}`);
}
