import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { v1Node } from '../testing.js';
import { toNodeInfo } from './node-info.js';

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
});
