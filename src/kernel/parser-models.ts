// Models of the real parsers of iptables-restore, `ipset restore` and `nft -f`, written from their
// sources (see the facts at the top of iptables-text.ts, ipset-text.ts and nft-text.ts), for tests
// only: the property tests check that rendered text splits back into exactly the intended lines and tokens.

/** fgets(buffer, size): lines of at most size-1 bytes each, a newline kept at the end of its line. */
function fgetsLines(text: string, size: number): Buffer[] {
  const all = Buffer.from(text);
  const out: Buffer[] = [];
  let at = 0;
  while (at < all.length) {
    const nl = all.indexOf(0x0a, at);
    const end = Math.min(nl < 0 ? all.length : nl + 1, at + size - 1);
    out.push(all.subarray(at, end));
    at = end;
  }
  return out;
}

/** The C string of a line: it ends at the first NUL. */
const cString = (b: Buffer): Buffer => {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
};

export class ModelParseError extends Error {}

/** add_param_to_argv: blanks separate, '"' quotes, '\' escapes inside quotes only. */
export function iptablesArgs(line: Buffer): string[] {
  const args: string[] = [];
  let quoteOpen = false;
  let escaped = false;
  let param: number[] = [];
  const add = (c: number): void => {
    param.push(c);
    if (param.length >= 1024) throw new ModelParseError('Parameter too long!');
  };
  const flush = (): void => {
    args.push(Buffer.from(param).toString());
    param = [];
  };
  for (const c of line) {
    if (quoteOpen) {
      if (escaped) {
        add(c);
        escaped = false;
        continue;
      } else if (c === 0x5c) {
        escaped = true;
        continue;
      } else if (c === 0x22) {
        quoteOpen = false;
      } else {
        add(c);
        continue;
      }
    } else if (c === 0x22) {
      quoteOpen = true;
      continue;
    }
    if (c === 0x22) {
      flush();
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a) {
      if (param.length === 0) continue;
      flush();
      continue;
    }
    add(c);
  }
  if (param.length > 0) flush();
  return args;
}

export type RestoreItem =
  | { readonly kind: 'table'; readonly name: string }
  | { readonly kind: 'chain'; readonly args: string[] }
  | { readonly kind: 'command'; readonly args: string[] }
  | { readonly kind: 'commit' };

/** What iptables-restore does with a text, line by line (comments and empty lines dropped). */
export function parseIptablesRestore(text: string): RestoreItem[] {
  const out: RestoreItem[] = [];
  let inTable = false;
  for (const raw of fgetsLines(text, 10240)) {
    const line = cString(raw);
    const s = line.toString();
    if (line.length === 0 || line[0] === 0x0a) continue;
    if (s.startsWith('#')) continue;
    const words = (from: string): string[] => from.split(/[ \t\n]+/).filter((w) => w !== '');
    if (inTable && s.startsWith('COMMIT') && (s.length === 6 || s[6] === '\n')) {
      out.push({ kind: 'commit' });
      inTable = false;
    } else if (s.startsWith('*') && !inTable) {
      const name = words(s.slice(1))[0];
      if (!name) throw new ModelParseError('table name invalid');
      out.push({ kind: 'table', name });
      inTable = true;
    } else if (s.startsWith(':') && inTable) {
      out.push({ kind: 'chain', args: words(s.slice(1)) });
    } else if (inTable) {
      if (s.startsWith('[')) throw new ModelParseError('counters');
      out.push({ kind: 'command', args: iptablesArgs(line) });
    } else throw new ModelParseError(`line outside a table: ${JSON.stringify(s)}`);
  }
  if (inTable) throw new ModelParseError('COMMIT expected');
  return out;
}

/** ipset's options, taken out of a line wherever they stand (ipset_envopts, one leading dash ignored). */
const IPSET_OPTIONS = new Set(['-o', '-output', '-s', '-sorted', '-q', '-quiet', '-r', '-resolve', '-!', '-exist', '-n', '-name', '-t', '-terse', '-f', '-file']);

/** build_argv, then the option pass: the arguments of each command line of `ipset restore`. */
export function parseIpsetRestore(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of fgetsLines(text, 1024)) {
    let s = cString(raw).toString();
    s = s.replace(/^[ \t\n\v\f\r]+/, '');
    if (s === '' || s.startsWith('#') || s === 'COMMIT\n' || s === 'COMMIT\r\n') continue;
    const args: string[] = [];
    let quoted = false;
    let arg = '';
    for (const ch of s) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && (ch === ' ' || ch === '\r' || ch === '\n' || ch === '\t')) {
        if (arg !== '') args.push(arg);
        arg = '';
      } else arg += ch;
    }
    if (quoted) throw new ModelParseError('Missing close quote!');
    if (arg !== '') args.push(arg);
    if (args.length + 1 >= 32) throw new ModelParseError('Line is too long to parse.');
    out.push(args.filter((a) => !IPSET_OPTIONS.has(a.startsWith('--') ? a.slice(1) : a)));
  }
  return out;
}

export type NftToken =
  | { readonly word: string }
  | { readonly str: string }
  | { readonly punct: '{' | '}' | ',' | ';' }
  /** `$name`: nft expands (or refuses) a variable. */
  | { readonly variable: string }
  /** `# …` to the end of the line: nft ignores it. */
  | { readonly comment: string };

/**
 * nft's scanner and its command split for the subset we write (nftables 1.0.6, scanner.l and the
 * measured facts in nft-text.ts): quoted strings are `"[^"]*"` with no escape (a line break
 * inside is kept); '#' outside quotes starts a comment to the end of the line; '$' starts a
 * variable; '{', '}', ',' are punctuation; a newline or ';' outside braces ends a command, inside
 * braces either separates statements (given as ';'); blanks separate words. Commands as token lists.
 */
export function nftCommands(text: string): NftToken[][] {
  const out: NftToken[][] = [];
  let cmd: NftToken[] = [];
  let depth = 0;
  const end = (): void => {
    if (cmd.length > 0) out.push(cmd);
    cmd = [];
  };
  const WORD_END = /[\s"{},;#$]/;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') i++;
    else if (c === '\n' || c === ';') {
      if (depth > 0) cmd.push({ punct: ';' });
      else end();
      i++;
    } else if (c === '"') {
      const close = text.indexOf('"', i + 1);
      if (close < 0) throw new ModelParseError('unterminated string');
      cmd.push({ str: text.slice(i + 1, close) });
      i = close + 1;
    } else if (c === '#') {
      const nl = text.indexOf('\n', i);
      const stop = nl < 0 ? text.length : nl;
      cmd.push({ comment: text.slice(i + 1, stop) });
      i = stop;
    } else if (c === '{' || c === '}' || c === ',') {
      if (c === '{') depth++;
      if (c === '}' && --depth < 0) throw new ModelParseError("unbalanced '}'");
      cmd.push({ punct: c });
      i++;
    } else {
      let j = i + 1;
      while (j < text.length && !WORD_END.test(text[j]!)) j++;
      if (c === '$') cmd.push({ variable: text.slice(i + 1, j) });
      else cmd.push({ word: text.slice(i, j) });
      i = j;
    }
  }
  if (depth !== 0) throw new ModelParseError("unclosed '{'");
  end();
  return out;
}
