// Small builders shared by unit tests (never imported by the plugin itself).
import type { BridgeConfig } from './backends/bridge/config.js';
import { type Cidr, parseCidr } from './net/ip.js';

export const cidrs = (...list: string[]): Cidr[] =>
  list.map((s) => {
    const c = parseCidr(s);
    if (!c) throw new Error(`test setup: ${s}`);
    return c;
  });

/** A bridge config with every key at the reference plugin's default, bridge "cni0". */
export const bridgeConfig = (over: Partial<BridgeConfig> = {}): BridgeConfig => ({
  bridge: 'cni0',
  isGateway: false,
  isDefaultGateway: false,
  forceAddress: false,
  ipMasq: false,
  ipMasqExclude: [],
  hairpinMode: false,
  promiscMode: false,
  vlan: 0,
  isolation: false,
  internal: false,
  dataplane: 'iptables',
  ...over,
});

/** A small seeded PRNG (mulberry32): random cases that a failure's seed reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
