// What a node must look like at rest: gingham's state matches the pods kubelet runs there; and the
// regex escaper the files match command output with.
import { type NodeInfo, networkedPodsOn } from './kube.js';
import { ghVeths, reservations, reservedIPs } from './node.js';
import { waitFor } from './timing.js';

export interface NodeAccount {
  /** ip: the address of the primary family (status.podIP); ips: one per family. */
  pods: { name: string; ip: string; ips: string[] }[];
  veths: string[];
  reserved: string[];
  claims: string[];
  other: string[];
}

export async function account(node: string): Promise<NodeAccount> {
  const [pods, veths, r] = await Promise.all([networkedPodsOn(node), ghVeths(node), reservations(node)]);
  return {
    pods: pods.map((p) => ({ name: `${p.metadata?.namespace}/${p.metadata?.name}`, ip: p.status?.podIP ?? '', ips: (p.status?.podIPs ?? []).map((x) => x.ip) })),
    veths,
    reserved: reservedIPs(r),
    claims: r.claims,
    other: r.other,
  };
}

/** Differences between a node's pods and gingham's state there; empty when they agree. */
export function discrepancies(a: NodeAccount): string[] {
  const out: string[] = [];
  const podIPs = a.pods.flatMap((p) => p.ips).sort();
  if (a.pods.some((p) => p.ip === '')) out.push(`pods without an address yet: ${a.pods.filter((p) => !p.ip).map((p) => p.name).join(', ')}`);
  if (a.veths.length !== a.pods.length) out.push(`${a.veths.length} gh- veths for ${a.pods.length} pods`);
  const leaked = a.reserved.filter((ip) => !podIPs.includes(ip));
  const missing = podIPs.filter((ip) => ip && !a.reserved.includes(ip));
  if (leaked.length) out.push(`reserved without a pod: ${leaked.join(', ')}`);
  if (missing.length) out.push(`pods without a reservation: ${missing.join(', ')}`);
  if (new Set(a.reserved).size !== a.reserved.length) out.push(`an address reserved twice: ${a.reserved.join(', ')}`);
  if (a.claims.join() !== a.reserved.join()) out.push(`claims ${a.claims.join(', ')} != records ${a.reserved.join(', ')}`);
  if (a.other.length) out.push(`stray files in the data dir: ${a.other.join(', ')}`);
  return out;
}

/** Waits (kubelet tears pods down asynchronously) until the node's gingham state matches its pods. */
export async function waitNodeClean(node: NodeInfo, timeoutMs = 90_000): Promise<NodeAccount> {
  return waitFor(`gingham state on ${node.name} to match its pods`, timeoutMs, async (why) => {
    const a = await account(node.name);
    const d = discrepancies(a);
    why(d.join('; '));
    return d.length === 0 ? a : undefined;
  }, 2000);
}

/** `s` as a literal inside a RegExp (an address's dots, a generated name's dashes). */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
