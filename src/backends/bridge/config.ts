// The bridge backend's keys: the reference bridge plugin's names and meaning where they overlap,
// plus "isolation", "internal", "ipMasqExclude" and "dataplane".
import { invalidConfig } from '../../cni/errors.js';
import { DATAPLANES, type Dataplane } from '../../kernel/packet-filter/index.js';
import { type Obj, cidrOf, optArr, optBool, optInt, optStr, validIfName } from '../../cni/validate.js';
import { type Cidr, canonical } from '../../net/ip.js';

export interface BridgeConfig {
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasq: boolean;
  /** Destinations never masqueraded besides the pod subnets: a cluster's whole pod CIDR. */
  ipMasqExclude: Cidr[];
  mtu?: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  /** 0: no VLAN. */
  vlan: number;
  /** Pods on the bridge cannot reach each other directly (bridge port isolation). */
  isolation: boolean;
  /** No masquerade and no route off the node: pods reach the node and each other only. */
  internal: boolean;
  /** The packet filter the network's chains go to (the agent's conflist writes its own setting). */
  dataplane: Dataplane;
}

export const DEFAULT_BRIDGE = 'cni0';

function dataplaneOf(raw: Obj): Dataplane {
  const v = optStr(raw, 'dataplane') ?? 'iptables';
  if (!DATAPLANES.includes(v as Dataplane)) throw invalidConfig(`dataplane "${v}" is not one of ${DATAPLANES.join(', ')}`);
  return v as Dataplane;
}

export function parseBridgeConfig(raw: Obj): BridgeConfig {
  const bridge = optStr(raw, 'bridge') ?? DEFAULT_BRIDGE;
  if (!validIfName(bridge)) throw invalidConfig(`bridge "${bridge}" is not a valid interface name`);
  const isDefaultGateway = optBool(raw, 'isDefaultGateway') ?? false;
  const cfg: BridgeConfig = {
    bridge,
    // As in the reference plugin, a default gateway is a gateway.
    isGateway: (optBool(raw, 'isGateway') ?? false) || isDefaultGateway,
    isDefaultGateway,
    forceAddress: optBool(raw, 'forceAddress') ?? false,
    ipMasq: optBool(raw, 'ipMasq') ?? false,
    ipMasqExclude: (optArr(raw, 'ipMasqExclude') ?? []).map((c, i) => canonical(cidrOf(c, `ipMasqExclude[${i}]`))),
    hairpinMode: optBool(raw, 'hairpinMode') ?? false,
    promiscMode: optBool(raw, 'promiscMode') ?? false,
    vlan: optInt(raw, 'vlan', 0, 4094) ?? 0,
    isolation: optBool(raw, 'isolation') ?? false,
    internal: optBool(raw, 'internal') ?? false,
    dataplane: dataplaneOf(raw),
  };
  const mtu = optInt(raw, 'mtu', 68, 65535);
  if (mtu !== undefined) cfg.mtu = mtu;
  if (cfg.internal && cfg.ipMasq) throw invalidConfig('"internal" and "ipMasq" contradict each other: an internal network has no way off the node');
  if (cfg.internal && cfg.isDefaultGateway) throw invalidConfig('"internal" and "isDefaultGateway" contradict each other: an internal network has no default route');
  if (cfg.hairpinMode && cfg.isolation) throw invalidConfig('"hairpinMode" and "isolation" cannot be combined on one port');
  return cfg;
}
