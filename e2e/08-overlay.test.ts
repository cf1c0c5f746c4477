// The agent's backend on the kind cluster (BACKEND=vxlan or host-gw): the kernel matches the
// agent's plan on every node (`gingham inspect`); with vxlan, cross-node pod traffic really leaves
// as UDP to the peer's port 8472 and no route points at a peer directly; the MTU derived from the
// underlay holds end to end; masquerade only toward the outside (a container on the kind Docker
// network that is not a node); entries deleted by hand come back within one resync; a Node that
// leaves takes its entries along; an agent restart changes nothing and loses no ping; switching
// backend on the running cluster leaves nothing of the old one.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vtepMac } from '../src/agent/network/vxlan.js';
import { formatIp, lastOf, offset, parseCidr } from '../src/net/ip.js';
import { escapeRegExp } from './lib/checks.js';
import { BACKEND, FAMILIES, GINGHAM_IN_IMAGE, IMAGE, NODE_NET, PRIMARY, SERVICE_CIDR } from './lib/env.js';
import { type Fixture, fixture } from './lib/fixtures.js';
import { clusterNodes, core, createPod, namespace, probePod, waitPods } from './lib/kube.js';
import { agentRoutes, conflist, dockerExec, masqueradeRules, sh, vxlanDevice, wantedAgentRoutes } from './lib/node.js';
import { connectFromPod, kubectl, podExec } from './lib/probe.js';
import { assertSafe, hostPort, inCidr } from './lib/ip.js';
import { log, sleep, waitFor } from './lib/timing.js';

/** The agent's default resync; a heal must come within it (plus the pass itself). */
const RESYNC_MS = 30_000;
const OUTSIDE = 'gingham-e2e-outside';
const OUTSIDE_PORT = 7000;
const GHOST = 'gingham-e2e-ghost';
const VXLAN = BACKEND === 'vxlan';
// What the file checks on the nodes is of the cluster's primary family (IPv4 unless IPv6-only): its
// VXLAN device, its routes and its iptables.
const VX = vxlanDevice();
const IPTABLES = PRIMARY === 6 ? 'ip6tables' : 'iptables';
// `ip route show PREFIX` lists IPv4 routes only unless told the family.
const IP_ROUTE = `ip -${PRIMARY} route`;

let f: Fixture;

beforeAll(async () => {
  f = await fixture();
});

/** `gingham inspect` in the agent's pod on a node: its exit code and text. */
async function inspect(node: string): Promise<{ exitCode: number; out: string }> {
  const pods = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham', fieldSelector: `spec.nodeName=${node}` });
  const pod = pods.items.find((p) => p.status?.phase === 'Running')?.metadata?.name;
  if (!pod) return { exitCode: -1, out: `no running gingham pod on ${node}` };
  const r = await kubectl(['-n', 'kube-system', 'exec', pod, '-c', 'agent', '--', GINGHAM_IN_IMAGE, 'inspect']);
  return { exitCode: r.exitCode, out: r.stdout + r.stderr };
}

const matches = async (node: string): Promise<true | undefined> => ((await inspect(node)).exitCode === 0 ? true : undefined);

async function agentConfig(): Promise<Record<string, unknown>> {
  const cm = await core().readNamespacedConfigMap({ name: 'gingham', namespace: 'kube-system' });
  return JSON.parse(cm.data?.['config.json'] ?? '{}') as Record<string, unknown>;
}

