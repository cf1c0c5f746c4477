// The kernel side of the agent: read what we own (routes with our protocol number, our VXLAN
// devices with their neighbour and FDB entries, our packet-filter chains, the interface addresses),
// and apply a diff in few batched execs. `-force` keeps going past a line the kernel refuses
// (typically "Nexthop has invalid gateway": that node is not on our link), so one bad node does not
// hold back the others; the failed lines come back to the caller to log, and the next resync tries
// them again.
import { run } from '../../kernel/exec.js';
import { type BatchLine, batchLine, batchText } from '../../kernel/ip-batch.js';
import { ipJson } from '../../kernel/iproute.js';
import { DATAPLANES, type Dataplane, type FilterChange, type Held, type Owner, chainsBackend } from '../../kernel/packet-filter/index.js';
import type { KernelSnapshot } from './changes.js';
import { AGENT_CHAINS } from './chains.js';
import { NODE_TABLE, ROUTE_PROTO, type Route, parseRoutes } from './routes.js';
import { type Rule, parseRules } from './rules.js';
import { type UnderlayAddr, parseAddrs } from './underlay.js';
import { type OverlayState, parseFdb, parseNeighbours, parseVxlanLinks } from './vxlan.js';

/** The argv prefix for `ip`: the node's own namespace, or another one for tests (`ip -n NAME`). */
export type IpPrefix = readonly string[];

export class KernelReadError extends Error {
  override name = 'KernelReadError';
}

/** Our routes of both families in a table (`ip -batch` cannot switch family, so two execs). */
export async function readRoutes(ip: IpPrefix = ['ip'], table: 'main' | number = 'main', proto = ROUTE_PROTO): Promise<Route[]> {
  const read = async (family: '-4' | '-6'): Promise<Route[]> => {
    const r = await run([...ip, '-json', family, 'route', 'show', 'table', String(table), 'proto', String(proto)]);
    // A kernel booted without IPv6 answers `ip -6` with "Address family not supported", a table
    // never used with "FIB table does not exist": no routes.
    if (r.code !== 0 && /not supported|table does not exist/i.test(r.stderr)) return [];
    if (r.code !== 0) throw new KernelReadError(`ip ${family} route show: ${r.stderr.trim() || `exit ${r.code}`}`);
    const text = r.stdout.trim();
    if (text === '') return [];
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KernelReadError(`ip ${family} route show: unreadable output`);
    }
    return Array.isArray(json) ? parseRoutes(json) : [];
  };
  const [v4, v6] = await Promise.all([read('-4'), read('-6')]);
  return [...v4, ...v6];
}

export interface ApplyOutcome {
  /** Lines the kernel refused, each with its error. */
  readonly failed: { line: string; error: string }[];
}

/** Our policy rules (priority RULE_PREF, lookup NODE_TABLE) of both families. */
export async function readRules(ip: IpPrefix = ['ip']): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const family of [4, 6] as const) {
    const r = await run([...ip, '-json', `-${family}`, 'rule', 'show']);
    if (r.code !== 0 && /not supported/i.test(r.stderr)) continue;
    if (r.code !== 0) throw new KernelReadError(`ip -${family} rule show: ${r.stderr.trim() || `exit ${r.code}`}`);
    try {
      out.push(...parseRules(family, JSON.parse(r.stdout.trim() || '[]') as unknown[]));
    } catch {
      throw new KernelReadError(`ip -${family} rule show: unreadable output`);
    }
  }
  return out;
}

/**
 * Apply batch lines in one exec of `tool` (`ip`, or `bridge` for the FDB); report the lines that
 * failed instead of throwing for them.
 */
export async function applyLines(lines: readonly BatchLine[], tool: IpPrefix = ['ip']): Promise<ApplyOutcome> {
  if (lines.length === 0) return { failed: [] };
  const r = await run([...tool, '-force', '-batch', '-'], batchText(lines));
  if (r.code === 0) return { failed: [] };
  return { failed: failedLines(lines, r.stderr) };
}

