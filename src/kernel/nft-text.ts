// The one place where values become `nft -f` text. Everything else (packet-filter/nft-render.ts)
// builds commands from the pieces made here, so a name, comment, prefix or address can never turn
// into another command, a variable or an include. The facts this rests on, measured with nftables
// 1.0.6 (Debian) in a network namespace:
//
// - A line is a command; ';' outside quotes ends a command too, and '#' outside quotes starts a
//   comment to the end of the line. A block `{ … }` needs a newline or ';' before '}'. So we write
//   one command a line in the flat form (`add rule inet T C …`), with ';' only inside the braces of
//   a set, map or base-chain declaration.
// - Quoted strings are `"[^"]*"`: no escape at all. A '"' cannot be said, '\' is literal, '#', ';',
//   '{', '}' inside quotes are literal. A '$name' inside a log prefix is expanded as a variable
//   ("unknown identifier"), inside a comment it is literal: '$' is refused in every string.
// - Keywords cannot be chain or set names, quoted or not (`add chain inet t accept` fails). Our
//   names come from our own alphabet and hold a '-' (flex's longest match then reads them as one
//   identifier, never a keyword); the one table name without a '-' is `gingham`.
// - Limits: comment 128 bytes, log prefix 127 bytes (128: "Numerical result out of range"),
//   chain, set and table names 255 bytes (256 fails).
// - Address positions resolve host names (`{ localhost }` stored 127.0.0.1): addresses and CIDRs
//   are printed here from parsed values only, never passed through as text.
// - `nft -s list` prints what it was given in these forms (the appliers compare by string): marks
//   as 0x%08x, a /32 or /128 CIDR as the bare address, IPv6 as glibc's inet_ntop does (RFC 5952
//   but IPv4-mapped and -compatible addresses in dotted form), strings in double quotes as written.
import { type Cidr, type Ip, bits, canonical, formatCidr, formatIp } from '../net/ip.js';
import { freeText } from './iptables-text.js';

export class RefusedNftText extends Error {
  override name = 'RefusedNftText';
}

export const NFT_LIMITS = { name: 255, comment: 128, logPrefix: 127 } as const;

/** C0 and C1 control characters and DEL: never literal data in a line-based protocol. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Half of a UTF-16 pair without its other half: no UTF-8 for it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Our names: a letter first, then words of [A-Za-z0-9_] joined by '-' (at least one), dots after the first. */
const NAME = /^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_.]+)+$/;
/** Names that need no '-': our own words, not nft keywords. */
const BARE_NAMES = new Set(['gingham']);
/** Interface names as Linux allows and nft takes literally (no '*': nft reads it as a wildcard). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function refuse(what: string, value: string, why: string): never {
  throw new RefusedNftText(`${what} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${why}`);
}

/** A table, chain, set or map name from our alphabet: one identifier for nft, never a keyword. */
export function nftName(v: string, what = 'name'): string {
  if (goodNames.has(v)) return v;
  if (typeof v !== 'string' || !(NAME.test(v) || BARE_NAMES.has(v))) refuse(what, String(v), "must be letters, digits and '_' in words joined by '-'");
  if (v.length > NFT_LIMITS.name) refuse(what, v, `longer than ${NFT_LIMITS.name} bytes`);
  if (goodNames.size >= 100_000) goodNames.clear();
  goodNames.add(v);
  return v;
}

/** Names checked already: the policy layer writes the same few thousand on every sync. */
const goodNames = new Set<string>();

/**
 * A quoted string, as nft prints it back: '"' + v + '"'. Refused: '"' (no escape exists), '$' (a
 * variable in some positions), control characters, text that is not well-formed Unicode, more
 * than `max` bytes or fewer than `min`.
 */
export function nftString(v: string, what: string, max: number, min = 0): string {
  if (typeof v !== 'string') refuse(what, String(v), 'not a string');
  if (v.includes('"') || v.includes('$')) refuse(what, v, "holds '\"' or '$'");
  if (CONTROL.test(v)) refuse(what, v, 'holds a control character');
  if (LONE_SURROGATE.test(v)) refuse(what, v, 'is not well-formed Unicode');
  const n = Buffer.byteLength(v);
  if (n > max) refuse(what, v, `longer than ${max} bytes`);
  if (n < min) refuse(what, v, `shorter than ${min} bytes`);
  return `"${v}"`;
}

/**
 * Informational text (a rule's comment, which may hold names and free text from the API server,
 * e.g. a ClusterNetworkPolicy rule's name) made sayable instead of refused, so such a value can
 * never stop a whole ruleset: nft strings have no escapes, so '"' and '$' become '?', as control
 * characters and broken surrogates do (freeText), cut to `max` bytes.
 */
