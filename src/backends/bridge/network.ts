// The per-node, per-network part of the bridge backend: the bridge, its gateway addresses,
// forwarding and the network's packet-filter chains. Set up by the first ADD, torn down when the last
// pod leaves. A marker in /run (tmpfs: gone on reboot, like the kernel state it describes) records
// what was set up for which bridge ifindex, so the ADDs after the first cost no exec and no lock.
//
// Without a lock on the common path, ADD and a last-pod DEL could cross. They follow a protocol
// instead: ADD attaches its port, then reads the marker (and sets the network up under the lock if
// it is gone); DEL removes the marker, then counts ports, and tears down only if none is there.
// Whichever comes second sees the other's write.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code, invalidConfig } from '../../cni/errors.js';
import type { ResultIp } from '../../cni/result.js';
import { isObj } from '../../cni/validate.js';
import { batchLine } from '../../kernel/ip-batch.js';
import { deleteLinks, ipBatch, ipJson, sysfs } from '../../kernel/iproute.js';
import { DATAPLANES, chainsBackend, otherBackends } from '../../kernel/packet-filter/index.js';
import { ownNetnsId } from '../../kernel/netns.js';
import { ensureSysctl } from '../../kernel/sysctl.js';
import { withLock } from '../../lock.js';
import { type Cidr, formatCidr, parseCidr } from '../../net/ip.js';
import type { BridgeConfig } from './config.js';
import { networkOwner, planFirewall } from './firewall.js';
import { bridgeLines, gatewaysOf, subnetsOf, vlanLines } from './plan.js';

export const RUN_DIR = process.env['GINGHAM_RUN_DIR'] ?? '/run/gingham';

interface Marker {
  bridgeIndex: number;
  config: string;
  subnets: string[];
  gateways: string[];
}

/** The config as the marker records it (its CIDRs hold BigInts, which JSON cannot write as such). */
const configKey = (cfg: BridgeConfig): string => JSON.stringify(cfg, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

const netDir = (network: string): string => join(RUN_DIR, ownNetnsId(), network);
const markerPath = (network: string): string => join(netDir(network), 'network.json');

export const withNetworkLock = <T>(network: string, fn: () => Promise<T>): Promise<T> => withLock(netDir(network), fn);

function readMarker(network: string): Marker | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(markerPath(network), 'utf8'));
    return isObj(v) ? (v as unknown as Marker) : undefined;
  } catch {
    return undefined;
  }
}

async function bridgeAddrs(bridge: string): Promise<Cidr[]> {
  const [links = []] = await ipJson(['ip'], [batchLine('addr', 'show', 'dev', bridge)]);
  const out: Cidr[] = [];
  for (const l of links) {
    if (!isObj(l) || !Array.isArray(l['addr_info'])) continue;
    for (const a of l['addr_info']) {
      if (!isObj(a) || a['scope'] !== 'global') continue;
      const c = parseCidr(`${String(a['local'])}/${String(a['prefixlen'])}`);
      if (c) out.push(c);
    }
  }
  return out;
}

/**
 * The network's chains as its config wants them, by the chosen dataplane; then whatever another
 * dataplane made of this network goes (new first, old second: a switch on a live node is never open).
 */
async function applyFirewall(network: string, cfg: BridgeConfig, subnets: Cidr[]): Promise<void> {
  const owner = networkOwner(network, cfg);
  if (owner.chains.length === 0) return;
  await chainsBackend(cfg.dataplane).ensure(owner, planFirewall(network, cfg, subnets));
  // Read first: a removal that finds nothing costs an nft transaction (~20 ms), a read ~5.
  for (const other of otherBackends(cfg.dataplane)) if ((await other.read(owner)).present) await other.remove(owner);
}

interface Wanted {
  fresh: Marker | undefined;
  subnets: string[];
  gateways: string[];
  ready: boolean;
}

