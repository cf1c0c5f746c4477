// The one place that writes lines for iproute2's batch protocol (`ip -batch -`, `bridge -batch -`):
// every line handed to either tool is made here from tokens, and a token the batch parser would not
// read back as exactly itself is refused, never escaped. What the parser does (iproute2 lib/utils.c,
// getcmdline and makeargs, read for this; the same in `ip` and `bridge`):
// - a line ends at '\n'; a C string ends at NUL, so a NUL silently cuts the rest of its line;
// - `#` anywhere, inside quotes too, cuts the rest of the line (a comment);
// - a backslash right before the '\n' joins the next line to this one;
// - words split at space, tab, CR and LF; a word that starts with ' or " runs to the next same
//   quote (unterminated: "Unterminated quoted string" and the whole batch stops); older versions
//   (strtok) know no quotes at all, so quoting is not something a line may rely on;
// - 512 words or more in a line: "Too many arguments to command" and the whole batch stops.
// With -force a batch goes on after a command that fails, but not after those parser exits, nor after
// the many argument errors iproute2 reports by exit(); a bad token must therefore never get into a
// batch at all: a whole batch is rendered (or refused) before anything runs.
import { CniError, Code } from '../cni/errors.js';

declare const rendered: unique symbol;
/** A line this module rendered: the batch runners take nothing else. */
export type BatchLine = string & { readonly [rendered]: true };

/** A token the batch parser would not take literally; a config or input error for the CNI caller. */
export class RefusedToken extends CniError {
  constructor(
    readonly token: string,
    readonly why: string,
  ) {
    super(Code.InvalidConfig, `${JSON.stringify(token)} cannot be passed to iproute2 literally: ${why}`);
    this.name = 'RefusedToken';
  }
}

/** Words per line the parser takes (MAX_ARGS 512, one slot for the terminating NULL). */
export const MAX_TOKENS = 511;

// Printable ASCII but space " # ' \, then any well-formed non-ASCII text from U+00A0 (no C1
// controls, no lone surrogates: those would not survive UTF-8 encoding as themselves).
const LITERAL = /^(?:[!$-&(-[\]-~\u00a0-\ud7ff\ue000-\uffff]|[\ud800-\udbff][\udc00-\udfff])+$/;

/** Why the parser would not read `token` back as itself, or undefined when it would. */
export function refusal(token: string): string | undefined {
  if (LITERAL.test(token)) return token === '-' ? '"-" alone stands for standard input in iproute2 arguments' : undefined;
  if (token === '') return 'an empty word vanishes';
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x20) return 'a space splits the word';
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return `control character U+${c.toString(16).padStart(4, '0')}`;
    if (c === 0x23) return '"#" starts a comment';
    if (c === 0x22 || c === 0x27) return 'quotes are parsed';
    if (c === 0x5c) return 'a backslash can join lines';
  }
  return 'not well-formed Unicode';
}

/** One word: a non-negative integer, or text the parser takes literally. */
function word(t: string | number): string {
  if (typeof t === 'number') {
    if (!Number.isSafeInteger(t) || t < 0) throw new RefusedToken(String(t), 'not a non-negative integer');
    return String(t);
  }
  const why = refusal(t);
  if (why !== undefined) throw new RefusedToken(t, why);
  return t;
}

/** One batch line from its words; throws RefusedToken for a word the parser would change. */
export function batchLine(...tokens: readonly (string | number)[]): BatchLine {
  if (tokens.length === 0) throw new RefusedToken('', 'a line needs a command');
  if (tokens.length > MAX_TOKENS) throw new RefusedToken(String(tokens.length), `more than ${MAX_TOKENS} words in one line`);
  let line = word(tokens[0]!);
  for (let i = 1; i < tokens.length; i++) line += ` ${word(tokens[i]!)}`;
  return line as BatchLine;
}

/** The text for the tool's standard input: one line per command. */
export const batchText = (lines: readonly BatchLine[]): string => `${lines.join('\n')}\n`;
