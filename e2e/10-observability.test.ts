// What the network does while it runs, seen from outside as an operator and a student would: every
// agent's /metrics, scraped over its node address and read with Prometheus' own parser, moving as a
// pod starts and stops and as a policy applies and denies; and a denied connection arriving as a
// verdict event in `gingham policy drops --follow` (run in the agent's pod through kubectl exec)
// within a second, naming the pod, the direction and the policy. The clusters run with
// policyLogDrops on (e2e/install.sh).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, GINGHAM_IN_IMAGE, KUBECONFIG, KUBECTL, POD_CIDRS, REPO, TCP_PORT } from './lib/env.js';
import { type Fixture, fixture } from './lib/fixtures.js';
import { familyOf, hostPort } from './lib/ip.js';
import { type NodeInfo, SUITE_LABEL, clusterNodes, deletePods, ensurePods, kubeConfig, namespace, networkedPodsOn, probePod } from './lib/kube.js';
import { type Family, parseExposition } from './lib/prometheus.js';
import { kubectl, podExec } from './lib/probe.js';
import { log, phase, waitFor } from './lib/timing.js';

const METRICS_PORT = 20917;

let f: Fixture;

beforeAll(async () => {
  f = await phase('probe pods a1 a2 b1 c1 Ready', fixture);
});

/** A node's /metrics from this machine (off the node, as Prometheus would), parsed by Prometheus' parser. */
async function scrape(node: NodeInfo): Promise<Family[]> {
  const r = await fetch(`http://${hostPort(node.internalIP, METRICS_PORT)}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(r.status, `${node.name} /metrics`).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await r.text());
}

/** The sum of a family's series whose labels include `labels` (for a histogram: its count). */
function value(families: readonly Family[], name: string, labels: Record<string, string> = {}): number {
  const fam = families.find((x) => x.name === name);
  if (!fam) return 0;
  let sum = 0;
  for (const m of fam.metrics) if (Object.entries(labels).every(([k, v]) => m.labels[k] === v)) sum += m.value ?? m.count ?? 0;
  return sum;
}

describe('metrics', () => {
  it('every agent serves /metrics on its node address; Prometheus parses it; each gingham metric is in the README', async () => {
    const { all } = await clusterNodes();
    const readme = readFileSync(`${REPO}/README.md`, 'utf8');
    for (const n of all) {
      const m = await scrape(n);
      const ours = m.filter((x) => x.name.startsWith('gingham_'));
      log(`${n.name}: ${m.length} families, ${ours.length} gingham_*`);
      for (const fam of ours) expect(readme, `README lists ${fam.name}`).toContain(`\`${fam.name}\``);
      expect(value(m, 'gingham_build_info', { backend: BACKEND }), `${n.name} build info`).toBe(1);
      expect(value(m, 'gingham_agent_start_time_seconds')).toBeGreaterThan(Date.now() / 1000 - 86_400);
      expect(value(m, 'gingham_network_passes_total', { outcome: 'ok' }), `${n.name} network passes`).toBeGreaterThan(0);
      expect(value(m, 'gingham_policy_syncs_total', { outcome: 'ok' }), `${n.name} policy syncs`).toBeGreaterThan(0);
      // Every other node's pod CIDR of each family is a peer, over the tunnel (vxlan) or direct (host-gw).
      expect(value(m, 'gingham_network_peers'), `${n.name} peers`).toBe((all.length - 1) * POD_CIDRS.length);
      // The CNI counts start with the agent (earlier files restart it; a family with no series yet
      // is not exposed), so the next test watches them move. Every node runs a fixture pod: its
      // address is in use.
      expect(value(m, 'gingham_ipam_addresses', { network: 'gingham', state: 'used' }), `${n.name} IPAM used`).toBeGreaterThan(0);
    }
  });

  it('CNI calls and IPAM fill move as a pod starts and stops', async () => {
    const node = f.w1;
    // The node's range of the primary family (every pod has one address there). The free count of
    // an IPv6 /64 is past a double's exact integers, so one address less cannot show in it: there
    // the exact used count alone says the address was taken.
    const range = { network: 'gingham', range: node.podCIDR };
    const exactFree = familyOf(node.podCIDR.split('/')[0]!) === 4;
    const used = (m: readonly Family[]): number => value(m, 'gingham_ipam_addresses', { ...range, state: 'used' });
    const calls = (m: readonly Family[], verb: string): number => value(m, 'gingham_cni_calls_total', { verb, result: 'ok' });
    // Settled first: the pods of earlier files are gone from the API before kubelet's DEL has
    // released their addresses, and those releases must not count against this pod's.
    const before = await waitFor('IPAM fill settled: one address per pod of the node', 90_000, async (why) => {
      const pods = await networkedPodsOn(node.name);
      const m = await scrape(node);
      why(`${used(m)} used in ${node.podCIDR}, ${pods.length} pods (${pods.filter((p) => !p.status?.podIP).length} without an address yet)`);
      return pods.every((p) => p.status?.podIP) && used(m) === pods.length ? m : undefined;
    });
    const free = value(before, 'gingham_ipam_addresses', { ...range, state: 'free' });
    await ensurePods([probePod('m1', node.name, { labels: { probe: 'm1' } })]);
    const up = await waitFor('ADD and one more address on record', 30_000, async (why) => {
      const m = await scrape(node);
      why(`ADD ${calls(m, 'ADD')} (was ${calls(before, 'ADD')}), used ${used(m)} (was ${used(before)})`);
      return calls(m, 'ADD') > calls(before, 'ADD') && used(m) === used(before) + 1 ? m : undefined;
    });
    if (exactFree) expect(value(up, 'gingham_ipam_addresses', { ...range, state: 'free' })).toBe(free - 1);
    expect(value(up, 'gingham_cni_call_duration_seconds', { verb: 'ADD' })).toBeGreaterThan(value(before, 'gingham_cni_call_duration_seconds', { verb: 'ADD' }));
    await deletePods(['m1']);
    await waitFor('DEL and the address back', 30_000, async (why) => {
      const m = await scrape(node);
      why(`DEL ${calls(m, 'DEL')} (was ${calls(before, 'DEL')}), used ${used(m)} (was ${used(before)})`);
      return calls(m, 'DEL') > calls(before, 'DEL') && used(m) === used(before) ? true : undefined;
    });
  });
});

