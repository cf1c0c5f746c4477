// The policy source against the fake API server in its own process: three collections listed and
// watched, snapshots only once all three have listed, problems reported once, and the one-shot list.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyInputs } from '../policy/model.js';
import { type FakeApiServer, startFakeApiServer, until } from '../testing.js';
import { loadKubeConfig } from './kubernetes.js';
import { KubernetesPolicySource, listPolicyInputs } from './policy-source.js';

const POLICIES = '/apis/networking.k8s.io/v1/networkpolicies';

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
const badEndPort = v1NetworkPolicy('y', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 70 }] }] });
const BAD_PROBLEM = 'y/bad: spec.ingress[0].ports[0]: endPort 70 < port 80 (rule ignored)';

const names = (s: PolicyInputs | undefined) => ({
  pods: s?.pods.map((p) => `${p.namespace}/${p.name}`),
  namespaces: s?.namespaces.map((n) => n.name),
  policies: s?.policies.map((p) => `${p.namespace}/${p.name}`),
});

interface Stats {
  lists: number;
  watches: number;
  paths: Record<string, { lists: number; watches: number }>;
}
const stats = async (api: FakeApiServer): Promise<Stats> => (await (await fetch(`${api.url}/stats`)).json()) as Stats;

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
    let changes = 0;
    const src = new KubernetesPolicySource(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig'))), () => changes++, () => undefined);
    expect(src.snapshot()).toBeUndefined();
    await src.start();
    try {
      const first = await until('the lists', () => src.snapshot());
      expect(names(first)).toEqual({ pods: ['x/a', 'x/b'], namespaces: ['x', 'y'], policies: ['x/allow-b'] });
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
      for (const path of ['/api/v1/pods', '/api/v1/namespaces', POLICIES]) expect(s.paths[path]).toMatchObject({ lists: 1, watches: 2 });
      expect(s.paths['/api/v1/nodes']).toMatchObject({ lists: 0, watches: 0 });
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
      expect(names(snap)).toEqual({ pods: ['x/a'], namespaces: ['x'], policies: ['x/allow-b'] });
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

  it('gives no snapshot until all three have listed, and retries a failing list', async () => {
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
      expect(names(snap)).toEqual({ pods: ['x/a'], namespaces: ['x'], policies: [] });
    } finally {
      await src.stop();
      await api.stop();
    }
  });

  it('listPolicyInputs lists the three once, without watching, and gives the same view', async () => {
    const api = await startFakeApiServer();
    for (const ns of ['x', 'y']) api.send('ADDED', v1Namespace(ns));
    api.send('ADDED', v1Pod('x', 'a', '198.18.128.5'));
    api.send('ADDED', allowB);
    api.send('ADDED', badEndPort);
    try {
      const kc = loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig-once')));
      const { inputs, problems } = await listPolicyInputs(kc);
      expect(names(inputs)).toEqual({ pods: ['x/a'], namespaces: ['x', 'y'], policies: ['x/allow-b', 'y/bad'] });
      expect(inputs.policies[0]!.ingress).toEqual([allowBRule]);
      expect(problems).toEqual([BAD_PROBLEM]);
      expect(await stats(api)).toMatchObject({ lists: 3, watches: 0 });

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
});
