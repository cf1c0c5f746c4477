import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../net/ip.js';
import { type AgentConfig, DEFAULT_CONFIG } from '../config.js';
import { renderInspect } from '../../cli/inspect.js';
import { node } from '../testing.js';
import type { Changes } from './changes.js';
import type { NodeInfo } from './nodes.js';
import { type NetworkPlan, planNetwork } from './plan.js';
import type { UnderlayAddr } from './underlay.js';
import { vtepMac } from './vxlan.js';
import { chainsBackend } from '../../kernel/packet-filter/index.js';
import type { Rule as FilterRule } from '../../kernel/packet-filter/model.js';
import { MASQ_CHAIN } from './masquerade.js';

const self = node('n1', ['198.18.128.0/24'], ['198.18.0.1']);
const n2 = node('n2', ['198.18.129.0/24'], ['198.18.0.2']);
const n3 = node('n3', ['198.18.130.0/24'], ['198.18.0.3']);

const addr = (ifname: string, mtu: number, cidr: string): UnderlayAddr => ({ ifname, mtu, cidr: parseCidr(cidr)! });
const eth0 = [addr('eth0', 1500, '198.18.0.1/24'), addr('eth0', 1500, 'fd42:18::1/64')];
const cfg = (c: Partial<AgentConfig> = {}): AgentConfig => ({ ...DEFAULT_CONFIG, ...c });
const saved = (plan: NetworkPlan): Parameters<typeof renderInspect>[0] => ({ node: 'n1', config: { backend: 'vxlan', vni: 1, port: 8472, directRouting: false, mtu: 0 }, plan });
/** The masquerade rules as iptables prints them (the text the agent wrote before the seam model). */
const masq = (rules: readonly FilterRule[] | undefined, f: 4 | 6): string[] => (rules ?? []).map((r) => chainsBackend('iptables').printed(MASQ_CHAIN, r, f));
const noChanges: Changes = { ipFirst: [], fdb: [], ipLast: [], rules: { 4: [], 6: [] }, filter: [], replaced: [], removed: [], overlay: [] };

/** The host-gw part of a plan, as the first agent's route planner gave it. */
const hostGw = (me: NodeInfo, nodes: NodeInfo[]): Pick<NetworkPlan, 'routes' | 'skipped'> => {
  const p = planNetwork(me, nodes, cfg({ backend: 'host-gw' }), []);
  return { routes: p.routes, skipped: p.skipped };
};

