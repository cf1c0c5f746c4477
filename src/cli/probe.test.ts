import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PassThrough } from 'node:stream';
import { type Listening, ProbeFailure, UsageError, connectTcp, connectUdp, listen, parseProbeArgs, parseTarget, probeAll, resolveName, runMatrix, runProbe, targetText } from './probe.js';

describe('parseProbeArgs', () => {
  it('serve: --tcp and --udp lists, --port as one more tcp port, tcp 7000 by default, every address by default', () => {
    expect(parseProbeArgs(['serve', '--tcp', '80,81', '--udp', '80,81'])).toEqual({ kind: 'serve', tcp: [80, 81], udp: [80, 81], addresses: [] });
    expect(parseProbeArgs(['serve', '--port', '7000'])).toEqual({ kind: 'serve', tcp: [7000], udp: [], addresses: [] });
    expect(parseProbeArgs(['serve', '--tcp=80', '--tcp', '81,80', '--port=9000'])).toEqual({ kind: 'serve', tcp: [80, 81, 9000], udp: [], addresses: [] });
    expect(parseProbeArgs(['serve', '--udp', '53'])).toEqual({ kind: 'serve', tcp: [], udp: [53], addresses: [] });
    expect(parseProbeArgs(['serve'])).toEqual({ kind: 'serve', tcp: [7000], udp: [], addresses: [] });
    expect(parseProbeArgs(['serve', '--udp', '80', '--address', '198.19.1.2,fd42:19:1::2', '--address=127.0.0.1'])).toEqual({
      kind: 'serve',
      tcp: [],
      udp: [80],
      addresses: ['198.19.1.2', 'fd42:19:1::2', '127.0.0.1'],
    });
  });

  it('connect: HOST:PORT/PROTO, IPv6 in brackets, tcp by default, the old HOST PORT form', () => {
    expect(parseProbeArgs(['connect', '198.18.0.254:80/udp', '--timeout', '500'])).toEqual({ kind: 'connect', host: '198.18.0.254', port: 80, proto: 'udp', timeoutMs: 500 });
    expect(parseProbeArgs(['connect', '[fd42:18::1]:81/TCP'])).toEqual({ kind: 'connect', host: 'fd42:18::1', port: 81, proto: 'tcp', timeoutMs: 3000 });
    expect(parseProbeArgs(['connect', 'svc.ns.svc.cluster.local:8080'])).toEqual({ kind: 'connect', host: 'svc.ns.svc.cluster.local', port: 8080, proto: 'tcp', timeoutMs: 3000 });
    expect(parseProbeArgs(['connect', '198.18.0.254', '7000', '--timeout=100'])).toEqual({ kind: 'connect', host: '198.18.0.254', port: 7000, proto: 'tcp', timeoutMs: 100 });
  });

  it('matrix: targets as arguments, 1 s timeout, one round by default', () => {
    expect(parseProbeArgs(['matrix', '198.18.0.1:80/tcp', '[fd42:18::1]:81/udp'])).toEqual({
      kind: 'matrix',
      targets: [
        { host: '198.18.0.1', port: 80, proto: 'tcp' },
        { host: 'fd42:18::1', port: 81, proto: 'udp' },
      ],
      timeoutMs: 1000,
      rounds: 1,
      intervalMs: 100,
      perLine: false,
    });
    expect(parseProbeArgs(['matrix', '--timeout', '300', '--rounds=50', '--interval', '0', '198.18.0.1:80'])).toEqual({
      kind: 'matrix',
      targets: [{ host: '198.18.0.1', port: 80, proto: 'tcp' }],
      timeoutMs: 300,
      rounds: 50,
      intervalMs: 0,
      perLine: false,
    });
    expect(parseProbeArgs(['matrix', '--per-line', '198.18.0.1:80/udp', '--timeout=200'])).toEqual({
      kind: 'matrix',
      targets: [{ host: '198.18.0.1', port: 80, proto: 'udp' }],
      timeoutMs: 200,
      rounds: 1,
      intervalMs: 100,
      perLine: true,
    });
  });

  it('targetText writes what parseTarget reads', () => {
    for (const t of ['198.18.0.1:80/tcp', '[fd42:18::1]:81/udp']) expect(targetText(parseTarget(t))).toBe(t);
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
    [['serve', '--address', '198.19.1.300'], /"198.19.1.300" is not an IP address/],
    [['connect'], /connect needs HOST:PORT\/PROTO/],
    [['connect', '198.18.0.1:80/sctp'], /protocol "sctp"/],
    [['connect', 'fd42:18::1:80/tcp'], /IPv6 address in brackets/],
    [['connect', '198.18.0.1/tcp'], /is not HOST:PORT/],
    [['connect', '198.18.0.1:80', '--timeout', 'soon'], /--timeout "soon"/],
    [['connect', '198.18.0.1:80', '--wait', '1'], /unknown option --wait/],
    [['resolve'], /resolve needs one NAME/],
    [['resolve', 'a', 'b'], /resolve needs one NAME/],
    [['matrix'], /matrix needs at least one/],
    [['matrix', '198.18.0.1:80/sctp'], /protocol "sctp"/],
    [['matrix', '--rounds', '0', '198.18.0.1:80'], /--rounds "0" is not a number of rounds/],
    [['matrix', '--interval', 'x', '198.18.0.1:80'], /--interval "x"/],
    [['matrix', '--per-line', '--rounds', '2', '198.18.0.1:80'], /--per-line takes no --rounds/],
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

  it('serve on given addresses: a UDP answer leaves from the address it was sent to', async () => {
    // 127.0.0.2 is this host's too, but the kernel answers a wildcard socket's datagram to
    // 127.0.0.1 from 127.0.0.1 (its route's source), and a connected client drops an answer from
    // another address than it asked: the multi-homed node's problem, on loopback.
    const any = await listen([], [0]);
    const port = any.bound[0]!.port;
    try {
      await expect(connectUdp('127.0.0.2', port, 400)).rejects.toThrow(/no answer within 400 ms/);
    } finally {
      await any.close();
    }
    const two = await listen([], [port], ['127.0.0.2', '127.0.0.1']);
    try {
      expect(await connectUdp('127.0.0.2', port, 2000)).toBe('from 127.0.0.1\n');
      expect(await connectUdp('127.0.0.1', port, 2000)).toBe('from 127.0.0.1\n');
      expect(two.bound).toEqual([
        { proto: 'udp', port },
        { proto: 'udp', port },
      ]);
    } finally {
      await two.close();
    }
  });

  it('a port already taken makes serve fail and close what it bound', async () => {
    await expect(listen([0, tcp], [])).rejects.toThrow(/EADDRINUSE/);
  });

  it('matrix: every target probed at once, each outcome named (answer, refusal, timeout)', async () => {
    const closed = await freePort();
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    try {
      const t0 = performance.now();
      const targets = [
        { host: '127.0.0.1', port: tcp, proto: 'tcp' as const },
        { host: '127.0.0.1', port: udp, proto: 'udp' as const },
        { host: '127.0.0.1', port: closed, proto: 'tcp' as const },
        { host: '127.0.0.1', port: sink.address().port, proto: 'udp' as const },
        { host: '127.0.0.1', port: sink.address().port, proto: 'udp' as const },
      ];
      const out = await probeAll(targets, 400);
      // Two silent targets of 400 ms each: concurrently, not one after the other.
      expect(performance.now() - t0).toBeLessThan(750);
      expect(out.map((o) => (o.ok ? `${o.target} from ${o.from}` : `${o.target} ${o.error}`))).toEqual([
        `127.0.0.1:${tcp}/tcp from 127.0.0.1`,
        `127.0.0.1:${udp}/udp from 127.0.0.1`,
        `127.0.0.1:${closed}/tcp ECONNREFUSED`,
        `127.0.0.1:${sink.address().port}/udp timeout`,
        `127.0.0.1:${sink.address().port}/udp timeout`,
      ]);
      expect(out[3]!.ms).toBeGreaterThanOrEqual(390);
    } finally {
      sink.close();
    }
  });

  it('matrix: one JSON line per round, rounds apart by the interval', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await runProbe(['matrix', '--rounds', '3', '--interval', '50', '--timeout', '500', `127.0.0.1:${tcp}/tcp`, `127.0.0.1:${udp}/udp`]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const rounds = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as { at: number; results: { target: string; ok: boolean; from?: string }[] });
    expect(rounds).toHaveLength(3);
    for (const r of rounds) expect(r.results.map((o) => [o.target, o.ok, o.from])).toEqual([[`127.0.0.1:${tcp}/tcp`, true, '127.0.0.1'], [`127.0.0.1:${udp}/udp`, true, '127.0.0.1']]);
    expect(rounds[1]!.at - rounds[0]!.at).toBeGreaterThanOrEqual(50);
    expect(rounds[2]!.at - rounds[1]!.at).toBeGreaterThanOrEqual(50);
  });

  it('matrix --per-line: a round for each line on stdin, none between, done when stdin closes', async () => {
    const input = new PassThrough();
    const lines: string[] = [];
    const cmd = parseProbeArgs(['matrix', '--per-line', '--timeout', '500', `127.0.0.1:${tcp}/tcp`]);
    if (cmd.kind !== 'matrix') throw new Error('not a matrix command');
    const done = runMatrix(cmd, input, (l) => lines.push(l));
    const waitLines = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    input.write('\n');
    await waitLines(1);
    expect(lines).toHaveLength(1);
    // Nothing asked, nothing probed.
    await new Promise((r) => setTimeout(r, 150));
    expect(lines).toHaveLength(1);
    input.write('go\n\n');
    await waitLines(3);
    input.end();
    await done;
    expect(lines).toHaveLength(3);
    for (const l of lines) expect((JSON.parse(l) as { results: { ok: boolean; from: string }[] }).results).toMatchObject([{ ok: true, from: '127.0.0.1' }]);
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
