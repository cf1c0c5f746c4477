// Verdict events without a kernel: ulogd's JSON lines (real ones, captured from Debian's ulogd2
// 2.0.8 reading NFLOG in a scratch namespace) to packets, packets to named events, the agent's
// bound, the ring and the /events route, and ulogd's config.
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serveRoutes, stopServing } from '../health.js';
import { resolvePolicies } from '../policy/resolve.js';
import { names } from '../policy/ruleset.js';
import { ns, pod, policy, rule, sel } from '../policy/testing.js';
import { Enricher, type VerdictEvent } from './enrich.js';
import { Ring, TokenBucket, VerdictFeed, queryFilter } from './feed.js';
import { parseUlogdLine } from './packet.js';
import { ulogdConfig } from './ulogd.js';

const SAMPLE = {
  tcp4: '{"timestamp": "2026-12-06T10:28:03.019133", "dvc": "Netfilter", "raw.pktlen": 60, "raw.pktcount": 1, "oob.prefix": "gingham deny ingress GINGHAM-NPI-abcdef012345", "oob.time.sec": 1796552883, "oob.time.usec": 19133, "oob.mark": 0, "oob.ifindex_out": 1, "oob.hook": 3, "oob.family": 2, "oob.protocol": 2048, "oob.uid": 0, "oob.gid": 0, "raw.label": 0, "ip.protocol": 6, "ip.tos": 0, "ip.ttl": 64, "ip.totlen": 60, "ip.ihl": 5, "ip.csum": 24452, "ip.id": 56629, "ip.fragoff": 16384, "src_port": 41496, "dest_port": 81, "tcp.seq": 2979543966, "tcp.ackseq": 0, "tcp.window": 65495, "tcp.offset": 0, "tcp.reserved": 0, "tcp.urg": 0, "tcp.ack": 0, "tcp.psh": 0, "tcp.rst": 0, "tcp.syn": 1, "tcp.fin": 0, "tcp.res1": 0, "tcp.res2": 0, "tcp.csum": 65072, "src_ip": "127.0.0.1", "dest_ip": "127.0.0.1"}',
  tcp6: '{"timestamp": "2026-12-06T10:28:03.019274", "dvc": "Netfilter", "raw.pktlen": 80, "raw.pktcount": 1, "oob.prefix": "gingham deny ingress GINGHAM-NPI-abcdef012345", "oob.time.sec": 1796552883, "oob.time.usec": 19274, "oob.mark": 0, "oob.ifindex_out": 1, "oob.hook": 3, "oob.family": 10, "oob.protocol": 34525, "oob.uid": 0, "oob.gid": 0, "raw.label": 0, "ip.protocol": 6, "ip6.payloadlen": 40, "ip6.priority": 0, "ip6.flowlabel": 281524, "ip6.hoplimit": 64, "ip6.nexthdr": 6, "src_port": 51374, "dest_port": 81, "tcp.seq": 3761059841, "tcp.ackseq": 0, "tcp.window": 65476, "tcp.offset": 0, "tcp.reserved": 0, "tcp.urg": 0, "tcp.ack": 0, "tcp.psh": 0, "tcp.rst": 0, "tcp.syn": 1, "tcp.fin": 0, "tcp.res1": 0, "tcp.res2": 0, "tcp.csum": 48, "src_ip": "::1", "dest_ip": "::1"}',
  udp4: '{"timestamp": "2026-12-06T10:31:36.779174", "dvc": "Netfilter", "raw.pktlen": 30, "raw.pktcount": 1, "oob.prefix": "gingham accept egress GINGHAM-NPE-abcdef012345", "oob.time.sec": 1796553096, "oob.time.usec": 779174, "oob.mark": 0, "oob.ifindex_out": 1, "oob.hook": 3, "oob.family": 2, "oob.protocol": 2048, "oob.uid": 0, "oob.gid": 0, "raw.label": 0, "ip.protocol": 17, "ip.tos": 0, "ip.ttl": 64, "ip.totlen": 30, "ip.ihl": 5, "ip.csum": 32672, "ip.id": 48428, "ip.fragoff": 16384, "src_port": 53398, "dest_port": 82, "udp.len": 10, "udp.csum": 65053, "src_ip": "127.0.0.1", "dest_ip": "127.0.0.1"}',
  icmp6: '{"timestamp": "2026-12-06T10:28:03.019353", "dvc": "Netfilter", "raw.pktlen": 104, "raw.pktcount": 1, "oob.prefix": "icmp6", "oob.time.sec": 1796552883, "oob.time.usec": 19353, "oob.mark": 0, "oob.ifindex_out": 1, "oob.hook": 3, "oob.family": 10, "oob.protocol": 34525, "oob.uid": 0, "oob.gid": 0, "raw.label": 0, "ip.protocol": 58, "ip6.payloadlen": 64, "ip6.priority": 0, "ip6.flowlabel": 802135, "ip6.hoplimit": 64, "ip6.nexthdr": 58, "icmpv6.type": 128, "icmpv6.code": 0, "icmpv6.echoid": 15138, "icmpv6.echoseq": 1, "icmpv6.csum": 38458, "src_ip": "::1", "dest_ip": "::1"}',
};

