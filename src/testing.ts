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
  ...over,
});
