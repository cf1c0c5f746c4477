// The node side: kind nodes are Docker containers, inspected with `docker exec` (links, routes,
// iptables, gingham's reservations, its log).
import { execa } from 'execa';
import { BACKEND, CNI_LOG, CONFLIST, DATA_DIR, type Family, PRIMARY } from './env.js';

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
