// The view's join of API objects and agents' states: nodes with their agents, links from each
// agent's peers (vxlan with device, VTEP MAC and MTU; host-gw with the next hop), pods with veth
// and isolation from their node's agent; and the key that ignores only timestamps. Also what an
// agent's answer must look like to be taken.
import { describe, expect, it } from 'vitest';
import { cnp, inNs, ns, pod, policy, sel } from '../agent/policy/testing.js';
import { agentStateProblem, isVerdictEvent } from './agent-data.js';
import { agentState } from './testing.js';
import { type AgentStatus, buildView, viewKey } from './view.js';

const n1 = { name: 'n1', podCIDRs: ['198.18.1.0/24', 'fd42:18:1::/64'], internalIPs: ['198.19.0.1'] };
const n2 = { name: 'n2', podCIDRs: ['198.18.2.0/24'], internalIPs: ['198.19.0.2'] };
const n3 = { name: 'n3', podCIDRs: ['198.18.3.0/24'], internalIPs: ['198.19.0.3'] };
const s1 = agentState('n1', {
  peers: [
    { node: 'n2', podCIDR: '198.18.2.0/24', nodeIP: '198.19.0.2', via: '198.18.255.2', dev: 'gingham.1', vtep: '198.18.255.2', vtepMac: '02:00:00:00:00:02' },
    { node: 'n3', podCIDR: '198.18.3.0/24', nodeIP: '198.19.0.3', via: '198.19.0.3' },
  ],
  pods: [{ namespace: 'x', name: 'a', ips: ['198.18.1.2'], veth: 'veth0123' }],
  isolation: [{ pod: 'x/a', ingress: ['x/deny'], egress: [], cluster: ['admin'] }],
});
const agents = new Map<string, AgentStatus>([
  ['n1', { ok: true, state: s1, at: '2025-01-01T00:00:01.000Z' }],
  ['n2', { ok: false, error: 'no answer' }],
]);
const inputs = {
  pods: [pod('x', 'a', ['198.18.1.2'], { node: 'n1' }), pod('kube-system', 'agent', ['198.19.0.2'], { node: 'n2', hostNetwork: true })],
  namespaces: [ns('x'), ns('kube-system')],
  policies: [policy('x', 'deny', { select: sel({}), ingress: [] })],
  clusterPolicies: [cnp('admin', 'Admin', 1, inNs(sel({})), {})],
};
const now = new Date('2025-01-01T00:00:02.000Z');

describe('the cluster view', () => {
  const v = buildView({ nodes: [n2, n1, n3], inputs, agents, now });

  it('lists every node by name with its addresses and its agent, or why there is none', () => {
    expect(v.generatedAt).toBe(now.toISOString());
    expect(v.nodes.map((n) => [n.name, n.internalIPs, n.podCIDRs, n.agent.ok])).toEqual([
      ['n1', ['198.19.0.1'], ['198.18.1.0/24', 'fd42:18:1::/64'], true],
      ['n2', ['198.19.0.2'], ['198.18.2.0/24'], false],
      ['n3', ['198.19.0.3'], ['198.18.3.0/24'], false],
    ]);
    expect(v.nodes[1]!.agent).toEqual({ ok: false, error: 'no answer' });
    expect(v.nodes[2]!.agent).toEqual({ ok: false, error: 'not asked yet' });
    expect(v.nodes.every((n) => n.unreadable === undefined)).toBe(true);
  });

  it('says why a node that cannot be read is empty', () => {
    const bad = { name: 'n4', podCIDRs: [], internalIPs: [], invalid: 'podCIDR "x" is not a CIDR' };
    expect(buildView({ nodes: [bad], inputs, agents, now }).nodes[0]).toMatchObject({ name: 'n4', unreadable: 'podCIDR "x" is not a CIDR' });
  });

  it("draws links from each agent's peers: vxlan with dev, VTEP MAC and the device's MTU; host-gw with its next hop", () => {
    expect(v.links).toEqual([
      { from: 'n1', to: 'n2', kind: 'vxlan', family: 4, podCIDR: '198.18.2.0/24', via: '198.18.255.2', dev: 'gingham.1', vtepMac: '02:00:00:00:00:02', mtu: 1450 },
      { from: 'n1', to: 'n3', kind: 'host-gw', family: 4, podCIDR: '198.18.3.0/24', via: '198.19.0.3' },
    ]);
  });

  it("gives each pod its node's veth and isolation; hostNetwork pods too, not isolated", () => {
    expect(v.pods).toEqual([
      { namespace: 'x', name: 'a', node: 'n1', ips: ['198.18.1.2'], hostNetwork: false, veth: 'veth0123', isolation: { ingress: ['x/deny'], egress: [], cluster: ['admin'] } },
      { namespace: 'kube-system', name: 'agent', node: 'n2', ips: ['198.19.0.2'], hostNetwork: true, isolation: { ingress: [], egress: [], cluster: [] } },
    ]);
  });

  it('is empty of pods until the API server has been read', () => {
    expect(buildView({ nodes: [], inputs: undefined, agents: new Map(), now })).toEqual({ generatedAt: now.toISOString(), nodes: [], links: [], pods: [] });
  });

  it('keys a view by what it shows: not when it was made, nor when an agent last answered', () => {
    const later = new Map(agents);
    later.set('n1', { ok: true, state: s1, at: '2025-01-01T00:09:00.000Z' });
    expect(viewKey(buildView({ nodes: [n1, n2, n3], inputs, agents: later, now: new Date() }))).toBe(viewKey(v));
    later.set('n2', { ok: false, error: 'other' });
    expect(viewKey(buildView({ nodes: [n1, n2, n3], inputs, agents: later, now }))).not.toBe(viewKey(v));
  });
});

describe("an agent's answers", () => {
  it('takes a well-formed /state and says what is wrong with another', () => {
    expect(agentStateProblem(JSON.parse(JSON.stringify(s1)))).toBeUndefined();
    expect(agentStateProblem([])).toBe('not a JSON object');
    expect(agentStateProblem({ ...s1, backend: 'ipip' })).toMatch(/backend/);
    expect(agentStateProblem({ ...s1, peers: [{ node: 'n2' }] })).toBe('peers malformed');
    expect(agentStateProblem({ ...s1, isolation: [{ pod: 'x/a', ingress: [1], egress: [], cluster: [] }] })).toBe('isolation malformed');
  });

  it('takes verdict events with their ends, not other lines', () => {
    const e = { time: 't', verdict: 'denied', direction: 'ingress', tier: 'NetworkPolicy', src: { ip: '198.18.1.2', port: 4000, pod: 'x/a' }, dst: { ip: '198.18.2.2', port: 80 }, protocol: 'TCP', policies: ['x/deny'], reason: 'no rule allows' };
    expect(isVerdictEvent(e)).toBe(true);
    expect(isVerdictEvent({ ...e, verdict: 'maybe' })).toBe(false);
    expect(isVerdictEvent({ ...e, src: '198.18.1.2' })).toBe(false);
  });
});
