// Where the e2e suite finds its cluster and tools. Everything comes from the repository
// (e2e/kind/versions.env, .e2e/kubeconfig[-<cluster>] written by `make kind-up`) and the same
// variables the kind scripts read (BACKEND, IP_FAMILY, KUBE_PROXY_MODE, DATAPLANE, KIND_CLUSTER,
// KIND_KUBECONFIG), never from the caller's KUBECONFIG: the suite creates and deletes objects and
// must not land on another cluster.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function readVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`${REPO}/e2e/kind/versions.env`, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const versions = readVersions();
export const K8S_VERSION = versions['K8S_VERSION'] ?? 'v1.33.13';
export const CACHE = process.env['GINGHAM_E2E_CACHE'] ?? '/var/cache/gingham-e2e';
export const KUBECTL = `${CACHE}/bin/kubernetes-${K8S_VERSION}/kubectl`;

/** One of the allowed values of an environment variable; unset or empty gives the default (as bash's ${X:-d}). */
function choice<T extends string>(name: string, allowed: readonly T[], dflt: T): T {
  const v = process.env[name] || dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name}=${v}: must be one of ${allowed.join(', ')}`);
  return v as T;
}

// The cluster's flavour, name and address plan: the same defaults as e2e/kind/paths.sh (which
// `make kind-up` and `make e2e` use); change both together.
/** How the agent carries pod traffic between nodes (its ConfigMap, written by e2e/install.sh). */
export const BACKEND = choice('BACKEND', ['vxlan', 'host-gw'], 'vxlan');
/** The cluster's address families (kind's networking.ipFamily): ipv4, ipv6 or dual. */
export const IP_FAMILY = choice('IP_FAMILY', ['ipv4', 'ipv6', 'dual'], 'ipv4');
/** kube-proxy's mode (kind's networking.kubeProxyMode, KUBE_PROXY_MODE of e2e/kind/paths.sh). */
export const KUBE_PROXY_MODE = choice('KUBE_PROXY_MODE', ['iptables', 'nftables'], 'iptables');
/** The agent's packet filter (its ConfigMap key dataplane, written by e2e/install.sh): where gingham's chains live. */
export const DATAPLANE = choice('DATAPLANE', ['iptables', 'nftables'], 'iptables');
/** An address family, numbered as src/net/ip.ts numbers them. */
export type Family = 4 | 6;
/**
 * The cluster's families, in kind's order (IPv4 first in a dual-stack cluster): every node and pod
 * has one address of each. The first is the primary one: status.podIP's, spec.podCIDR's, and the
 * family of the node's first InternalIP.
 */
export const FAMILIES: readonly Family[] = IP_FAMILY === 'ipv4' ? [4] : IP_FAMILY === 'ipv6' ? [6] : [4, 6];
export const PRIMARY: Family = FAMILIES[0]!;
/** A dual-stack cluster: every pod and node has an IPv4 and an IPv6 address. */
export const DUAL = FAMILIES.length === 2;
// paths.sh knows a third CNI, the reference bridge without an agent (CNI=bridge, e2e/bridge/), for
// make conformance and make compare (whose measure.ts takes --cni bridge rather than this
// variable); the suite and the benches test gingham's agent.
if (process.env['CNI'] === 'bridge') throw new Error('CNI=bridge: the e2e suite, the benches and compare run on the gingham or the flannel cluster');
/** What the cluster runs: gingham, or Flannel beside it (e2e/flannel/). */
export const CNI = choice('CNI', ['gingham', 'flannel'], 'gingham');
const clusterBase = CNI === 'gingham' ? 'gingham' : `gingham-${CNI}`;
export const CLUSTER = process.env['KIND_CLUSTER'] || (IP_FAMILY === 'ipv4' ? clusterBase : `${clusterBase}-${IP_FAMILY}`);
export const KUBECONFIG =
  process.env['GINGHAM_E2E_KUBECONFIG'] || process.env['KIND_KUBECONFIG'] || `${REPO}/.e2e/${CLUSTER === 'gingham' ? 'kubeconfig' : `kubeconfig-${CLUSTER}`}`;
// The address plan (ARCHITECTURE.md), per family: the pod and Service CIDRs (kind's podSubnet and
// serviceSubnet, as paths.sh sets them) and the ranges of the Docker network the kind nodes sit on
// (e2e/kind/up.sh makes it inside them), where the suite also puts a host outside the cluster.
const PLAN: Record<Family, { pods: string; services: string; nodes: string }> = {
  4: { pods: '198.18.128.0/17', services: '198.18.64.0/20', nodes: '198.19.0.0/16' },
  6: { pods: 'fd42:18:8000::/56', services: 'fd42:18:6400::/112', nodes: 'fd42:19::/32' },
};
const ofCluster = (key: keyof (typeof PLAN)[Family]): Readonly<Partial<Record<Family, string>>> => Object.fromEntries(FAMILIES.map((f) => [f, PLAN[f][key]]));
/** The cluster's pod CIDRs by family (only its own families). */
export const POD_CIDR = ofCluster('pods');
/** The cluster's pod CIDRs in family order, one per family. */
export const POD_CIDRS: readonly string[] = FAMILIES.map((f) => PLAN[f].pods);
/** The Service CIDRs by family. */
export const SERVICE_CIDR = ofCluster('services');
/** The nodes' Docker networks by family (198.19.0.0/16, fd42:19::/32). */
export const NODE_NET = ofCluster('nodes');
/** The test pods run the gingham image itself (`gingham probe ...`), loaded into the nodes by install.sh. */
export const IMAGE = process.env['GINGHAM_IMAGE'] ?? 'gingham-e2e/gingham:dev';
export const GINGHAM_IN_IMAGE = '/usr/local/bin/gingham';
/** The host's own gingham binary, for probes sent from the host to the nodes' Docker addresses. */
export const GINGHAM_HOST = `${REPO}/bin/gingham`;
/** A static busybox from the host (Debian busybox-static): the pods' `ping`. */
export const BUSYBOX_HOST = process.env['GINGHAM_E2E_BUSYBOX'] ?? '/usr/bin/busybox';

/** Where gingham keeps its reservations on a node (default dataDir, network "gingham"). */
export const NETWORK = 'gingham';
export const DATA_DIR = `/var/lib/cni/gingham/${NETWORK}`;
export const CONFLIST = '/etc/cni/net.d/10-gingham.conflist';
/** The plugin's log on a node: the conflist the agent writes names it (the agent reads it for metrics). */
export const CNI_LOG = '/var/log/gingham/cni.log';

/** Ports of the probe server in every test pod. */
export const TCP_PORT = 8080;
export const UDP_PORT = 8081;
