// The agent's /state from small fixtures: a plan of each backend, reservation files as the IPAM
// writes them, a compiled policy view, and the kernel check's throttle under a fake clock.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostVethName } from '../backends/bridge/names.js';
import { parseCidr } from '../net/ip.js';
import { DEFAULT_CONFIG } from './config.js';
import type { KernelSnapshot } from './network/changes.js';
import { type NetworkPlan, planNetwork } from './network/plan.js';
import { localReservations } from './policy/local-pods.js';
import type { CompiledView } from './policy/reconcile.js';
import { resolveAll } from './policy/resolve.js';
import { cnp, inNs, ns, pod, policy, rule, sel } from './policy/testing.js';
import { type KernelCheck, StateView, Throttled, checkBetweenPasses, checkKernel, localPods, peersOf } from './state-view.js';
import { node } from './testing.js';

const addrs = [{ ifname: 'eth0', mtu: 1500, cidr: parseCidr('198.18.0.1/24')! }];
const nodes = [node('n1', ['198.18.128.0/24'], ['198.18.0.1']), node('n2', ['198.18.129.0/24'], ['198.18.0.2']), node('n3', [], ['198.18.0.3'])];
const vxlan = planNetwork(nodes[0]!, nodes, { ...DEFAULT_CONFIG, backend: 'vxlan' }, addrs);
const hostGw = planNetwork(nodes[0]!, nodes, { ...DEFAULT_CONFIG, backend: 'host-gw' }, addrs);

/** What the kernel holds once a host-gw plan is applied (its routes; no chains read). */
const applied = (plan: NetworkPlan): KernelSnapshot => ({ overlay: { links: [], neighbours: [], fdb: [] }, addrs, routes: plan.routes, nodeRoutes: [], rules: [], filter: {} });

describe('the plan in /state', () => {
  it('vxlan: the device with its family, and each peer through it with the VTEP and its MAC', () => {
    expect(peersOf(vxlan)).toEqual([{ node: 'n2', podCIDR: '198.18.129.0/24', nodeIP: '198.18.0.2', via: '198.18.129.0', dev: 'gingham-vx4', vtep: '198.18.129.0', vtepMac: vxlan.peers[0]!.vtepMac }]);
  });

  it('host-gw: the peer straight over the underlay, no device', () => {
    expect(peersOf(hostGw)).toEqual([{ node: 'n2', podCIDR: '198.18.129.0/24', nodeIP: '198.18.0.2', via: '198.18.0.2' }]);
  });
});

describe('this node\'s pods, from the IPAM store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-state-view-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const reserve = (network: string, fields: Record<string, unknown>): void => {
    const at = join(dir, network, 'attachments');
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, `r${n++}`), JSON.stringify({ ifName: 'eth0', created: '2025-01-01T00:00:00Z', ...fields }));
  };

  it('one entry per pod, its addresses canonical, the veth of its newest reservation; unreadable names left out', () => {
    reserve('gingham', { containerId: 'c1', ips: ['198.18.128.5/24', 'FD42:18:128::5/64'], podNamespace: 'shop', podName: 'web' });
    reserve('gingham', { containerId: 'c2', ips: ['198.18.128.6/24'], podNamespace: 'shop', podName: 'db', created: '2025-01-01T00:00:00Z' });
    reserve('gingham', { containerId: 'c3', ips: ['198.18.128.7/24'], podNamespace: 'shop', podName: 'db', created: '2025-01-02T00:00:00Z' });
    reserve('gingham', { containerId: 'c4', ips: ['198.18.128.8/24'], podNamespace: 'shop', podName: 'bad name' });
    reserve('gingham', { containerId: 'c5', ips: ['198.18.128.9/24'] });
    expect(localPods(localReservations(dir))).toEqual([
      { namespace: 'shop', name: 'db', ips: ['198.18.128.6', '198.18.128.7'], veth: hostVethName('c3', 'eth0') },
      { namespace: 'shop', name: 'web', ips: ['198.18.128.5', 'fd42:18:128::5'], veth: hostVethName('c1', 'eth0') },
    ]);
  });
});

