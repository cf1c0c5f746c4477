// Names and MACs derived from stable inputs, so DEL and GC find a pod's links without its netns and
// the class sees the same MAC for the same pod every time.

/**
 * 64-bit FNV-1a as 16 hex digits. Not node:crypto: loading it costs ~4 ms at every CNI call, and
 * names only need to be stable and spread, not secret.
 */
function hex(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(s)) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/** Our host-side veths all start with this; GC only touches ports so named. */
export const VETH_PREFIX = 'gh-';

export const hostVethName = (containerId: string, ifName: string): string => `${VETH_PREFIX}${hex(`${containerId}/${ifName}`).slice(0, 12)}`;

/** A locally administered unicast MAC from a seed. */
export function macFrom(seed: string): string {
  const h = hex(seed);
  const bytes = [0x02, ...[0, 2, 4, 6, 8].map((i) => parseInt(h.slice(i, i + 2), 16))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Chains of a network: "GH-MASQ-1A2B3C4D" and "GH-INT-1A2B3C4D" (iptables allows 28 bytes). */
export const chainId = (network: string): string => hex(network).slice(0, 8).toUpperCase();
