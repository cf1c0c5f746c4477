// The formats the API server checks its objects against, checked again where objects enter the
// agent (API objects, and our IPAM's reservation files, whose pod names came from the runtime). The
// agent must not depend on the server's checks: an older or newer server, a non-conforming one, or
// a file written by someone else. Each check answers why a value is refused, or undefined when it
// is fine, so callers can name the object and the reason in one log line. Cheap (anchored regexes
// on short strings): they run once per object change, never per pass.
import { dns1123Label, dns1123Subdomain } from '../../cni/validate.js';
import { type Cidr, type Ip, canonical, formatCidr, formatIp, parseCidr, parseIp } from '../../net/ip.js';

/** Why a value is refused, or undefined when it is fine. */
export type Problem = string | undefined;

/** A label name (the part after an optional "prefix/") and a label value, when not empty. */
const QUALIFIED = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** At most this much of a refused value is quoted in a problem line: a name can be megabytes. */
const SHOWN = 64;

/** JSON quoting, and everything outside printable ASCII escaped too (U+2028 breaks lines in viewers). */
const quote = (s: string): string => JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** A value for a problem line: quoted (newlines, quotes, NUL and non-ASCII escaped) and cut short. */
export function shown(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') return v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  return v.length > SHOWN ? `${quote(v.slice(0, SHOWN))}…(${v.length} characters)` : quote(v);
}

/** A DNS-1123 label (namespace names): 1-63 of a-z, 0-9 and '-', alphanumeric at both ends. */
export function dnsLabelProblem(v: unknown): Problem {
  if (v === undefined || v === null || v === '') return 'missing';
  if (typeof v !== 'string') return `${shown(v)} is not a string`;
  if (!dns1123Label(v)) return `${shown(v)} is not a DNS-1123 label (1-63 of a-z, 0-9, -)`;
  return undefined;
}

/** A DNS-1123 subdomain (pod, policy and node names): dot-separated labels, 1-253 characters. */
export function dnsSubdomainProblem(v: unknown): Problem {
  if (v === undefined || v === null || v === '') return 'missing';
  if (typeof v !== 'string') return `${shown(v)} is not a string`;
  if (!dns1123Subdomain(v)) return `${shown(v)} is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .)`;
  return undefined;
}

/** A label key: an optional DNS-1123 subdomain prefix and "/", then a name of 1-63 [A-Za-z0-9._-], alphanumeric at both ends. */
export function labelKeyProblem(v: unknown): Problem {
  if (typeof v !== 'string') return `label key ${shown(v)} is not a string`;
  const parts = v.split('/');
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const bad = parts.length > 2 || (parts.length === 2 && dnsSubdomainProblem(parts[0]) !== undefined) || name.length === 0 || name.length > 63 || !QUALIFIED.test(name);
  return bad ? `label key ${shown(v)} is not [prefix/]name (prefix a DNS-1123 subdomain; name 1-63 of A-Z, a-z, 0-9, -, _, .)` : undefined;
}

/** A label value: empty, or 1-63 [A-Za-z0-9._-], alphanumeric at both ends. */
export function labelValueProblem(v: unknown): Problem {
  if (typeof v !== 'string') return `label value ${shown(v)} is not a string`;
  if (v !== '' && (v.length > 63 || !QUALIFIED.test(v))) return `label value ${shown(v)} is not 0-63 of A-Z, a-z, 0-9, -, _, .`;
  return undefined;
}

/** Why a set of labels (a JSON object of key -> value) is refused, naming the first bad entry. */
export function labelsProblem(v: unknown): Problem {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return `labels are ${shown(v)}, not a map`;
  for (const [k, val] of Object.entries(v)) {
    const why = labelKeyProblem(k) ?? labelValueProblem(val);
    if (why) return why;
  }
  return undefined;
}

/**
 * A port name (IANA_SVC_NAME, as the API checks it): 1-15 of a-z, 0-9 and '-', at least one letter,
 * no '-' at either end nor "--". A string port is always a name, "80" too: IntOrString keeps numbers
 * and strings apart.
 */
export function portNameProblem(name: string): Problem {
  if (name.length === 0 || name.length > 15) return 'a port name has 1 to 15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'a port name has only a-z, 0-9 and -';
  if (!/[a-z]/.test(name)) return 'a port name needs a letter (a port number is given as a number, not a string)';
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) return 'a port name neither starts nor ends with -, nor has --';
  return undefined;
}

export const isPortNumber = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;

/**
 * A host's address (a pod IP, a node's InternalIP), or why not: an IPv4 or IPv6 address in text, not
 * the unspecified address (0.0.0.0 or ::, which no host has and ipset refuses to hold).
 */
export function readHostIp(v: unknown): { ip: Ip } | { problem: string } {
  const ip = typeof v === 'string' ? parseIp(v) : undefined;
  if (!ip) return { problem: `${shown(v)} is not an IP address` };
  if (ip.value === 0n) return { problem: `${shown(v)} is the unspecified address` };
  return { ip };
}

/** The canonical text of a host's address, or why it is refused (readHostIp). */
export function hostIpText(v: unknown): { text: string } | { problem: string } {
  const r = readHostIp(v);
  return 'ip' in r ? { text: formatIp(r.ip) } : r;
}

/**
 * A node's pod CIDR, or why not: a network (no host bits set) other than /0, which would route
 * every address to that node. Given back in canonical text.
 */
export function readPodCidr(v: unknown): { cidr: Cidr; text: string } | { problem: string } {
  const c = typeof v === 'string' ? parseCidr(v) : undefined;
  if (!c) return { problem: `${shown(v)} is not a CIDR` };
  const net = canonical(c);
  if (net.ip.value !== c.ip.value) return { problem: `${shown(v)} has host bits set (the network is ${formatCidr(net)})` };
  if (c.prefix === 0) return { problem: `${shown(v)} covers every address` };
  return { cidr: net, text: formatCidr(net) };
}