/** Links, addresses and neighbours in one exec; then the FDB of each of our devices in one more. */
export async function readOverlay(ip: IpPrefix = ['ip'], bridge: IpPrefix = ['bridge']): Promise<OverlayState & { addrs: UnderlayAddr[] }> {
  const [links = [], addrs = [], neigh = []] = await ipJson(
    [...ip, '-d'],
    [batchLine('link', 'show', 'type', 'vxlan'), batchLine('addr', 'show'), batchLine('neigh', 'show', 'nud', 'permanent')],
  );
  const vx = parseVxlanLinks(links, addrs);
  const fdb = [];
  if (vx.length > 0) {
    const r = await run([...bridge, '-json', '-force', '-batch', '-'], batchText(vx.map((l) => batchLine('fdb', 'show', 'dev', l.name))));
    // One JSON array per device, in the order asked.
    const arrays = r.stdout.split('\n').filter((l) => l.startsWith('['));
    for (const [i, l] of vx.entries()) {
      try {
        fdb.push(...parseFdb(l.name, JSON.parse(arrays[i] ?? '[]') as unknown[]));
      } catch {
        throw new KernelReadError(`bridge fdb show dev ${l.name}: unreadable output`);
      }
    }
  }
  return { links: vx, neighbours: parseNeighbours(neigh), fdb, addrs: parseAddrs(addrs) };
}

/** An owner's chains as one dataplane's backend reads them. */
export async function readFilter(dataplane: Dataplane, owner: Owner, wrap: IpPrefix = []): Promise<Held> {
  try {
    return await chainsBackend(dataplane).read(owner, wrap);
  } catch (e) {
    throw new KernelReadError(`${dataplane}: ${(e as Error).message}`);
  }
}

/**
 * iproute2 reports each failure as "Error: WHY" followed by "Command failed -:N" (N: 1-based line
 * of the batch). Output we cannot attribute is reported against the whole batch.
 */
export function failedLines(lines: readonly string[], stderr: string): { line: string; error: string }[] {
  const out: { line: string; error: string }[] = [];
  let why: string[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(l.trim());
    if (m) {
      out.push({ line: lines[Number(m[1]) - 1] ?? `line ${m[1]}`, error: why.join('; ') || 'failed' });
      why = [];
    } else if (l.trim() !== '') why.push(l.trim().replace(/^Error: /, ''));
  }
  if (why.length > 0) out.push({ line: '(batch)', error: why.join('; ') });
  return out;
}

export type Tool = 'ip' | 'ip4' | 'ip6' | 'bridge';

/** What the agent owns in a node's kernel: the real one (optionally another netns), or a fake in tests. */
export interface NetworkKernel {
  readRoutes(table: 'main' | number): Promise<Route[]>;
  readRules(): Promise<Rule[]>;
  readOverlay(): Promise<OverlayState & { addrs: UnderlayAddr[] }>;
  readFilter(dataplane: Dataplane, owner: Owner): Promise<Held>;
  /** `ip -batch` lines, `ip -4|-6 -batch` for rules (a batch cannot infer their family), `bridge -batch` for the FDB. */
  apply(tool: Tool, lines: readonly BatchLine[]): Promise<ApplyOutcome>;
  /** One packet-filter change (one commit); its error when nothing was applied. */
  applyFilter(change: FilterChange): Promise<string | undefined>;
}

/** The node's kernel, or the network namespace `netns` (tests: `ip -n NAME`). */
export function nodeKernel(netns?: string): NetworkKernel {
  const ip: IpPrefix = netns ? ['ip', '-n', netns] : ['ip'];
  const bridge: IpPrefix = netns ? ['bridge', '-n', netns] : ['bridge'];
  const wrap: IpPrefix = netns ? ['ip', 'netns', 'exec', netns] : [];
  const tools: Record<Tool, IpPrefix> = { ip, ip4: [...ip, '-4'], ip6: [...ip, '-6'], bridge };
  return {
    readRoutes: (table) => readRoutes(ip, table),
    readRules: () => readRules(ip),
    readOverlay: () => readOverlay(ip, bridge),
    readFilter: (d, owner) => readFilter(d, owner, wrap),
    apply: (tool, lines) => applyLines(lines, tools[tool]),
    applyFilter: (change) => chainsBackend(change.dataplane).apply(change, wrap),
  };
}

/** Everything the agent owns, read concurrently. */
export async function readSnapshot(k: NetworkKernel): Promise<KernelSnapshot> {
  // Every dataplane's, not only the chosen one's: what another one left is removed (changes.ts).
  const [{ addrs, ...overlay }, routes, nodeRoutes, rules, ...held] = await Promise.all([
    k.readOverlay(),
    k.readRoutes('main'),
    k.readRoutes(NODE_TABLE),
    k.readRules(),
    ...DATAPLANES.map((d) => k.readFilter(d, AGENT_CHAINS)),
  ]);
  return { overlay, addrs, routes, nodeRoutes, rules, filter: Object.fromEntries(held.map((h) => [h.dataplane, h])) };
}
