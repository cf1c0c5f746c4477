// `gingham agent` arguments, parsed once into a plain command. `--flag value` and `--flag=value`.
import { parseCidr, parseIp } from '../net/ip.js';
import { DEFAULT_CONFIG_PATH } from './config.js';
import { DEFAULT_CONF_PATH } from './network/conflist.js';
import { DEFAULT_CNI_BIN_DIR } from './install.js';

export const DEFAULT_RESYNC_MS = 30_000;
/**
 * kubelet's probes ask the agent here (/healthz, /readyz). A port no other node component takes
 * by default (kubelet and the control plane 10248-10259, kube-proxy 10249/10256, node-exporter
 * 9100, Calico 9099, Cilium 4240/9879/9962-9965, the VXLAN port 8472, etcd 2379/2380).
 */
export const DEFAULT_HEALTH_PORT = 9917;
/**
 * Loopback only: the pod shares the node's network, so kubelet reaches it there (the probes name
 * host 127.0.0.1) and nothing off the node can.
 */
export const DEFAULT_HEALTH_ADDRESS = '127.0.0.1';

export const AGENT_USAGE = `usage:
  gingham agent [--config PATH] [--kubeconfig PATH] [--node-name NAME] [--resync 30s]
                [--cni-conf-path PATH] [--cluster-cidr CIDR[,CIDR]]
                [--health-port ${DEFAULT_HEALTH_PORT}] [--health-address ${DEFAULT_HEALTH_ADDRESS}] [--stuck-after DURATION]
      Watch Node objects and keep every other node's pod CIDRs reachable: through this node's
      VXLAN device gingham-vx4/gingham-vx6 (backend vxlan) or by a route via the node's
      InternalIP (host-gw); routes carry "proto 199". Masquerade traffic that leaves the
      cluster, and write this node's conflist from its podCIDRs and the underlay's MTU.
      --config         the cluster-wide settings, JSON: backend (vxlan|host-gw), vni, port,
                       directRouting, mtu, clusterCIDRs (default ${DEFAULT_CONFIG_PATH}, if there)
      --kubeconfig     default: KUBECONFIG, ~/.kube/config, else the in-cluster service account
      --node-name      this node's name (default: env NODE_NAME)
      --resync         also reconcile this often without events (default 30s)
      --cni-conf-path  where to write the conflist (default ${DEFAULT_CONF_PATH}; "" writes none)
      --cluster-cidr   overrides the config's clusterCIDRs (also: env CLUSTER_CIDR); without
                       either, every node's podCIDR counts as the cluster's
      --health-port    serve /healthz (every loop passed lately) and /readyz (every loop has
                       succeeded once) over HTTP here, for kubelet's probes; 0 serves nothing
      --health-address the address to serve them on (default ${DEFAULT_HEALTH_ADDRESS}, this node only)
      --stuck-after    /healthz fails when a loop has not finished a pass for this long (default:
                       three resync periods, at least 1m)
  gingham agent install-cni [--cni-bin-dir DIR]
      Copy this binary to DIR/gingham atomically (default ${DEFAULT_CNI_BIN_DIR}).
  gingham agent --cleanup
      Remove everything the agent made on this node: the NetworkPolicy chains (GINGHAM-NP*) and
      ipsets (gingham-np*), the masquerade and service-guard chains, the VXLAN devices, and the
      routes and rules with protocol/priority 199. Pods lose their connectivity to other nodes:
      run it after removing the DaemonSet (uninstall), not beside a running agent.
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface RunOptions {
  kind: 'run';
  configPath: string;
  /** Given explicitly: a missing file is an error, not "use the defaults". */
  configRequired: boolean;
  kubeconfig?: string;
  nodeName: string;
  resyncMs: number;
  /** "" means: write no conflist. */
  cniConfPath: string;
  /** The cluster's pod CIDRs, kept out of masquerade; [] leaves it to the config file. */
  clusterCIDRs: string[];
  /** 0: no health endpoints. */
  healthPort: number;
  healthAddress: string;
  /** Given: /healthz's bound for a loop without a finished pass; else main derives it from resyncMs. */
  stuckAfterMs?: number;
}

export type AgentCommand = { kind: 'help' } | RunOptions | { kind: 'install-cni'; cniBinDir: string } | { kind: 'cleanup' };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration ("30s", "1m30s", "500ms") in ms; undefined when it is not one. */
export function parseDuration(s: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (UNITS[m[2]!] ?? 0);
  return Math.round(total);
}

/** Flags of one command: name -> value; an unknown flag or a missing value is a UsageError. */
function flags(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!known.includes(name)) throw new UsageError(`unknown flag --${name}`);
    let value: string | undefined;
    if (eq >= 0) value = a.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    out.set(name, value);
  }
  return out;
}

function clusterCIDRs(text: string): string[] {
  const list = text.split(',').map((c) => c.trim()).filter((c) => c !== '');
  for (const c of list) if (!parseCidr(c)) throw new UsageError(`--cluster-cidr "${c}" is not a CIDR`);
  return list;
}

/** --health-port: 0 to 65535, decimal. */
function port(text: string | undefined): number {
  if (text === undefined) return DEFAULT_HEALTH_PORT;
  const n = /^\d{1,5}$/.test(text) ? Number(text) : -1;
  if (n < 0 || n > 65535) throw new UsageError(`--health-port "${text}" must be a port number (0 serves nothing)`);
  return n;
}

export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv): AgentCommand {
  if (argv.some((a) => a === '--help' || a === '-h' || a === 'help')) return { kind: 'help' };
  if (argv[0] === 'install-cni') {
    const f = flags(argv.slice(1), ['cni-bin-dir']);
    const dir = f.get('cni-bin-dir') ?? DEFAULT_CNI_BIN_DIR;
    if (dir === '') throw new UsageError('--cni-bin-dir must not be empty');
    return { kind: 'install-cni', cniBinDir: dir };
  }
  if (argv.includes('--cleanup')) {
    if (argv.length > 1) throw new UsageError('--cleanup takes no other flag');
    return { kind: 'cleanup' };
  }
  const f = flags(argv, ['config', 'kubeconfig', 'node-name', 'resync', 'cni-conf-path', 'cluster-cidr', 'health-port', 'health-address', 'stuck-after']);
  const nodeName = f.get('node-name') ?? env['NODE_NAME'] ?? '';
  if (nodeName === '') throw new UsageError('no node name: pass --node-name or set NODE_NAME (the downward API\'s spec.nodeName)');
  const resyncText = f.get('resync');
  const resyncMs = resyncText === undefined ? DEFAULT_RESYNC_MS : parseDuration(resyncText);
  if (resyncMs === undefined || resyncMs < 1000) throw new UsageError(`--resync "${resyncText ?? ''}" must be a duration of at least 1s, e.g. 30s`);
  const kubeconfig = f.get('kubeconfig');
  if (kubeconfig === '') throw new UsageError('--kubeconfig must not be empty');
  const config = f.get('config');
  if (config === '') throw new UsageError('--config must not be empty');
  const healthAddress = f.get('health-address') ?? DEFAULT_HEALTH_ADDRESS;
  if (!parseIp(healthAddress)) throw new UsageError(`--health-address "${healthAddress}" must be an IP address`);
  const stuckText = f.get('stuck-after');
  const stuckAfterMs = stuckText === undefined ? undefined : parseDuration(stuckText);
  if (stuckText !== undefined && (stuckAfterMs === undefined || stuckAfterMs < 1000)) throw new UsageError(`--stuck-after "${stuckText}" must be a duration of at least 1s, e.g. 2m`);
  return {
    kind: 'run',
    configPath: config ?? DEFAULT_CONFIG_PATH,
    configRequired: config !== undefined,
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    nodeName,
    resyncMs,
    cniConfPath: f.get('cni-conf-path') ?? DEFAULT_CONF_PATH,
    clusterCIDRs: clusterCIDRs(f.get('cluster-cidr') ?? env['CLUSTER_CIDR'] ?? ''),
    healthPort: port(f.get('health-port')),
    healthAddress,
    ...(stuckAfterMs !== undefined ? { stuckAfterMs } : {}),
  };
}
