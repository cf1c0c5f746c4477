// The graph's elements from a view: boxes nest node → bridge → pod, links merge per ordered pair,
// marks for drift, unreachable agents and isolation, and the diff that keeps drawn elements.
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../model.js';
import { diffElements, type GraphElement, hopLabel, namespaceColor, viewElements } from './elements.js';
import { node, pod } from './fixtures.js';

const view: ClusterView = {
  generatedAt: '2026-01-01T00:00:00Z',
  nodes: [node('a', 1), node('b', 2, { drift: true }), node('c', 3, { down: true })],
  links: [
    { from: 'a', to: 'b', kind: 'vxlan', family: 6, podCIDR: '2001:db8:2::/64', via: '2001:db8:2::', dev: 'gingham.6', vtepMac: '0a:58:00:00:00:06', mtu: 1430 },
    { from: 'a', to: 'b', kind: 'vxlan', family: 4, podCIDR: '198.18.2.0/24', via: '198.18.2.0', dev: 'gingham.1', vtepMac: '0a:58:00:00:00:04', mtu: 1450 },
    { from: 'b', to: 'a', kind: 'host-gw', family: 4, podCIDR: '198.18.1.0/24', via: '198.18.0.1' },
    { from: 'a', to: 'gone', kind: 'host-gw', family: 4, podCIDR: '198.18.9.0/24', via: '198.18.0.9' },
  ],
  pods: [
    pod('shop', 'db-0', 'a', { isolation: { ingress: ['shop/deny'], egress: [], cluster: [] } }),
    pod('kube-system', 'kube-proxy-x', 'a', { hostNetwork: true, veth: undefined, ips: ['198.18.0.1'] }),
    pod('default', 'pending', ''),
  ],
};

const byId = (els: GraphElement[]): Map<string, GraphElement> => new Map(els.map((e) => [e.data.id, e]));

describe('viewElements', () => {
  const els = viewElements(view);
  const m = byId(els);

  it('nests node → bridge → pod, host-network pods beside the bridge, unscheduled ones alone', () => {
    expect(m.get('bridge:a')?.data.parent).toBe('node:a');
    expect(m.get('pod:shop/db-0')?.data.parent).toBe('bridge:a');
    expect(m.get('pod:kube-system/kube-proxy-x')?.data.parent).toBe('node:a');
    expect(m.get('pod:kube-system/kube-proxy-x')?.classes).toContain('host-network');
    expect(m.get('pod:default/pending')?.data.parent).toBeUndefined();
    // parents come before their children
    const index = (id: string): number => els.findIndex((e) => e.data.id === id);
    expect(index('node:a')).toBeLessThan(index('bridge:a'));
    expect(index('bridge:a')).toBeLessThan(index('pod:shop/db-0'));
  });

  it('labels nodes with addresses, CIDRs and backend, and marks drift and unreachable agents', () => {
    expect(m.get('node:a')?.data.label).toBe('a  ·  vxlan\n198.18.0.1\n198.18.1.0/24  2001:db8:1::/64');
    expect(m.get('node:b')?.classes).toBe('k8s-node drift');
    expect(m.get('node:b')?.data.label).toContain('kernel drifted: 3 differences');
    expect(m.get('node:c')?.classes).toBe('k8s-node unreachable');
    expect(m.get('node:c')?.data.label).toContain('agent unreachable');
    expect(m.get('bridge:a')?.data.label).toBe('bridge gingham0');
  });

  it('labels pods with name, addresses and veth, coloured by namespace, isolated ones marked', () => {
    const db = m.get('pod:shop/db-0');
    expect(db?.data.label).toBe('shop/db-0\n198.18.1.5\nveth0123');
    expect(db?.data.color).toBe(namespaceColor('shop'));
    expect(db?.classes).toBe('pod isolated');
    expect(m.get('pod:kube-system/kube-proxy-x')?.data.label).toBe('kube-system/kube-proxy-x\n198.18.0.1\nhostNetwork');
  });

  it('merges the families of an ordered pair into one edge, v4 first, and drops links to unknown nodes', () => {
    const ab = m.get('link:a>b');
    expect(ab?.data).toMatchObject({ source: 'node:a', target: 'node:b', label: 'gingham.1 0a:58:00:00:00:04 mtu 1450\ngingham.6 0a:58:00:00:00:06 mtu 1430' });
    expect(ab?.classes).toBe('link vxlan');
    expect(m.get('link:b>a')?.data.label).toBe('via 198.18.0.1');
    expect(m.get('link:b>a')?.classes).toBe('link host-gw');
    expect(els.some((e) => e.data.id.includes('gone'))).toBe(false);
  });
});

describe('namespaceColor', () => {
  it('is stable and spreads namespaces over the palette', () => {
    expect(namespaceColor('default')).toBe(namespaceColor('default'));
    const colours = new Set(['default', 'kube-system', 'shop', 'lab', 'monitoring', 'a', 'b', 'c'].map(namespaceColor));
    expect(colours.size).toBeGreaterThan(4);
    expect(namespaceColor('x')).toMatch(/^#[0-9a-f]{6}$/);
  });
});

describe('hopLabel', () => {
  it('leaves out what the plan does not say', () => {
    expect(hopLabel({ from: 'a', to: 'b', kind: 'vxlan', family: 4, podCIDR: '198.18.2.0/24', via: '198.18.2.0' })).toBe('vxlan');
  });
});

describe('diffElements', () => {
  const before = viewElements(view);
  const current = byId(before);

  it('is empty for the same view', () => {
    expect(diffElements(current, viewElements(view))).toEqual({ add: [], remove: [], update: [] });
  });

  it('adds new pods, removes gone ones, updates changed labels and classes in place', () => {
    const next = viewElements({
      ...view,
      nodes: [node('a', 1), node('b', 2), node('c', 3, { down: true })],
      pods: [pod('shop', 'db-0', 'a', { ips: ['198.18.1.6'] }), pod('default', 'pending', ''), pod('default', 'web', 'b')],
    });
    const d = diffElements(current, next);
    expect(d.add.map((e) => e.data.id)).toEqual(['pod:default/web']);
    expect(d.remove).toEqual(['pod:kube-system/kube-proxy-x']);
    expect(d.update.map((e) => e.data.id).sort()).toEqual(['node:b', 'pod:shop/db-0']);
  });

  it('re-adds a pod that moved to another node', () => {
    const d = diffElements(current, viewElements({ ...view, pods: [pod('shop', 'db-0', 'b'), ...view.pods.slice(1)] }));
    expect(d.remove).toEqual(['pod:shop/db-0']);
    expect(d.add.map((e) => [e.data.id, e.data.parent])).toEqual([['pod:shop/db-0', 'bridge:b']]);
  });
});
