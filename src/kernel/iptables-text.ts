// The one place where values become iptables-restore text (ip6tables-restore reads the same).
// Everything else builds rules from the pieces made here, so a name, comment or address can never
// turn into another command. The facts this rests on, from iptables 1.8 (xtables-restore.c,
// iptables-restore.c, xshared.c add_param_to_argv, libxtables xtables_save_string):
//
// - Input is read with fgets into a 10240-byte buffer: a longer line is cut, and its rest is read
//   as a line of its own. A NUL ends the line's C string. A line starting with '#' is a comment,
//   '*' names a table, ':' declares a chain, "COMMIT" commits; anything else inside a table is a
//   command, split into arguments by add_param_to_argv.
// - add_param_to_argv: blanks (space, tab, newline) separate arguments; '"' opens a quoted part in
//   which '\' takes the next character literally and '"' closes it (and ends the argument); outside
//   quotes a backslash is an ordinary character. One argument holds at most 1023 bytes.
// - iptables-save and `iptables -S` print a string option (comment, NFLOG prefix) bare when it is
//   made of [A-Za-z0-9_-] only, else in double quotes with '"', '\' and '\'' escaped by a
//   backslash. Rules are compared with what the kernel prints, so that is the form we write.
// - Strings longer than the kernel's field are cut silently (comment 255 bytes plus NUL,
//   NFLOG prefix 63 plus NUL), chain names have at most 28 bytes: longer
//   values are refused here.

export class RefusedIptablesText extends Error {
  override name = 'RefusedIptablesText';
}

export const LIMITS = {
  /** xt_comment: 256 bytes with the terminating NUL. */
  comment: 255,
  /** xt_NFLOG (legacy iptables; nf_tables' log takes more): 64 bytes with the NUL. */
  nflogPrefix: 63,
  /** XT_EXTENSION_MAXNAMELEN 29 with the NUL. */
  chain: 28,
  /** add_param_to_argv's buffer: 1024 bytes, the last one never used. */
  arg: 1023,
  /** The fgets buffer (10240) less the newline and the NUL. */
  line: 10238,
} as const;

