// kube-proxy on top of gingham: a ClusterIP and a NodePort Service (TCP and UDP), a Service name
// resolved by CoreDNS from a pod (A or AAAA: the cluster's primary family), and a hostPort, which
// the portmap plugin chained after gingham maps on the pod's node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_NET, POD_CIDR, PRIMARY, TCP_PORT, UDP_PORT } from './lib/env.js';
import { type Fixture, fixture } from './lib/fixtures.js';
import { canonicalIp, hostPort, inCidr } from './lib/ip.js';
import { core, createService, deletePods, ensurePods, namespace, probePod, waitEndpoints } from './lib/kube.js';
import { iptablesSave } from './lib/node.js';
import { connectFromHost, connectFromPod, resolveFromPod } from './lib/probe.js';
import { log, phase } from './lib/timing.js';

let f: Fixture;
const HOST_TCP = 18080;
const HOST_UDP = 18081;

beforeAll(async () => {
  f = await phase('probe pods Ready', fixture);
  await phase('Services created, endpoints ready', async () => {
    const ports = [
      { name: 'tcp', protocol: 'TCP', port: 80, targetPort: TCP_PORT },
      { name: 'udp', protocol: 'UDP', port: 81, targetPort: UDP_PORT },
    ];
    await createService({ metadata: { name: 'probe-b' }, spec: { selector: { probe: 'b1' }, ports } });
    await createService({ metadata: { name: 'probe-b-np' }, spec: { type: 'NodePort', selector: { probe: 'b1' }, ports } });
    await waitEndpoints('probe-b', [f.pods.b1.ip]);
    await waitEndpoints('probe-b-np', [f.pods.b1.ip]);
  });
});

afterAll(async () => {
  for (const name of ['probe-b', 'probe-b-np']) await core().deleteNamespacedService({ name, namespace: namespace() }).catch(() => undefined);
  await deletePods(['hp']).catch(() => undefined);
});

/** In the cluster's pod CIDR of the primary family (a node's bridge address included). */
const inPods = (ip: string): boolean => inCidr(ip, POD_CIDR[PRIMARY]!);
/** On the nodes' Docker network (a node's or the host's address there). */
const onNodeNet = (ip: string): boolean => inCidr(ip, NODE_NET[PRIMARY]!);

const clusterIP = async (name: string): Promise<string> => (await core().readNamespacedService({ name, namespace: namespace() })).spec!.clusterIP!;

describe('services', () => {
  it('reaches a ClusterIP Service over TCP and UDP from pods on the other two nodes, client address kept', async () => {
    const ip = await clusterIP('probe-b');
    const { a1, c1, b1 } = f.pods;
    log(`probe-b ClusterIP ${ip} -> ${b1.name} ${b1.ip}`);
    for (const from of [a1, c1]) {
      expect(await connectFromPod(from.name, ip, 80, 'tcp'), `${from.name} -> probe-b tcp`).toBe(from.ip);
      expect(await connectFromPod(from.name, ip, 81, 'udp'), `${from.name} -> probe-b udp`).toBe(from.ip);
    }
  });

  it('reaches a NodePort Service on every node from a pod and from the host', async () => {
    const svc = await core().readNamespacedService({ name: 'probe-b-np', namespace: namespace() });
    const tcp = svc.spec!.ports!.find((p) => p.protocol === 'TCP')!.nodePort!;
    const udp = svc.spec!.ports!.find((p) => p.protocol === 'UDP')!.nodePort!;
    const { a1 } = f.pods;
    for (const node of [f.w1, f.w2, f.controlPlane]) {
      // Answers come from the node kube-proxy forwarded through (masqueraded): only require one.
      const viaPod = await connectFromPod(a1.name, node.internalIP, tcp, 'tcp');
      const viaPodUdp = await connectFromPod(a1.name, node.internalIP, udp, 'udp');
      const viaHost = await connectFromHost(node.internalIP, tcp, 'tcp');
      const viaHostUdp = await connectFromHost(node.internalIP, udp, 'udp');
      log(`NodePort ${node.name} ${hostPort(node.internalIP, tcp)}/tcp,${udp}/udp: from a1 seen as ${viaPod}/${viaPodUdp}, from host as ${viaHost}/${viaHostUdp}`);
      for (const seen of [viaPod, viaPodUdp, viaHost, viaHostUdp]) expect(inPods(seen) || onNodeNet(seen), `answer from ${seen}`).toBe(true);
    }
  });

  it('lets a pod reach itself through its own Service (hairpin on its bridge port)', async () => {
    const ip = await clusterIP('probe-b');
    const { b1 } = f.pods;
    // kube-proxy masquerades hairpin traffic, so the answer names the node's gateway, not b1.
    for (const [port, proto] of [[80, 'tcp'], [81, 'udp']] as const) {
      const seen = await connectFromPod(b1.name, ip, port, proto);
      expect(inPods(seen), `hairpin ${proto} answered from ${seen}`).toBe(true);
    }
  });

  it('resolves a Service name from a pod (CoreDNS over the pod network)', async () => {
    const ip = await clusterIP('probe-b');
    const { a1, c1 } = f.pods;
    expect((await resolveFromPod(a1.name, `probe-b.${namespace()}.svc.cluster.local`)).map(canonicalIp)).toEqual([canonicalIp(ip)]);
    // The short name, through the pod's resolv.conf search list.
    expect((await resolveFromPod(c1.name, 'probe-b')).map(canonicalIp)).toEqual([canonicalIp(ip)]);
  });

  it('maps a hostPort to its pod (portmap chained after gingham), from another node and from the host', async () => {
    const node = f.w2;
    const hp = (await phase('hostPort pod Ready', () => ensurePods([probePod('hp', node.name, { labels: { probe: 'hp' }, hostPorts: { tcp: HOST_TCP, udp: HOST_UDP } })]))).get('hp')!;
    const hpIP = hp.status!.podIP!;
    // portmap's DNAT for this pod on its node.
    const rules = await iptablesSave(node.name);
    const to = (port: number): string => `--to-destination ${hostPort(hpIP, port)}`;
    const dnat = rules.filter((l) => l.includes(to(TCP_PORT)) || l.includes(to(UDP_PORT)));
    log(`portmap DNAT rules for hp ${hpIP} on ${node.name}:\n  ${dnat.join('\n  ')}`);
    expect(dnat.some((l) => l.includes(`--dport ${HOST_TCP}`) && l.includes(to(TCP_PORT)))).toBe(true);
    expect(dnat.some((l) => l.includes(`--dport ${HOST_UDP}`) && l.includes(to(UDP_PORT)))).toBe(true);

    const { a1 } = f.pods;
    const seen: string[] = [];
    // From a pod on another node: it leaves its node masqueraded (the node IP is outside the pod CIDR).
    seen.push(await connectFromPod(a1.name, node.internalIP, HOST_TCP, 'tcp'));
    seen.push(await connectFromPod(a1.name, node.internalIP, HOST_UDP, 'udp'));
    for (const s of seen) expect([a1.ip, f.w1.internalIP]).toContain(s);
    // From the host, to the node's Docker address.
    const fromHost = [await connectFromHost(node.internalIP, HOST_TCP, 'tcp'), await connectFromHost(node.internalIP, HOST_UDP, 'udp')];
    log(`hostPort ${hostPort(node.internalIP, HOST_TCP)}/tcp,${HOST_UDP}/udp: from a1 seen as ${seen.join('/')}, from host as ${fromHost.join('/')}`);
    for (const s of fromHost) expect(onNodeNet(s), `answer from ${s}`).toBe(true);
  });
});
