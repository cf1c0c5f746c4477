// The agent's VXLAN overlay for real, dual-stack: three node namespaces on one underlay
// (198.18.0.0/24, fd42:18::/64), each with its reconciler (in-process, against the node's kernel)
// and pods wired by the built binary from the conflist the agent would write. Pods reach each other
// only through the overlay; the tests break it by hand, move a node, remove one, switch backend.
import { type ResultPromise, execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentConfig, DEFAULT_CONFIG } from '../agent/config.js';
import { buildConflist } from '../agent/network/conflist.js';
import type { NodeInfo } from '../agent/network/nodes.js';
import { nodeKernel } from '../agent/network/kernel.js';
import { type PassSummary, Reconciler } from '../agent/reconcile.js';
import { node } from '../agent/testing.js';
import { Cluster, GINGHAM, requirePrivileges } from './cluster.js';

requirePrivileges();

const quiet = (): void => undefined;
const NODES = ['node1', 'node2', 'node3'] as const;
const v4cidr = (i: number): string => `198.18.${17 + i}.0/24`;
const v6cidr = (i: number): string => `fd42:18:16::${i + 1}:0/112`;
const pod4 = (i: number): string => `198.18.${17 + i}.2`;
const pod6 = (i: number): string => `fd42:18:16::${i + 1}:2`;

