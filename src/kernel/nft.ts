// nftables as the kernel layer sees it: apply `nft -f -` text (made by nft-text.ts through
// packet-filter/nft-render.ts) as one transaction, and read one of our own tables back in the
// printed form of `nft -s list table inet T` (stateless: no counters), parsed here. We never list
// the whole ruleset: other components' tables are none of ours to parse (and nft before 1.0.1
// parses the whole ruleset even for one table, which is why it is the oldest we take). `wrap` runs
// the tool in another network namespace (["ip", "netns", "exec", NAME], for tests).
import { run } from './exec.js';

export type Wrap = readonly string[];

export class NftReadError extends Error {
  override name = 'NftReadError';
}

export interface ParsedChain {
  /** A base chain's line, e.g. `type filter hook forward priority filter - 10; policy accept;`. */
  readonly base?: string;
  /** Rule bodies in order, as printed. */
  readonly rules: readonly string[];
}

export interface ParsedSet {
  readonly kind: 'set' | 'map';
  /** As printed after `type` (e.g. `ipv4_addr`, `ipv4_addr : verdict`), or after `typeof`. */
  readonly type: string;
  readonly typeof: boolean;
  readonly flags: readonly string[];
  /** Elements as printed, e.g. `198.18.0.1`, `198.18.0.0/25`, `198.18.0.5 : jump C-4`; sorted (a set has no order). */
  readonly elements: readonly string[];
}

export interface ParsedTable {
  readonly chains: ReadonlyMap<string, ParsedChain>;
  /** Sets and maps by name. */
  readonly sets: ReadonlyMap<string, ParsedSet>;
}

/** Split at `sep` outside double quotes and braces; parts trimmed, empty ones dropped. */
function splitOutside(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(from, i));
      from = i + 1;
    }
  }
  out.push(text.slice(from));
  return out.map((p) => p.trim().replace(/\s+/g, ' ')).filter((p) => p !== '');
}

/** The index of the '}' that closes the '{' just before `from`, outside quotes. */
function closing(text: string, from: number): number {
  let quoted = false;
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  throw new NftReadError('unclosed element list');
}

function parseSet(kind: 'set' | 'map', body: string): ParsedSet {
  let type = '';
  let isTypeof = false;
  let flags: string[] = [];
  let elements: string[] = [];
  let rest = body;
  const at = rest.search(/(^|\s)elements = \{/);
  if (at >= 0) {
    const open = rest.indexOf('{', at);
    const end = closing(rest, open + 1);
    elements = splitOutside(rest.slice(open + 1, end), ',').sort();
    rest = rest.slice(0, at) + rest.slice(end + 1);
  }
  for (const line of rest.split('\n').map((l) => l.trim())) {
    if (line.startsWith('type ')) type = line.slice(5);
    else if (line.startsWith('typeof ')) {
      type = line.slice(7);
      isTypeof = true;
    } else if (line.startsWith('flags ')) flags = line.slice(6).split(',').map((f) => f.trim());
  }
  return { kind, type, typeof: isTypeof, flags, elements };
}

/**
 * The printed form of one table (`nft -s list table inet T`) as chains, sets and maps. Blocks are
 * found by nft's indentation: a block opens with `\tKIND NAME {` and closes with a line `\t}`;
 * rules are one line each (our strings hold no line break). Other objects are skipped.
 */
export function parseNftList(text: string): ParsedTable {
  const chains = new Map<string, ParsedChain>();
  const sets = new Map<string, ParsedSet>();
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (!/^table inet \S+ \{$/.test(lines[i] ?? '')) throw new NftReadError(`not a table listing: ${JSON.stringify((lines[i] ?? '').slice(0, 80))}`);
  for (i++; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '}') break;
    const head = /^\t(\S+) (\S+) \{$/.exec(line);
    if (!head) continue;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '\t}'; i++) body.push(lines[i]!);
    if (i >= lines.length) throw new NftReadError(`unclosed ${head[1]} ${head[2]}`);
    const [, kind, name] = head as unknown as [string, string, string];
    if (kind === 'chain') {
      const rules = body.map((l) => l.trim()).filter((l) => l !== '');
      const base = rules[0]?.startsWith('type ') && rules[0].includes(' hook ') ? rules.shift() : undefined;
      chains.set(name, base === undefined ? { rules } : { base, rules });
    } else if (kind === 'set' || kind === 'map') sets.set(name, parseSet(kind, body.join('\n')));
  }
  return { chains, sets };
}

const ABSENT = /No such file or directory/;

/** `nft -s list table inet T`, parsed; undefined when the table does not exist. */
export async function listTable(table: string, wrap: Wrap = []): Promise<ParsedTable | undefined> {
  const r = await run([...wrap, 'nft', '-s', 'list', 'table', 'inet', table]);
  if (r.code !== 0) {
    if (ABSENT.test(r.stderr)) return undefined;
    throw new NftReadError(`nft list table inet ${table}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  return parseNftList(r.stdout);
}

/** One `nft -f -`, one transaction: its error text (nothing was applied) or undefined. */
export async function applyNft(text: string, wrap: Wrap = []): Promise<string | undefined> {
  if (text === '') return undefined;
  const r = await run([...wrap, 'nft', '-f', '-'], text);
  return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
}

/** nft's version from `nft --version` ("nftables v1.0.6 (Lester Gooch #5)"), or undefined. */
export function parseNftVersion(out: string): readonly [number, number, number] | undefined {
  const m = /\bv(\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** The oldest nft that lists one table without parsing the whole ruleset. */
const OLDEST = [1, 0, 1] as const;

/** Whether nft is there and at least 1.0.1 (callers refuse the nftables dataplane without it). */
export async function nftAvailable(wrap: Wrap = []): Promise<boolean> {
  let out: string;
  try {
    const r = await run([...wrap, 'nft', '--version']);
    if (r.code !== 0) return false;
    out = r.stdout;
  } catch {
    return false;
  }
  const v = parseNftVersion(out);
  if (!v) return false;
  const [major, minor, patch] = v;
  return major !== OLDEST[0] ? major > OLDEST[0] : minor !== OLDEST[1] ? minor > OLDEST[1] : patch >= OLDEST[2];
}
