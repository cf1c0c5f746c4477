// The cluster as `make kind-up` leaves it: every node Ready with a pod range inside the cluster's,
// CoreDNS running on addresses gingham gave it, the gingham DaemonSet Ready on every node, and on
// each node the agent's work: the conflist for its own range, a route to every other node's range;
// its firewall in the configured dataplane only (iptables or nftables); and the agent as the
// runtime really runs it: two capabilities, no new privileges, seccomp on, its health endpoints
// answering, its log on stdout.
import { describe, expect, it } from 'vitest';
import { DATAPLANE, FAMILIES, NODE_NET, POD_CIDRS, PRIMARY } from './lib/env.js';
import { familyOf, inCidr } from './lib/ip.js';
import { apps, clusterNodes, core } from './lib/kube.js';
import { agentRoutes, conflist, dockerExec, iptablesSave, isGinghamTable, masqueradeRules, nftTables, sh, wantedAgentRoutes } from './lib/node.js';
import { phase, waitFor } from './lib/timing.js';

/** GET http://127.0.0.1:9917<path> on a node, the way kubelet probes the agent (kind's nodes have bash, no curl). */
async function agentHealth(node: string, path: string): Promise<{ status: number; body: unknown }> {
  const raw = await dockerExec(node, ['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/9917 && printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 5 cat <&3`]);
  const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(raw);
  if (!m) throw new Error(`${node} GET ${path}: not an HTTP answer: ${raw}`);
  return { status: Number(m[1]), body: JSON.parse(m[2]!) as unknown };
}

describe('cluster', () => {
  it('has a control plane and two workers, all Ready, with pod ranges in the cluster CIDRs and node addresses on the Docker network', async () => {
    const nodes = await phase('nodes Ready', () =>
      waitFor('every node Ready', 120_000, async (why) => {
        const { all } = await clusterNodes();
        const notReady = all.filter((n) => !n.ready).map((n) => n.name);
        why(`not Ready: ${notReady.join(', ')}`);
        return notReady.length === 0 ? all : undefined;
      }),
    );
    expect(nodes).toHaveLength(3);
    for (const n of nodes) {
      // One range per family of the cluster, each inside the cluster's CIDR of that family.
      expect(n.podCIDRs.map((c) => familyOf(c.split('/')[0]!)), `${n.name} podCIDRs ${n.podCIDRs.join(', ')}`).toEqual(FAMILIES);
      for (const [i, c] of n.podCIDRs.entries()) expect(inCidr(c.split('/')[0]!, POD_CIDRS[i]!), `${n.name} podCIDR ${c} in ${POD_CIDRS[i]}`).toBe(true);
      // The suite sends traffic to the nodes' InternalIPs: they must be Docker's (198.19.0.0/16, fd42:19::/32).
      expect(inCidr(n.internalIP, NODE_NET[PRIMARY]!), `${n.name} InternalIP ${n.internalIP} in ${NODE_NET[PRIMARY]}`).toBe(true);
      expect(n.internalIPs.map(familyOf).sort(), `${n.name} InternalIPs ${n.internalIPs.join(', ')}`).toEqual(FAMILIES);
      for (const ip of n.internalIPs) expect(inCidr(ip, NODE_NET[familyOf(ip)!]!), `${n.name} InternalIP ${ip}`).toBe(true);
    }
    expect(new Set(nodes.map((n) => n.podCIDR)).size).toBe(3);
  });

  it('runs CoreDNS, on pod addresses from its node range', async () => {
    const { all } = await clusterNodes();
    const pods = await phase('CoreDNS Running', () =>
      waitFor('CoreDNS pods Running and Ready', 120_000, async (why) => {
        const list = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' });
        const ok = list.items.filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        why(`${ok.length}/${list.items.length} Running and Ready: ${list.items.map((p) => `${p.metadata?.name} ${p.status?.phase}`).join(', ')}`);
        return list.items.length > 0 && ok.length === list.items.length ? list.items : undefined;
      }),
    );
    for (const p of pods) {
      const node = all.find((n) => n.name === p.spec?.nodeName);
      expect(node, `node of ${p.metadata?.name}`).toBeDefined();
      expect(inCidr(p.status!.podIP!, node!.podCIDR), `${p.metadata?.name} ${p.status?.podIP} in ${node!.podCIDR}`).toBe(true);
    }
  });

  it('has the gingham DaemonSet with a Ready pod on every node', async () => {
    const { all } = await clusterNodes();
    const ds = await apps().readNamespacedDaemonSet({ name: 'gingham', namespace: 'kube-system' });
    expect(ds.status?.desiredNumberScheduled).toBe(all.length);
    const byNode = await waitFor('a Ready gingham pod per node', 120_000, async (why) => {
      const list = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham' });
      const ready = new Map(
        list.items
          .filter((p) => p.metadata?.deletionTimestamp === undefined && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          .map((p) => [p.spec?.nodeName ?? '', p.metadata?.name ?? '']),
      );
      const missing = all.filter((n) => !ready.has(n.name)).map((n) => n.name);
      why(`no Ready gingham pod on ${missing.join(', ')}`);
      return missing.length === 0 ? ready : undefined;
    });
    expect([...byNode.keys()].sort()).toEqual(all.map((n) => n.name).sort());
  });

  it("has on every node the agent's conflist for the node's range and a route to every other node's range", async () => {
    const { all } = await clusterNodes();
    for (const n of all) {
      const conf = await conflist(n.name);
      expect(conf['name']).toBe('gingham');
      const plugins = conf['plugins'] as { type: string; ipam?: { ranges: { subnet: string }[][] } }[];
      expect(plugins.map((p) => p.type)).toEqual(['gingham', 'portmap']);
      expect(plugins[0]!.ipam!.ranges.flat().map((r) => r.subnet)).toEqual(n.podCIDRs);
      const want = wantedAgentRoutes(all, n.name);
      // The agent converges within a watch event; allow it a few seconds after install.
      const routes = await waitFor(`agent routes on ${n.name}`, 30_000, async (why) => {
        const r = await agentRoutes(n.name);
        why(JSON.stringify([...r]));
        return JSON.stringify([...r].sort()) === JSON.stringify([...want].sort()) ? r : undefined;
      });
      expect([...routes].sort()).toEqual([...want].sort());
    }
  });

  it(`keeps its firewall in the configured dataplane (${DATAPLANE}) and nothing of it in the other`, async () => {
    const { all } = await clusterNodes();
    for (const n of all) {
      // The masquerade chain is there from the agent's first pass; anything named GINGHAM- or GH-
      // in iptables, or a gingham table in nftables, is the dataplane's own.
      const { iptables, nft } = await waitFor(`${DATAPLANE} state of the agent on ${n.name}`, 30_000, async (why) => {
        const iptables = (await Promise.all(FAMILIES.map((f) => iptablesSave(n.name, f)))).flat().filter((l) => /GINGHAM-|GH-/.test(l));
        const nft = (await nftTables(n.name)).filter(isGinghamTable);
        why(`iptables: ${iptables.length} lines; nft tables: ${nft.join(', ')}`);
        return (await masqueradeRules(n.name)).length > 0 ? { iptables, nft } : undefined;
      });
      if (DATAPLANE === 'nftables') expect(iptables, `${n.name}: gingham's iptables lines under nftables`).toEqual([]);
      else expect(nft, `${n.name}: gingham's nft tables under iptables`).toEqual([]);
    }
  });

  it('runs the agent with NET_ADMIN and NET_RAW only, no new privileges and seccomp, ready on 127.0.0.1:9917, logging to stdout', async () => {
    const { all } = await clusterNodes();
    for (const n of all) {
      // The agent's process as the node sees it (the init container has exited by now).
      const status = await sh(n.name, 'cat /proc/$(pgrep -o -f "^/usr/local/bin/gingham agent")/status');
      const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
      // Bits 12 and 13: CAP_NET_ADMIN, CAP_NET_RAW; nothing else in any set it could gain them from.
      for (const set of ['CapEff', 'CapPrm', 'CapBnd']) expect(field(set), `${n.name} ${set}`).toBe('0000000000003000');
      expect(field('NoNewPrivs'), `${n.name} NoNewPrivs`).toBe('1');
      expect(field('Seccomp'), `${n.name} Seccomp (2: filter)`).toBe('2');
      expect(await agentHealth(n.name, '/readyz'), n.name).toMatchObject({ status: 200, body: { ready: true, loops: { network: { ready: true }, policy: { ready: true } } } });
      expect(await agentHealth(n.name, '/healthz'), n.name).toMatchObject({ status: 200, body: { live: true, loops: { network: { live: true }, policy: { live: true } } } });
      // kubelet's record of the container: "<time> <stream> <F|P> <line>"; every line on stdout.
      const streams = await sh(n.name, 'cat /var/log/pods/kube-system_gingham-*/agent/*.log | cut -d" " -f2 | sort | uniq -c');
      expect(streams.trim(), `${n.name}: streams of the agent's log`).toMatch(/^\d+ stdout$/);
    }
  });
});
