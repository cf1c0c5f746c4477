// The agent's cluster-wide settings: one JSON file (in Kubernetes, the ConfigMap `gingham`, key
// config.json, mounted at /etc/gingham), read and validated once at start. Every node reads the
// same file, so backend, VNI and port agree across the cluster; a change takes a rollout.
import { readFileSync } from 'node:fs';
import { DATAPLANES, type Dataplane } from '../kernel/packet-filter/index.js';
import { canonical, formatCidr, parseCidr } from '../net/ip.js';

export const DEFAULT_CONFIG_PATH = '/etc/gingham/config.json';

export type Backend = 'vxlan' | 'host-gw';
export const BACKENDS: readonly Backend[] = ['vxlan', 'host-gw'];

export interface AgentConfig {
  /** How pod traffic crosses nodes: a VXLAN overlay (default, as Flannel) or direct routes. */
  backend: Backend;
  /** VXLAN network identifier of the overlay (Flannel's default: 1). */
  vni: number;
  /** UDP destination port of the overlay (the Linux default 8472, as Flannel). */
  port: number;
  /** vxlan only: peers on this node's own underlay subnet get a direct route instead of the tunnel. */
  directRouting: boolean;
  /** The pods' MTU; 0 derives it from the underlay interface (minus the VXLAN overhead). */
  mtu: number;
  /** The cluster's pod CIDRs: traffic inside them (and to the nodes) keeps its source address. */
  clusterCIDRs: string[];
  /** The cluster's Service CIDRs: traffic to them that kube-proxy did not translate is rejected. */
  serviceCIDRs: string[];
  /** Enforce NetworkPolicy (ipsets and GINGHAM-NP chains); false leaves every pod open, as Flannel. */
  networkPolicy: boolean;
  /** Verdict events for packets a policy drops (NFLOG, rate-limited per pod; README: verdict events). */
  policyLogDrops: boolean;
  /** Verdict events for new connections a policy accepts as well (same path, same limits). */
  policyLogAccepts: boolean;
  /** The port of /metrics on every address of the node (Prometheus text); 0 serves none. */
  metricsPort: number;
  /** The packet filter gingham writes (agent and bridge plugin alike, through the conflist). */
  dataplane: Dataplane;
}

/**
 * /metrics' default port. The Prometheus exporter range (9100-9999) is fully allocated, and the
 * Kubernetes components sit at 10249-10260; this one is taken by no well-known node component.
 */
export const DEFAULT_METRICS_PORT = 20917;

export const DEFAULT_CONFIG: AgentConfig = { backend: 'vxlan', vni: 1, port: 8472, directRouting: false, mtu: 0, clusterCIDRs: [], serviceCIDRs: [], networkPolicy: true, policyLogDrops: false, policyLogAccepts: false, metricsPort: DEFAULT_METRICS_PORT, dataplane: 'iptables' };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const KEYS = new Set(Object.keys(DEFAULT_CONFIG));

function int(o: Record<string, unknown>, key: string, min: number, max: number, dflt: number): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`"${key}" must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return v;
}

/** Validates the parsed JSON of the config file; unknown keys are errors (a typo must not pass). */
export function parseConfig(raw: unknown): AgentConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('the config must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw new ConfigError(`unknown key "${k}" (known: ${[...KEYS].join(', ')})`);
  const backend = o['backend'] ?? DEFAULT_CONFIG.backend;
  if (!BACKENDS.includes(backend as Backend)) throw new ConfigError(`"backend" must be one of ${BACKENDS.join(', ')}, not ${JSON.stringify(backend)}`);
  const dataplane = o['dataplane'] ?? DEFAULT_CONFIG.dataplane;
  if (!DATAPLANES.includes(dataplane as Dataplane)) throw new ConfigError(`"dataplane" must be one of ${DATAPLANES.join(', ')}, not ${JSON.stringify(dataplane)}`);
  const flag = (key: 'directRouting' | 'networkPolicy' | 'policyLogDrops' | 'policyLogAccepts'): boolean => {
    const v = o[key] ?? DEFAULT_CONFIG[key];
    if (typeof v !== 'boolean') throw new ConfigError(`"${key}" must be true or false`);
    return v;
  };
  // Given back as networks in canonical text. A /0 would cover every address: no masquerade at
  // all (clusterCIDRs), or every destination rejected (serviceCIDRs); surely a mistake.
  const cidrs = (key: string): string[] => {
    const v = o[key] ?? [];
    const parsed = Array.isArray(v) ? v.map((c) => (typeof c === 'string' ? parseCidr(c) : undefined)) : [undefined];
    if (parsed.some((c) => c === undefined)) throw new ConfigError(`"${key}" must be a list of CIDRs, not ${JSON.stringify(v)}`);
    if (parsed.some((c) => c!.prefix === 0)) throw new ConfigError(`"${key}" may not hold a /0 (it would cover every address): ${JSON.stringify(v)}`);
    return parsed.map((c) => formatCidr(canonical(c!)));
  };
  return {
    backend: backend as Backend,
    vni: int(o, 'vni', 1, 0xffffff, DEFAULT_CONFIG.vni),
    port: int(o, 'port', 1, 65535, DEFAULT_CONFIG.port),
    directRouting: flag('directRouting'),
    // 1280: the smallest MTU IPv6 allows, and far above what VXLAN over a sane underlay leaves.
    mtu: o['mtu'] === 0 || o['mtu'] === undefined ? 0 : int(o, 'mtu', 1280, 65535, 0),
    clusterCIDRs: cidrs('clusterCIDRs'),
    serviceCIDRs: cidrs('serviceCIDRs'),
    networkPolicy: flag('networkPolicy'),
    policyLogDrops: flag('policyLogDrops'),
    policyLogAccepts: flag('policyLogAccepts'),
    metricsPort: int(o, 'metricsPort', 0, 65535, DEFAULT_CONFIG.metricsPort),
    dataplane: dataplane as Dataplane,
  };
}

/** The config file, or the defaults when `path` does not exist and `required` is false. */
export function loadConfig(path: string, required: boolean): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_CONFIG };
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not JSON: ${(e as Error).message}`);
  }
  try {
    return parseConfig(json);
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
}