describe('ulogd JSON lines', () => {
  it('give the kernel time, prefix, protocol, addresses and ports', () => {
    expect(parseUlogdLine(SAMPLE.tcp4)).toEqual({ time: '2026-12-06T10:28:03.019Z', prefix: 'gingham deny ingress GINGHAM-NPI-abcdef012345', protocol: 'TCP', src: '127.0.0.1', dst: '127.0.0.1', srcPort: 41496, dstPort: 81 });
    expect(parseUlogdLine(SAMPLE.tcp6)).toMatchObject({ protocol: 'TCP', src: '::1', dst: '::1', dstPort: 81 });
    expect(parseUlogdLine(SAMPLE.udp4)).toMatchObject({ time: '2026-12-06T10:31:36.779Z', protocol: 'UDP', srcPort: 53398, dstPort: 82 });
    const icmp = parseUlogdLine(SAMPLE.icmp6);
    expect(icmp).toMatchObject({ protocol: 'ICMPv6', prefix: 'icmp6' });
    expect(icmp).not.toHaveProperty('dstPort');
  });

  it('addresses come out canonical; lines that are not what the stack writes are left out', () => {
    const v6 = JSON.parse(SAMPLE.tcp6) as Record<string, unknown>;
    expect(parseUlogdLine(JSON.stringify({ ...v6, src_ip: 'FD42:18:0:0::2' }))).toMatchObject({ src: 'fd42:18::2' });
    for (const bad of ['', 'not json', '[]', 'null', '{}', JSON.stringify({ ...v6, src_ip: '1.2.3' }), JSON.stringify({ ...v6, 'oob.prefix': 7 }), JSON.stringify({ ...v6, 'oob.time.sec': -1 })]) {
      expect(parseUlogdLine(bad), bad).toBeUndefined();
    }
    // A port out of range is not made up: the event has none.
    expect(parseUlogdLine(JSON.stringify({ ...v6, dest_port: 70000 }))).not.toHaveProperty('dstPort');
  });
});

