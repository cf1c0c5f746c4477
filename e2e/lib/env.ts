// Where the e2e suite finds its cluster and tools. Everything comes from the repository
// (e2e/kind/versions.env, .e2e/kubeconfig written by `make kind-up`), never from the caller's
// KUBECONFIG: the suite creates and deletes objects and must not land on another cluster.
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
export const KUBECONFIG = process.env['GINGHAM_E2E_KUBECONFIG'] ?? `${REPO}/.e2e/kubeconfig`;
export const CLUSTER = process.env['KIND_CLUSTER'] ?? 'gingham';
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
export const POD_CIDR = '198.18.128.0/17';

/** Ports of the probe server in every test pod. */
export const TCP_PORT = 8080;
export const UDP_PORT = 8081;
