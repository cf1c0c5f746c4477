// What a plugin call may change, as comparable text: a namespace's links, addresses, routes,
// iptables and ip6tables rules and ipsets, and the files under some directories. The fuzz compares
// these before and after each case; the soak reads the IPAM store with storeView.
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './cluster.js';

export interface NsState {
  links: string[];
  addrs: string[];
  routes: string[];
  rules: string[];
  ipsets: string[];
}

const SEP = '=====gingham-state=====';

// One exec per namespace: every reader, separated by a marker line. Errors of absent tools or
// unloaded tables show as empty parts.
const SCRIPT = [
  'ip -j -d link show',
  'ip -j addr show',
  'ip -j -4 route show table all',
  'ip -j -6 route show table all',
  'iptables-save 2>/dev/null',
  'ip6tables-save 2>/dev/null',
  'ipset save 2>/dev/null',
].join(`; echo ${SEP}; `);

/** `ip -j` output: one JSON list per line (a list per invocation, or per batch command). */
const json = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>[];
      } catch {
        throw new Error(`not ip -j output: ${JSON.stringify(text.slice(0, 2000))}`);
      }
    });

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/**
 * iptables-save text without comments and counters, and without tables that hold nothing but the
 * built-in chains with policy ACCEPT: listing or emptying a table loads it, which is no change.
 */
export function normalizeSave(text: string): string[] {
  const out: string[] = [];
  let table: string[] = [];
  let meaningful = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\[\d+:\d+\]/g, '').trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      table = [line];
      meaningful = false;
      continue;
    }
    if (line === 'COMMIT') {
      if (meaningful) out.push(...table, line);
      continue;
    }
    table.push(line);
    const chain = /^:(\S+) (\S+)/.exec(line);
    if (!chain || !BUILTIN.has(chain[1]!) || chain[2] !== 'ACCEPT') meaningful = true;
  }
  return out;
}

export async function nsState(c: Cluster, name: string): Promise<NsState> {
  const parts = (await c.exec(name, ['sh', '-c', SCRIPT])).split(SEP);
  const [links = '', addrs = '', r4 = '', r6 = '', ipt = '', ip6t = '', sets = ''] = parts;
  const kind = (l: Record<string, unknown>): string => String((l['linkinfo'] as Record<string, unknown> | undefined)?.['info_kind'] ?? '');
  return {
    links: json(links).map((l) => `${String(l['ifname'])} kind=${kind(l)} master=${String(l['master'] ?? '')}`).sort(),
    addrs: json(addrs)
      .flatMap((l) => ((l['addr_info'] as Record<string, unknown>[] | undefined) ?? []).map((a) => `${String(l['ifname'])} ${String(a['local'])}/${String(a['prefixlen'])}`))
      .sort(),
    routes: [...json(r4), ...json(r6)].map((r) => `${String(r['table'] ?? 'main')} ${String(r['type'] ?? '')} ${String(r['dst'])} via=${String(r['gateway'] ?? '')} dev=${String(r['dev'] ?? '')}`).sort(),
    rules: [...normalizeSave(ipt).map((l) => `v4 ${l}`), ...normalizeSave(ip6t).map((l) => `v6 ${l}`)],
    ipsets: sets.split('\n').filter((l) => l.trim() !== ''),
  };
}

/**
 * Every entry under root but directories (made once, they may stay): path, type, and for regular
 * files their content. `skip` names entries (files or whole subtrees) to leave out, by base name.
 */
export function fileTree(root: string, skip: (name: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      if (skip(n)) continue;
      const p = join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) out.push(`${JSON.stringify(r)} file ${readFileSync(p, 'utf8').slice(0, 2000)}`);
      else out.push(`${JSON.stringify(r)} ${st.isFIFO() ? 'fifo' : st.isSymbolicLink() ? 'symlink' : 'other'}`);
    }
  };
  walk(root, '');
  return out;
}

/** Lines of `after` that are not in `before` (+) and the reverse (-); empty when equal. */
export function diffLines(before: readonly string[], after: readonly string[]): string[] {
  const count = (xs: readonly string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const b = count(before);
  const a = count(after);
  const out: string[] = [];
  for (const [k, n] of a) for (let i = n - (b.get(k) ?? 0); i > 0; i--) out.push(`+ ${k}`);
  for (const [k, n] of b) for (let i = n - (a.get(k) ?? 0); i > 0; i--) out.push(`- ${k}`);
  return out;
}

export function diffState(before: NsState, after: NsState): string[] {
  return (Object.keys(before) as (keyof NsState)[]).flatMap((k) => diffLines(before[k], after[k]).map((d) => `${k} ${d}`));
}

/** The IPAM store of one network as it lies on disk: claims (by address), records, temporary files. */
export interface StoreView {
  /** address -> inode of its claim */
  claims: Map<string, number>;
  /** "<cid>@<if>" -> { inode, ips (bare addresses) } */
  records: Map<string, { ino: number; ips: string[] }>;
  tmp: string[];
}

const bareAddr = (cidr: string): string => (cidr.includes('/') ? cidr.slice(0, cidr.indexOf('/')) : cidr);

export function storeView(dir: string): StoreView {
  const view: StoreView = { claims: new Map(), records: new Map(), tmp: [] };
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return view;
  }
  for (const n of names) {
    if (n.startsWith('.tmp-')) view.tmp.push(n);
    else if (/^[0-9.]+$|:/.test(n)) {
      try {
        view.claims.set(n, lstatSync(join(dir, n)).ino);
      } catch {
        // gone meanwhile
      }
    }
  }
  let recs: string[] = [];
  try {
    recs = readdirSync(join(dir, 'attachments'));
  } catch {
    return view;
  }
  for (const n of recs) {
    const p = join(dir, 'attachments', n);
    try {
      const r = JSON.parse(readFileSync(p, 'utf8')) as { ips?: unknown };
      const ips = Array.isArray(r.ips) ? r.ips.map((x) => bareAddr(String(x))) : [];
      view.records.set(n, { ino: lstatSync(p).ino, ips });
    } catch {
      view.records.set(n, { ino: -1, ips: [] });
    }
  }
  return view;
}

/** Global addresses of the first non-lo interfaces of many namespaces, in one exec: name -> "ip" list. */
export async function addrsOf(c: Cluster, names: readonly string[]): Promise<Map<string, string[]>> {
  const script = names.map((n) => `ip -n ${c.ns(n)} -j addr show; echo ${SEP}`).join('; ');
  const parts = (await c.sh(['sh', '-c', script])).stdout.split(SEP);
  const out = new Map<string, string[]>();
  names.forEach((n, i) => {
    const ips = json(parts[i] ?? '').flatMap((l) =>
      l['ifname'] === 'lo' ? [] : ((l['addr_info'] as Record<string, unknown>[] | undefined) ?? []).filter((a) => a['scope'] !== 'link').map((a) => String(a['local'])),
    );
    out.set(n, ips);
  });
  return out;
}
