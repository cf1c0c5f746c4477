// kube-proxy on top of gingham: a ClusterIP and a NodePort Service (TCP and UDP), a Service name
// resolved by CoreDNS from a pod, and a hostPort, which the portmap plugin chained after gingham
// maps on the pod's node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TCP_PORT, UDP_PORT } from './lib/env.js';
import { type Fixture, fixture } from './lib/fixtures.js';
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
      log(`NodePort ${node.name} ${node.internalIP}:${tcp}/tcp,${udp}/udp: from a1 seen as ${viaPod}/${viaPodUdp}, from host as ${viaHost}/${viaHostUdp}`);
      for (const seen of [viaPod, viaPodUdp, viaHost, viaHostUdp]) expect(seen).toMatch(/^198\.(18|19)\.\d+\.\d+$/);
    }
  });

  it('lets a pod reach itself through its own Service (hairpin on its bridge port)', async () => {
    const ip = await clusterIP('probe-b');
    const { b1 } = f.pods;
    // kube-proxy masquerades hairpin traffic, so the answer names the node's gateway, not b1.
    expect(await connectFromPod(b1.name, ip, 80, 'tcp')).toMatch(/^198\.18\.\d+\.\d+$/);
    expect(await connectFromPod(b1.name, ip, 81, 'udp')).toMatch(/^198\.18\.\d+\.\d+$/);
  });

  it('resolves a Service name from a pod (CoreDNS over the pod network)', async () => {
    const ip = await clusterIP('probe-b');
    const { a1, c1 } = f.pods;
    expect(await resolveFromPod(a1.name, `probe-b.${namespace()}.svc.cluster.local`)).toEqual([ip]);
    // The short name, through the pod's resolv.conf search list.
    expect(await resolveFromPod(c1.name, 'probe-b')).toEqual([ip]);
  });

  it('maps a hostPort to its pod (portmap chained after gingham), from another node and from the host', async () => {
    const node = f.w2;
    const hp = (await phase('hostPort pod Ready', () => ensurePods([probePod('hp', node.name, { labels: { probe: 'hp' }, hostPorts: { tcp: HOST_TCP, udp: HOST_UDP } })]))).get('hp')!;
    const hpIP = hp.status!.podIP!;
    // portmap's DNAT for this pod on its node.
    const rules = await iptablesSave(node.name);
    const dnat = rules.filter((l) => l.includes(`--to-destination ${hpIP}:`));
    log(`portmap DNAT rules for hp ${hpIP} on ${node.name}:\n  ${dnat.join('\n  ')}`);
    expect(dnat.some((l) => l.includes(`--dport ${HOST_TCP}`) && l.includes(`${hpIP}:${TCP_PORT}`))).toBe(true);
    expect(dnat.some((l) => l.includes(`--dport ${HOST_UDP}`) && l.includes(`${hpIP}:${UDP_PORT}`))).toBe(true);

    const { a1 } = f.pods;
    const seen: string[] = [];
    // From a pod on another node: it leaves its node masqueraded (the node IP is outside the pod CIDR).
    seen.push(await connectFromPod(a1.name, node.internalIP, HOST_TCP, 'tcp'));
    seen.push(await connectFromPod(a1.name, node.internalIP, HOST_UDP, 'udp'));
    for (const s of seen) expect([a1.ip, f.w1.internalIP]).toContain(s);
    // From the host, to the node's Docker address.
    const fromHost = [await connectFromHost(node.internalIP, HOST_TCP, 'tcp'), await connectFromHost(node.internalIP, HOST_UDP, 'udp')];
    log(`hostPort ${node.internalIP}:${HOST_TCP}/tcp,${HOST_UDP}/udp: from a1 seen as ${seen.join('/')}, from host as ${fromHost.join('/')}`);
    for (const s of fromHost) expect(s).toMatch(/^198\.19\./);
  });
});