describe('events named from the compiled policies', () => {
  const a = pod('x', 'a', ['198.18.1.2', 'fd42:18:1::2'], { labels: { app: 'a' } });
  const b = pod('x', 'b', ['198.18.1.3'], { labels: { app: 'b' } });
  const c = pod('y', 'c', ['198.18.2.2'], { node: 'n2' });
  const policies = [
    policy('x', 'deny', { select: sel({ app: 'a' }), ingress: [] }),
    policy('x', 'web', { select: sel({ app: 'a' }), ingress: [rule([{ namespaceSelector: sel({ ns: 'y' }) }], [{ protocol: 'TCP', port: 80 }])] }),
    policy('x', 'b-out', { select: sel({ app: 'b' }), egress: [rule([], [{ protocol: 'UDP', port: 53 }])] }),
  ];
  const inputs = { policies, pods: [a, b, c], namespaces: [ns('x'), ns('y')] };
  const view = { node: 'n1', pods: inputs.pods, resolved: resolvePolicies(inputs), cluster: [] };
  const enricher = new Enricher(() => view);
  const packet = (prefix: string, src: string, dst: string, protocol = 'TCP', ports: { srcPort?: number; dstPort?: number } = { srcPort: 40000, dstPort: 80 }) => ({ time: '2026-12-06T10:00:00.000Z', prefix, protocol, src, dst, ...ports });
  const aIn = names.podChain(a, 'ingress');
  const bOut = names.podChain(b, 'egress');

  it('a drop: the pod of the chain, the direction, the other end as a pod, the isolating policies', () => {
    expect(enricher.event(packet(`gingham deny ingress ${aIn}`, '198.18.2.2', '198.18.1.2', 'TCP', { srcPort: 40000, dstPort: 81 }))).toEqual({
      time: '2026-12-06T10:00:00.000Z',
      verdict: 'denied',
      direction: 'ingress',
      tier: 'NetworkPolicy',
      namespace: 'x',
      pod: 'a',
      src: { ip: '198.18.2.2', port: 40000, pod: 'y/c' },
      dst: { ip: '198.18.1.2', port: 81, pod: 'x/a' },
      protocol: 'TCP',
      policies: ['x/deny', 'x/web'],
      reason: 'isolated by x/deny, x/web, no rule allows',
    } satisfies VerdictEvent);
  });

  it('an address no pod has stays an address; IPv6 is looked up too', () => {
    const e = enricher.event(packet(`gingham deny ingress ${aIn}`, 'fd42:99::7', 'fd42:18:1::2'));
    expect(e).toMatchObject({ pod: 'a', src: { ip: 'fd42:99::7' }, dst: { pod: 'x/a' } });
    expect(e!.src).not.toHaveProperty('pod');
  });

  it('an accepted connection names the policy and rule explain names', () => {
    expect(enricher.event(packet(`gingham accept ingress ${aIn}`, '198.18.2.2', '198.18.1.2'))).toMatchObject({
      verdict: 'accepted',
      policy: 'x/web',
      rule: 0,
      reason: 'allowed by x/web ingress rule 0 (from namespaces ns=y; 80/TCP)',
    });
    expect(enricher.event(packet(`gingham accept egress ${bOut}`, '198.18.1.3', '198.19.0.9', 'UDP', { srcPort: 5000, dstPort: 53 }))).toMatchObject({ direction: 'egress', pod: 'b', policy: 'x/b-out', rule: 0 });
    // No port to judge by: the isolating policies.
    expect(enricher.event(packet(`gingham accept egress ${bOut}`, '198.18.1.3', '198.19.0.9', 'ICMP', {}))).toMatchObject({ reason: 'allowed by a rule of x/b-out' });
  });

  it('a chain gone since still gives an event, by address; a prefix not ours gives none', () => {
    expect(enricher.event(packet('gingham deny ingress GINGHAM-NPI-000000000000', '198.18.2.2', '198.18.1.3'))).toMatchObject({ pod: 'b', policies: [], reason: expect.stringContaining('no longer') });
    expect(enricher.event(packet('icmp6', '::1', '::1'))).toBeUndefined();
    expect(new Enricher(() => undefined).event(packet(`gingham deny ingress ${aIn}`, '198.18.2.2', '198.18.1.2'))).toMatchObject({ verdict: 'denied', policies: [] });
  });
});

const event = (over: Partial<VerdictEvent> = {}): VerdictEvent => ({ time: 't', verdict: 'denied', direction: 'ingress', tier: 'NetworkPolicy', namespace: 'x', pod: 'a', src: { ip: '198.18.2.2', pod: 'y/c' }, dst: { ip: '198.18.1.2', pod: 'x/a' }, protocol: 'TCP', policies: ['x/deny'], reason: 'r', ...over });

