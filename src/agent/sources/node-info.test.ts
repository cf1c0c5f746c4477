import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { v1Node } from '../testing.js';
import { readNode, toNodeInfo } from './node-info.js';

const asNode = (o: Record<string, unknown>): V1Node => o as V1Node;

describe('toNodeInfo', () => {
  it('takes the name, podCIDRs and only the InternalIP addresses', () => {
    const n = v1Node('w1', ['198.18.129.0/24', 'fd42:18:129::/64'], ['198.18.0.2', 'fd42:18::2']);
    (n['status'] as { addresses: unknown[] }).addresses.push({ type: 'ExternalIP', address: '198.19.0.2' });
    expect(toNodeInfo(asNode(n))).toEqual({ name: 'w1', podCIDRs: ['198.18.129.0/24', 'fd42:18:129::/64'], internalIPs: ['198.18.0.2', 'fd42:18::2'] });
  });

  it('falls back to spec.podCIDR on objects that have no podCIDRs', () => {
    expect(toNodeInfo(asNode({ metadata: { name: 'old' }, spec: { podCIDR: '198.18.130.0/24' } }))).toEqual({ name: 'old', podCIDRs: ['198.18.130.0/24'], internalIPs: [] });
  });

  it('gives an empty list to a node without podCIDR or status, and nothing for a nameless object', () => {
    expect(toNodeInfo(asNode({ metadata: { name: 'new' } }))).toEqual({ name: 'new', podCIDRs: [], internalIPs: [] });
    expect(toNodeInfo(asNode({ metadata: {} }))).toBeUndefined();
  });

  it('gives podCIDRs and InternalIPs in canonical text', () => {
    expect(toNodeInfo(asNode(v1Node('w2', ['FD42:18:129:0::/64'], ['FD42:18:0::2'])))).toMatchObject({ podCIDRs: ['fd42:18:129::/64'], internalIPs: ['fd42:18::2'] });
  });

  it.each([
    ['a podCIDR that is not one', ['198.18.129.0/24\nlink add evil type bridge'], ['198.18.0.2'], /spec.podCIDRs: "198.18.129.0\/24\\nlink add evil type bridge" is not a CIDR/],
    ['a podCIDR with host bits', ['198.18.129.7/24'], ['198.18.0.2'], /has host bits set \(the network is 198.18.129.0\/24\)/],
    ['a /0 podCIDR', ['0.0.0.0/0'], ['198.18.0.2'], /covers every address/],
    ['two podCIDRs of a family', ['198.18.129.0/24', '198.18.130.0/24'], ['198.18.0.2'], /more than one IPv4 podCIDR/],
    ['an InternalIP that is not one', ['198.18.129.0/24'], ['198.18.0.2 via 198.18.0.9'], /InternalIP "198.18.0.2 via 198.18.0.9" is not an IP address/],
    ['the unspecified InternalIP', ['198.18.129.0/24'], ['::'], /InternalIP "::" is the unspecified address/],
  ])('skips a node with %s, whole, saying why', (_what, cidrs, ips, why) => {
    const r = readNode(asNode(v1Node('w3', cidrs, ips)));
    expect(r.node).toEqual({ name: 'w3', podCIDRs: [], internalIPs: [], invalid: expect.stringMatching(why) });
    expect(r.problems).toEqual([`node w3: ${r.node!.invalid} (node skipped)`]);
  });

  it('leaves out a node whose name is not a DNS-1123 subdomain, and never throws on odd shapes', () => {
    expect(readNode(asNode(v1Node('w\n4', ['198.18.131.0/24'], [])))).toEqual({ problems: ['node "w\\n4": metadata.name: "w\\n4" is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .) (node ignored)'] });
    expect(readNode(asNode({ metadata: { name: 'w5' }, spec: { podCIDRs: '198.18.0.0/24' } })).node?.invalid).toMatch(/not a list/);
    expect(readNode(asNode({ metadata: { name: 'w5' }, status: { addresses: [null, 7, { type: 'InternalIP', address: 7 }] } })).node?.invalid).toMatch(/InternalIP 7 is not an IP address/);
  });
});
