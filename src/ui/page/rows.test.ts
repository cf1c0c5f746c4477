// The side panel's rows: the DOM contract's data- attributes and text, the event filter, the
// explain URL and the click order of the "why?" pair; the stream's parsing and replay handling.
import { describe, expect, it } from 'vitest';
import type { VerdictEvent } from '../model.js';
import { node, pod } from './fixtures.js';
import { clock, eventMatches, eventRow, explainUrl, nodeRow, pickPair, podRow } from './rows.js';
import { FRESH_MS, REPLAY_MS, streamState, verdictFromMessage, viewFromMessage } from './stream.js';

const denied: VerdictEvent = {
  time: '2026-01-01T10:11:12.345Z',
  verdict: 'denied',
  direction: 'ingress',
  tier: 'NetworkPolicy',
  namespace: 'shop',
  pod: 'db-0',
  src: { ip: '198.18.1.7', port: 40000, pod: 'default/client' },
  dst: { ip: '198.18.2.5', port: 5432, pod: 'shop/db-0' },
  protocol: 'TCP',
  policies: ['shop/deny'],
  reason: 'no rule allows it',
};

describe('nodeRow', () => {
  it('has the contract attributes', () => {
    expect(nodeRow(node('a', 1)).attrs).toEqual({ node: 'a', 'internal-ips': '198.18.0.1', 'pod-cidrs': '198.18.1.0/24,2001:db8:1::/64', backend: 'vxlan', drift: 'false', agent: 'ok' });
    expect(nodeRow(node('b', 2, { drift: true })).attrs.drift).toBe('true');
    const down = nodeRow(node('c', 3, { down: true }));
    expect(down.attrs).toMatchObject({ agent: 'unreachable', drift: 'false', backend: '' });
    expect(down.lines.join('\n')).toContain('agent unreachable: connect ECONNREFUSED');
  });

  it('says when the kernel was not compared (no drift then), that events are off, and whom the agent skips', () => {
    const n = node('d', 4);
    if (!n.agent.ok) throw new Error('fixture');
    const state = { ...n.agent.state, events: false, skipped: [{ node: 'e', reason: 'no podCIDR yet' }], kernel: { matches: false, differences: 0, checkedAt: 't', error: 'no network pass yet' } };
    const r = nodeRow({ ...n, agent: { ...n.agent, state } });
    expect(r.attrs.drift).toBe('false');
    expect(r.lines.slice(-3)).toEqual(['verdict events off (policyLogDrops)', 'skips e: no podCIDR yet', 'agent 1, iptables, kernel not compared: no network pass yet']);
  });
});

describe('podRow', () => {
  it('has the contract attributes, isolation and the policies of all kinds', () => {
    const p = pod('shop', 'db-0', 'a', { ips: ['198.18.1.5', '2001:db8:1::5'], isolation: { ingress: ['shop/deny'], egress: ['shop/egress'], cluster: ['baseline'] } });
    expect(podRow(p).attrs).toEqual({ pod: 'shop/db-0', node: 'a', ips: '198.18.1.5,2001:db8:1::5', veth: 'veth0123', isolated: 'ingress,egress', policies: 'shop/deny,shop/egress,baseline' });
    expect(podRow(pod('shop', 'web', 'a', { isolation: { ingress: ['shop/deny'], egress: [], cluster: [] } })).attrs.isolated).toBe('ingress');
    expect(podRow(pod('default', 'x', 'a')).attrs).toMatchObject({ isolated: '', policies: '' });
    expect(podRow(pod('kube-system', 'h', 'a', { hostNetwork: true, veth: undefined })).attrs.veth).toBe('');
  });
});

describe('eventRow', () => {
  it('names ends by pod, else by address, and says who decided', () => {
    const r = eventRow(7, 'b', { ...denied, src: { ip: '198.18.0.1' } });
    expect(r.attrs).toEqual({ event: '7', verdict: 'denied', src: '198.18.0.1', dst: 'shop/db-0', node: 'b' });
    expect(r.lines[0]).toBe('10:11:12 denied 198.18.0.1 → shop/db-0 TCP/5432');
    expect(r.lines[1]).toBe('ingress · shop/deny · no rule allows it');
    expect(eventRow(8, 'b', { ...denied, verdict: 'accepted', policy: 'shop/allow', rule: 2 }).lines[1]).toContain('shop/allow rule 2');
  });
  it('clock shows the UTC time of day', () => {
    expect(clock('2026-01-01T23:59:01Z')).toBe('23:59:01');
  });
});

describe('eventMatches', () => {
  it('filters by namespace of either pod end and by a pod or address substring', () => {
    expect(eventMatches(denied, '', '')).toBe(true);
    expect(eventMatches(denied, 'shop', '')).toBe(true);
    expect(eventMatches(denied, 'default', '')).toBe(true);
    expect(eventMatches(denied, 'sho', '')).toBe(false);
    expect(eventMatches(denied, '', 'client')).toBe(true);
    expect(eventMatches(denied, '', '198.18.2.5')).toBe(true);
    expect(eventMatches(denied, 'shop', 'web')).toBe(false);
  });
});

describe('the "why?" form', () => {
  it('encodes the query', () => {
    expect(explainUrl(' default/a ', 'shop/b&x=1', '80', 'TCP')).toBe('api/explain?from=default%2Fa&to=shop%2Fb%26x%3D1&port=80&protocol=TCP');
  });
  it('fills from, then to, then starts over', () => {
    expect(pickPair('', '', 'a/1')).toEqual({ from: 'a/1', to: '' });
    expect(pickPair('a/1', '', 'b/2')).toEqual({ from: 'a/1', to: 'b/2' });
    expect(pickPair('a/1', 'b/2', 'c/3')).toEqual({ from: 'c/3', to: '' });
  });
});

describe('stream', () => {
  it('reads a view and a verdict', () => {
    const v = { generatedAt: 'x', nodes: [], links: [], pods: [] };
    expect(viewFromMessage(JSON.stringify(v))).toEqual(v);
    expect(viewFromMessage('{"nodes": 1}')).toBeUndefined();
    expect(viewFromMessage('not json')).toBeUndefined();
    expect(verdictFromMessage(JSON.stringify({ node: 'b', event: denied }))).toEqual({ node: 'b', event: denied });
    expect(verdictFromMessage('{"event": {}}')).toBeUndefined();
  });

  it('drops replayed duplicates and draws no arrows for old replayed verdicts', () => {
    const s = streamState();
    const t = Date.parse(denied.time);
    s.open(t + 60_000);
    expect(s.connected).toBe(true);
    // replay burst right after connecting: an old event is listed, not drawn
    expect(s.seen('b', denied, t + 60_000 + 10)).toEqual({ duplicate: false, draw: false });
    // a fresh one in the burst is drawn
    const fresh = { ...denied, time: new Date(t + 60_000 - FRESH_MS / 2).toISOString() };
    expect(s.seen('b', fresh, t + 60_000 + 20)).toEqual({ duplicate: false, draw: true });
    // after a reconnect the same events come again: duplicates
    s.close();
    expect(s.connected).toBe(false);
    s.open(t + 120_000);
    expect(s.seen('b', denied, t + 120_000 + 5).duplicate).toBe(true);
    // live ones after the burst are drawn whatever their clock says
    expect(s.seen('b', { ...denied, time: '2025-01-01T00:00:00Z' }, t + 120_000 + REPLAY_MS + 1)).toEqual({ duplicate: false, draw: true });
  });
});