describe('the bound, the ring and the filter', () => {
  it('the bucket lets a burst through, then the rate, and refills', () => {
    let now = 0;
    const b = new TokenBucket(10, 20, () => now);
    expect(Array.from({ length: 25 }, () => b.take()).filter(Boolean)).toHaveLength(20);
    now += 500;
    expect(Array.from({ length: 25 }, () => b.take()).filter(Boolean)).toHaveLength(5);
    now += 60_000;
    expect(Array.from({ length: 25 }, () => b.take()).filter(Boolean)).toHaveLength(20);
  });

  it('the feed counts what the bound drops', () => {
    const feed = new VerdictFeed({ ratePerSec: 1, burst: 3, keep: 10, maxFollowers: 1, now: () => 0 });
    expect(Array.from({ length: 5 }, () => feed.admit())).toEqual([true, true, true, false, false]);
    expect(feed.dropped).toBe(2);
  });

  it('the ring keeps the last N, oldest first', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
  });

  it('namespace and pod match either end; verdict; bad queries are refused', () => {
    const f = (q: string) => queryFilter(new URLSearchParams(q)) as (e: VerdictEvent) => boolean;
    expect(f('namespace=y')(event())).toBe(true);
    expect(f('namespace=z')(event())).toBe(false);
    expect(f('pod=y/c')(event())).toBe(true);
    expect(f('pod=y/cc')(event())).toBe(false);
    expect(f('verdict=accepted')(event())).toBe(false);
    expect(f('')(event({ src: { ip: '198.19.0.1' } }))).toBe(true);
    expect(queryFilter(new URLSearchParams('pod=c'))).toMatch(/NAMESPACE\/NAME/);
    expect(queryFilter(new URLSearchParams('verdict=maybe'))).toMatch(/denied or accepted/);
  });

  it('since keeps events of that time or later (what a reconnecting follower lacks)', () => {
    const f = (q: string) => queryFilter(new URLSearchParams(q)) as (e: VerdictEvent) => boolean;
    const at = (time: string): VerdictEvent => event({ time });
    expect(f('since=2026-12-06T10:00:00.000Z')(at('2026-12-06T10:00:00.000Z'))).toBe(true);
    expect(f('since=2026-12-06T10:00:00.000Z')(at('2026-12-06T09:59:59.999Z'))).toBe(false);
    // Any ISO 8601 form of the time: it is compared as the events write theirs.
    expect(f('since=2026-12-06T11:00:00%2B01:00')(at('2026-12-06T10:00:00.001Z'))).toBe(true);
    expect(queryFilter(new URLSearchParams('since=yesterday'))).toMatch(/ISO 8601/);
  });
});

describe('/events over HTTP', () => {
  /** GET path; resolves with status, headers-seen time and the body so far when `until` holds. */
  const fetchLines = (port: number, path: string, until: (body: string) => boolean): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        const check = (): void => {
          if (!until(body)) return;
          req.destroy();
          resolve({ status: res.statusCode!, body });
        };
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
          check();
        });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        check();
      });
      req.on('error', reject);
    });

  it('serves the kept events, filtered; follows new ones; says why when there are none to serve', async () => {
    const feed = new VerdictFeed({ ratePerSec: 100, burst: 100, keep: 10, maxFollowers: 2 });
    let unavailable: string | undefined;
    const server = await serveRoutes({ '/events': (q) => feed.answer(q, unavailable) }, 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;
    try {
      feed.publish(event());
      feed.publish(event({ pod: 'b', dst: { ip: '198.18.1.3', pod: 'x/b' } }));
      const kept = await fetchLines(port, '/events?pod=x/b', () => false);
      expect(kept.status).toBe(200);
      expect(kept.body.trim().split('\n').map((l) => JSON.parse(l) as VerdictEvent).map((e) => e.pod)).toEqual(['b']);
      // Following: the kept events first, then each new one as it comes.
      const followed = fetchLines(port, '/events?follow=1&namespace=x', (body) => body.split('\n').length > 3);
      await new Promise((r) => setTimeout(r, 100));
      feed.publish(event({ pod: 'new', dst: { ip: '198.18.1.9', pod: 'x/new' } }));
      const got = await followed;
      expect(got.body.trim().split('\n').map((l) => (JSON.parse(l) as VerdictEvent).pod)).toEqual(['a', 'b', 'new']);
      unavailable = 'verdict events are off';
      const off = await fetchLines(port, '/events', () => false);
      expect(off.status).toBe(503);
      expect(JSON.parse(off.body)).toEqual({ error: 'verdict events are off' });
    } finally {
      stopServing(server);
    }
  });
});

describe('ulogd config', () => {
  it('reads our NFLOG group into JSON lines on the agent\'s socket, errors only to its stdout', () => {
    const conf = ulogdConfig('/usr/lib/x86_64-linux-gnu/ulogd', 9917, '/run/gingham/agent/ulogd.sock');
    expect(conf).toContain('stack=log1:NFLOG,base1:BASE,ip2str1:IP2STR,json1:JSON');
    expect(conf).toContain('plugin="/usr/lib/x86_64-linux-gnu/ulogd/ulogd_output_JSON.so"');
    expect(conf).toMatch(/\[log1\]\ngroup=9917\nunbind=0\nnetlink_qthreshold=1\n/);
    expect(conf).toMatch(/\[json1\]\nmode="unix"\nfile="\/run\/gingham\/agent\/ulogd.sock"\nsync=1\n/);
    expect(conf).toMatch(/logfile="stdout"\nloglevel=7\n/);
  });
});
