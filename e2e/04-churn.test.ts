// 60 pods created at once over the three nodes (every other one with a hostPort, so portmap
// writes a chain for it), then deleted at once: unique addresses from each node's range while they
// run, and afterwards nothing left behind on any node: no gh- veth, no reservation, no claim, no
// GH-* rule (inet gh-net-* under DATAPLANE=nftables) or per-pod portmap (CNI-DN-*) rule beyond what
// was there before, no rule or nft element of gingham naming their addresses. Prints pod
// start-to-Running p50/p95.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discrepancies, account, waitNodeClean } from './lib/checks.js';
import { formatIp, offset, parseCidr } from '../src/net/ip.js';
import { TCP_PORT } from './lib/env.js';
import { hostPort, inCidr } from './lib/ip.js';
import { type NodeInfo, clusterNodes, createPod, deletePods, podsByName, probePod, waitPods, watchRunning } from './lib/kube.js';
import { firewallLines, iptablesSave, pluginRules, reservations } from './lib/node.js';
import { log, percentile, phase, record, waitFor } from './lib/timing.js';

const COUNT = 60;
const LABEL = 'churn=yes';
let nodes: NodeInfo[];
const baseline = new Map<string, string[]>();
const names = Array.from({ length: COUNT }, (_, i) => `churn-${String(i).padStart(2, '0')}`);
let running: Map<string, V1Pod>;

beforeAll(async () => {
  nodes = (await clusterNodes()).all;
});

afterAll(async () => {
  // If a test failed half-way, still take the pods away.
  const left = [...(await podsByName(LABEL)).keys()];
  if (left.length) await deletePods(left).catch(() => undefined);
});

describe(`${COUNT} pods at once`, () => {
  it('start, each with a unique address from its node range', async () => {
    for (const n of nodes) {
      // Start from nodes whose state matches their pods, so that what follows is ours.
      await waitNodeClean(n);
      baseline.set(n.name, await pluginRules(n.name));
    }
    const watch = await watchRunning(LABEL);
    const created = new Map<string, number>();
    try {
      running = await phase(`${COUNT} pods created and Running`, async () => {
        await Promise.all(
          names.map((name, i) => {
            const node = nodes[i % nodes.length]!;
            const spec = probePod(name, node.name, {
              labels: { churn: 'yes' },
              ready: false,
              command: ['sleep', 'infinity'],
              ...(i % 2 === 0 ? { hostPorts: { tcp: 20000 + i } } : {}),
            });
            created.set(name, Date.now());
            return createPod(spec);
          }),
        );
        return waitPods(names, { ready: false, timeoutMs: 240_000 });
      });
      // The watch may see the last ones a moment after the list does.
      await waitFor('the watch to see every pod Running', 10_000, async () => (names.every((n) => watch.runningAt.has(n)) ? true : undefined), 200);
    } finally {
      watch.stop();
    }
    const startS = names.map((n) => (watch.runningAt.get(n)! - created.get(n)!) / 1000).sort((a, b) => a - b);
    const p50 = percentile(startS, 50);
    const p95 = percentile(startS, 95);
    record(`pod start-to-Running, ${COUNT} pods at once`, p95, `p50 ${p50.toFixed(2)} s, p95 ${p95.toFixed(2)} s, max ${startS.at(-1)!.toFixed(2)} s`);

    const ips = new Map<string, string>();
    for (const [name, p] of running) {
      const ip = p.status!.podIP!;
      const node = nodes.find((n) => n.name === p.spec?.nodeName)!;
      expect(inCidr(ip, node.podCIDR), `${name} ${ip} in ${node.name}'s ${node.podCIDR}`).toBe(true);
      // Not the range's network address nor its gateway (the first address after it, on the bridge).
      const base = parseCidr(node.podCIDR)!.ip;
      const net = formatIp(base);
      const gw = formatIp(offset(base, 1n));
      expect([net, gw], `${name} ${ip}`).not.toContain(ip);
      expect(ips.has(ip), `${name} and ${ips.get(ip)} share ${ip}`).toBe(false);
      ips.set(ip, name);
    }
    // Each pod's reservation on its node names it.
    for (const n of nodes) {
      const r = await reservations(n.name);
      for (const [name, p] of running) {
        if (p.spec?.nodeName !== n.name) continue;
        const rec = r.records.find((x) => x.ips.some((a) => a.startsWith(`${p.status!.podIP}/`)));
        expect(rec?.podName, `reservation of ${p.status!.podIP} on ${n.name}`).toBe(name);
      }
      const d = discrepancies(await account(n.name));
      expect(d, `${n.name} while ${COUNT} pods run`).toEqual([]);
    }
    // portmap mapped each hostPort pod on its node.
    for (const [i, name] of names.entries()) {
      if (i % 2 !== 0) continue;
      const p = running.get(name)!;
      const rules = await iptablesSave(p.spec!.nodeName!);
      const to = `--to-destination ${hostPort(p.status!.podIP!, TCP_PORT)}`;
      expect(rules.some((l) => l.includes(`--dport ${20000 + i}`) && l.includes(to)), `hostPort DNAT of ${name}`).toBe(true);
    }
    log(`${COUNT} pods: ${[...ips.keys()].length} distinct addresses over ${nodes.length} nodes`);
  });

  it('are deleted at once and leave no veth, reservation or rule behind on any node', async () => {
    expect(running?.size, 'the pods of the previous test').toBe(COUNT);
    const ips = [...running.values()].map((p) => p.status!.podIP!);
    await phase(`${COUNT} pods deleted`, () => deletePods(names, 240_000));
    await phase('nodes back to their state before', async () => {
      for (const n of nodes) {
        await waitNodeClean(n);
        const rules = await waitFor(`GH-/CNI-DN- rules on ${n.name} back to before`, 30_000, async (why) => {
          const r = await pluginRules(n.name);
          const before = baseline.get(n.name)!;
          why(`added: ${r.filter((l) => !before.includes(l)).join(' | ')}; removed: ${before.filter((l) => !r.includes(l)).join(' | ')}`);
          return JSON.stringify(r) === JSON.stringify(before) ? r : undefined;
        });
        expect(rules).toEqual(baseline.get(n.name));
        const all = await firewallLines(n.name);
        // The address alone, not as the start of a longer one (IPv4: digits and dots, IPv6: hex digits and colons).
        const naming = all.filter((l) => ips.some((ip) => new RegExp(`(^|[^0-9a-f.:])${ip.replace(/\./g, '\\.')}([^0-9a-f:]|$)`).test(l)));
        expect(naming, `rules on ${n.name} naming a deleted pod's address`).toEqual([]);
      }
    });
  });
});