describe('the kernel check', () => {
  const at = () => new Date('2025-01-01T00:00:00Z');

  it('matches right after the plan is applied; a route deleted by hand is one difference', async () => {
    expect(await checkKernel(hostGw, async () => applied(hostGw), at)).toEqual({ matches: true, differences: 0, checkedAt: '2025-01-01T00:00:00.000Z' });
    const lost = { ...applied(hostGw), routes: [] };
    expect(await checkKernel(hostGw, async () => lost, at)).toMatchObject({ matches: false, differences: 1 });
  });

  it('a read that fails, or no plan yet, is told in error, not thrown', async () => {
    expect(await checkKernel(hostGw, () => Promise.reject(new Error('ip: not found')), at)).toMatchObject({ matches: false, error: 'ip: not found' });
    expect(await checkKernel(undefined, async () => applied(hostGw), at)).toMatchObject({ matches: false, error: 'no network pass yet' });
  });

  it('reads again when a pass ran during the read, never more than the tries', async () => {
    let passes = { started: 1, ended: 1 };
    let reads = 0;
    const ok = { matches: true, differences: 0, checkedAt: 't' };
    // The first read overlaps a pass (one starts and ends meanwhile); the second does not.
    const read = async (): Promise<typeof ok> => {
      if (++reads === 1) passes = { started: 2, ended: 2 };
      return ok;
    };
    expect(await checkBetweenPasses(read, () => passes, 3, 1)).toBe(ok);
    expect(reads).toBe(2);
    // A pass that never ends: the third read is taken as it is.
    let stuck = 0;
    await checkBetweenPasses(async () => (stuck++, ok), () => ({ started: 5, ended: 4 }), 3, 1);
    expect(stuck).toBe(3);
  });

  it('runs at most once per period whatever the number of requests, and never twice at once', async () => {
    let clock = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const t = new Throttled(
      () => {
        runs++;
        return new Promise<number>((resolve) => (release = () => resolve(runs)));
      },
      5000,
      () => clock,
    );
    const a = t.get();
    const b = t.get();
    clock = 6000; // still running: shared, not a second run
    const c = t.get();
    release();
    expect(await Promise.all([a, b, c])).toEqual([1, 1, 1]);
    clock = 4999;
    expect(await t.get()).toBe(1);
    clock = 5000;
    const d = t.get();
    release();
    expect(await d).toBe(2);
    expect(runs).toBe(2);
  });
});

describe('/state', () => {
  const web = pod('shop', 'web', ['198.18.128.5'], { node: 'n1', labels: { app: 'web' } });
  const db = pod('shop', 'db', ['198.18.128.6'], { node: 'n1', labels: { app: 'db' } });
  const far = pod('shop', 'far', ['198.18.129.5'], { node: 'n2', labels: { app: 'web' } });
  const host = pod('kube-system', 'proxy', ['198.18.0.1'], { node: 'n1', hostNetwork: true });
  const pods = [web, db, far, host];
  const { policies: resolved, cluster } = resolveAll({
    pods,
    namespaces: [ns('shop'), ns('kube-system')],
    nodes: [],
    policies: [policy('shop', 'web-in', { select: sel({ app: 'web' }), ingress: [rule()] }), policy('shop', 'all-out', { egress: [] })],
    clusterPolicies: [cnp('shop-guard', 'Admin', 10, inNs(sel({ ns: 'shop' })), { ingress: [] })],
  });
  const view: CompiledView = { node: 'n1', pods, resolved, cluster };
  const kernel: KernelCheck = { matches: true, differences: 0, checkedAt: '2025-01-01T00:00:00.000Z' };
  const config = { ...DEFAULT_CONFIG, policyLogDrops: true };
  const deps = { node: 'n1', version: '0.1.0 (abc1234, node v24.1.0)', config, plan: () => vxlan, reservations: () => [], view: () => view, kernel: async () => kernel, bridge: 'gingham0' };

  it('the plan, the pods, the policies isolating each of this node\'s pods, the kernel and whether events are on', async () => {
    const s = await new StateView(deps).state();
    expect(s).toMatchObject({ node: 'n1', version: '0.1.0 (abc1234, node v24.1.0)', backend: 'vxlan', dataplane: 'iptables', mtu: 1450, bridge: 'gingham0', kernel, events: true });
    expect(s.devices).toEqual([{ name: 'gingham-vx4', family: 4, vni: 1, mac: vxlan.devices[0]!.mac, vtep: '198.18.128.0', local: '198.18.0.1', port: 8472, mtu: 1450 }]);
    expect(s.skipped).toEqual([{ node: 'n3', reason: 'no podCIDR yet' }]);
    expect(s.isolation).toEqual([
      { pod: 'shop/db', ingress: [], egress: ['shop/all-out'], cluster: ['shop-guard'] },
      { pod: 'shop/web', ingress: ['shop/web-in'], egress: ['shop/all-out'], cluster: ['shop-guard'] },
    ]);
    // JSON all through: what the server sends is what it built.
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('before the first passes: no plan parts, no isolation; events off with networkPolicy off', async () => {
    const s = await new StateView({ ...deps, plan: () => undefined, view: () => undefined, config: { ...config, networkPolicy: false } }).state();
    expect(s).toMatchObject({ backend: 'vxlan', devices: [], peers: [], skipped: [], events: false });
    expect(s).not.toHaveProperty('isolation');
    expect(s).not.toHaveProperty('mtu');
  });

  it('works the isolation out once per compiled view', async () => {
    let current = view;
    const sv = new StateView({ ...deps, view: () => current });
    const first = (await sv.state()).isolation;
    expect((await sv.state()).isolation).toBe(first);
    current = { ...view };
    expect((await sv.state()).isolation).not.toBe(first);
  });
});