/** What the network needs for these addresses, and whether the marker says it is all there. */
function wanted(network: string, cfg: BridgeConfig, ips: readonly ResultIp[]): Wanted {
  const old = readMarker(network);
  const fresh = old && old.config === configKey(cfg) && sysfs.ifindex(cfg.bridge) === old.bridgeIndex ? old : undefined;
  const subnets = [...new Set([...(fresh?.subnets ?? []), ...subnetsOf(ips).map(formatCidr)])];
  const gateways = [...new Set([...(fresh?.gateways ?? []), ...gatewaysOf(ips).map(formatCidr)])];
  const ready = fresh !== undefined && subnets.length === fresh.subnets.length && gateways.length === fresh.gateways.length;
  return { fresh, subnets, gateways, ready };
}

/** Lock-free: is the network set up for these addresses? */
export const networkReady = (network: string, cfg: BridgeConfig, ips: readonly ResultIp[]): boolean => wanted(network, cfg, ips).ready;

/**
 * A new bridge starts IPv6 duplicate address detection of its link-local address when its first
 * port comes up, and sends no neighbour solicitation until that ends (1-2 s): the first pod's
 * first IPv6 packets from another node wait that long. The bridge's addresses are ours alone
 * (the gateways already go in nodad), so DAD is switched off before any port joins. Without
 * IPv6 in this namespace there is nothing to switch off.
 */
function skipBridgeDad(bridge: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/accept_dad`, '0');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Make the network ready for pods with these addresses; call it holding the network lock. Returns whether it made the bridge. */
export async function ensureNetwork(network: string, cfg: BridgeConfig, ips: readonly ResultIp[]): Promise<boolean> {
  const { subnets, gateways, ready } = wanted(network, cfg, ips);
  if (ready) return false;
  const config = configKey(cfg);

  const exists = sysfs.exists(cfg.bridge);
  if (exists && !sysfs.isBridge(cfg.bridge)) throw invalidConfig(`${cfg.bridge} exists and is not a bridge`);
  const cidrs = (list: string[]): Cidr[] => list.map((s) => parseCidr(s)!);
  try {
    await ipBatch(['ip'], bridgeLines(cfg, exists ? await bridgeAddrs(cfg.bridge) : undefined, cidrs(gateways)));
    if (!exists) skipBridgeDad(cfg.bridge);
    await ipBatch(['bridge'], vlanLines(cfg, undefined));
    if (cfg.isGateway) {
      if (gateways.some((g) => !g.includes(':'))) ensureSysctl('net.ipv4.ip_forward', '1');
      if (gateways.some((g) => g.includes(':'))) ensureSysctl('net.ipv6.conf.all.forwarding', '1');
    }
    await applyFirewall(network, cfg, cidrs(subnets));
  } catch (e) {
    if (!exists && sysfs.exists(cfg.bridge) && sysfs.bridgePorts(cfg.bridge).length === 0) {
      await deleteLinks([cfg.bridge]).catch(() => undefined);
    }
    if (cfg.vlan && e instanceof CniError && /Operation not supported/.test(e.message)) {
      throw new CniError(Code.KernelFailure, `vlan ${cfg.vlan}: this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)`, e.details);
    }
    throw e instanceof CniError ? e : new CniError(Code.KernelFailure, `setting up network ${network}: ${(e as Error).message}`);
  }
  mkdirSync(netDir(network), { recursive: true });
  const marker: Marker = { bridgeIndex: sysfs.ifindex(cfg.bridge) ?? -1, config, subnets, gateways };
  writeFileSync(markerPath(network), JSON.stringify(marker));
  return !exists;
}

/**
 * When no port is left on the bridge: remove the network's chains (those its config uses by its
 * dataplane, or every chain of every dataplane when `everyTable`, for GC) and the marker; the
 * bridge too if `deleteBridge`.
 */
export async function releaseIfUnused(network: string, cfg: BridgeConfig, opts: { deleteBridge: boolean; everyTable: boolean }): Promise<boolean> {
  if (sysfs.bridgePorts(cfg.bridge).length > 0) return false;
  // Marker first, then count again: an ADD that attached meanwhile keeps the chains (see top).
  rmSync(markerPath(network), { force: true });
  if (sysfs.bridgePorts(cfg.bridge).length > 0) return false;
  if (opts.everyTable) for (const d of DATAPLANES) await chainsBackend(d).remove(networkOwner(network, 'all'));
  else await chainsBackend(cfg.dataplane).remove(networkOwner(network, cfg));
  if (opts.deleteBridge) await deleteLinks([cfg.bridge]);
  return true;
}
