// Pod to pod by pod IP: on one node (through the bridge) and across nodes (the agent's host-gw
// routes), over TCP, UDP and ICMP, with the client's own address arriving at the server (no
// masquerade inside the cluster's pod CIDR).
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, type Placed, fixture } from './lib/fixtures.js';
import { inCidr } from './lib/ip.js';
import { reservations, reservedIPs } from './lib/node.js';
import { type Proto, connectFromPod, installBusybox, pingFromPod } from './lib/probe.js';
import { TCP_PORT, UDP_PORT } from './lib/env.js';
import { log, phase } from './lib/timing.js';

let f: Fixture;

beforeAll(async () => {
  f = await phase('probe pods a1 a2 b1 c1 Ready', fixture);
  for (const p of Object.values(f.pods)) log(`${p.name} on ${p.node.name}: ${p.ip}`);
});

/** Probes every pair over both protocols; collects all failures so one run shows the whole matrix. */
async function matrix(pairs: [Placed, Placed][]): Promise<string[]> {
  const problems: string[] = [];
  for (const [from, to] of pairs) {
    for (const proto of ['tcp', 'udp'] as Proto[]) {
      try {
        const src = await connectFromPod(from.name, to.ip, proto === 'tcp' ? TCP_PORT : UDP_PORT, proto);
        log(`${from.name} -> ${to.name} ${to.ip} ${proto}: from ${src}`);
        if (src !== from.ip) problems.push(`${from.name} -> ${to.name} ${proto}: server saw ${src}, not ${from.ip}`);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
  }
  return problems;
}

describe('pod network', () => {
  it('gives each pod an address from its node range, held by a reservation on that node', async () => {
    for (const p of Object.values(f.pods)) {
      expect(inCidr(p.ip, p.node.podCIDR), `${p.name} ${p.ip} in ${p.node.podCIDR}`).toBe(true);
      const r = await reservations(p.node.name);
      expect(reservedIPs(r), `reservations on ${p.node.name}`).toContain(p.ip);
      const rec = r.records.find((x) => x.ips.some((ip) => ip.startsWith(`${p.ip}/`)));
      expect(rec?.podName).toBe(p.name);
    }
  });

  it('connects pods on the same node over TCP and UDP, source address preserved', async () => {
    const { a1, a2 } = f.pods;
    expect(a1.node.name).toBe(a2.node.name);
    expect(await phase('same-node TCP/UDP matrix', () => matrix([[a1, a2], [a2, a1]]))).toEqual([]);
  });

  it('connects pods on different nodes over TCP and UDP, source address preserved', async () => {
    const { a1, b1, c1 } = f.pods;
    const pairs: [Placed, Placed][] = [
      [a1, b1],
      [b1, a1],
      [a1, c1],
      [c1, a1],
      [b1, c1],
      [c1, b1],
    ];
    expect(await phase('cross-node TCP/UDP matrix', () => matrix(pairs))).toEqual([]);
  });

  it('answers ICMP echo between pods on the same node and across nodes', async () => {
    const { a1, a2, b1, c1 } = f.pods;
    await phase('busybox copied into a1 b1 c1', async () => {
      for (const p of [a1, b1, c1]) await installBusybox(p.name);
    });
    const problems: string[] = [];
    for (const [from, to] of [
      [a1, a2],
      [a1, b1],
      [b1, a1],
      [c1, b1],
    ] as [Placed, Placed][]) {
      try {
        log(`${from.name} ping ${to.name} ${to.ip}: ${await pingFromPod(from.name, to.ip)}`);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    expect(problems).toEqual([]);
  });
});
