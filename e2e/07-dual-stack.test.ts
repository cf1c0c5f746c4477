// Dual-stack (IP_FAMILY=dual): every pod has an IPv4 and an IPv6 address from its node's ranges;
// pods reach each other over IPv6 on one node and across nodes (TCP, UDP, the client's own address
// arriving); a RequireDualStack Service answers on both ClusterIPs, and CoreDNS gives its name an A
// and an AAAA record. In a single-stack cluster (IPv4 or IPv6) the file checks that pods have
// exactly one address, of the cluster's family.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUAL, PRIMARY, TCP_PORT, UDP_PORT } from './lib/env.js';
import { type Fixture, type Placed, fixture } from './lib/fixtures.js';
import { canonicalIp, familyOf, inCidr, ofFamily } from './lib/ip.js';
import { core, createService, namespace, waitEndpoints } from './lib/kube.js';
import { type Proto, connectFromPod, resolveFromPod } from './lib/probe.js';
import { log, phase } from './lib/timing.js';

let f: Fixture;
const SERVICE = 'probe-b-dual';
const PORTS: Record<Proto, number> = { tcp: TCP_PORT, udp: UDP_PORT };

beforeAll(async () => {
  f = await phase('probe pods Ready', fixture);
});

/** Connects `from` to `to`:port over both protocols; returns what went wrong (empty: all fine). */
async function reach(from: Placed, to: string, port: (p: Proto) => number, want: string): Promise<string[]> {
  const problems: string[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    try {
      const src = await connectFromPod(from.name, to, port(proto), proto);
      log(`${from.name} -> ${to} ${proto}: from ${src}`);
      if (canonicalIp(src) !== canonicalIp(want)) problems.push(`${from.name} -> ${to} ${proto}: server saw ${src}, not ${want}`);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems;
}

describe.runIf(!DUAL)('single-stack cluster', () => {
  it(`gives every pod exactly one address, an IPv${PRIMARY} one`, () => {
    for (const p of Object.values(f.pods)) {
      expect(p.ips, `${p.name} podIPs`).toEqual([p.ip]);
      expect(familyOf(p.ip), `${p.name} ${p.ip}`).toBe(PRIMARY);
    }
  });
});

describe.runIf(DUAL)('dual-stack cluster', () => {
  let clusterIPs: string[];

  beforeAll(async () => {
    await phase('RequireDualStack Service created, endpoints ready', async () => {
      const ports = [
        { name: 'tcp', protocol: 'TCP', port: 80, targetPort: TCP_PORT },
        { name: 'udp', protocol: 'UDP', port: 81, targetPort: UDP_PORT },
      ];
      const svc = await createService({
        metadata: { name: SERVICE },
        spec: { selector: { probe: 'b1' }, ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], ports },
      });
      clusterIPs = svc.spec?.clusterIPs ?? [];
      await waitEndpoints(SERVICE, f.pods.b1.ips);
    });
    log(`${SERVICE} ClusterIPs ${clusterIPs.join(', ')} -> b1 ${f.pods.b1.ips.join(', ')}`);
  });

  afterAll(async () => {
    await core().deleteNamespacedService({ name: SERVICE, namespace: namespace() }).catch(() => undefined);
  });

  it("gives every pod one IPv4 and one IPv6 address, each from its node's range of that family", () => {
    for (const p of Object.values(f.pods)) {
      expect(p.ips.map(familyOf), `${p.name} podIPs ${p.ips.join(', ')}`).toEqual([4, 6]);
      for (const ip of p.ips) {
        const range = p.node.podCIDRs.find((c) => familyOf(c.split('/')[0]!) === familyOf(ip));
        expect(range !== undefined && inCidr(ip, range), `${p.name} ${ip} in ${p.node.podCIDRs.join(', ')}`).toBe(true);
      }
    }
  });

  it('connects pods over IPv6 on one node and across nodes, TCP and UDP, source address kept', async () => {
    const { a1, a2, b1, c1 } = f.pods;
    const pairs: [Placed, Placed][] = [
      [a1, a2],
      [a2, a1],
      [a1, b1],
      [b1, a1],
      [a1, c1],
      [c1, b1],
    ];
    const problems = await phase('IPv6 pod-to-pod TCP/UDP matrix', async () => {
      const out: string[] = [];
      for (const [from, to] of pairs) out.push(...(await reach(from, to.ip6!, (p) => PORTS[p], from.ip6!)));
      return out;
    });
    expect(problems).toEqual([]);
  });

  it('reaches a RequireDualStack Service on both ClusterIPs over TCP and UDP from other nodes, client address kept', async () => {
    expect(clusterIPs.map(familyOf), `ClusterIPs ${clusterIPs.join(', ')}`).toEqual([4, 6]);
    const problems: string[] = [];
    for (const from of [f.pods.a1, f.pods.c1]) {
      for (const ip of clusterIPs) problems.push(...(await reach(from, ip, (p) => (p === 'tcp' ? 80 : 81), ofFamily(from.ips, familyOf(ip)!)!)));
    }
    expect(problems).toEqual([]);
  });

  it('resolves the Service name to both ClusterIPs (A and AAAA from CoreDNS)', async () => {
    const want = clusterIPs.map(canonicalIp).sort();
    const { a1, c1 } = f.pods;
    expect((await resolveFromPod(a1.name, `${SERVICE}.${namespace()}.svc.cluster.local`)).map(canonicalIp).sort()).toEqual(want);
    // The short name, through the pod's resolv.conf search list.
    expect((await resolveFromPod(c1.name, SERVICE)).map(canonicalIp).sort()).toEqual(want);
  });
});