/** C0 and C1 control characters and DEL: never literal data in a line-based protocol. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Half of a UTF-16 pair without its other half: no UTF-8 for it, so no way to say it to the kernel. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
/** Printable ASCII without '"', '\'' or '\\': one byte a character, nothing to escape. */
const PLAIN = /^[ !#-&(-[\]-~]*$/;
/** What xtables_save_string prints without quotes. */
const BARE = /^[A-Za-z0-9_-]+$/;
/** A token written unquoted: printable ASCII without blanks, quotes or backslash. */
const WORD = /^[!#-&(-[\]-~]+$/;

function refuse(what: string, value: string, why: string): never {
  throw new RefusedIptablesText(`${what} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${why}`);
}

/**
 * A string option in the form iptables-save prints it back: bare when it may be, else quoted with
 * '"', '\' and '\'' escaped. Refused: control characters (newline, CR, NUL, tab, ...), text that
 * is not well-formed Unicode, more than `max` bytes or fewer than `min`.
 */
export function quoted(value: string, what: string, max: number = LIMITS.arg, min = 0): string {
  if (typeof value !== 'string') refuse(what, String(value), 'not a string');
  // Nearly every value is printable ASCII without quotes or backslashes: one test, no escaping.
  if (PLAIN.test(value) && value.length <= max && value.length >= min) return BARE.test(value) ? value : `"${value}"`;
  if (CONTROL.test(value)) refuse(what, value, 'holds a control character');
  if (LONE_SURROGATE.test(value)) refuse(what, value, 'is not well-formed Unicode');
  const n = Buffer.byteLength(value);
  if (n > max) refuse(what, value, `longer than ${max} bytes`);
  if (n < min) refuse(what, value, `shorter than ${min} bytes`);
  if (BARE.test(value)) return value;
  return `"${value.replace(/["\\']/g, '\\$&')}"`;
}

/**
 * A token written unquoted (an address, an interface, a set or chain name, a number): printable
 * ASCII without blanks, quotes or backslashes, so the parser takes it literally and -S prints it
 * back the same.
 */
export function word(value: string, what: string, max: number = LIMITS.arg): string {
  if (typeof value !== 'string' || !WORD.test(value)) refuse(what, String(value), 'must be printable ASCII without blanks, quotes or backslashes');
  if (value.length > max) refuse(what, value, `longer than ${max} bytes`);
  return value;
}

/** A chain name: a word of at most 28 bytes that iptables does not take for an option. */
export function chainName(name: string): string {
  if (goodChains.has(name)) return name;
  word(name, 'chain', LIMITS.chain);
  if (name.startsWith('-') || name.startsWith('!')) refuse('chain', name, "must not start with '-' or '!'");
  if (goodChains.size >= 100_000) goodChains.clear();
  goodChains.add(name);
  return name;
}

/** Chain names checked already: the policy layer writes the same few thousand on every sync. */
const goodChains = new Set<string>();

/** `-m comment --comment TEXT`. */
export const comment = (text: string): string => `-m comment --comment ${quoted(text, 'comment', LIMITS.comment)}`;

/**
 * `-j NFLOG --nflog-prefix TEXT --nflog-group G --nflog-size N`: the packet (its first N bytes)
 * to netlink log group G, tagged with TEXT; in the order `iptables -S` prints the options.
 */
export function nflog(prefix: string, group: number, size: number): string {
  const n = (v: number, what: string, max: number): number => (Number.isInteger(v) && v >= 1 && v <= max ? v : refuse(what, String(v), `not a number from 1 to ${max}`));
  return `-j NFLOG --nflog-prefix ${quoted(prefix, 'NFLOG prefix', LIMITS.nflogPrefix, 1)} --nflog-group ${n(group, 'NFLOG group', 0xffff)} --nflog-size ${n(size, 'NFLOG size', 0xffff)}`;
}

/**
 * Free text (a comment naming a policy, an NFLOG prefix) made renderable instead of
 * refused: control characters and broken surrogates become '?', and the text is cut to `max`
 * bytes on a character boundary. For text that only informs; names that select never go here.
 */
export function freeText(text: string, max: number): string {
  if (text.length <= max && /^[ -~]*$/.test(text)) return text;
  // Global flag: the test above has none, and a global regex keeps state between calls.
  let s = CONTROL.test(text) ? text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?') : text;
  if (LONE_SURROGATE.test(s)) s = s.replace(LONE_SURROGATES, '?');
  if (s.length * 3 <= max) return s;
  let n = 0;
  let out = '';
  for (const ch of s) {
    n += Buffer.byteLength(ch);
    if (n > max) break;
    out += ch;
  }
  return out;
}

/** `:NAME - [0:0]`: declares a chain (and flushes it when it exists, under --noflush too). */
export const declareChain = (name: string): string => `:${chainName(name)} - [0:0]`;

export type Op = '-A' | '-D' | '-I' | '-X';

/**
 * One command line: `-A CHAIN RULE`, `-I CHAIN N RULE`, `-D CHAIN RULE` or `-D CHAIN N`, `-X CHAIN`.
 * `rule` is text made of this module's pieces (or read back from the kernel).
 */
export function command(op: Op, chain: string, rule = '', position?: number): string {
  const at = position === undefined ? '' : ` ${Number.isSafeInteger(position) && position > 0 ? position : refuse('position', String(position), 'not a rule number')}`;
  return `${op} ${chainName(chain)}${at}${rule ? ` ${rule}` : ''}`;
}

/** `-A CHAIN RULE` for each rule: the chain checked once, not once a rule. */
export function appendLines(chain: string, rules: readonly string[]): string[] {
  const head = `-A ${chainName(chain)} `;
  return rules.map((r) => head + r);
}

export interface TableBlock {
  readonly table: string;
  /** Declarations and commands, one per line. */
  readonly lines: readonly string[];
}

/**
 * `iptables-restore` text: each table's lines between `*TABLE` and `COMMIT`. The last check before
 * text reaches the parser: every line must be one declaration or command that the parser reads as
 * one line (no newline, CR or NUL inside, within the fgets buffer), or the whole text is refused.
 */
export function restoreText(blocks: readonly TableBlock[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    out.push(`*${word(b.table, 'table')}`);
    for (const l of b.lines) {
      // Not a table, a commit, a comment or counters: those start otherwise.
      const first = l.charCodeAt(0);
      if (first !== 0x2d && first !== 0x3a) refuse('line', l, 'is not a chain declaration or command');
      if (l.length > LIMITS.line / 3 && Buffer.byteLength(l) > LIMITS.line) refuse('line', l, `longer than ${LIMITS.line} bytes`);
      out.push(l);
    }
    out.push('COMMIT');
  }
  if (out.length === 0) return '';
  const text = `${out.join('\n')}\n`;
  // One line per entry: no line break, CR or NUL inside any (one scan of the whole text, not one a line).
  let breaks = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) breaks++;
  if (breaks !== out.length || text.includes('\r') || text.includes('\0')) {
    const bad = out.find((l) => /[\0\r\n]/.test(l)) ?? '';
    refuse('line', bad, 'holds a line break or NUL');
  }
  return text;
}

/**
 * A rule with one quoting style, for comparison: a quoted argument without blanks, quotes or
 * backslashes loses its quotes (`--comment "one"` and `--comment one` compare equal: iptables
 * versions differ there); any other quoted argument stays as it is. A regular expression, not a
 * tokenizer: this runs on every rule read back and every wanted rule compared with it.
 */
export function canonicalRule(rule: string): string {
  // Most rules have no quoted one-word argument: as they are.
  if (!rule.includes('"') || !ONE_WORD_QUOTED.test(rule)) return rule;
  return rule.replace(/"((?:[^"\\]|\\.)*)"/g, (whole, inner: string) => (/^[^\s"\\]+$/.test(inner) ? inner : whole));
}

/** Every argument the replacement above unquotes matches this (it may match more: then it runs). */
const ONE_WORD_QUOTED = /"[^\s"\\]+"/;