describe(`the ${BACKEND} backend`, () => {
  it('runs the configured backend, and the kernel matches the agent\'s plan on every node', async () => {
    expect((await agentConfig())['backend']).toBe(BACKEND);
    for (const n of (await clusterNodes()).all) {
      await waitFor(`gingham inspect on ${n.name} to match`, 30_000, async (why) => {
        const r = await inspect(n.name);
        why(r.out);
        return r.exitCode === 0 ? r : undefined;
      });
      const r = await inspect(n.name);
      expect(r.out).toContain(`backend ${BACKEND}`);
      log(`${n.name}: ${r.out.split('\n')[0]}`);
    }
  });

  it.runIf(VXLAN)('sends cross-node pod traffic as UDP to the peer\'s port 8472, and routes no pod CIDR via a node', async () => {
    const { w1, w2 } = f;
    for (const n of [w1, w2]) {
      const details = await dockerExec(n.name, ['ip', '-d', 'link', 'show', VX]);
      expect(details).toMatch(new RegExp(`vxlan id 1 local ${escapeRegExp(n.internalIP)} dev eth0 .*dstport 8472 nolearning`));
    }
    const route = await sh(w1.name, `${IP_ROUTE} show ${w2.podCIDR}`);
    expect(route).toMatch(new RegExp(`dev ${VX} proto 199 .*onlink`));
    expect(route).not.toContain(`via ${w2.internalIP}`);
    // A counting rule of our own (removed below) on the UDP packets w1 sends to w2's port 8472.
    const rule = ['-p', 'udp', '-d', w2.internalIP, '--dport', '8472', '-m', 'comment', '--comment', 'gingham-e2e-count'];
    await dockerExec(w1.name, [IPTABLES, '-w', '-I', 'OUTPUT', ...rule]);
    try {
      const count = async (): Promise<number> => Number(/^\s*(\d+)/.exec(await sh(w1.name, `${IPTABLES} -w -L OUTPUT -vnx | grep gingham-e2e-count`))?.[1]);
      const before = await count();
      const src = await connectFromPod(f.pods.a1.name, f.pods.b1.ip, 8080, 'tcp');
      expect(src).toBe(f.pods.a1.ip);
      expect((await count()) - before).toBeGreaterThanOrEqual(3);
      expect(await sh(w1.name, `bridge fdb show dev ${VX}`)).toContain(`dst ${w2.internalIP} self permanent`);
    } finally {
      await dockerExec(w1.name, [IPTABLES, '-w', '-D', 'OUTPUT', ...rule]);
    }
  });

  it.runIf(!VXLAN)('routes every other node\'s pod CIDR via its InternalIP and has no VXLAN device', async () => {
    const { all } = await clusterNodes();
    for (const n of all) {
      expect([...(await agentRoutes(n.name))].sort()).toEqual([...wantedAgentRoutes(all, n.name)].sort());
      expect(await dockerExec(n.name, ['ip', '-o', 'link', 'show', 'type', 'vxlan'])).not.toContain('gingham-vx');
    }
  });

  it('gives pods the underlay MTU minus the overlay; a packet of that size with DF crosses nodes, one byte more is refused', async () => {
    const underlay = Number((await dockerExec(f.w1.name, ['cat', '/sys/class/net/eth0/mtu'])).trim());
    // VXLAN costs 50 bytes over an IPv4 underlay and 70 over IPv6; the nodes' InternalIPs are of
    // the cluster's families, and a dual-stack node has both devices: its pods take the smaller MTU.
    const mtu = VXLAN ? underlay - (FAMILIES.includes(6) ? 70 : 50) : underlay;
    const plugins = (await conflist(f.w1.name))['plugins'] as { mtu?: number }[];
    expect(plugins[0]!.mtu).toBe(mtu);
    expect((await podExec(f.pods.a1.name, ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe(String(mtu));
    assertSafe(f.pods.b1.ip);
    // The ICMP payload that makes a packet of `size`: less the IP header (20, 40 for IPv6) and the echo header (8).
    const headers = PRIMARY === 6 ? 48 : 28;
    const ping = (size: number): ReturnType<typeof podExec> => podExec(f.pods.a1.name, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(size - headers), f.pods.b1.ip]);
    const fits = await ping(mtu);
    expect(fits.exitCode, fits.stdout + fits.stderr).toBe(0);
    const over = await ping(mtu + 1);
    expect(over.exitCode).not.toBe(0);
    expect(over.stdout + over.stderr).toMatch(new RegExp(`mtu\\s*[=:]\\s*${mtu}`));
  });

  describe('masquerade, seen by the receiver', () => {
    let outsideIP = '';
    const HOSTNET = 'hostnet-w2';

    beforeAll(async () => {
      await execa('docker', ['rm', '-f', OUTSIDE], { reject: false });
      await execa('docker', ['run', '-d', '--rm', '--name', OUTSIDE, '--network', 'kind', IMAGE, 'probe', 'serve', '--tcp', String(OUTSIDE_PORT)]);
      const field = PRIMARY === 6 ? 'GlobalIPv6Address' : 'IPAddress';
      outsideIP = (await execa('docker', ['inspect', '-f', `{{range .NetworkSettings.Networks}}{{.${field}}}{{end}}`, OUTSIDE])).stdout.trim();
      // A probe server in w2's own network namespace: "pod to node".
      const pod = probePod(HOSTNET, f.w2.name, { ready: false, command: [GINGHAM_IN_IMAGE, 'probe', 'serve', '--tcp', '7001'] });
      await createPod({ ...pod, spec: { ...pod.spec!, hostNetwork: true, containers: pod.spec!.containers.map((c) => ({ ...c, ports: [] })) } });
      await waitPods([HOSTNET]);
    });
    afterAll(async () => {
      await execa('docker', ['rm', '-f', OUTSIDE], { reject: false });
      await core().deleteNamespacedPod({ name: HOSTNET, namespace: namespace(), gracePeriodSeconds: 0 }).catch(() => undefined);
    });

    it('to a host outside the cluster, the node\'s address; to another node, the pod\'s own', async () => {
      expect(inCidr(outsideIP, NODE_NET[PRIMARY]!), `outside host ${outsideIP} in ${NODE_NET[PRIMARY]}`).toBe(true);
      expect(await connectFromPod(f.pods.a1.name, outsideIP, OUTSIDE_PORT, 'tcp')).toBe(f.w1.internalIP);
      expect(await connectFromPod(f.pods.a1.name, f.w2.internalIP, 7001, 'tcp')).toBe(f.pods.a1.ip);
    });
  });

  it('refuses a packet to a Service IP that no Service holds, instead of routing it out', async () => {
    for (const family of FAMILIES) {
      // Near the top of the family's Service CIDR (198.18.79.250 of 198.18.64.0/20,
      // fd42:18:6400::fffa of fd42:18:6400::/112), which the API server hands out last.
      const ip = formatIp(offset(lastOf(parseCidr(SERVICE_CIDR[family]!)!), -5n));
      assertSafe(ip);
      const r = await podExec(f.pods.a1.name, [GINGHAM_IN_IMAGE, 'probe', 'connect', `${hostPort(ip, 80)}/tcp`, '--timeout', '3000']);
      expect(r.exitCode, `${ip}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/refused/i);
    }
  });

  it('puts back within one resync what was deleted by hand: FDB entry, neighbour, route, then the device', async () => {
    const { w1, w2 } = f;
    await waitFor('w1 to match its plan', 30_000, () => matches(w1.name));
    const vtep = w2.podCIDR.split('/')[0]!;
    const breakIt = VXLAN
      ? `bridge fdb del $(bridge fdb show dev ${VX} | awk '/dst ${w2.internalIP} /{print $1}') dev ${VX} dst ${w2.internalIP} self; ip neigh del ${vtep} dev ${VX}; ${IP_ROUTE} del ${w2.podCIDR}`
      : `${IP_ROUTE} del ${w2.podCIDR}`;
    // Broken for sure (checked in the same exec), then seen as drift by inspect, unless a pass
    // that a Node event set off healed it within the second inspect takes to run.
    expect((await sh(w1.name, `${breakIt}; ${IP_ROUTE} show ${w2.podCIDR} | wc -l`)).trim()).toBe('0');
    const drift = await inspect(w1.name);
    expect([0, 1], `inspect after breaking: ${drift.out}`).toContain(drift.exitCode);
    const t0 = Date.now();
    await waitFor('w1 healed', RESYNC_MS + 15_000, () => matches(w1.name));
    log(`healed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(await connectFromPod(f.pods.a1.name, f.pods.b1.ip, 8080, 'tcp')).toBe(f.pods.a1.ip);
    if (!VXLAN) return;
    await sh(w1.name, `ip link del ${VX}`);
    const t1 = Date.now();
    await waitFor('w1 device back', RESYNC_MS + 15_000, () => matches(w1.name));
    log(`device back in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    expect(await connectFromPod(f.pods.a1.name, f.pods.b1.ip, 8080, 'tcp')).toBe(f.pods.a1.ip);
  });

  describe('a Node that comes and goes', () => {
    // A pod range no node has and an address on the Docker network no container has, of the
    // primary family; the ghost's VTEP is the range's first address.
    const ghostCIDR = PRIMARY === 6 ? 'fd42:18:8000:fa::/64' : '198.18.250.0/24';
    const ghostIP = PRIMARY === 6 ? 'fd42:19:1::fa' : '198.19.1.250';
    const ghostVtep = ghostCIDR.split('/')[0]!;
    afterAll(async () => {
      await core().deleteNode({ name: GHOST }).catch(() => undefined);
    });

    it('gets entries on every node while it exists, and takes them along when it leaves', async () => {
      await core().deleteNode({ name: GHOST }).catch(() => undefined);
      await core().createNode({ body: { metadata: { name: GHOST, labels: { 'app.kubernetes.io/part-of': 'gingham-e2e' } }, spec: { podCIDR: ghostCIDR, podCIDRs: [ghostCIDR], unschedulable: true } } });
      const patch = await kubectl(['patch', 'node', GHOST, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: ghostIP }] } })]);
      expect(patch.exitCode, patch.stderr).toBe(0);
      const { w1 } = f;
      const mac = vtepMac(ghostIP);
      await waitFor('ghost entries on w1', 20_000, async (why) => {
        const r = (await agentRoutes(w1.name)).get(ghostCIDR);
        const fdb = VXLAN ? await sh(w1.name, `bridge fdb show dev ${VX}`) : '';
        why(`route ${r}; fdb ${fdb}`);
        return r === (VXLAN ? ghostVtep : ghostIP) && (!VXLAN || fdb.includes(`${mac} dst ${ghostIP} self permanent`)) ? true : undefined;
      });
      await core().deleteNode({ name: GHOST });
      await waitFor('ghost entries gone on w1', 20_000, async (why) => {
        const routes = await agentRoutes(w1.name);
        const overlay = VXLAN ? await sh(w1.name, `bridge fdb show dev ${VX}; ip neigh show dev ${VX}`) : '';
        why(`${[...routes]} ${overlay}`);
        return !routes.has(ghostCIDR) && !overlay.includes(ghostIP) && !overlay.includes(ghostVtep) ? true : undefined;
      });
      const masq = await masqueradeRules(w1.name);
      expect(masq.length, 'the masquerade chain').toBeGreaterThan(0);
      expect(masq.join('\n')).not.toContain(ghostIP);
    });
  });

  it('an agent restart changes no entry and loses no packet of a continuous ping across nodes', async () => {
    const { w1 } = f;
    // The agent's entries: its device, FDB, permanent neighbours and routes (the kernel's own
    // neighbour discovery may come and go on an IPv6 device).
    const routes = `${IP_ROUTE} show proto 199`;
    const state = (): Promise<string> => sh(w1.name, VXLAN ? `ip -o link show ${VX} | cut -d: -f1; bridge fdb show dev ${VX} | sort; ip neigh show dev ${VX} nud permanent | sort; ${routes}` : routes);
    const before = await state();
    assertSafe(f.pods.a1.ip);
    // 20 s of pings from b1 (w2) to a1 (w1), five a second, while w1's agent pod is replaced.
    const pinging = podExec(f.pods.b1.name, ['ping', '-q', '-c', '100', '-i', '0.2', '-W', '1', f.pods.a1.ip], { timeoutMs: 60_000 });
    await sleep(2000);
    const old = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham', fieldSelector: `spec.nodeName=${w1.name}` });
    await core().deleteNamespacedPod({ name: old.items[0]!.metadata!.name!, namespace: 'kube-system' });
    await waitFor('a new agent on w1', 60_000, async () => {
      const now = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham', fieldSelector: `spec.nodeName=${w1.name}` });
      return now.items.some((p) => p.metadata?.name !== old.items[0]!.metadata!.name && p.status?.containerStatuses?.[0]?.ready) ? true : undefined;
    });
    const r = await pinging;
    log(`ping during the restart: ${/\d+ packets transmitted.*/.exec(r.stdout)?.[0]}`);
    expect(r.stdout).toMatch(/100 packets transmitted, 100 received, 0% packet loss/);
    await waitFor('the new agent to match its plan', 30_000, () => matches(w1.name));
    expect(await state()).toBe(before);
  });

  it('switching backend on the running cluster leaves nothing of the old one, and switching back restores it', async () => {
    const other = VXLAN ? 'host-gw' : 'vxlan';
    const original = await agentConfig();
    const setBackend = async (backend: string): Promise<void> => {
      const data = { 'config.json': JSON.stringify({ ...original, backend }) };
      const p = await kubectl(['-n', 'kube-system', 'patch', 'configmap', 'gingham', '--type', 'merge', '-p', JSON.stringify({ data })]);
      expect(p.exitCode, p.stderr).toBe(0);
      const r = await kubectl(['-n', 'kube-system', 'rollout', 'restart', 'ds/gingham']);
      expect(r.exitCode, r.stderr).toBe(0);
      const s = await kubectl(['-n', 'kube-system', 'rollout', 'status', 'ds/gingham', '--timeout=180s'], { timeoutMs: 200_000 });
      expect(s.exitCode, s.stderr).toBe(0);
    };
    const { all } = await clusterNodes();
    const check = async (backend: string): Promise<void> => {
      for (const n of all) {
        await waitFor(`${n.name} on ${backend}`, 60_000, async (why) => {
          const r = await inspect(n.name);
          const links = await dockerExec(n.name, ['ip', '-o', 'link', 'show', 'type', 'vxlan']);
          why(`${r.out.split('\n')[0]} / ${links} / ${r.out.slice(r.out.indexOf('kernel:'))}`);
          const hasDevice = links.includes(VX);
          return r.exitCode === 0 && r.out.includes(`backend ${backend}`) && hasDevice === (backend === 'vxlan') ? true : undefined;
        });
        const routes = [...(await agentRoutes(n.name)).values()];
        const nodeIPs = all.filter((o) => o.name !== n.name).map((o) => o.internalIP);
        if (backend === 'vxlan') for (const ip of nodeIPs) expect(routes).not.toContain(ip);
        else expect(routes.sort()).toEqual(nodeIPs.sort());
      }
      expect(await connectFromPod(f.pods.a1.name, f.pods.b1.ip, 8080, 'tcp')).toBe(f.pods.a1.ip);
      expect(await connectFromPod(f.pods.b1.name, f.pods.c1.ip, 8080, 'tcp')).toBe(f.pods.b1.ip);
    };
    try {
      await setBackend(other);
      await check(other);
    } finally {
      await setBackend(BACKEND);
    }
    await check(BACKEND);
  });
});
