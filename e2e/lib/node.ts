// The node side: kind nodes are Docker containers, inspected with `docker exec` (links, routes,
// iptables and nftables, gingham's reservations, its log).
import { execa } from 'execa';
import { BACKEND, CNI_LOG, CONFLIST, DATA_DIR, DATAPLANE, type Family, PRIMARY } from './env.js';

export async function dockerExec(node: string, cmd: string[], timeoutMs = 60_000): Promise<string> {
  const r = await execa('docker', ['exec', node, ...cmd], { timeout: timeoutMs, reject: false });
  if (r.exitCode !== 0) throw new Error(`docker exec ${node} ${cmd.join(' ')}: exit ${r.exitCode}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export const sh = (node: string, script: string, timeoutMs?: number): Promise<string> => dockerExec(node, ['sh', '-c', script], timeoutMs);

/** Host-side veths gingham made (gh- + 12 hex digits). */
export async function ghVeths(node: string): Promise<string[]> {
  const links = JSON.parse((await dockerExec(node, ['ip', '-j', 'link', 'show', 'type', 'veth'])) || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname).filter((n) => n.startsWith('gh-')).sort();
}

export interface Reservation {
  file: string;
  containerId: string;
  ips: string[];
  podName?: string;
  podNamespace?: string;
}

export interface Reservations {
  /** The records, attachments/<cid>@<if>. */
  records: Reservation[];
  /** The claims: the data dir's entries named by an address. */
  claims: string[];
  /** Anything else left in the data dir or attachments/ (temporary files of crashed writers...). */
  other: string[];
}

const SEP = '@@gingham-e2e@@';

/** gingham's reservations on a node, read from its data dir. */
export async function reservations(node: string): Promise<Reservations> {
  const out = await sh(
    node,
    `d=${DATA_DIR}; [ -d "$d" ] || exit 0; ls -A "$d"; echo ${SEP}; ls -A "$d/attachments" 2>/dev/null; echo ${SEP};` +
      ` for f in "$d"/attachments/*; do [ -f "$f" ] || continue; echo "$f"; cat "$f"; echo; echo ${SEP}; done`,
  );
  if (out.trim() === '') return { records: [], claims: [], other: [] };
  const [top = '', att = '', ...files] = out.split(new RegExp(`${SEP}\n?`));
  const entries = top.split('\n').filter(Boolean);
  const claims = entries.filter((e) => /^\d+\.\d+\.\d+\.\d+$/.test(e) || e.includes(':')).sort();
  const other = entries.filter((e) => !claims.includes(e) && e !== 'attachments' && !e.startsWith('last_reserved_ip.') && e !== 'lock' && !e.endsWith('.lock'));
  const records: Reservation[] = [];
  for (const block of files) {
    const nl = block.indexOf('\n');
    if (nl < 0 || block.trim() === '') continue;
    const file = block.slice(0, nl);
    const r = JSON.parse(block.slice(nl + 1)) as Omit<Reservation, 'file'>;
    records.push({ file, containerId: r.containerId, ips: r.ips, podName: r.podName, podNamespace: r.podNamespace });
  }
  const attNames = att.split('\n').filter(Boolean);
  other.push(...attNames.filter((n) => !n.includes('@')).map((n) => `attachments/${n}`));
  return { records, claims, other };
}

/** The addresses (without prefix length) of a node's reservation records, sorted. */
export const reservedIPs = (r: Reservations): string[] => r.records.flatMap((x) => x.ips.map((ip) => ip.split('/')[0]!)).sort();

/** iptables-save (ip6tables-save for IPv6) of a node, counters cleared. */
export async function iptablesSave(node: string, family: Family = PRIMARY): Promise<string[]> {
  return (await dockerExec(node, [family === 6 ? 'ip6tables-save' : 'iptables-save'])).split('\n').map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]')).filter((l) => l && !l.startsWith('#'));
}

/** The rules that belong to gingham (GH-*) and to portmap's per-pod chains (CNI-DN-*), sorted. */
export const podRules = (lines: readonly string[]): string[] => lines.filter((l) => /GH-|CNI-DN-/.test(l)).sort();

/** The names of a node's inet tables (nft list tables inet). */
export async function nftTables(node: string): Promise<string[]> {
  return (await dockerExec(node, ['nft', 'list', 'tables', 'inet'])).split('\n').flatMap((l) => /^table inet (\S+)$/.exec(l.trim())?.[1] ?? []);
}

/** A node's table `inet <table>` as `nft -s list table` prints it (-s: no counter values), trimmed lines; an absent table gives []. */
export async function nftTable(node: string, table: string): Promise<string[]> {
  if (!(await nftTables(node)).includes(table)) return [];
  return (await dockerExec(node, ['nft', '-s', 'list', 'table', 'inet', table])).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The rules of one chain in a table's listing (nftTable): the lines between `chain NAME {` and its closing brace. */
export function nftChain(table: readonly string[], chain: string): string[] {
  const start = table.indexOf(`chain ${chain} {`);
  if (start < 0) return [];
  const end = table.indexOf('}', start);
  return table.slice(start + 1, end < 0 ? undefined : end);
}

/** gingham's nftables tables: the agent's (inet gingham), its NetworkPolicy's (inet gingham-policy), the plugin's per bridge network (inet gh-net-<id>). */
export const isGinghamTable = (name: string): boolean => name === 'gingham' || name === 'gingham-policy' || name.startsWith('gh-net-');

/** Every line of gingham's nftables tables on a node, each prefixed with its table's name; none under DATAPLANE=iptables. */
export async function ginghamNft(node: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of (await nftTables(node)).filter(isGinghamTable)) out.push(...(await nftTable(node, t)).map((l) => `${t}: ${l}`));
  return out;
}

/**
 * gingham's firewall lines on a node, in the dataplane under test: its iptables-save lines
 * (iptablesSave) plus, under DATAPLANE=nftables, the lines of its nftables tables (ginghamNft), where
 * its chains and sets live then; portmap's rules stay in iptables either way.
 */
export async function firewallLines(node: string, family: Family = PRIMARY): Promise<string[]> {
  return [...(await iptablesSave(node, family)), ...(DATAPLANE === 'nftables' ? await ginghamNft(node) : [])];
}

/** podRules of firewallLines: the plugin's per-network rules (GH-* in iptables, inet gh-net-* in nftables) and portmap's per-pod ones. */
export async function pluginRules(node: string): Promise<string[]> {
  const lines = await firewallLines(node);
  return [...podRules(lines), ...lines.filter((l) => l.startsWith('gh-net-'))].sort();
}

/** The agent's masquerade rules of a family on a node: chain GINGHAM-MASQ of iptables' nat table, or GINGHAM-MASQ-4/-6 of inet gingham. */
export async function masqueradeRules(node: string, family: Family = PRIMARY): Promise<string[]> {
  if (DATAPLANE === 'nftables') return nftChain(await nftTable(node, 'gingham'), `GINGHAM-MASQ-${family}`);
  return (await dockerExec(node, [family === 6 ? 'ip6tables' : 'iptables', '-w', '-t', 'nat', '-S', 'GINGHAM-MASQ'])).split('\n').filter(Boolean);
}

/** The agent's VXLAN device of a family (the primary one unless told): gingham-vx4, gingham-vx6. */
export const vxlanDevice = (family: Family = PRIMARY): string => `gingham-vx${family}`;

/** Routes of one family (the primary one unless told) the gingham agent owns (proto 199) in the node's main table: destination -> gateway. */
export async function agentRoutes(node: string, family: Family = PRIMARY): Promise<Map<string, string>> {
  const routes = JSON.parse((await dockerExec(node, ['ip', '-j', `-${family}`, 'route', 'show', 'proto', '199'])) || '[]') as { dst: string; gateway?: string }[];
  return new Map(routes.map((r) => [r.dst, r.gateway ?? '']));
}

export async function conflist(node: string): Promise<Record<string, unknown>> {
  return JSON.parse(await dockerExec(node, ['cat', CONFLIST])) as Record<string, unknown>;
}

/** The last lines of the plugin's log on a node, for failure messages. */
export async function ginghamLog(node: string, lines = 20): Promise<string> {
  return sh(node, `tail -n ${lines} ${CNI_LOG} 2>/dev/null || true`).catch((e: Error) => e.message);
}

export async function systemctlRestart(node: string, unit: string): Promise<void> {
  await dockerExec(node, ['systemctl', 'restart', unit], 120_000);
}

export async function isActive(node: string, unit: string): Promise<boolean> {
  const r = await execa('docker', ['exec', node, 'systemctl', 'is-active', unit], { reject: false });
  return r.stdout.trim() === 'active';
}

/**
 * The routes (destination -> gateway) the agent must keep on `self` for the backend under test:
 * host-gw via each other node's InternalIP, vxlan via each other node's VTEP (the first address of
 * its pod CIDR) through the family's VXLAN device. The primary family, as agentRoutes reads them.
 */
export function wantedAgentRoutes(all: readonly { name: string; podCIDR: string; internalIP: string }[], self: string): Map<string, string> {
  const vtep = (cidr: string): string => cidr.split('/')[0]!;
  return new Map(all.filter((o) => o.name !== self).map((o) => [o.podCIDR, BACKEND === 'vxlan' ? vtep(o.podCIDR) : o.internalIP]));
}
