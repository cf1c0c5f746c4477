// The bridge backend's verbs. Addresses are reserved before links are made, and any failure in ADD
// undoes what the call made, so a failed ADD leaves nothing behind; a crash in between leaves what
// GC removes. DEL removes the links and releases the reservation side by side.
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { CniEnv } from '../../cni/env.js';
import { CniError, Code, invalidConfig } from '../../cni/errors.js';
import type { NetConf } from '../../cni/netconf.js';
import type { Result } from '../../cni/result.js';
import { isObj } from '../../cni/validate.js';
import { ipamFor } from '../../ipam/client.js';
import { batchLine } from '../../kernel/ip-batch.js';
import { deleteLinks, ipBatch, ipJson, sysfs } from '../../kernel/iproute.js';
import { checkPodNetns, ipIn } from '../../kernel/netns.js';
import { log, mark } from '../../log.js';
import { parseBridgeConfig } from './config.js';
import { VETH_PREFIX, hostVethName } from './names.js';
import { ensureNetwork, networkReady, releaseIfUnused, withNetworkLock } from './network.js';
import { buildResult, planPod, podRoutes, vlanLines } from './plan.js';

const delLink = (name: string): Promise<void> => (sysfs.exists(name) ? deleteLinks([name]) : Promise.resolve());

export async function bridgeAdd(conf: NetConf, env: CniEnv, stdin: string): Promise<Result> {
  const cfg = parseBridgeConfig(conf.raw);
  const ipam = ipamFor(conf, env, stdin);
  checkPodNetns(env.netns);
  const ir = await ipam.add();
  mark('ipam');
  if (ir.ips.length === 0) {
    await ipam.del();
    throw new CniError(Code.InvalidConfig, `IPAM ${ipam.type} returned no address`);
  }
  const att = { containerId: env.containerId, ifName: env.ifName, netns: env.netns, ...(conf.mac ? { mac: conf.mac } : {}) };
  let createdBridge = false;
  let hostVeth: string | undefined;
  try {
    const plan = planPod(cfg, att, ir.ips, podRoutes(cfg, ir.routes ?? [], ir.ips));
    hostVeth = plan.hostVeth;
    // A repeated ADD for the same attachment starts over with fresh links (same addresses).
    await delLink(plan.hostVeth);
    const ensure = (): Promise<void> =>
      withNetworkLock(conf.name, async () => {
        createdBridge = (await ensureNetwork(conf.name, cfg, ir.ips)) || createdBridge;
      });
    if (!networkReady(conf.name, cfg, ir.ips)) await ensure();
    mark('network');
    await ipBatch(['ip'], plan.hostLines);
    await ipBatch(['bridge'], vlanLines(cfg, plan.hostVeth));
    // Attached first, marker read second: a last-pod DEL in between cannot strand this pod.
    if (!networkReady(conf.name, cfg, ir.ips)) await ensure();
    mark('host');
    await ipBatch(ipIn(env.netns), plan.podLines);
    mark('pod');
    return buildResult(cfg, att, plan, sysfs.mac(cfg.bridge) ?? '', ir.ips, conf.dns ?? ir.dns);
  } catch (e) {
    const undo = async (): Promise<void> => {
      await withNetworkLock(conf.name, async () => {
        if (hostVeth) await delLink(hostVeth);
        await releaseIfUnused(conf.name, cfg, { deleteBridge: createdBridge, everyTable: false });
      });
      await ipam.del();
    };
    await undo().catch((u: unknown) => log('error', 'rollback after failed ADD was incomplete', { error: String(u) }));
    throw e;
  }
}

export async function bridgeDel(conf: NetConf, env: CniEnv, stdin: string): Promise<void> {
  const cfg = parseBridgeConfig(conf.raw);
  const ipam = ipamFor(conf, env, stdin);
  // The host end is named after the attachment, so this works when the netns is already gone.
  // The kernel takes 25-35 ms to unregister a veth; the reservation is released first (as the
  // reference plugin releases before it deletes: commands run blocking, so "meanwhile" is
  // "before"), and also when removing the link fails.
  const released = ipam.del().then(() => mark('ipam'));
  const links = (async (): Promise<void> => {
    await delLink(hostVethName(env.containerId, env.ifName));
    mark('link');
    if (sysfs.bridgePorts(cfg.bridge).length === 0) {
      await withNetworkLock(conf.name, () => releaseIfUnused(conf.name, cfg, { deleteBridge: false, everyTable: false }));
    }
    mark('network');
  })();
  const [l, i] = await Promise.allSettled([links, released]);
  for (const r of [l, i]) if (r.status === 'rejected') throw r.reason;
}

