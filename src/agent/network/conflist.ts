// This node's CNI network config, built from its own spec.podCIDRs: the gingham bridge backend
// with gingham IPAM over the node's pod ranges (one range set per family, so two CIDRs make a
// dual-stack network), chained with the reference portmap for hostPort. The MTU is the agent's
// (underlay minus the overlay's overhead). No masquerade here: the agent's own chain does it for
// the whole node (masquerade.ts), since what stays unmasqueraded (every node's address) changes
// as nodes come and go, and a conflist only reaches pods created after it. The agent's dataplane
// goes in too, so one setting decides which packet filter both write. The plugin logs to
// CNI_LOG_FILE, which the agent reads for its metrics.
import type { Dataplane } from '../../kernel/packet-filter/index.js';
import { type Cidr, canonical, formatCidr, parseCidr } from '../../net/ip.js';

export const DEFAULT_CONF_PATH = '/etc/cni/net.d/10-gingham.conflist';
export const NETWORK_NAME = 'gingham';
export const BRIDGE = 'gingham0';
/**
 * The plugin's log on a node the agent manages: in a directory of its own, which the DaemonSet
 * mounts read-only into the agent at the same path, where the agent tails it for the CNI metrics.
 */
export const CNI_LOG_FILE = '/var/log/gingham/cni.log';
/**
 * Not 1.1.0: containerd 1.6 (Debian bookworm's, in our kind nodes) links a libcni that knows
 * result versions up to 1.0.0 only and fails every pod on a 1.1.0 result. 1.0.0 gives the same
 * behaviour for ADD/DEL/CHECK; GC and STATUS need 1.1.0 and a runtime that sends them.
 */
export const CONF_CNI_VERSION = '1.0.0';

export interface ConflistOptions {
  /** spec.podCIDRs of this node: one, or one per family for dual-stack. */
  podCIDRs: readonly string[];
  /** The pods' MTU (bridge and veths); omitted: the kernel's default. */
  mtu?: number;
  /** The agent's packet filter, for the plugin's chains; omitted: the plugin's default (iptables). */
  dataplane?: Dataplane;
}

export class ConflistError extends Error {
  override name = 'ConflistError';
}

/** The conflist as a plain object; throws ConflistError when the CIDRs cannot make one. */
export function buildConflist(opts: ConflistOptions): Record<string, unknown> {
  if (opts.podCIDRs.length === 0) throw new ConflistError('the node has no podCIDR yet');
  const subnets: Cidr[] = [];
  for (const s of opts.podCIDRs) {
    const c = parseCidr(s);
    if (!c) throw new ConflistError(`podCIDR "${s}" is not a CIDR`);
    if (subnets.some((o) => o.ip.family === c.ip.family)) throw new ConflistError(`more than one IPv${c.ip.family} podCIDR: ${opts.podCIDRs.join(', ')}`);
    subnets.push(canonical(c));
  }
  const ipam = { type: 'gingham', ranges: subnets.map((c) => [{ subnet: formatCidr(c) }]) };
  return {
    cniVersion: CONF_CNI_VERSION,
    name: NETWORK_NAME,
    plugins: [
      {
        type: 'gingham',
        bridge: BRIDGE,
        isGateway: true,
        isDefaultGateway: true,
        // A pod must reach itself through its own Service: kube-proxy sends that back out of the
        // pod's bridge port, which the bridge only allows with hairpin mode.
        hairpinMode: true,
        logFile: CNI_LOG_FILE,
        ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
        ...(opts.dataplane !== undefined ? { dataplane: opts.dataplane } : {}),
        ipam,
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** The file's text: stable key order and a final newline, so "unchanged" is a string compare. */
export const renderConflist = (conf: Record<string, unknown>): string => `${JSON.stringify(conf, null, 2)}\n`;
