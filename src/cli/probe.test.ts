import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, ProbeFailure, UsageError, connectTcp, connectUdp, listen, parseProbeArgs, parseTarget, resolveName } from './probe.js';

describe('parseProbeArgs', () => {
  it('serve: --tcp and --udp lists, --port as one more tcp port, tcp 7000 by default', () => {
    expect(parseProbeArgs(['serve', '--tcp', '80,81', '--udp', '80,81'])).toEqual({ kind: 'serve', tcp: [80, 81], udp: [80, 81] });
    expect(parseProbeArgs(['serve', '--port', '7000'])).toEqual({ kind: 'serve', tcp: [7000], udp: [] });
    expect(parseProbeArgs(['serve', '--tcp=80', '--tcp', '81,80', '--port=9000'])).toEqual({ kind: 'serve', tcp: [80, 81, 9000], udp: [] });
    expect(parseProbeArgs(['serve', '--udp', '53'])).toEqual({ kind: 'serve', tcp: [], udp: [53] });
    expect(parseProbeArgs(['serve'])).toEqual({ kind: 'serve', tcp: [7000], udp: [] });
  });

  it('connect: HOST:PORT/PROTO, IPv6 in brackets, tcp by default, the old HOST PORT form', () => {
    expect(parseProbeArgs(['connect', '198.18.0.254:80/udp', '--timeout', '500'])).toEqual({ kind: 'connect', host: '198.18.0.254', port: 80, proto: 'udp', timeoutMs: 500 });
    expect(parseProbeArgs(['connect', '[fd42:18::1]:81/TCP'])).toEqual({ kind: 'connect', host: 'fd42:18::1', port: 81, proto: 'tcp', timeoutMs: 3000 });
    expect(parseProbeArgs(['connect', 'svc.ns.svc.cluster.local:8080'])).toEqual({ kind: 'connect', host: 'svc.ns.svc.cluster.local', port: 8080, proto: 'tcp', timeoutMs: 3000 });
    expect(parseProbeArgs(['connect', '198.18.0.254', '7000', '--timeout=100'])).toEqual({ kind: 'connect', host: '198.18.0.254', port: 7000, proto: 'tcp', timeoutMs: 100 });
  });

  it('help in its usual spellings', () => {
    for (const h of ['help', '--help', '-h']) expect(parseProbeArgs([h])).toEqual({ kind: 'help' });
  });

  it('resolve: one name, optional timeout', () => {
    expect(parseProbeArgs(['resolve', 'kubernetes.default'])).toEqual({ kind: 'resolve', name: 'kubernetes.default', timeoutMs: 3000 });
    expect(parseProbeArgs(['resolve', '--timeout', '50', 'x'])).toEqual({ kind: 'resolve', name: 'x', timeoutMs: 50 });
  });

  it.each([
    [[], /no mode/],
    [['ping'], /unknown mode "ping"/],
    [['serve', '--tcp', '0'], /"0" is not a port/],
    [['serve', '--udp', '70000'], /"70000" is not a port/],
    [['serve', '--tcp', '80,'], /"" is not a port/],
    [['serve', '--tcp'], /--tcp needs a value/],
    [['serve', 'extra'], /unexpected argument/],
    [['connect'], /connect needs HOST:PORT\/PROTO/],
    [['connect', '198.18.0.1:80/sctp'], /protocol "sctp"/],
    [['connect', 'fd42:18::1:80/tcp'], /IPv6 address in brackets/],
    [['connect', '198.18.0.1/tcp'], /is not HOST:PORT/],
    [['connect', '198.18.0.1:80', '--timeout', 'soon'], /--timeout "soon"/],
    [['connect', '198.18.0.1:80', '--wait', '1'], /unknown option --wait/],
    [['resolve'], /resolve needs one NAME/],
    [['resolve', 'a', 'b'], /resolve needs one NAME/],
  ] as const)('refuses %j', (args, msg) => {
    expect(() => parseProbeArgs([...args])).toThrow(UsageError);
    expect(() => parseProbeArgs([...args])).toThrow(msg);
  });

  it('parseTarget keeps a bracketed IPv6 address whole', () => {
    expect(parseTarget('[fd42:18::1]:53/udp')).toEqual({ host: 'fd42:18::1', port: 53, proto: 'udp' });
  });
});

describe('probe on loopback', () => {
  let server: Listening;
  let tcp = 0;
  let udp = 0;
  beforeAll(async () => {
    server = await listen([0], [0]);
    tcp = server.bound.find((b) => b.proto === 'tcp')!.port;
    udp = server.bound.find((b) => b.proto === 'udp')!.port;
  });
  afterAll(() => server.close());

  it('tcp: the answer names the caller', async () => {
    expect(tcp).toBeGreaterThan(0);
    expect(await connectTcp('127.0.0.1', tcp, 2000)).toBe('from 127.0.0.1\n');
  });

  it('udp: the answer names the caller', async () => {
    expect(await connectUdp('127.0.0.1', udp, 2000)).toBe('from 127.0.0.1\n');
  });

  it('tcp to a closed port is refused', async () => {
    const closed = await freePort();
    await expect(connectTcp('127.0.0.1', closed, 2000)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('udp to a closed port is refused (the kernel reports the ICMP port unreachable)', async () => {
    const closed = await freePort();
    await expect(connectUdp('127.0.0.1', closed, 2000)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('udp to a port that swallows datagrams times out', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    try {
      await expect(connectUdp('127.0.0.1', sink.address().port, 300)).rejects.toThrow(/no answer within 300 ms/);
    } finally {
      sink.close();
    }
  });

  it('a port already taken makes serve fail and close what it bound', async () => {
    await expect(listen([0, tcp], [])).rejects.toThrow(/EADDRINUSE/);
  });

  it('resolve: localhost has an address; a name under .invalid has none', async () => {
    expect(await resolveName('localhost', 2000)).toContain('127.0.0.1');
    await expect(resolveName('nothing.invalid', 2000)).rejects.toThrow(ProbeFailure);
  });
});

/** A UDP and TCP port nobody listens on (bound, noted, released). */
async function freePort(): Promise<number> {
  const l = await listen([0], []);
  const p = l.bound[0]!.port;
  await l.close();
  return p;
}
