// Disruptions on the first worker, where a1 and a2 run: containerd restarted, kubelet restarted,
// the gingham DaemonSet pod deleted. Running pods keep their sandbox, address and connectivity:
// a probe loop from b1 (other node) to a1 runs through each disruption and must not miss once, and
// afterwards traffic flows both ways and gingham's state on the node is what it was.
import { beforeAll, describe, expect, it } from 'vitest';
import { TCP_PORT, UDP_PORT } from './lib/env.js';
import { account, discrepancies } from './lib/checks.js';
import { type Fixture, fixture } from './lib/fixtures.js';
import { core, podsByName } from './lib/kube.js';
import { agentRoutes, conflist, isActive, systemctlRestart } from './lib/node.js';
import { connectFromPod, podExec } from './lib/probe.js';
import { GINGHAM_IN_IMAGE } from './lib/env.js';
import { assertSafe, hostPort } from './lib/ip.js';
import { log, phase, sleep, waitFor } from './lib/timing.js';

let f: Fixture;

beforeAll(async () => {
  f = await phase('probe pods Ready', fixture);
});

/** What must not change on the disrupted node: the pods' containers and addresses, gingham's state. */
async function snapshot(): Promise<string> {
  const pods = await podsByName();
  const mine = ['a1', 'a2'].map((n) => {
    const p = pods.get(n)!;
    const cs = p.status?.containerStatuses?.[0];
    return `${n} ${p.status?.podIP} ${cs?.containerID} restarts=${cs?.restartCount}`;
  });
  const a = await account(f.w1.name);
  return JSON.stringify({ mine, veths: a.veths, reserved: a.reserved });
}

/**
 * A probe loop inside b1 toward a1 (TCP), one connection every 0.5 s for `seconds`; returns the
 * number of answered and failed connections.
 */
async function probeLoop(seconds: number): Promise<{ ok: number; fail: number; out: string }> {
  const target = `${hostPort(f.pods.a1.ip, TCP_PORT)}/tcp`;
  assertSafe(f.pods.a1.ip);
  const n = seconds * 2;
  const script = `ok=0; fail=0; i=0; while [ $i -lt ${n} ]; do i=$((i+1)); if ${GINGHAM_IN_IMAGE} probe connect ${target} --timeout 2000 >/dev/null 2>&1; then ok=$((ok+1)); else fail=$((fail+1)); echo "miss $i $(date +%T)"; fi; sleep 0.5; done; echo "ok=$ok fail=$fail"`;
  const r = await podExec(f.pods.b1.name, ['sh', '-c', script], { timeoutMs: (seconds * 4 + 60) * 1000 });
  const m = /ok=(\d+) fail=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`probe loop in b1: exit ${r.exitCode}: ${r.stdout}${r.stderr}`);
  return { ok: Number(m[1]), fail: Number(m[2]), out: r.stdout.trim() };
}

/** Traffic both ways across nodes and within the node, client addresses kept. */
async function expectConnected(): Promise<void> {
  const { a1, a2, b1 } = f.pods;
  expect(await connectFromPod(b1.name, a1.ip, TCP_PORT, 'tcp')).toBe(b1.ip);
  expect(await connectFromPod(b1.name, a1.ip, UDP_PORT, 'udp')).toBe(b1.ip);
  expect(await connectFromPod(a1.name, b1.ip, TCP_PORT, 'tcp')).toBe(a1.ip);
  expect(await connectFromPod(a1.name, b1.ip, UDP_PORT, 'udp')).toBe(a1.ip);
  expect(await connectFromPod(a2.name, a1.ip, TCP_PORT, 'tcp')).toBe(a2.ip);
}

/** Runs the disruption while b1 probes a1, then checks nothing moved and all still connects. */
async function survives(what: string, disrupt: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await expectConnected();
  const loop = probeLoop(20);
  await sleep(2000);
  await phase(what, disrupt);
  const result = await loop;
  log(`${what}: b1 -> a1 probe loop: ${result.ok} answered, ${result.fail} missed${result.fail ? `\n${result.out}` : ''}`);
  expect(result.fail, `connections b1 -> a1 missed during "${what}"`).toBe(0);
  await expectConnected();
  // The node's CNI state: no pod re-wired, no address taken or lost.
  expect(await waitFor(`${f.w1.name} state as before`, 60_000, async (why) => {
    const now = await snapshot();
    why(`before ${before}, now ${now}`);
    return now === before ? now : undefined;
  })).toBe(before);
  expect(discrepancies(await account(f.w1.name))).toEqual([]);
}

describe(`running pods on a worker stay connected`, () => {
  it('when containerd restarts', async () => {
    await survives(`containerd restarted on ${f.w1.name}`, async () => {
      await systemctlRestart(f.w1.name, 'containerd');
      await waitFor('containerd active', 60_000, async () => ((await isActive(f.w1.name, 'containerd')) ? true : undefined));
    });
  });

  it('when kubelet restarts', async () => {
    await survives(`kubelet restarted on ${f.w1.name}`, async () => {
      await systemctlRestart(f.w1.name, 'kubelet');
      await waitFor('kubelet active', 60_000, async () => ((await isActive(f.w1.name, 'kubelet')) ? true : undefined));
    });
  });

  it('when the gingham DaemonSet pod is deleted (and comes back with routes and conflist)', async () => {
    const agentPod = async (): Promise<{ name: string; uid: string; ready: boolean } | undefined> => {
      const list = await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=gingham', fieldSelector: `spec.nodeName=${f.w1.name}` });
      const p = list.items.find((x) => !x.metadata?.deletionTimestamp);
      return p ? { name: p.metadata!.name!, uid: p.metadata!.uid!, ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false } : undefined;
    };
    const old = await agentPod();
    expect(old?.ready, `gingham pod on ${f.w1.name}`).toBe(true);
    const routesBefore = await agentRoutes(f.w1.name);
    const confBefore = await conflist(f.w1.name);
    await survives(`gingham pod deleted on ${f.w1.name}, replacement Ready`, async () => {
      await core().deleteNamespacedPod({ name: old!.name, namespace: 'kube-system' });
      await waitFor(`a new Ready gingham pod on ${f.w1.name}`, 120_000, async (why) => {
        const p = await agentPod();
        why(JSON.stringify(p));
        return p && p.uid !== old!.uid && p.ready ? p : undefined;
      });
    });
    expect([...(await agentRoutes(f.w1.name))].sort()).toEqual([...routesBefore].sort());
    expect(await conflist(f.w1.name)).toEqual(confBefore);
  });
});
