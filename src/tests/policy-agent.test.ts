// NetworkPolicy and ClusterNetworkPolicy as the agent enforces them, for real: two node namespaces
// joined by host-gw routes (the agent's network pass), pods wired by the built binary (so our IPAM
// records their names), each node with the agent's policy pass (in-process: compile, then the
// kernel layer against the node's own tables). Every pair of pods (and each pod with its own node)
// is probed on TCP 80 and 81 and UDP 80, and each observed verdict must be the one `gingham policy
// explain` gives: both come from the same compiler.
import { type ResultPromise, execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../agent/config.js';
import { nodeKernel } from '../agent/network/kernel.js';
import { PolicyApplier } from '../agent/policy/apply.js';
import { NftPolicyApplier } from '../agent/policy/nft-apply.js';
import { compile } from '../agent/policy/compile.js';
import { type Endpoint, explain } from '../agent/policy/explain.js';
import type { ClusterPolicy, PodInfo, Policy, PolicyInputs, Protocol } from '../agent/policy/model.js';
import { PolicyReconciler } from '../agent/policy/reconcile.js';
import { resolveAll, resolvePolicies } from '../agent/policy/resolve.js';
import { cnp, cnpRule, inNs, ns, podsOf, policy, rule, sel } from '../agent/policy/testing.js';
import { Reconciler } from '../agent/reconcile.js';
import { node } from '../agent/testing.js';
import { Cluster, GINGHAM, requirePrivileges } from './cluster.js';

requirePrivileges();

const quiet = (): void => undefined;
const NODES = ['node1', 'node2'] as const;
const podCidr = (i: number): string => `198.18.${33 + i}.0/24`;
const nodeIp = (i: number): string => `198.18.0.${i + 1}`;
/** x/a and x/b share node1's bridge (bridged traffic), y/c is on node2 (routed). */
const PODS = [
  { namespace: 'x', name: 'a', node: 0, labels: { app: 'a' } },
  { namespace: 'x', name: 'b', node: 0, labels: { app: 'b' } },
  { namespace: 'y', name: 'c', node: 1, labels: { app: 'c' } },
] as const;
const PORTS: [number, Protocol][] = [[80, 'TCP'], [81, 'TCP'], [80, 'UDP']];

describe('NetworkPolicy enforced by the agent in namespaces', () => {
  const c = new Cluster();
  const servers: ResultPromise[] = [];
  const pods: PodInfo[] = [];
  let policies: Policy[] = [];
  let clusterPolicies: ClusterPolicy[] = [];
  /** What the API server would say: x/a's address is not known to it yet (kubelet is slow). */
  let apiKnowsA = false;
  const inputs = (): PolicyInputs => ({
    policies,
    pods: pods.map((p) => (p.name === 'a' && !apiKnowsA ? { ...p, ips: [] } : p)),
    namespaces: [ns('x'), ns('y', { ns: 'y', team: 'blue' })],
    clusterPolicies,
    nodes: NODES.map((n, i) => ({ name: n, labels: { 'kubernetes.io/hostname': n }, ips: [nodeIp(i)] })),
  });
  const policyPass = (i: number): Promise<unknown> =>
    new PolicyReconciler({
      nodeName: NODES[i]!,
      inputs,
      sync: async (want, read) => {
        const r = await new PolicyApplier(c.ns(NODES[i]!)).sync(want, { read });
        return { changes: [], failures: r.failures.map((f) => f.error) };
      },
      readEveryMs: 0,
      sctpPorts: true,
      logDrops: false,
      ipamDataDir: `${c.tmp}/ipam-${NODES[i]}`,
      log: quiet,
    }).pass();
  const enforce = async (ps: Policy[]): Promise<void> => {
    policies = ps;
    await Promise.all(NODES.map((_, i) => policyPass(i)));
  };
  const connects = async (from: string, ip: string, port: number, proto: Protocol): Promise<boolean> =>
    c.tryExec(from, [GINGHAM, 'probe', 'connect', `${ip}:${port}/${proto.toLowerCase()}`, '--timeout', '1500']);
  const podNs = (p: PodInfo): string => `${p.namespace}-${p.name}`;

  beforeAll(async () => {
    await c.start();
    const nodeInfos = NODES.map((n, i) => node(n, [podCidr(i)], [nodeIp(i)]));
    for (const n of NODES) {
      await c.addNode(n);
      await c.exec(n, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    // The agent's network pass: routes to the other node's pods (host-gw).
    for (const n of NODES) {
      await new Reconciler({ nodeName: n, nodes: () => nodeInfos, config: { ...DEFAULT_CONFIG, backend: 'host-gw' }, kernel: nodeKernel(c.ns(n)), cniConfPath: '', statePath: '', log: quiet }).pass();
    }
    for (const p of PODS) {
      const n = NODES[p.node];
      const name = `${p.namespace}-${p.name}`;
      await c.addNamespace(name);
      const conf = { cniVersion: '1.0.0', name: 'podnet', type: 'gingham', bridge: 'gpol0', isGateway: true, isDefaultGateway: true, ipam: { type: 'gingham', dataDir: `${c.tmp}/ipam-${n}`, ranges: [[{ subnet: podCidr(p.node) }]] } };
      const result = await c.add(n, conf, name, 'eth0', { args: `K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name}` });
      const ip = ((result['ips'] as { address: string }[])[0]!.address).split('/')[0]!;
      pods.push({ namespace: p.namespace, name: p.name, labels: p.labels, ips: [ip], node: n, hostNetwork: false, namedPorts: [] });
      servers.push(execa('ip', ['netns', 'exec', c.ns(name), GINGHAM, 'probe', 'serve', '--tcp', '80,81', '--udp', '80'], { reject: false }));
    }
    // node1 answers too: ClusterNetworkPolicy egress reaches a pod's own node.
    servers.push(execa('ip', ['netns', 'exec', c.ns('node1'), GINGHAM, 'probe', 'serve', '--tcp', '80,81', '--udp', '80'], { reject: false }));
    // Same-node pods talk across the bridge: br_netfilter shows that traffic to FORWARD.
    await c.exec('node1', ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1']);
    // The servers are up once the node reaches each of them.
    for (const p of pods) {
      const until = Date.now() + 10_000;
      while (!(await connects('node1', p.ips[0]!, 80, 'TCP'))) if (Date.now() > until) throw new Error(`the probe server in ${podNs(p)} does not answer`);
    }
  });
  afterAll(async () => {
    for (const s of servers) s.kill();
    await Promise.allSettled(servers);
    await c.destroy();
  });

  it('a pod the API lists without an address is isolated from its IPAM reservation on', async () => {
    apiKnowsA = false;
    await enforce([policy('x', 'deny-a', { select: sel({ app: 'a' }), ingress: [] })]);
    const a = pods[0]!.ips[0]!;
    expect(await connects('y-c', a, 80, 'TCP'), 'routed, from another node').toBe(false);
    expect(await connects('x-b', a, 80, 'TCP'), 'bridged, same node').toBe(false);
    expect(await connects('node1', a, 80, 'TCP'), 'its own node').toBe(true);
    expect(await connects('x-b', pods[2]!.ips[0]!, 80, 'TCP'), 'pods it does not select').toBe(true);
    apiKnowsA = true;
  });

  it('every pair and port gets the verdict explain gives, on both paths, replies included', async () => {
    await enforce([
      // x/a: ingress only from namespace team=blue on TCP 80, and from x/b on UDP.
      policy('x', 'a-in', { select: sel({ app: 'a' }), ingress: [rule([{ namespaceSelector: sel({ team: 'blue' }) }], [{ protocol: 'TCP', port: 80 }]), rule([{ podSelector: sel({ app: 'b' }) }], [{ protocol: 'UDP' }])] }),
      // x/b: egress only to namespace y (any port) and UDP 80 to node1's pods (an ipBlock with an
      // except); it still answers connections to it (replies).
      policy('x', 'b-out', { select: sel({ app: 'b' }), egress: [rule([{ namespaceSelector: sel({ ns: 'y' }) }]), rule([{ ipBlock: { cidr: '198.18.33.0/24', except: ['198.18.33.128/25'] } }], [{ protocol: 'UDP', port: 80 }])] }),
      // y/c: ingress on TCP 81 from anywhere, nothing else.
      policy('y', 'c-in', { ingress: [rule([], [{ protocol: 'TCP', port: 81 }])] }),
    ]);
    const resolved = resolvePolicies(inputs());
    const ep = (p: PodInfo): Endpoint => ({ kind: 'pod', pod: p, ip: p.ips[0]! });
    const wrong: string[] = [];
    const verdicts: string[] = [];
    for (const from of pods) {
      for (const to of pods) {
        if (from === to) continue;
        for (const [port, protocol] of PORTS) {
          const want = explain(resolved, { from: ep(from), to: ep(to), port, protocol }).allowed;
          const got = await connects(podNs(from), to.ips[0]!, port, protocol);
          verdicts.push(`${podNs(from)}->${podNs(to)} ${port}/${protocol} ${got ? 'ok' : 'no'}`);
          if (got !== want) wrong.push(`${podNs(from)} -> ${podNs(to)} ${port}/${protocol}: explain ${want}, kernel ${got}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // The matrix is not trivial: both verdicts occur, on both paths.
    expect(verdicts).toContain('y-c->x-a 80/TCP ok');
    expect(verdicts).toContain('y-c->x-a 81/TCP no');
    expect(verdicts).toContain('x-b->x-a 80/UDP ok');
    expect(verdicts).toContain('x-b->x-a 80/TCP no');
    expect(verdicts).toContain('x-a->x-b 80/TCP ok');
    expect(verdicts).toContain('x-a->y-c 80/TCP no');
  });

  it('ClusterNetworkPolicy tiers around NetworkPolicy: the verdict explain gives, own node included; a tier denies silently', async () => {
    apiKnowsA = true;
    clusterPolicies = [
      // x/a may not reach its own node on TCP 81: the INPUT hook.
      cnp('a-own-node', 'Admin', 10, podsOf(sel({ ns: 'x' }), sel({ app: 'a' })), {
        egress: [cnpRule('Deny', [{ kind: 'nodes', nodes: sel({ 'kubernetes.io/hostname': 'node1' }) }], [{ kind: 'port', protocol: 'TCP', port: 81 }])],
      }),
      // Into y: x/b on TCP 80 accepted whatever NetworkPolicy says, the rest of x on TCP 80 passed
      // to NetworkPolicy, everything else from x denied (before y/c-in's allow of TCP 81).
      cnp('into-y', 'Admin', 20, inNs(sel({ ns: 'y' })), {
        ingress: [
          cnpRule('Accept', [podsOf(sel({ ns: 'x' }), sel({ app: 'b' }))], [{ kind: 'port', protocol: 'TCP', port: 80 }]),
          cnpRule('Pass', [inNs(sel({ ns: 'x' }))], [{ kind: 'port', protocol: 'TCP', port: 80 }]),
          cnpRule('Deny', [inNs(sel({ ns: 'x' }))]),
        ],
      }),
      // x/b by default takes no UDP from x/a, and sends none to node2's pods.
      cnp('b-defaults', 'Baseline', 5, podsOf(sel({ ns: 'x' }), sel({ app: 'b' })), {
        ingress: [cnpRule('Deny', [podsOf(sel({ ns: 'x' }), sel({ app: 'a' }))], [{ kind: 'port', protocol: 'UDP', port: 80 }])],
        egress: [
          cnpRule('Deny', [{ kind: 'networks', cidrs: [podCidr(1)] }], [{ kind: 'port', protocol: 'UDP', port: 80 }]),
          cnpRule('Deny', [{ kind: 'networks', cidrs: [`${nodeIp(0)}/32`] }], [{ kind: 'port', protocol: 'TCP', port: 81 }]),
        ],
      }),
    ];
    await enforce([policy('y', 'c-in', { ingress: [rule([], [{ protocol: 'TCP', port: 81 }])] })]);
    const { policies: resolved, cluster } = resolveAll(inputs());
    const ep = (p: PodInfo): Endpoint => ({ kind: 'pod', pod: p, ip: p.ips[0]! });
    const node1: Endpoint = { kind: 'ip', ip: nodeIp(0), node: 'node1' };
    const wrong: string[] = [];
    const verdicts: string[] = [];
    for (const from of pods) {
      for (const to of [...pods.filter((p) => p !== from).map(ep), ...(from.node === 'node1' ? [node1] : [])]) {
        const toName = to.kind === 'pod' ? podNs(to.pod) : 'node1';
        // A UDP server on the node answers from the address its route to the pod picks (the
        // bridge's), not the one asked: only TCP tells there.
        for (const [port, protocol] of PORTS.filter(([, proto]) => to.kind === 'pod' || proto === 'TCP')) {
          const want = explain(resolved, { from: ep(from), to, port, protocol }, cluster).allowed;
          const got = await connects(podNs(from), to.ip, port, protocol);
          verdicts.push(`${podNs(from)}->${toName} ${port}/${protocol} ${got ? 'ok' : 'no'}`);
          if (got !== want) wrong.push(`${podNs(from)} -> ${toName} ${port}/${protocol}: explain ${want}, kernel ${got}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(verdicts).toEqual(
      expect.arrayContaining([
        'x-a->node1 81/TCP no', // Admin Deny, own node
        'x-a->node1 80/TCP ok',
        'x-b->y-c 80/TCP ok', // Admin Accept over NetworkPolicy's denial
        'x-a->y-c 80/TCP no', // Admin Pass, then NetworkPolicy denies
        'x-a->y-c 81/TCP no', // Admin Deny over NetworkPolicy's allow
        'x-a->x-b 80/UDP no', // Baseline Deny, no NetworkPolicy selects x/b
        'x-a->x-b 80/TCP ok',
        'x-b->y-c 80/UDP no', // Baseline Deny of a network
        'x-b->node1 81/TCP no', // Baseline Deny, own node
      ]),
    );
    // Once a NetworkPolicy isolates x/b for egress, it decides: its own node is always allowed, and
    // Baseline is not asked.
    await enforce([policies[0]!, policy('x', 'b-out', { select: sel({ app: 'b' }), egress: [rule([{ namespaceSelector: sel({ ns: 'y' }) }])] })]);
    expect(await connects('x-b', nodeIp(0), 81, 'TCP')).toBe(true);
    expect(explain(resolveAll(inputs()).policies, { from: ep(pods[1]!), to: node1, port: 81, protocol: 'TCP' }, resolveAll(inputs()).cluster).egress).toMatchObject({ allowed: true, reason: 'own-node' });
    // The rules read back as written: a fresh sync that reads the kernel finds nothing to change.
    const again = await new PolicyApplier(c.ns('node1')).sync(compile(inputs(), { node: 'node1', sctpPorts: true, logDrops: false }).ruleset, { read: true });
    expect({ restores: again.restores, failures: again.failures }).toEqual({ restores: 0, failures: [] });
    // An Admin Deny drops (the client waits out its timeout); NetworkPolicy refuses at once.
    const timed = async (to: string, port: number): Promise<number> => {
      const t = Date.now();
      await connects('x-a', to, port, 'TCP');
      return Date.now() - t;
    };
    expect(await timed(pods[2]!.ips[0]!, 81)).toBeGreaterThanOrEqual(1400);
    expect(await timed(pods[2]!.ips[0]!, 80)).toBeLessThan(1000);
    clusterPolicies = [];
  });

  it('no policy left: every chain, hook and set goes, and everything passes again', async () => {
    clusterPolicies = [];
    await enforce([]);
    for (const n of NODES) {
      expect(await c.exec(n, ['sh', '-c', 'iptables-save -t filter | grep -c GINGHAM-NP || true'])).toBe('0');
      expect(await c.exec(n, ['sh', '-c', 'ipset list -n | grep -c gingham-np || true'])).toBe('0');
    }
    expect(await connects('y-c', pods[0]!.ips[0]!, 81, 'TCP')).toBe(true);
  });

  it('gingham agent --cleanup removes everything the agent made on the node, of both policy dataplanes', async () => {
    await enforce([policy('x', 'deny', { ingress: [] })]);
    // A node between dataplanes: the nftables policy table beside the iptables rules.
    const nft = await new NftPolicyApplier(c.ns('node1')).sync(compile(inputs(), { node: 'node1', sctpPorts: true, logDrops: false }).ruleset);
    expect(nft.failures).toEqual([]);
    const tables = (): Promise<string> => c.exec('node1', ['nft', 'list', 'tables']);
    expect(await tables()).toContain('table inet gingham-policy');
    const ours = "{ iptables-save; ip6tables-save; } | grep -c '^-A .*GINGHAM' || true";
    expect(Number(await c.exec('node1', ['sh', '-c', ours]))).toBeGreaterThan(0);
    expect(await c.exec('node1', ['ip', 'route', 'show', 'proto', '199'])).not.toBe('');
    await c.exec('node1', [GINGHAM, 'agent', '--cleanup']);
    expect(await c.exec('node1', ['sh', '-c', ours])).toBe('0');
    expect(await c.exec('node1', ['sh', '-c', 'ipset list -n | grep -c gingham-np || true'])).toBe('0');
    expect(await tables()).not.toContain('gingham-policy');
    expect(await c.exec('node1', ['ip', 'route', 'show', 'proto', '199'])).toBe('');
    // The other node keeps what it has.
    expect(await c.exec('node2', ['ip', 'route', 'show', 'proto', '199'])).not.toBe('');
  });
});
