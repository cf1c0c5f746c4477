// The second worker's container restarted (`docker restart`): its pods come back (kubelet gives
// them new sandboxes), with working network both ways, and gingham holds exactly one address per
// pod there: the old sandboxes' addresses were released (containerd's DEL without a netns).
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { CNI_LOG, POD_CIDRS, TCP_PORT, UDP_PORT } from './lib/env.js';
import { account, waitNodeClean } from './lib/checks.js';
import { type Fixture, fixture } from './lib/fixtures.js';
import { inCidr } from './lib/ip.js';
import { clusterNodes, core, ensurePods, probePod, waitPods } from './lib/kube.js';
import { agentRoutes, ginghamLog, wantedAgentRoutes } from './lib/node.js';
import { connectFromPod, installBusybox, pingFromPod } from './lib/probe.js';
import { log, phase, waitFor } from './lib/timing.js';

let f: Fixture;
const EXTRA = ['b2', 'b3'];

beforeAll(async () => {
  f = await phase('probe pods Ready', fixture);
  await phase('b2 b3 Ready', () => ensurePods(EXTRA.map((n) => probePod(n, f.w2.name, { labels: { probe: n } }))));
});

describe('a worker node container restarted', () => {
  it('brings its pods back with working network and no leaked address', async () => {
    const node = f.w2;
    const names = ['b1', ...EXTRA];
    const before = await waitPods(names);
    const containerBefore = new Map(names.map((n) => [n, before.get(n)!.status!.containerStatuses![0]!.containerID]));
    const acctBefore = await account(node.name);
    log(`${node.name} before: pods ${acctBefore.pods.map((p) => `${p.name}=${p.ip}`).join(' ')}`);

    await phase(`docker restart ${node.name}`, async () => {
      await execa('docker', ['restart', node.name], { timeout: 180_000 });
    });
    const pods = await phase(`${node.name} pods Running and Ready again`, () =>
      waitPods(names, { timeoutMs: 300_000, accept: (p) => p.status?.containerStatuses?.[0]?.containerID !== containerBefore.get(p.metadata!.name!) }),
    );
    await phase(`${node.name} Ready, gingham pod Ready`, () =>
      waitFor(`${node.name} Ready with a Ready gingham pod`, 180_000, async (why) => {
        const n = (await clusterNodes()).all.find((x) => x.name === node.name);
        const list = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham', fieldSelector: `spec.nodeName=${node.name}` });
        const ready = list.items.some((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        why(`node ready=${n?.ready} ip=${n?.internalIP}, gingham pod ready=${ready}`);
        return n?.ready && ready ? n : undefined;
      }),
    );
    const after = (await clusterNodes()).all.find((x) => x.name === node.name)!;
    for (const n of names) {
      const ip = pods.get(n)!.status!.podIP!;
      log(`${n}: ${before.get(n)!.status!.podIP} -> ${ip}`);
      expect(inCidr(ip, after.podCIDR), `${n} ${ip} in ${after.podCIDR}`).toBe(true);
    }

    // Exactly one reservation per pod on the node, no veth or claim left from the old sandboxes.
    const acct = await phase(`${node.name} gingham state matches its pods`, () =>
      waitNodeClean(after, 120_000).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${node.name} ${CNI_LOG}:\n${await ginghamLog(node.name, 40)}`);
      }),
    );
    log(`${node.name} after: pods ${acct.pods.map((p) => `${p.name}=${p.ip}`).join(' ')}; reserved ${acct.reserved.join(' ')}`);
    // One address per pod and family.
    expect(acct.reserved).toHaveLength(acct.pods.length * POD_CIDRS.length);

    // The agent put the routes back in the node's fresh network namespace.
    const { all } = await clusterNodes();
    const want = [...wantedAgentRoutes(all, node.name)];
    await waitFor(`agent routes on ${node.name}`, 60_000, async (why) => {
      const r = [...(await agentRoutes(node.name))].sort();
      why(JSON.stringify(r));
      return JSON.stringify(r) === JSON.stringify(want.sort()) ? true : undefined;
    });

    // Traffic both ways, across nodes and on the node, client addresses kept.
    const { a1, c1 } = f.pods;
    const ip = (n: string): string => pods.get(n)!.status!.podIP!;
    await phase('connectivity after the node restart', async () => {
      for (const n of names) {
        expect(await connectFromPod(a1.name, ip(n), TCP_PORT, 'tcp'), `a1 -> ${n} tcp`).toBe(a1.ip);
        expect(await connectFromPod(a1.name, ip(n), UDP_PORT, 'udp'), `a1 -> ${n} udp`).toBe(a1.ip);
      }
      expect(await connectFromPod('b1', a1.ip, TCP_PORT, 'tcp'), 'b1 -> a1 tcp').toBe(ip('b1'));
      expect(await connectFromPod('b1', c1.ip, UDP_PORT, 'udp'), 'b1 -> c1 udp').toBe(ip('b1'));
      expect(await connectFromPod('b2', ip('b3'), TCP_PORT, 'tcp'), 'b2 -> b3 tcp').toBe(ip('b2'));
      // The pod's /tmp went with its old container: copy busybox again.
      await installBusybox('b1');
      log(`b1 ping a1: ${await pingFromPod('b1', a1.ip)}`);
    });
  });
});
