// The one place where values become `ipset restore` text. The facts this rests on, from ipset 7
// (lib/ipset.c: ipset_parse_stream, build_argv, ipset_parser):
//
// - Input is read with fgets into a 1024-byte buffer: a longer line is cut and its rest read as
//   a line of its own. Leading blanks are skipped; an empty line, one starting with '#' and
//   "COMMIT" are ignored.
// - build_argv splits at space, tab, CR and newline outside double quotes; '"' toggles quoting and
//   is dropped; there is no escape character. At most 31 arguments a line.
// - ipset_parser first takes out, anywhere in the line, every argument that names an option
//   ("-exist", "-!", "-file", "-o", "-q", ...): a value starting with '-' is not data.
// - Set names have at most 31 bytes (IPSET_MAXNAMELEN 32 with the NUL).
//
// So we write no quotes at all: every token is a plain word that cannot start with '-' or '#',
// and a line holds only the tokens given.

export class RefusedIpsetText extends Error {
  override name = 'RefusedIpsetText';
}

export const IPSET_LIMITS = {
  name: 31,
  /** The fgets buffer (1024) less the newline and the NUL. */
  line: 1022,
  /** MAX_ARGS 32, one of them the program name. */
  args: 31,
} as const;

/** Printable ASCII without blanks, quotes or backslash, not starting with '-' or '#'. */
const TOKEN = /^[!$-&(-,.-[\]-~][!#-&(-[\]-~]*$/;

function refuse(what: string, value: string, why: string): never {
  throw new RefusedIpsetText(`${what} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${why}`);
}

/** A token ipset takes literally as data (an entry, a type, a number). */
export function token(value: string, what = 'ipset token'): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) refuse(what, String(value), "must be printable ASCII without blanks, quotes or backslashes, not starting with '-' or '#'");
  if (value.length > IPSET_LIMITS.line) refuse(what, value, 'too long');
  return value;
}

/** A set name: a token of at most 31 bytes. */
export function setName(name: string): string {
  if (goodNames.has(name)) return name;
  token(name, 'set name');
  if (name.length > IPSET_LIMITS.name) refuse('set name', name, `longer than ${IPSET_LIMITS.name} bytes`);
  if (goodNames.size >= 100_000) goodNames.clear();
  goodNames.add(name);
  return name;
}

/** Set names checked already: the policy layer writes the same few hundred on every sync. */
const goodNames = new Set<string>();

export type IpsetVerb = 'create' | 'add' | 'del' | 'swap' | 'destroy' | 'flush';

/** One command line: the verb, the set, then the other tokens (an entry, a type and options, a set). */
export function ipsetLine(verb: IpsetVerb, set: string, ...rest: readonly string[]): string {
  if (rest.length + 2 > IPSET_LIMITS.args) refuse('ipset line', [verb, set, ...rest].join(' '), 'too many arguments');
  let line = `${verb} ${setName(set)}`;
  for (const t of rest) line += ` ${token(t)}`;
  if (line.length > IPSET_LIMITS.line) refuse('ipset line', line, `longer than ${IPSET_LIMITS.line} bytes`);
  return line;
}

const VERB = /^(?:create|add|del|swap|destroy|flush) /;

/**
 * `ipset restore` text from command lines. The last check before text reaches the parser: every
 * line must be one command the parser reads as one line, or the whole text is refused.
 */
export function ipsetRestoreText(lines: readonly string[]): string {
  for (const l of lines) {
    if (/[\0\r\n"]/.test(l)) refuse('ipset line', l, 'holds a line break, NUL or quote');
    if (!VERB.test(l)) refuse('ipset line', l, 'is not an ipset command');
    if (l.length > IPSET_LIMITS.line) refuse('ipset line', l, `longer than ${IPSET_LIMITS.line} bytes`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
