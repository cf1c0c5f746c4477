import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../config.js';
import { type BatchLine, batchLine } from '../../kernel/ip-batch.js';
import { parseCidr } from '../../net/ip.js';
import type { Changes } from '../network/changes.js';
import { planNetwork } from '../network/plan.js';
import type { UnderlayAddr } from '../network/underlay.js';
import type { PassSummary } from '../reconcile.js';
import { node } from '../testing.js';
import { driftKind, driftOf, skipReason } from './drift.js';
import { observeNetworkPass } from './network.js';
import { registry } from './registry.js';
import { valueOf } from './testing.js';

const eth0 = (cidr: string): UnderlayAddr => ({ ifname: 'eth0', mtu: 1500, cidr: parseCidr(cidr)! });
const lines = (...ls: (string | number)[][]): BatchLine[] => ls.map((l) => batchLine(...l));
const none: Changes = { ipFirst: [], fdb: [], ipLast: [], rules: { 4: [], 6: [] }, filter: [], replaced: [], removed: [], overlay: [] };

describe('drift and skip reasons', () => {
  it('names the kind of entry of every line the network pass writes', () => {
    const ch: Changes = {
      ...none,
      ipFirst: lines(['route', 'del', '198.18.1.0/24'], ['link', 'add', 'name', 'x'], ['link', 'set', 'dev', 'x', 'up'], ['addr', 'replace', '198.18.1.0/32', 'dev', 'x'], ['neigh', 'replace', '198.18.1.0']),
      fdb: lines(['fdb', 'replace', '0a:00:00:00:00:01', 'dev', 'x']),
      ipLast: lines(['route', 'replace', '198.18.2.0/24']),
      rules: { 4: lines(['rule', 'add', 'from', '198.18.0.0/24']), 6: [] },
      filter: [{ dataplane: 'iptables', what: 'GINGHAM-MASQ/4', command: 'iptables-restore --noflush', text: '', family: 4 }],
    };
    expect(driftOf(ch, [{ line: 'route replace 198.18.2.0/24' }, { line: 'iptables-restore (GINGHAM-MASQ)' }])).toEqual({
      route: { found: 2, healed: 1 },
      link: { found: 2, healed: 2 },
      address: { found: 1, healed: 1 },
      neighbour: { found: 1, healed: 1 },
      fdb: { found: 1, healed: 1 },
      rule: { found: 1, healed: 1 },
      chain: { found: 1, healed: 0 },
    });
    expect(driftKind('ip6tables-restore (GINGHAM-MASQ)')).toBe('chain');
    expect(driftKind('nft -f - (inet gingham)')).toBe('chain');
    expect(driftKind('frob x')).toBe('other');
  });

  it('gives every reason the plan writes a word of its own', () => {
    const self = node('n1', ['198.18.128.0/24'], ['198.18.0.1']);
    const peers = [
      node('a-none', [], ['198.18.0.2']),
      node('b-bad', ['x'], ['198.18.0.3']),
      node('c-v6', ['fd42:18:130::/64'], ['198.18.0.4']),
      node('d-overlap', ['198.18.128.0/25'], ['198.18.0.5']),
      node('e-own', ['198.18.131.0/24'], ['198.18.0.1']),
      node('f-first', ['198.18.132.0/24'], ['198.18.0.7']),
      node('g-twin', ['198.18.132.0/24'], ['198.18.0.8']),
      node('h-v6', ['fd42:18:133::/64'], ['fd42:18::9']),
    ];
    const words = (s: { node: string; reason: string }[]): Record<string, string> => Object.fromEntries(s.map((x) => [x.node, skipReason(x.reason)]));
    const vxlan = planNetwork(self, [self, ...peers], DEFAULT_CONFIG, [eth0('198.18.0.1/24')]);
    expect(words(vxlan.skipped)).toEqual({
      'a-none': 'no_pod_cidr',
      'b-bad': 'bad_pod_cidr',
      'c-v6': 'no_internal_ip',
      'd-overlap': 'overlaps_own_pod_cidr',
      'e-own': 'own_internal_ip',
      'g-twin': 'pod_cidr_taken',
      'h-v6': 'no_overlay',
    });
    const noUnderlay = planNetwork(self, [self], DEFAULT_CONFIG, []);
    expect(noUnderlay.skipped.map((s) => skipReason(s.reason))).toEqual(['no_underlay']);
    const noIp = planNetwork(node('n1', ['198.18.128.0/24'], []), [], DEFAULT_CONFIG, []);
    expect(noIp.skipped.map((s) => skipReason(s.reason))).toEqual(['no_internal_ip']);
    const badName = planNetwork(self, [self], DEFAULT_CONFIG, [{ ...eth0('198.18.0.1/24'), ifname: 'et h0' }]);
    expect(badName.skipped.map((s) => skipReason(s.reason))).toEqual(['bad_underlay_name']);
  });
});

describe('network pass metrics', () => {
  beforeEach(() => registry.resetMetrics());
  const pass = (p: Partial<PassSummary>): PassSummary => ({ ran: true, replaced: [], removed: [], overlay: [], filter: [], failed: [], conflistWritten: false, drift: {}, peers: [], skipped: [], ...p });

  it('counts passes by outcome, times those that ran, adds up drift, and shows peers and skipped nodes as of the last pass', async () => {
    observeNetworkPass(pass({ ran: false }), 0);
    observeNetworkPass(undefined, 0.5);
    const peer = { node: 'n2', podCIDR: '198.18.129.0/24', nodeIP: '198.18.0.2', via: 'vxlan' as const };
    observeNetworkPass(pass({ drift: { route: { found: 2, healed: 1 } }, failed: [{ line: 'route replace x', error: 'no' }], peers: [peer, { ...peer, via: 'direct' }], skipped: [{ node: 'a', reason: 'no_pod_cidr' }, { node: 'b', reason: 'no_pod_cidr' }] }), 0.02);
    observeNetworkPass(pass({ drift: { route: { found: 1, healed: 1 } }, peers: [peer], skipped: [{ node: 'a', reason: 'no_pod_cidr' }] }), 0.01);
    for (const [outcome, n] of [['idle', 1], ['error', 1], ['failed', 1], ['ok', 1]] as const) expect(await valueOf('gingham_network_passes_total', { outcome })).toBe(n);
    expect(await valueOf('gingham_network_pass_duration_seconds', { le: '+Inf' })).toBe(2);
    expect(await valueOf('gingham_network_drift_total', { kind: 'route' })).toBe(3);
    expect(await valueOf('gingham_network_drift_healed_total', { kind: 'route' })).toBe(2);
    expect(await valueOf('gingham_network_peers', { via: 'vxlan' })).toBe(1);
    expect(await valueOf('gingham_network_peers', { via: 'direct' })).toBe(0);
    expect(await valueOf('gingham_network_skipped_nodes', { reason: 'no_pod_cidr' })).toBe(1);
  });
});