describe('vxlan overlay in namespaces', () => {
  const c = new Cluster();
  let nodes: NodeInfo[] = [];
  let config: AgentConfig = { ...DEFAULT_CONFIG, clusterCIDRs: ['198.18.16.0/20', 'fd42:18:16::/64'], serviceCIDRs: ['198.18.48.0/24', 'fd42:18:48::/112'] };
  let probe: ResultPromise | undefined;
  let nodeProbe: ResultPromise | undefined;
  const reconciler = (name: string): Reconciler =>
    new Reconciler({ nodeName: name, nodes: () => nodes, config, kernel: nodeKernel(c.ns(name)), cniConfPath: '', statePath: `${c.tmp}/state-${name}.json`, log: quiet });
  const passAll = async (): Promise<PassSummary[]> => Promise.all(NODES.map((n) => reconciler(n).pass()));
  const nodeInfo = (i: number, ip4 = `198.18.0.${i + 1}`): NodeInfo => node(NODES[i]!, [v4cidr(i), v6cidr(i)], [ip4, `fd42:18::${i + 1}`]);
  const sh = async (ns: string, cmd: string): Promise<string> => c.exec(ns, ['sh', '-c', cmd]);
  const ping = (from: string, to: string, extra: string[] = []): Promise<boolean> => c.tryExec(from, ['ping', '-c', '1', '-W', '2', ...extra, to]);

  beforeAll(async () => {
    await c.start();
    for (const [i, n] of NODES.entries()) {
      await c.addNode(n);
      await c.exec(n, ['ip', 'addr', 'add', `fd42:18::${i + 1}/64`, 'dev', 'uplink', 'nodad']);
      // Strict reverse-path filtering, as on many nodes (kind's among them).
      await c.exec(n, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=1']);
    }
    await c.addOutsideHost();
    probe = execa('ip', ['netns', 'exec', c.ns('outside'), GINGHAM, 'probe', 'serve', '--tcp', '7000'], { reject: false });
    nodeProbe = execa('ip', ['netns', 'exec', c.ns('node2'), GINGHAM, 'probe', 'serve', '--tcp', '7002'], { reject: false });
    nodes = NODES.map((_, i) => nodeInfo(i));
    await passAll();
    // One pod per node, wired from the conflist the agent writes (with its MTU).
    for (const [i, n] of NODES.entries()) {
      await c.addNamespace(`p${i}`);
      const list = buildConflist({ podCIDRs: [v4cidr(i), v6cidr(i)], mtu: 1430 }) as { cniVersion: string; name: string; plugins: Record<string, unknown>[] };
      const main = list.plugins[0]!;
      const conf = { cniVersion: list.cniVersion, name: list.name, ...main, ipam: { ...(main['ipam'] as object), dataDir: `${c.tmp}/ipam-${n}` } };
      await c.add(n, conf, `p${i}`);
    }
  });
  afterAll(async () => {
    for (const p of [probe, nodeProbe]) p?.kill();
    await Promise.all([probe, nodeProbe]);
    await c.destroy();
  });

  it('pods on different nodes reach each other over both families, through the tunnel, with their own source', async () => {
    for (const [from, to] of [[0, 1], [1, 2], [2, 0]] as const) {
      expect(await ping(`p${from}`, pod4(to)), `p${from} -> ${pod4(to)}`).toBe(true);
      expect(await ping(`p${from}`, pod6(to)), `p${from} -> ${pod6(to)}`).toBe(true);
    }
    // The route to a peer's pods goes through the device, never via the peer's address directly.
    expect(await sh('node1', `ip route show ${v4cidr(1)}`)).toMatch(/via 198\.18\.18\.0 dev gingham-vx4 proto 199 onlink/);
    expect(await sh('node1', `ip -6 route show ${v6cidr(2)}`)).toMatch(/via fd42:18:16::3:0 dev gingham-vx6 proto 199 .*onlink/);
    const details = await sh('node1', 'ip -d link show gingham-vx4');
    expect(details).toMatch(/vxlan id 1 local 198\.18\.0\.1 dev uplink .*dstport 8472 nolearning/);
    expect(await sh('node1', 'bridge fdb show dev gingham-vx4')).toContain('0e:67:c6:12:00:02 dst 198.18.0.2 self permanent');
    expect(await sh('node1', 'ip neigh show dev gingham-vx4')).toContain('198.18.18.0 lladdr 0e:67:c6:12:00:02 PERMANENT');
  });

  it('the packets really cross as UDP to port 8472 on the underlay', async () => {
    await sh('node1', 'iptables -w -I OUTPUT -p udp -d 198.18.0.2 --dport 8472 -m comment --comment overlay-test');
    const count = async (): Promise<number> => Number(/^\s*(\d+)/.exec((await sh('node1', 'iptables -w -L OUTPUT -vnx | grep overlay-test')).trim())?.[1]);
    const before = await count();
    expect(await c.tryExec('p0', ['ping', '-c', '5', '-i', '0.01', '-W', '2', pod4(1)])).toBe(true);
    expect((await count()) - before).toBeGreaterThanOrEqual(5);
  });

  it('MTU: a pod-sized packet with DF crosses; one byte more than the device takes is refused with the MTU, not dropped', async () => {
    // 1430: the pods' MTU (the IPv6 underlay costs 70); ICMP + IP headers are 28 and 48 bytes.
    expect(await ping('p0', pod4(1), ['-M', 'do', '-s', String(1430 - 28)])).toBe(true);
    expect(await ping('p0', pod6(1), ['-M', 'do', '-s', String(1430 - 48)])).toBe(true);
    // From the node (MTU 1500): a packet of the pods' size arrives. Beyond our device's 1450 our own
    // kernel refuses it with that MTU; 1431 bytes cross the tunnel and the peer node answers
    // "fragmentation needed, mtu 1430" (its bridge). Never a silent drop.
    expect(await ping('node1', pod4(1), ['-M', 'do', '-s', String(1430 - 28)])).toBe(true);
    for (const [size, mtu] of [[1451, 1450], [1431, 1430]]) {
      const r = await c.sh(['ip', 'netns', 'exec', c.ns('node1'), 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(size! - 28), pod4(1)]);
      expect(r.exitCode, `${size} bytes`).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`, `${size} bytes`).toMatch(new RegExp(`mtu\\s*=\\s*${mtu}`));
    }
  });

  it('masquerade: to another node and to pods the source stays; to the outside host it is the node', async () => {
    expect((await c.exec('p0', [GINGHAM, 'probe', 'connect', '198.18.0.254:7000'])).trim()).toBe('from 198.18.0.1');
    // Pod to another node: through the overlay (rule 199, table 199), so strict reverse-path
    // filtering on the node passes and the pod's own address arrives.
    expect((await c.exec('p0', [GINGHAM, 'probe', 'connect', '198.18.0.2:7002'])).trim()).toBe(`from ${pod4(0)}`);
    expect(await sh('node1', 'ip route show table 199')).toContain('198.18.0.2 via 198.18.18.0 dev gingham-vx4 proto 199 onlink');
    const rules = await c.rules('node1');
    expect(rules).toContain('-A GINGHAM-MASQ -s 198.18.17.0/24 -d 198.18.0.2/32 -j RETURN');
    expect(rules).toContain('-A GINGHAM-MASQ -s 198.18.17.0/24 ! -d 224.0.0.0/4 -j MASQUERADE');
    expect(rules).toContain('-A GINGHAM-MASQ -s fd42:18:16::1:0/112 -d fd42:18:16::/64 -j RETURN');
  });

  it('service guard: a packet to a Service IP that nothing translated is refused on the node, not routed out', async () => {
    // node1 gets a default route to the outside host, as a real node has; without the guard a
    // packet to an unused Service IP would go there (the outside host's probe listens on 7000).
    await sh('node1', 'ip route replace default via 198.18.0.254');
    try {
      const r = await c.sh(['ip', 'netns', 'exec', c.ns('p0'), GINGHAM, 'probe', 'connect', '198.18.48.7:7000', '--timeout', '3000']);
      expect(r.exitCode).toBe(1);
      expect(`${r.stdout}${r.stderr}`).toMatch(/refused/i);
      expect(await c.rules('node1')).toContain('-A GINGHAM-SVC-GUARD -d 198.18.48.0/24 -j REJECT --reject-with icmp-port-unreachable');
      expect(await c.rules('node1')).toContain('-A GINGHAM-SVC-GUARD -d fd42:18:48::/112 -j REJECT --reject-with icmp6-port-unreachable');
      // The node's own traffic too (OUTPUT).
      const own = await c.sh(['ip', 'netns', 'exec', c.ns('node1'), GINGHAM, 'probe', 'connect', '198.18.48.7:7000', '--timeout', '3000']);
      expect(`${own.stdout}${own.stderr}`).toMatch(/refused/i);
    } finally {
      await sh('node1', 'ip route del default');
    }
  });

  it('a restarted agent (a new reconciler) finds everything in place and changes nothing', async () => {
    for (const s of await passAll()) expect([s.replaced, s.removed, s.overlay, s.filter, s.failed]).toEqual([[], [], [], [], []]);
  });

  it('gingham inspect shows the peers and entries, and the difference when the kernel drifts', async () => {
    const inspect = (): Promise<{ exitCode: number; stdout: string; stderr: string }> =>
      c.sh([GINGHAM, 'inspect', '--state', `${c.tmp}/state-node1.json`, '--netns', c.ns('node1')]);
    const ok = await inspect();
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^node node1: backend vxlan \(vni 1, port 8472\), pod MTU 1430/);
    expect(ok.stdout).toMatch(/node2 +198\.18\.18\.0\/24 +198\.18\.0\.2 +vxlan +198\.18\.18\.0 +0e:67:c6:12:00:02/);
    expect(ok.stdout).toContain('kernel: matches the plan');
    await sh('node1', 'bridge fdb del 0e:67:c6:12:00:03 dev gingham-vx4 dst 198.18.0.3 self');
    const drift = await inspect();
    expect(drift.exitCode).toBe(1);
    expect(drift.stdout).toContain('bridge fdb replace 0e:67:c6:12:00:03 dev gingham-vx4 dst 198.18.0.3 self permanent');
    await reconciler('node1').pass();
    expect((await inspect()).exitCode).toBe(0);
  });

  it('an FDB entry, a neighbour, a route and then the whole device deleted by hand come back on the next pass', async () => {
    await sh('node1', `bridge fdb del 0e:67:c6:12:00:02 dev gingham-vx4 dst 198.18.0.2 self; ip neigh del 198.18.19.0 dev gingham-vx4; ip route del ${v4cidr(2)}`);
    expect(await ping('p0', pod4(1))).toBe(false);
    const healed = await reconciler('node1').pass();
    expect(healed.overlay.sort()).toEqual(['fdb replace 0e:67:c6:12:00:02 dev gingham-vx4 dst 198.18.0.2 self permanent', 'neigh replace 198.18.19.0 lladdr 0e:67:c6:12:00:03 dev gingham-vx4 nud permanent']);
    expect(healed.replaced.map((r) => r.dst)).toEqual([v4cidr(2)]);
    expect(await ping('p0', pod4(1))).toBe(true);
    expect(await ping('p0', pod4(2))).toBe(true);
    await sh('node1', 'ip link del gingham-vx4');
    await reconciler('node1').pass();
    expect(await ping('p0', pod4(1))).toBe(true);
    expect(await ping('p0', pod4(2))).toBe(true);
  });

  it('a node whose InternalIP changes is followed: its device rebinds, the others point their FDB at the new address', async () => {
    await sh('node2', 'ip addr add 198.18.0.12/24 dev uplink');
    nodes = [nodeInfo(0), nodeInfo(1, '198.18.0.12'), nodeInfo(2)];
    await passAll();
    expect(await sh('node2', 'ip -d link show gingham-vx4')).toMatch(/local 198\.18\.0\.12 /);
    expect(await sh('node1', 'bridge fdb show dev gingham-vx4')).toContain('0e:67:c6:12:00:0c dst 198.18.0.12 self permanent');
    expect(await sh('node1', 'bridge fdb show dev gingham-vx4')).not.toContain('dst 198.18.0.2 ');
    expect(await ping('p0', pod4(1))).toBe(true);
    expect(await ping('p2', pod4(1))).toBe(true);
  });

  it('a node that leaves takes its routes, neighbours, FDB entries and masquerade exception with it', async () => {
    nodes = [nodeInfo(0), nodeInfo(1, '198.18.0.12')];
    await passAll();
    expect(await sh('node1', 'bridge fdb show dev gingham-vx4')).not.toContain('198.18.0.3');
    expect(await sh('node1', 'ip neigh show dev gingham-vx4')).not.toContain('198.18.19.0');
    expect(await sh('node1', 'ip route show proto 199')).not.toContain('198.18.19.0');
    expect(await c.rules('node1')).not.toContain('198.18.0.3/32');
    expect(await ping('p0', pod4(2))).toBe(false);
    nodes = [nodeInfo(0), nodeInfo(1, '198.18.0.12'), nodeInfo(2)];
    await passAll();
    expect(await ping('p0', pod4(2))).toBe(true);
  });

  it('switching to host-gw leaves no device or entry of the overlay; switching back restores it', async () => {
    config = { ...config, backend: 'host-gw' };
    await passAll();
    expect(await c.links('node1')).not.toContain('gingham-vx4');
    expect(await c.links('node1')).not.toContain('gingham-vx6');
    expect(await sh('node1', `ip route show ${v4cidr(1)}`)).toMatch(/via 198\.18\.0\.12 dev uplink proto 199/);
    expect(await ping('p0', pod4(1))).toBe(true);
    expect(await ping('p0', pod6(2))).toBe(true);
    for (const p of await passAll()) expect(p.failed).toEqual([]);
    config = { ...config, backend: 'vxlan' };
    for (const p of await passAll()) expect(p.failed).toEqual([]);
    // Converged in one pass: the next changes nothing.
    for (const p of await passAll()) expect([p.replaced, p.removed, p.overlay, p.filter, p.failed]).toEqual([[], [], [], [], []]);
    expect(await sh('node1', `ip route show ${v4cidr(1)}`)).toContain('dev gingham-vx4');
    expect(await ping('p0', pod4(1))).toBe(true);
    expect(await ping('p0', pod6(2))).toBe(true);
  });
});
