// The policy source against the fake API server in its own process: five collections listed and
// watched, snapshots only once all have listed, problems reported once, and the one-shot list; the
// ClusterNetworkPolicy CRD missing (404: none, quietly, until it comes), a failed list keeping the
// last good ClusterNetworkPolicies, and Node heartbeats that change nothing the policies read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyInputs } from '../policy/model.js';
import { type FakeApiServer, startFakeApiServer, until, v1Node } from '../testing.js';
import { loadKubeConfig } from './kubernetes.js';
import { CNP_PATH, KubernetesPolicySource, listPolicyInputs } from './policy-source.js';

const POLICIES = '/apis/networking.k8s.io/v1/networkpolicies';
const PATHS = ['/api/v1/pods', '/api/v1/namespaces', POLICIES, CNP_PATH, '/api/v1/nodes'];

const v1Namespace = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
  status: { phase: 'Active' },
});

const v1Pod = (ns: string, name: string, ip: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name, labels: { pod: name, ...labels } },
  spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'serve-80', containerPort: 80 }] }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

const v1NetworkPolicy = (ns: string, name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: ns, name },
  spec,
});

/** Ingress to pod=a from pods pod=b, on the named port: `from` as a client sends it. */
const allowB = v1NetworkPolicy('x', 'allow-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 'serve-80' }] }] });
const allowBRule = { peers: [{ podSelector: { matchLabels: { pod: 'b' }, matchExpressions: [] } }], ports: [{ protocol: 'TCP', port: 'serve-80' }] };
/** A ClusterNetworkPolicy NAME: Admin, priority 10, every pod, with these spec fields. */
const cnp = (name: string, spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'policy.networking.k8s.io/v1beta1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name },
  spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ...spec },
});
const denyFromB = cnp('deny-b', { ingress: [{ name: 'no b', action: 'Deny', from: [{ pods: { podSelector: { matchLabels: { pod: 'b' } } } }] }] });
/** An Accept rule with one peer it cannot read (and one it can): the peer is left out. */
const badPeer = cnp('bad-peer', { tier: 'Baseline', egress: [{ action: 'Accept', to: [{ nodes: {} }, { networks: ['198.18.0.7/24'] }] }] });
const BAD_PEER_PROBLEM = 'clusternetworkpolicy bad-peer: spec.egress[0].to[1].networks[0]: "198.18.0.7/24" has host bits set (the network is 198.18.0.0/24) (peer not used)';

/** A Node NAME with these InternalIPs and labels, its heartbeat (a condition's time) at `beat`. */
const nodeObject = (name: string, ips: string[], labels: Record<string, string> = {}, beat = 0): Record<string, unknown> => {
  const n = v1Node(name, [], ips) as { metadata: { labels: Record<string, string> }; status: Record<string, unknown> };
  return { ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, ...labels } }, status: { ...n.status, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: new Date(beat * 1000).toISOString() }] } };
};

const badEndPort = v1NetworkPolicy('y', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 70 }] }] });
const BAD_PROBLEM = 'y/bad: spec.ingress[0].ports[0]: endPort 70 < port 80 (rule ignored)';

const names = (s: PolicyInputs | undefined) => ({
  pods: s?.pods.map((p) => `${p.namespace}/${p.name}`),
  namespaces: s?.namespaces.map((n) => n.name),
  policies: s?.policies.map((p) => `${p.namespace}/${p.name}`),
  clusterPolicies: s?.clusterPolicies?.map((p) => p.name),
  nodes: s?.nodes?.map((n) => n.name),
});