export const nftFreeText = (text: string, max: number): string => freeText(text.replace(/["$]/g, '?'), max);

/** `comment "…"`. */
export const nftComment = (text: string): string => `comment ${nftString(text, 'comment', NFT_LIMITS.comment)}`;

/** An interface name, quoted as nft prints it. */
export function nftIfname(v: string): string {
  if (typeof v !== 'string' || !IFNAME.test(v)) refuse('interface', String(v), 'must be 1 to 15 of [A-Za-z0-9_.-]');
  return `"${v}"`;
}

/**
 * An address as nft prints it (glibc inet_ntop): RFC 5952, except that an IPv6 address with 96
 * zero bits and a non-zero seventh group, or in ::ffff:0:0/96, ends in dotted IPv4
 * (`::198.18.0.2`, `::ffff:198.18.0.1`).
 */
function printIp(ip: Ip): string {
  if (ip.family === 6) {
    const head = ip.value >> 32n;
    const tail = ip.value & 0xffffffffn;
    if ((head === 0n && tail >> 16n !== 0n) || head === 0xffffn) return `${head === 0n ? '::' : '::ffff:'}${formatIp({ family: 4, value: tail })}`;
  }
  return formatIp(ip);
}

/** An address of the given family, printed from its parsed value. */
export function nftAddr(ip: Ip, family: 4 | 6 = ip.family): string {
  if (ip.family !== family) refuse('address', formatIp(ip), `not IPv${family}`);
  return printIp(ip);
}

/** A CIDR as nft prints it: network bits only, and a whole-address prefix as the bare address. */
export function nftCidr(c: Cidr, family: 4 | 6 = c.ip.family): string {
  if (c.ip.family !== family) refuse('CIDR', formatCidr(c), `not IPv${family}`);
  const n = canonical(c);
  return n.prefix === bits(family) ? printIp(n.ip) : `${printIp(n.ip)}/${n.prefix}`;
}

const integer = (v: number, what: string, min: number, max: number): string =>
  Number.isSafeInteger(v) && v >= min && v <= max ? String(v) : refuse(what, String(v), `not an integer from ${min} to ${max}`);

/** A number within min..max, in decimal. */
export const nftNumber = integer;

/** Destination ports: "a" or "a-b" (from < to), 0..65535. */
export function nftPorts(from: number, to: number): string {
  const a = integer(from, 'port', 0, 65535);
  if (from === to) return a;
  const b = integer(to, 'port', 0, 65535);
  if (to < from) refuse('port range', `${from}-${to}`, 'ends before it starts');
  return `${a}-${b}`;
}

/** A mark or mask as nft prints it: 0x and eight hex digits. */
export function nftMark(n: number): string {
  integer(n, 'mark', 0, 0xffffffff);
  return `0x${n.toString(16).padStart(8, '0')}`;
}

export type NftLine = string & { readonly __nft: unique symbol };
export type NftVerb = 'add' | 'delete' | 'flush';
export type NftObject = 'table' | 'chain' | 'set' | 'map' | 'rule' | 'element';

/**
 * One command: `VERB OBJECT inet TABLE REST…`. `rest` is made of this module's pieces (names,
 * strings, addresses, numbers, nft's own words); the line is checked once more by nftDocument.
 */
export function nftCommand(verb: NftVerb, object: NftObject, table: string, ...rest: readonly string[]): NftLine {
  let line = `${verb} ${object} inet ${nftName(table, 'table')}`;
  for (const r of rest) if (r !== '') line += ` ${r}`;
  return line as NftLine;
}

const VERB = /^(?:add|delete|flush) (?:table|chain|set|map|rule|element) inet /;

/**
 * Check one line: nothing outside quotes that ends the command or starts a comment or a variable
 * ('#', '$', ';' outside braces), balanced braces, closed quotes, no line break or NUL anywhere.
 */
function checkLine(l: string): void {
  if (!VERB.test(l)) refuse('nft line', l, 'is not an nft command');
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < l.length; i++) {
    const c = l.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0) refuse('nft line', l, 'holds a line break or NUL');
    if (c === 0x22) quoted = !quoted;
    else if (quoted) continue;
    else if (c === 0x23 || c === 0x24) refuse('nft line', l, "holds '#' or '$' outside quotes");
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth < 0) refuse('nft line', l, "closes a '}' it did not open");
    else if (c === 0x3b && depth === 0) refuse('nft line', l, "holds ';' outside braces");
  }
  if (quoted || depth !== 0) refuse('nft line', l, 'leaves a quote or brace open');
}

/** `nft -f -` text: one checked command a line. Several pieces join with joinNft. */
export function nftDocument(lines: readonly NftLine[]): string {
  for (const l of lines) checkLine(l);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
