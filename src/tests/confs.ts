// Network configurations used by the namespace tests.
import { join } from 'node:path';
import type { Cluster } from './cluster.js';

export type Conf = Record<string, unknown>;

/** A gingham bridge network with its own IPAM dataDir per node (nodes share one filesystem). */
export function bridgeConf(c: Cluster, node: string, over: Conf = {}, ipamOver: Conf = {}): Conf {
  return {
    cniVersion: '1.1.0',
    name: 'testnet',
    type: 'gingham',
    bridge: 'gbr0',
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: true,
    ...over,
    ipam: { type: 'gingham', dataDir: join(c.tmp, `ipam-${node}`), ranges: [[{ subnet: '198.18.16.0/24' }]], ...ipamOver },
  };
}

export const dualStack = { ranges: [[{ subnet: '198.18.16.0/24' }], [{ subnet: 'fd42:18:16::/64' }]] };

/** The pod-side addresses of an ADD result. */
export function addressesOf(result: Conf): string[] {
  return (result['ips'] as { address: string }[]).map((i) => i.address);
}

export const bare = (cidr: string): string => cidr.slice(0, cidr.indexOf('/'));