describe('planNetwork, host-gw', () => {
  it('routes every other node\'s pod CIDR via its InternalIP, never our own', () => {
    expect(hostGw(self, [n3, self, n2])).toEqual({
      routes: [
        { dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' },
        { dst: '198.18.130.0/24', via: '198.18.0.3', node: 'n3' },
      ],
      skipped: [],
    });
  });

  it('dual-stack: one route per family, each via the InternalIP of that family', () => {
    const me = node('n1', ['198.18.128.0/24', 'fd42:18:128::/64'], ['198.18.0.1', 'fd42:18::1']);
    const other = node('n2', ['fd42:18:0129::/64', '198.18.129.0/24'], ['fd42:18::2', '198.18.0.2']);
    expect(hostGw(me, [me, other]).routes).toEqual([
      { dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' },
      { dst: 'fd42:18:129::/64', via: 'fd42:18::2', node: 'n2' },
    ]);
  });

  it('skips, with a reason, a node without podCIDR and a family without InternalIP', () => {
    const bare = node('n4', [], ['198.18.0.4']);
    const v4only = node('n5', ['198.18.131.0/24', 'fd42:18:131::/64'], ['198.18.0.5']);
    const plan = hostGw(self, [bare, v4only]);
    expect(plan.routes).toEqual([{ dst: '198.18.131.0/24', via: '198.18.0.5', node: 'n5' }]);
    expect(plan.skipped).toEqual([
      { node: 'n4', reason: 'no podCIDR yet' },
      { node: 'n5', reason: 'no IPv6 InternalIP for fd42:18:131::/64' },
    ]);
  });

  it('uses the first InternalIP of the family, and canonical CIDRs', () => {
    const multi = node('n2', ['198.18.129.7/24'], ['fd42:18::2', '198.18.0.2', '198.18.0.22']);
    expect(hostGw(self, [multi]).routes).toEqual([{ dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' }]);
  });

  it('never routes our own pod CIDR away, nor via our own address, nor one CIDR to two nodes', () => {
    const thief = node('a-thief', ['198.18.128.0/25'], ['198.18.0.9']);
    const loop = node('b-loop', ['198.18.140.0/24'], ['198.18.0.1']);
    const twin = node('z-twin', ['198.18.129.0/24'], ['198.18.0.8']);
    const plan = hostGw(self, [twin, n2, thief, loop]);
    expect(plan.routes).toEqual([{ dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' }]);
    expect(plan.skipped.map((s) => s.node)).toEqual(['a-thief', 'b-loop', 'z-twin']);
    expect(plan.skipped[2]!.reason).toMatch(/already routed to node n2/);
  });

  it('skips a Node object the source could not read, with its reason', () => {
    const bad: NodeInfo = { name: 'n7', podCIDRs: [], internalIPs: [], invalid: 'podCIDR "198.18.7.1/24" has host bits' };
    expect(hostGw(self, [bad, n2]).skipped).toEqual([{ node: 'n7', reason: 'podCIDR "198.18.7.1/24" has host bits' }]);
    expect(hostGw({ ...bad, name: 'n1' }, [n2]).skipped).toEqual([{ node: 'n1', reason: 'podCIDR "198.18.7.1/24" has host bits' }]);
  });

  it('skips a podCIDR that is not a CIDR', () => {
    expect(hostGw(self, [node('n2', ['nonsense'], ['198.18.0.2'])])).toEqual({ routes: [], skipped: [{ node: 'n2', reason: 'podCIDR "nonsense" is not a CIDR' }] });
  });

  it('works before our own Node object is known', () => {
    expect(hostGw(node('n1', [], []), [n2]).routes).toHaveLength(1);
  });
});

describe('planNetwork, vxlan', () => {
  const me = node('n1', ['198.18.128.0/24', 'fd42:18:8000::/64'], ['198.18.0.1', 'fd42:18::1']);
  const other = node('n2', ['198.18.129.0/24', 'fd42:18:8000:1::/64'], ['198.18.0.2', 'fd42:18::2']);

  it('one device per family bound to the InternalIP, a route, neighbour and FDB entry per peer', () => {
    const p = planNetwork(me, [me, other], cfg(), eth0);
    expect(p.devices).toEqual([
      { name: 'gingham-vx4', family: 4, vni: 1, port: 8472, local: '198.18.0.1', underlay: 'eth0', mac: '0e:67:c6:12:00:01', mtu: 1450, vtep: '198.18.128.0' },
      { name: 'gingham-vx6', family: 6, vni: 1, port: 8472, local: 'fd42:18::1', underlay: 'eth0', mac: expect.stringMatching(/^0e:66:/) as unknown as string, mtu: 1430, vtep: 'fd42:18:8000::' },
    ]);
    expect(p.routes).toEqual([
      { dst: '198.18.129.0/24', via: '198.18.129.0', dev: 'gingham-vx4', node: 'n2' },
      { dst: 'fd42:18:8000:1::/64', via: 'fd42:18:8000:1::', dev: 'gingham-vx6', node: 'n2' },
    ]);
    expect(p.neighbours[0]).toEqual({ dev: 'gingham-vx4', ip: '198.18.129.0', mac: '0e:67:c6:12:00:02' });
    // Pod -> node traffic takes the overlay too: a rule per family and a route per peer address.
    expect(p.rules).toEqual([{ family: 4, from: '198.18.128.0/24' }, { family: 6, from: 'fd42:18:8000::/64' }]);
    expect(p.nodeRoutes).toEqual([
      { dst: '198.18.0.2/32', via: '198.18.129.0', dev: 'gingham-vx4', node: 'n2' },
      { dst: 'fd42:18::2/128', via: 'fd42:18:8000:1::', dev: 'gingham-vx6', node: 'n2' },
    ]);
    expect(p.fdb[0]).toEqual({ dev: 'gingham-vx4', mac: '0e:67:c6:12:00:02', dst: '198.18.0.2' });
    expect(p.fdb[1]!.dst).toBe('fd42:18::2');
    // The pods' MTU is the smallest the overlay leaves: the IPv6 underlay costs 70 bytes.
    expect(p.mtu).toBe(1430);
    expect(p.skipped).toEqual([]);
  });

  it('the VNI, port and MTU come from the config; a peer whose InternalIP changed gets a new FDB entry', () => {
    const p = planNetwork(self, [n2], cfg({ vni: 42, port: 4789, mtu: 1400 }), eth0);
    expect([p.devices[0]!.vni, p.devices[0]!.port, p.devices[0]!.mtu, p.mtu]).toEqual([42, 4789, 1450, 1400]);
    const moved = planNetwork(self, [node('n2', ['198.18.129.0/24'], ['198.18.0.12'])], cfg(), eth0);
    expect(moved.fdb).toEqual([{ dev: 'gingham-vx4', mac: '0e:67:c6:12:00:0c', dst: '198.18.0.12' }]);
  });

  it('directRouting: a peer on our subnet gets a direct route, one beyond it the overlay', () => {
    const far = node('n9', ['198.18.131.0/24'], ['198.18.9.9']);
    const p = planNetwork(self, [n2, far], cfg({ directRouting: true }), eth0);
    expect(p.routes).toEqual([
      { dst: '198.18.129.0/24', via: '198.18.0.2', node: 'n2' },
      { dst: '198.18.131.0/24', via: '198.18.131.0', dev: 'gingham-vx4', node: 'n9' },
    ]);
    expect(p.peers.map((x) => x.via)).toEqual(['direct', 'vxlan']);
    expect(p.fdb).toEqual([{ dev: 'gingham-vx4', mac: '0e:67:c6:12:09:09', dst: '198.18.9.9' }]);
  });

  it('no overlay where no interface holds our InternalIP; host-gw has no devices and the underlay MTU', () => {
    const p = planNetwork(self, [n2], cfg(), []);
    expect([p.devices, p.routes, p.mtu]).toEqual([[], [], undefined]);
    expect(p.skipped.map((s) => s.reason)).toEqual(['no interface here holds its InternalIP 198.18.0.1: no IPv4 overlay', 'no IPv4 overlay on this node for 198.18.129.0/24']);
    const h = planNetwork(self, [n2, n3], cfg({ backend: 'host-gw' }), eth0);
    expect([h.devices, h.neighbours, h.fdb, h.nodeRoutes, h.rules, h.mtu]).toEqual([[], [], [], [], [], 1500]);
  });

  // Defect 8 of issue 14. Two IPv6 addresses whose 32-bit FNV-1a hashes (the VTEP MAC's tail) are
  // equal, found by a birthday search over random interface IDs; both nodes would get one FDB entry.
  const clashA = 'fd42:18::bb75:232e:41da:9ee6';
  const clashB = 'fd42:18::376c:3fea:ec72:bd31';

  it('the colliding addresses really share a VTEP MAC (the derivation is unchanged)', () => {
    expect(vtepMac(clashA)).toBe(vtepMac(clashB));
    expect(vtepMac(clashA)).toBe('0e:66:8a:e0:3c:38');
  });

  it('skips, with a reason, two peers that share a VTEP MAC; the other peers stay', () => {
    const v6self = node('n1', ['fd42:18:8000::/64'], ['fd42:18::1']);
    const a = node('n-a', ['fd42:18:8000:a::/64'], [clashA]);
    const b = node('n-b', ['fd42:18:8000:b::/64'], [clashB]);
    const c = node('n-c', ['fd42:18:8000:c::/64'], ['fd42:18::c']);
    const p = planNetwork(v6self, [v6self, a, b, c], cfg(), eth0);
    expect(p.peers.map((x) => x.node)).toEqual(['n-c']);
    expect(p.fdb.map((e) => e.dst)).toEqual(['fd42:18::c']);
    expect([p.routes, p.nodeRoutes, p.neighbours].map((l) => l.length)).toEqual([1, 1, 1]);
    expect(p.skipped).toEqual([
      { node: 'n-a', reason: `its VTEP MAC 0e:66:8a:e0:3c:38 (from ${clashA}) is also that of node n-b (${clashB}): no overlay to either` },
      { node: 'n-b', reason: `its VTEP MAC 0e:66:8a:e0:3c:38 (from ${clashB}) is also that of node n-a (${clashA}): no overlay to either` },
    ]);
    // `gingham inspect` lists them under "skipped".
    expect(renderInspect(saved(p), noChanges)).toMatch(/skipped:\n {2}n-a: its VTEP MAC 0e:66:8a:e0:3c:38 .*\n {2}n-b: its VTEP MAC/);
  });

  it('skips a peer whose VTEP MAC is this node\'s own', () => {
    const mine = node('n1', ['fd42:18:8000::/64'], [clashA]);
    const twin = node('n2', ['fd42:18:8000:1::/64'], [clashB]);
    const p = planNetwork(mine, [mine, twin], cfg(), [addr('eth0', 1500, `${clashA}/64`)]);
    expect(p.devices[0]!.mac).toBe('0e:66:8a:e0:3c:38');
    expect([p.peers, p.fdb, p.neighbours, p.routes]).toEqual([[], [], [], []]);
    expect(p.skipped).toEqual([{ node: 'n2', reason: `its VTEP MAC 0e:66:8a:e0:3c:38 (from ${clashB}) is this node's own (from ${clashA}): no overlay to it` }]);
  });

  it('one node with two pod CIDRs of a family is no clash with itself', () => {
    const two = node('n2', ['fd42:18:8000:1::/64', 'fd42:18:8000:2::/64'], ['fd42:18::2']);
    const v6self = node('n1', ['fd42:18:8000::/64'], ['fd42:18::1']);
    expect(planNetwork(v6self, [two], cfg(), eth0).skipped).toEqual([]);
  });

  it('no overlay on an underlay interface whose name the batch parser would change', () => {
    const p = planNetwork(self, [n2], cfg(), [addr('eth#0', 1500, '198.18.0.1/24')]);
    expect(p.devices).toEqual([]);
    expect(p.skipped[0]!.reason).toBe('its underlay interface "eth#0" cannot be named in an ip batch ("#" starts a comment): no IPv4 overlay');
  });

  it('masquerade: pod CIDRs and every node address keep the source; the rest is masqueraded', () => {
    const p = planNetwork(me, [me, other], cfg({ clusterCIDRs: ['198.18.128.0/17', 'fd42:18:8000::/56'] }), eth0);
    expect(masq(p.masquerade[4], 4)).toEqual([
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.128.0/17 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.0.1/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.0.2/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 ! -d 224.0.0.0/4 -j MASQUERADE',
    ]);
    expect(masq(p.masquerade[6], 6)).toContain('-A GINGHAM-MASQ -s fd42:18:8000::/64 -d fd42:18:8000::/56 -j RETURN');
    // Without cluster CIDRs, every node's pod CIDR stands in.
    expect(masq(planNetwork(self, [self, n2], cfg(), eth0).masquerade[4], 4).slice(0, 2)).toEqual([
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.128.0/24 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.129.0/24 -j RETURN',
    ]);
  });
});