interface Stats {
  lists: number;
  watches: number;
  paths: Record<string, { lists: number; watches: number }>;
}
const stats = async (api: FakeApiServer): Promise<Stats> => (await (await fetch(`${api.url}/stats`)).json()) as Stats;
/** Turns one of the fake server's switches (fail-lists, expire-watches, absent) on or off for a path. */
const turn = async (api: FakeApiServer, what: 'fail-lists' | 'expire-watches' | 'absent', path: string, on: boolean): Promise<void> => {
  await fetch(`${api.url}/${what}?path=${path}&on=${on ? 1 : 0}`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Log lines as "level msg". */
const recorder = (): { lines: string[]; log: (level: string, msg: string) => void } => {
  const lines: string[] = [];
  return { lines, log: (level, msg) => lines.push(`${level} ${msg}`) };
};

describe('KubernetesPolicySource', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gh-agent-policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists pods, namespaces and policies, then follows their events', async () => {
    const api = await startFakeApiServer();
    for (const ns of ['x', 'y']) api.send('ADDED', v1Namespace(ns));
    api.send('ADDED', v1Pod('x', 'a', '198.18.128.5'));
    api.send('ADDED', v1Pod('x', 'b', '198.18.128.6'));
    api.send('ADDED', allowB);
    api.send('ADDED', denyFromB);
    api.send('ADDED', nodeObject('n1', ['198.18.0.2']));
    let changes = 0;
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig'))), () => changes++, () => undefined);
    expect(src.snapshot()).toBeUndefined();
    await src.start();
    try {
      const first = await until('the lists', () => src.snapshot());
      expect(names(first)).toEqual({ pods: ['x/a', 'x/b'], namespaces: ['x', 'y'], policies: ['x/allow-b'], clusterPolicies: ['deny-b'], nodes: ['n1'] });
      // The listed policy went through client-node's deserialiser (`from` becomes `_from`).
      expect(first.policies[0]!.ingress).toEqual([allowBRule]);
      expect(first.pods[0]).toMatchObject({ ips: ['198.18.128.5'], node: 'n1', namedPorts: [{ name: 'serve-80', protocol: 'TCP', port: 80 }] });
      expect(src.snapshot()).toBe(first); // nothing changed: the same object, no work

      const before = changes;
      api.send('ADDED', v1Pod('y', 'c', '198.18.129.7'));
      const withC = await until('pod y/c', () => (names(src.snapshot()).pods?.includes('y/c') ? src.snapshot() : undefined));
      // Unchanged pods keep their converted object: a change converts one pod, not all of them.
      expect(withC.pods.find((p) => p.name === 'a')).toBe(first.pods[0]);

      api.send('MODIFIED', v1Pod('x', 'b', '198.18.128.6', { role: 'client' }));
      await until('pod x/b relabelled', () => src.snapshot()?.pods.find((p) => p.name === 'b' && p.labels['role'] === 'client'));
      api.send('ADDED', v1Namespace('z', { team: 'z' }));
      await until('namespace z', () => src.snapshot()?.namespaces.find((n) => n.name === 'z' && n.labels['team'] === 'z'));
      // A policy added by a watch event arrives as JSON (`from`), unlike the listed one.
      api.send('ADDED', v1NetworkPolicy('z', 'allow-b', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 'serve-80' }] }] }));
      const zPolicy = await until('policy z/allow-b', () => src.snapshot()?.policies.find((p) => p.namespace === 'z'));
      expect(zPolicy.ingress).toEqual([allowBRule]);
      api.send('DELETED', allowB);
      await until('policy x/allow-b gone', () => (names(src.snapshot()).policies?.join() === 'z/allow-b' ? true : undefined));
      api.send('DELETED', v1Pod('x', 'a', '198.18.128.5'));
      await until('pod x/a gone', () => (names(src.snapshot()).pods?.join() === 'x/b,y/c' ? true : undefined));
      expect(changes - before).toBeGreaterThanOrEqual(6);

      // The server ends every watch: each informer watches again, none lists again.
      api.send('CLOSE-WATCHES');
      await new Promise((r) => setTimeout(r, 200));
      api.send('ADDED', v1Pod('x', 'd', '198.18.128.8'));
      await until('pod x/d after the watches were cut', () => (names(src.snapshot()).pods?.includes('x/d') ? true : undefined));
      const s = await stats(api);
      for (const path of PATHS) expect(s.paths[path], path).toMatchObject({ lists: 1, watches: 2 });
    } finally {
      await src.stop();
      await api.stop();
    }
  });

  it('reports a malformed policy once, enforces the rest of it, and again only when it comes back', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', v1Namespace('y'));
    api.send('ADDED', badEndPort);
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-bad'))), () => undefined, () => undefined);
    await src.start();
    try {
      const snap = await until('the lists', () => src.snapshot());
      // The rule is dropped; the policy still isolates every pod of y (fail closed).
      expect(snap.policies).toEqual([{ namespace: 'y', name: 'bad', podSelector: { matchLabels: {}, matchExpressions: [] }, ingress: [] }]);
      expect(src.problems()).toEqual([BAD_PROBLEM]);
      expect(src.newProblems()).toEqual([BAD_PROBLEM]);
      expect(src.newProblems()).toEqual([]);
      // A new version with the same mistake is no news.
      api.send('MODIFIED', { ...badEndPort, metadata: { namespace: 'y', name: 'bad', labels: { touched: 'yes' } } });
      await until('the new version', () => (src.snapshot() !== snap ? true : undefined));
      expect(src.newProblems()).toEqual([]);
      // Fixed: the problem goes; broken again: it is news again.
      api.send('MODIFIED', v1NetworkPolicy('y', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 70, endPort: 80 }] }] }));
      await until('the fix', () => (src.problems().length === 0 ? true : undefined));
      expect(src.newProblems()).toEqual([]);
      api.send('MODIFIED', badEndPort);
      await until('broken again', () => (src.problems().length === 1 ? true : undefined));
      expect(src.newProblems()).toEqual([BAD_PROBLEM]);
    } finally {
      await src.stop();
      await api.stop();
    }
  });

  it('leaves out a policy, pod or namespace whose name would break a renderer, each with one problem, once', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', v1Namespace('x'));
    api.send('ADDED', v1Namespace('Bad_NS'));
    api.send('ADDED', v1Pod('x', 'a', '198.18.128.5'));
    api.send('ADDED', v1Pod('x', 'p"q', '198.18.128.6'));
    api.send('ADDED', v1NetworkPolicy('x', 'a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#', { podSelector: {}, ingress: [{}] }));
    api.send('ADDED', allowB);
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-names'))), () => undefined, () => undefined);
    await src.start();
    try {
      const snap = await until('the lists', () => src.snapshot());
      expect(names(snap)).toEqual({ pods: ['x/a'], namespaces: ['x'], policies: ['x/allow-b'], clusterPolicies: [], nodes: [] });
      const problems = src.newProblems();
      expect(problems).toHaveLength(3);
      expect(problems).toEqual([
        expect.stringMatching(/^namespace "Bad_NS": metadata.name: "Bad_NS" is not a DNS-1123 label .* \(namespace ignored\)$/),
        expect.stringMatching(/^pod x\/"p\\"q": metadata.name: .* \(pod ignored\)$/),
        expect.stringMatching(/^x\/"a\\n-I INPUT 1 -s 198.18.250.0\/24 -j ACCEPT\\n#": metadata.name: .* \(policy ignored\)$/),
      ]);
      expect(src.newProblems()).toEqual([]);
    } finally {
      await src.stop();
      await api.stop();
    }
  });

  it('gives no snapshot until all have listed, and retries a failing list', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', v1Namespace('x'));
    api.send('ADDED', v1Pod('x', 'a', '198.18.128.5'));
    await fetch(`${api.url}/fail-lists?path=${POLICIES}&on=1`);
    const warnings: string[] = [];
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-hold'))), () => undefined, (level, msg) => level === 'warn' && warnings.push(msg));
    await src.start();
    try {
      await until('the pod and namespace lists and a policy list retried', async () => {
        const s = await stats(api);
        return s.paths['/api/v1/pods']!.watches > 0 && s.paths['/api/v1/namespaces']!.watches > 0 && s.paths[POLICIES]!.lists >= 2 ? true : undefined;
      });
      expect(src.snapshot()).toBeUndefined();
      expect(warnings).toContain('networkpolicy watch failed; retrying');
      await fetch(`${api.url}/fail-lists?path=${POLICIES}&on=0`);
      const snap = await until('the policies listed at last', () => src.snapshot());
      expect(names(snap)).toEqual({ pods: ['x/a'], namespaces: ['x'], policies: [], clusterPolicies: [], nodes: [] });
    } finally {
      await src.stop();
      await api.stop();
    }
  });

  it('listPolicyInputs reads a cluster without the ClusterNetworkPolicy CRD as one without ClusterNetworkPolicies', async () => {
    const api = await startFakeApiServer();
    await turn(api, 'absent', CNP_PATH, true);
    try {
      const { inputs } = await listPolicyInputs(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-once-nocrd'))));
      expect(inputs.clusterPolicies).toEqual([]);
    } finally {
      await api.stop();
    }
  });

  it('listPolicyInputs lists the five once, without watching, and gives the same view', async () => {
    const api = await startFakeApiServer();
    for (const ns of ['x', 'y']) api.send('ADDED', v1Namespace(ns));
    api.send('ADDED', v1Pod('x', 'a', '198.18.128.5'));
    api.send('ADDED', allowB);
    api.send('ADDED', badEndPort);
    api.send('ADDED', badPeer);
    api.send('ADDED', nodeObject('n1', ['198.18.0.2']));
    try {
      const kc = loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-once')));
      const { inputs, problems } = await listPolicyInputs(kc);
      expect(names(inputs)).toEqual({ pods: ['x/a'], namespaces: ['x', 'y'], policies: ['x/allow-b', 'y/bad'], clusterPolicies: ['bad-peer'], nodes: ['n1'] });
      expect(inputs.policies[0]!.ingress).toEqual([allowBRule]);
      expect(problems).toEqual([BAD_PEER_PROBLEM, BAD_PROBLEM]);
      expect(await stats(api)).toMatchObject({ lists: 5, watches: 0 });

      const src = new KubernetesPolicySource(kc, () => undefined, () => undefined);
      await src.start();
      try {
        expect(await until('the lists', () => src.snapshot())).toEqual(inputs);
        expect(src.problems()).toEqual(problems);
      } finally {
        await src.stop();
      }
    } finally {
      await api.stop();
    }
  });

  it('reads ClusterNetworkPolicies and nodes sorted by name, and their problems; a heartbeat is no change', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', denyFromB);
    api.send('ADDED', badPeer);
    api.send('ADDED', nodeObject('n2', ['198.18.0.3']));
    api.send('ADDED', nodeObject('n1', ['198.18.0.2', 'fd42:18::2'], { zone: 'a' }));
    let changes = 0;
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-cnp'))), () => changes++, () => undefined);
    await src.start();
    try {
      const first = await until('the lists', () => src.snapshot());
      expect(first.clusterPolicies).toEqual([
        { name: 'bad-peer', tier: 'Baseline', priority: 10, subject: { kind: 'namespaces', namespaces: { matchLabels: {}, matchExpressions: [] } }, ingress: [], egress: [{ action: 'Accept', peers: [{ kind: 'nodes', nodes: { matchLabels: {}, matchExpressions: [] } }] }] },
        {
          name: 'deny-b',
          tier: 'Admin',
          priority: 10,
          subject: { kind: 'namespaces', namespaces: { matchLabels: {}, matchExpressions: [] } },
          ingress: [{ name: 'no b', action: 'Deny', peers: [{ kind: 'pods', namespaces: { matchLabels: {}, matchExpressions: [] }, pods: { matchLabels: { pod: 'b' }, matchExpressions: [] } }] }],
          egress: [],
        },
      ]);
      expect(first.nodes).toEqual([
        { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1', zone: 'a' }, ips: ['198.18.0.2', 'fd42:18::2'] },
        { name: 'n2', labels: { 'kubernetes.io/hostname': 'n2' }, ips: ['198.18.0.3'] },
      ]);
      expect(src.problems()).toEqual([BAD_PEER_PROBLEM]);
      expect(src.newProblems()).toEqual([BAD_PEER_PROBLEM]);

      // n1's heartbeats change nothing a nodes peer reads: no change, the same object. Then n2's
      // labels change (same watch stream, so after the heartbeats): one change.
      const before = changes;
      for (const beat of [1, 2, 3]) api.send('MODIFIED', nodeObject('n1', ['198.18.0.2', 'fd42:18::2'], { zone: 'a' }, beat));
      api.send('MODIFIED', nodeObject('n2', ['198.18.0.3'], { zone: 'b' }));
      const relabelled = await until('n2 relabelled', () => (src.snapshot()?.nodes?.[1]?.labels['zone'] === 'b' ? src.snapshot() : undefined));
      expect(changes - before).toBe(1);
      expect(relabelled.nodes![0]).toBe(first.nodes![0]);
      expect(relabelled.clusterPolicies![0]).toBe(first.clusterPolicies![0]);

      // A new address is a change, and a new object.
      api.send('MODIFIED', nodeObject('n1', ['198.18.0.2', 'fd42:18::2', '198.18.0.9'], { zone: 'a' }, 4));
      const moved = await until('n1 readdressed', () => (src.snapshot()?.nodes?.[0]?.ips.length === 3 ? src.snapshot() : undefined));
      expect(moved.nodes![0]).not.toBe(first.nodes![0]);
      // A policy changed, and one deleted.
      api.send('MODIFIED', cnp('deny-b', { priority: 5 }));
      await until('deny-b at priority 5', () => src.snapshot()?.clusterPolicies?.find((p) => p.name === 'deny-b' && p.priority === 5));
      api.send('DELETED', badPeer);
      await until('bad-peer gone', () => (names(src.snapshot()).clusterPolicies?.join() === 'deny-b' ? true : undefined));
      expect(src.problems()).toEqual([]);
    } finally {
      await src.stop();
      await api.stop();
    }
  });

  it('without the ClusterNetworkPolicy CRD: none, said once at info, no warning; a CRD installed later is read', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', v1Namespace('x'));
    await turn(api, 'absent', CNP_PATH, true);
    const { lines, log } = recorder();
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-nocrd'))), () => undefined, log);
    await src.start();
    try {
      const snap = await until('the lists', () => src.snapshot());
      expect(snap.clusterPolicies).toEqual([]);
      // The informer keeps watching for it, with backoff.
      await until('a second watch of the missing CRD', async () => ((await stats(api)).paths[CNP_PATH]!.watches >= 2 ? true : undefined));
      expect(lines).toEqual(['info the ClusterNetworkPolicy CRD is not installed: no ClusterNetworkPolicies; watching for it']);

      api.send('ADDED', denyFromB);
      await turn(api, 'absent', CNP_PATH, false);
      await until('deny-b once the CRD is there', () => (names(src.snapshot()).clusterPolicies?.join() === 'deny-b' ? true : undefined));
      // Found by the watch (from "0": every object first), not by listing again.
      expect((await stats(api)).paths[CNP_PATH]!.lists).toBe(1);
      expect(lines.filter((l) => l.startsWith('warn'))).toEqual([]);
    } finally {
      await src.stop();
      await api.stop();
    }
  }, 15_000);

  it('a failed list after a good one keeps the ClusterNetworkPolicies, and warns once however often it fails', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', denyFromB);
    const { lines, log } = recorder();
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-keep'))), () => undefined, log);
    await src.start();
    try {
      const first = await until('the lists', () => src.snapshot());
      expect(names(first).clusterPolicies).toEqual(['deny-b']);
      // The watch is cut and too old: the informer lists again, and that list fails, again and again.
      await turn(api, 'fail-lists', CNP_PATH, true);
      await turn(api, 'expire-watches', CNP_PATH, true);
      api.send('CLOSE-WATCHES');
      await until('two failed lists', async () => ((await stats(api)).paths[CNP_PATH]!.lists >= 3 ? true : undefined));
      expect(src.snapshot()?.clusterPolicies).toBe(first.clusterPolicies);
      expect(lines.filter((l) => l.startsWith('warn'))).toEqual(['warn clusternetworkpolicy watch failed; retrying']);

      await turn(api, 'fail-lists', CNP_PATH, false);
      await turn(api, 'expire-watches', CNP_PATH, false);
      const lists = (await stats(api)).paths[CNP_PATH]!.lists;
      await until('a good list again', async () => ((await stats(api)).paths[CNP_PATH]!.lists > lists ? true : undefined));
      expect(names(src.snapshot()).clusterPolicies).toEqual(['deny-b']);
    } finally {
      await src.stop();
      await api.stop();
    }
  }, 15_000);

  it('a 404 while ClusterNetworkPolicies are cached counts only when the next list says it again', async () => {
    const api = await startFakeApiServer();
    api.send('ADDED', denyFromB);
    const { lines, log } = recorder();
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-404'))), () => undefined, log);
    await src.start();
    try {
      await until('the lists', () => src.snapshot());
      const lists = (await stats(api)).paths[CNP_PATH]!.lists;
      await turn(api, 'expire-watches', CNP_PATH, true);
      await turn(api, 'absent', CNP_PATH, true);
      await until('the first 404', async () => ((await stats(api)).paths[CNP_PATH]!.lists === lists + 1 ? true : undefined));
      // The informer lists again after its backoff, whatever the watches say.
      await turn(api, 'expire-watches', CNP_PATH, false);
      // Given a moment, it has not been believed (the next list comes after a backoff of a second).
      await sleep(200);
      expect(names(src.snapshot()).clusterPolicies).toEqual(['deny-b']);
      await until('the second 404, believed', () => (src.snapshot()?.clusterPolicies?.length === 0 ? true : undefined));
      expect((await stats(api)).paths[CNP_PATH]!.lists).toBe(lists + 2);
      expect(lines.filter((l) => l.startsWith('info'))).toEqual(['info the ClusterNetworkPolicy CRD is not installed: no ClusterNetworkPolicies; watching for it']);

      // Back: the informer's watch from "0" brings them.
      await turn(api, 'absent', CNP_PATH, false);
      await until('deny-b back', () => (names(src.snapshot()).clusterPolicies?.join() === 'deny-b' ? true : undefined));
    } finally {
      await src.stop();
      await api.stop();
    }
  }, 15_000);
});