interface PodView {
  mac?: string;
  addrs: string[];
  routes: { dst: string; gw?: string }[];
}

async function podView(netns: string, ifName: string): Promise<PodView | undefined> {
  const [link = [], v4 = [], v6 = []] = await ipJson(ipIn(netns), [
    batchLine('addr', 'show', 'dev', ifName),
    batchLine('route', 'show', 'table', 'all', 'root', '0.0.0.0/0'),
    batchLine('route', 'show', 'table', 'all', 'root', '::/0'),
  ]);
  const l = link[0];
  if (!isObj(l)) return undefined;
  const addrs = (Array.isArray(l['addr_info']) ? l['addr_info'] : []).filter(isObj).map((a) => `${String(a['local'])}/${String(a['prefixlen'])}`);
  const routes = [...v4, ...v6].filter(isObj).map((r) => {
    const dst = String(r['dst']);
    const out: { dst: string; gw?: string } = { dst: dst === 'default' ? (r['gateway'] && String(r['gateway']).includes(':') ? '::/0' : '0.0.0.0/0') : dst };
    if (typeof r['gateway'] === 'string') out.gw = r['gateway'];
    return out;
  });
  const view: PodView = { addrs, routes };
  if (typeof l['address'] === 'string') view.mac = l['address'];
  return view;
}

export async function bridgeCheck(conf: NetConf, env: CniEnv, stdin: string): Promise<void> {
  const cfg = parseBridgeConfig(conf.raw);
  const prev = conf.prevResult;
  if (!prev) throw invalidConfig('CHECK needs prevResult');
  await ipamFor(conf, env, stdin).check(prev);
  const fail = (msg: string): CniError => new CniError(Code.IoFailure, `CHECK ${env.containerId}/${env.ifName}: ${msg}`);
  if (!sysfs.isBridge(cfg.bridge)) throw fail(`bridge ${cfg.bridge} is missing`);
  const hostVeth = hostVethName(env.containerId, env.ifName);
  let master = '';
  try {
    master = basename(readlinkSync(`/sys/class/net/${hostVeth}/master`));
  } catch {
    throw fail(`host veth ${hostVeth} is missing or not on a bridge`);
  }
  if (master !== cfg.bridge) throw fail(`host veth ${hostVeth} is on ${master}, not ${cfg.bridge}`);
  checkPodNetns(env.netns);
  const view = await podView(env.netns, env.ifName);
  if (!view) throw fail(`interface ${env.ifName} is missing in ${env.netns}`);
  const podIndex = (prev.interfaces ?? []).findIndex((i) => i.name === env.ifName && i.sandbox);
  const want = podIndex >= 0 ? prev.interfaces?.[podIndex] : undefined;
  if (want?.mac && view.mac !== want.mac.toLowerCase()) throw fail(`MAC is ${view.mac}, prevResult says ${want.mac}`);
  for (const ip of prev.ips) {
    if (podIndex >= 0 && ip.interface !== podIndex) continue;
    if (!view.addrs.includes(ip.address)) throw fail(`address ${ip.address} is missing`);
  }
  for (const r of prev.routes ?? []) {
    const found = view.routes.some((v) => v.dst === r.dst && (!r.gw || v.gw === r.gw));
    if (!found) throw fail(`route to ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing`);
  }
}

/** Exactly the shape of hostVethName: a port someone else named "gh-#x" is not ours to delete. */
const OUR_VETH = new RegExp(`^${VETH_PREFIX}[0-9a-f]{12}$`);

export async function bridgeGc(conf: NetConf, env: CniEnv, stdin: string): Promise<void> {
  const cfg = parseBridgeConfig(conf.raw);
  const valid = conf.validAttachments ?? [];
  const keep = new Set(valid.map((v) => hostVethName(v.containerId, v.ifName)));
  await withNetworkLock(conf.name, async () => {
    const stale = sysfs.bridgePorts(cfg.bridge).filter((p) => OUR_VETH.test(p) && !keep.has(p));
    await deleteLinks(stale);
    await releaseIfUnused(conf.name, cfg, { deleteBridge: false, everyTable: true });
  });
  await ipamFor(conf, env, stdin).gc(valid);
}

export async function bridgeStatus(conf: NetConf, env: CniEnv, stdin: string): Promise<void> {
  parseBridgeConfig(conf.raw);
  await ipamFor(conf, env, stdin).status();
}