describe('a policy that denies', () => {
  const POLICY = 'e2e-deny-b1';
  const net = (): NetworkingV1Api => kubeConfig().makeApiClient(NetworkingV1Api);
  let follower: ChildProcess | undefined;
  /** Lines of `gingham policy drops --follow --json`, with when each arrived here. */
  const lines: { at: number; text: string }[] = [];

  afterAll(async () => {
    follower?.kill('SIGKILL');
    await net().deleteNamespacedNetworkPolicy({ name: POLICY, namespace: namespace() }).catch(() => undefined);
  });

  it('moves the policy metrics, counts the denied packet per pod, and `gingham policy drops` shows it within 1 s', async () => {
    const { a1, b1 } = f.pods;
    const ns = namespace();
    const before = await scrape(b1.node);
    // The drops command in b1's node's agent pod, left running as a student would.
    const agentPod = JSON.parse(
      (await kubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'app=gingham', '--field-selector', `spec.nodeName=${b1.node.name}`, '-o', 'json'])).stdout,
    ) as { items: { metadata: { name: string } }[] };
    const agent = agentPod.items[0]!.metadata.name;
    follower = spawn(KUBECTL, ['--kubeconfig', KUBECONFIG, '-n', 'kube-system', 'exec', agent, '-c', 'agent', '--', GINGHAM_IN_IMAGE, 'policy', 'drops', '--follow', '--json', '--pod', `${ns}/b1`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    let stderr = '';
    follower.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const text of parts) if (text.trim()) lines.push({ at: Date.now(), text });
    });
    follower.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));

    await net().createNamespacedNetworkPolicy({
      namespace: ns,
      body: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: POLICY, labels: SUITE_LABEL }, spec: { podSelector: { matchLabels: { probe: 'b1' } }, policyTypes: ['Ingress'] } },
    });
    // Enforced: a connection from a1 is refused (the REJECT answers at once).
    const deniedAt = await waitFor('a1 -> b1 refused', 30_000, async (why) => {
      const r = await podExec(a1.name, [GINGHAM_IN_IMAGE, 'probe', 'connect', `${hostPort(b1.ip, TCP_PORT)}/tcp`, '--timeout', '2000']);
      why(`exit ${r.exitCode}: ${(r.stdout + r.stderr).trim()}`);
      return r.exitCode !== 0 ? Date.now() : undefined;
    }, 200);
    const event = await waitFor(`the event in policy drops (stderr: ${stderr})`, 10_000, async () => lines.find((l) => l.text.includes(a1.ip)), 50);
    const ev = JSON.parse(event.text) as Record<string, unknown> & { src: { ip: string; pod?: string }; dst: { ip: string; port?: number; pod?: string }; policies: string[] };
    log(`event ${event.at - deniedAt} ms after the refusal reached the test: ${event.text}`);
    expect(ev).toMatchObject({ verdict: 'denied', direction: 'ingress', namespace: ns, pod: 'b1', protocol: 'TCP' });
    expect(ev.src).toMatchObject({ ip: a1.ip, pod: `${ns}/a1` });
    expect(ev.dst).toMatchObject({ ip: b1.ip, port: TCP_PORT, pod: `${ns}/b1` });
    expect(ev.policies.join(' ')).toContain(POLICY);
    // Within a second of the refusal (which reached us through kubectl exec, itself slower).
    expect(event.at - deniedAt).toBeLessThan(1000);

    await waitFor('the denied packet counted and the rules on record', 15_000, async (why) => {
      const m = await scrape(b1.node);
      const denied = value(m, 'gingham_policy_denied_packets_total', { namespace: ns, pod: 'b1', direction: 'ingress' });
      why(`denied ${denied}, rules ${value(m, 'gingham_policy_rules')} (before ${value(before, 'gingham_policy_rules')})`);
      if (denied < 1) return undefined;
      expect(value(m, 'gingham_policy_rules')).toBeGreaterThan(value(before, 'gingham_policy_rules'));
      expect(value(m, 'gingham_policy_chains')).toBeGreaterThan(value(before, 'gingham_policy_chains'));
      expect(value(m, 'gingham_policy_event_to_enforced_seconds')).toBeGreaterThan(value(before, 'gingham_policy_event_to_enforced_seconds'));
      expect(value(m, 'gingham_policy_verdict_events_total', { verdict: 'denied' })).toBeGreaterThan(value(before, 'gingham_policy_verdict_events_total', { verdict: 'denied' }));
      return true;
    });
    await net().deleteNamespacedNetworkPolicy({ name: POLICY, namespace: ns });
    await waitFor('a1 -> b1 open again', 30_000, async () => ((await podExec(a1.name, [GINGHAM_IN_IMAGE, 'probe', 'connect', `${hostPort(b1.ip, TCP_PORT)}/tcp`, '--timeout', '2000'])).exitCode === 0 ? true : undefined), 200);
  });
});
