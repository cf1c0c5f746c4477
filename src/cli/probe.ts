// `gingham probe`: an agnhost-like helper for tests and people. The server answers each TCP
// connection and each UDP datagram with "from <source address>", so the caller sees which source
// address arrived (masquerade or not); `connect` prints that answer, `resolve` a name's addresses;
// `matrix` probes many targets at once and prints every outcome as JSON, so one `kubectl exec`
// checks a whole row of a NetworkPolicy test's matrix.
// Exit codes: 0 answered/resolved (matrix: probed, whatever the outcomes), 1 timeout, refusal or no
// such name, 2 usage.
import { lookup } from 'node:dns/promises';
import { type RemoteInfo, type Socket as UdpSocket, createSocket } from 'node:dgram';
import { type Server, createConnection, createServer, isIP } from 'node:net';
import { createInterface } from 'node:readline';

export type Proto = 'tcp' | 'udp';

export const USAGE = `usage:
  gingham probe serve [--tcp PORT,...] [--udp PORT,...] [--port PORT] [--address ADDR,...]
      answer each TCP connection and UDP datagram with "from <source address>" (default: tcp 7000),
      on every address (default) or only the ones given: a UDP answer then leaves from the address
      it was sent to, which a multi-homed host (a node) needs for the caller to accept it
  gingham probe connect HOST:PORT[/tcp|/udp] [--timeout MS]     (IPv6: [ADDR]:PORT/udp)
  gingham probe connect HOST PORT [--timeout MS]                (tcp)
      print the server's answer; exit 1 on timeout or refusal
  gingham probe resolve NAME [--timeout MS]
      print the addresses NAME resolves to (the system resolver), one a line; exit 1 if none
  gingham probe matrix [--timeout MS] [--rounds N] [--interval MS] [--per-line] TARGET...
      probe every TARGET (HOST:PORT/PROTO) at once and print one JSON line per round: {"at":EPOCH_MS,"results":[{"target","ok","from"|"error","ms"},...]};
      error is "timeout" or the socket's code (ECONNREFUSED...). --rounds N repeats, each round
      starting --interval MS (default 100) after the previous one ended (default timeout 1000);
      --per-line instead runs one round for each line read on stdin, until stdin closes: a caller
      probes again and again without starting a process (or a kubectl exec) each time
`;

const DEFAULT_PORT = 7000;
const DEFAULT_TIMEOUT_MS = 3000;
/** A matrix probes many targets, most of them expected to be dropped: a short wait each. */
const DEFAULT_MATRIX_TIMEOUT_MS = 1000;
const DEFAULT_MATRIX_INTERVAL_MS = 100;

export type ProbeCommand =
  | { kind: 'help' }
  | { kind: 'serve'; tcp: number[]; udp: number[]; addresses: string[] }
  | { kind: 'connect'; host: string; port: number; proto: Proto; timeoutMs: number }
  | { kind: 'resolve'; name: string; timeoutMs: number }
  | { kind: 'matrix'; targets: Target[]; timeoutMs: number; rounds: number; intervalMs: number; perLine: boolean };

export interface Target {
  host: string;
  port: number;
  proto: Proto;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function port(s: string): number {
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw new UsageError(`"${s}" is not a port (1-65535)`);
  return Number(s);
}

const ports = (s: string): number[] => s.split(',').map((p) => port(p.trim()));

/** HOST:PORT/PROTO; an IPv6 address goes in brackets. PROTO defaults to tcp. */
export function parseTarget(s: string): Target {
  const slash = s.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : s.slice(slash + 1).toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw new UsageError(`protocol "${proto}" is not tcp or udp`);
  const hostPort = slash < 0 ? s : s.slice(0, slash);
  const m = /^\[([^\]]+)\]:([^:]+)$/.exec(hostPort) ?? /^([^:[\]]+):([^:]+)$/.exec(hostPort);
  if (!m) throw new UsageError(`"${s}" is not HOST:PORT/PROTO (an IPv6 address in brackets: [ADDR]:PORT)`);
  return { host: m[1]!, port: port(m[2]!), proto };
}

/** Splits `--name value` / `--name=value` options (each at most once) from positionals. */
function split(args: readonly string[], known: readonly string[]): { opts: Map<string, string[]>; pos: string[] } {
  const opts = new Map<string, string[]>();
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      pos.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq < 0 ? args[++i] : a.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    opts.set(name, [...(opts.get(name) ?? []), value]);
  }
  return { opts, pos };
}

/** A positive integer option (its last value), or dflt when absent. */
function count(opts: Map<string, string[]>, name: string, what: string, dflt: number, min = 1): number {
  const t = opts.get(name)?.at(-1);
  if (t === undefined) return dflt;
  if (!/^[0-9]+$/.test(t) || Number(t) < min) throw new UsageError(`--${name} "${t}" is not a number of ${what}`);
  return Number(t);
}

const timeout = (opts: Map<string, string[]>, dflt = DEFAULT_TIMEOUT_MS): number => count(opts, 'timeout', 'milliseconds', dflt);

export function parseProbeArgs(args: readonly string[]): ProbeCommand {
  const [mode, ...rest] = args;
  switch (mode) {
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help' };
    case 'serve': {
      const { opts, pos } = split(rest, ['tcp', 'udp', 'port', 'address']);
      if (pos.length > 0) throw new UsageError(`unexpected argument "${pos[0]}"`);
      const tcp = [...(opts.get('tcp') ?? []), ...(opts.get('port') ?? [])].flatMap(ports);
      const udp = (opts.get('udp') ?? []).flatMap(ports);
      const addresses = (opts.get('address') ?? []).flatMap((a) => a.split(',')).map((a) => a.trim());
      for (const a of addresses) if (isIP(a) === 0) throw new UsageError(`"${a}" is not an IP address`);
      const uniq = <T>(l: T[]): T[] => [...new Set(l)];
      return { kind: 'serve', tcp: tcp.length + udp.length === 0 ? [DEFAULT_PORT] : uniq(tcp), udp: uniq(udp), addresses: uniq(addresses) };
    }
    case 'connect': {
      const { opts, pos } = split(rest, ['timeout']);
      const timeoutMs = timeout(opts);
      if (pos.length === 1) return { kind: 'connect', ...parseTarget(pos[0]!), timeoutMs };
      // The original form, HOST PORT (tcp), which the namespace tests use.
      if (pos.length === 2) return { kind: 'connect', host: pos[0]!, port: port(pos[1]!), proto: 'tcp', timeoutMs };
      throw new UsageError('connect needs HOST:PORT/PROTO');
    }
    case 'resolve': {
      const { opts, pos } = split(rest, ['timeout']);
      if (pos.length !== 1) throw new UsageError('resolve needs one NAME');
      return { kind: 'resolve', name: pos[0]!, timeoutMs: timeout(opts) };
    }
    case 'matrix': {
      const perLine = rest.includes('--per-line');
      const { opts, pos } = split(
        rest.filter((a) => a !== '--per-line'),
        ['timeout', 'rounds', 'interval'],
      );
      if (pos.length === 0) throw new UsageError('matrix needs at least one HOST:PORT/PROTO');
      if (perLine && (opts.has('rounds') || opts.has('interval'))) throw new UsageError('--per-line takes no --rounds or --interval: stdin paces the rounds');
      return {
        kind: 'matrix',
        targets: pos.map(parseTarget),
        timeoutMs: timeout(opts, DEFAULT_MATRIX_TIMEOUT_MS),
        rounds: count(opts, 'rounds', 'rounds', 1),
        intervalMs: count(opts, 'interval', 'milliseconds', DEFAULT_MATRIX_INTERVAL_MS, 0),
        perLine,
      };
    }
    default:
      throw new UsageError(mode === undefined ? 'no mode given' : `unknown mode "${mode}"`);
  }
}

const answer = (address: string | undefined): string => `from ${(address ?? '?').replace(/^::ffff:/, '')}\n`;

export interface Listening {
  /** Bound ports, e.g. tcp/80 (port 0 asks the kernel for one; tests use that). */
  readonly bound: { proto: Proto; port: number }[];
  close(): Promise<void>;
}

/**
 * Listen on every port given, on all addresses of both families (on a kernel without IPv6, IPv4
 * only) or on each of `addresses`. Resolves once all are bound; rejects (closing what was bound)
 * if one cannot be.
 */
export async function listen(tcp: readonly number[], udp: readonly number[], addresses: readonly string[] = []): Promise<Listening> {
  const servers: Server[] = [];
  const sockets: UdpSocket[] = [];
  const bound: Listening['bound'] = [];
  const close = async (): Promise<void> => {
    await Promise.all([
      ...servers.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...sockets.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
  };
  try {
    // undefined: every address, through dualStack.
    const hosts = addresses.length === 0 ? [undefined] : addresses;
    const on = <T>(host: string | undefined, bind: (host: string) => Promise<T>): Promise<T> => (host === undefined ? dualStack(bind) : bind(host));
    for (const p of tcp) {
      for (const h of hosts) {
        const server = await on(h, (host) => bindTcp(p, host));
        servers.push(server);
        const a = server.address();
        bound.push({ proto: 'tcp', port: typeof a === 'object' && a ? a.port : p });
      }
    }
    for (const p of udp) {
      for (const h of hosts) {
        const sock = await on(h, (host) => bindUdp(p, host));
        sockets.push(sock);
        bound.push({ proto: 'udp', port: sock.address().port });
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { bound, close };
}

/** Bind on "::" (both families), falling back to 0.0.0.0 where the kernel has no IPv6. */
async function dualStack<T>(bind: (host: string) => Promise<T>): Promise<T> {
  try {
    return await bind('::');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw e;
    return bind('0.0.0.0');
  }
}

function bindTcp(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => {
      sock.on('error', () => undefined);
      sock.end(answer(sock.remoteAddress));
    });
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: false }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function bindUdp(port: number, host: string): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
    sock.on('message', (_msg: Buffer, from: RemoteInfo) => sock.send(answer(from.address), from.port, from.address));
    sock.once('error', reject);
    sock.bind({ port, address: host }, () => {
      sock.off('error', reject);
      // Errors after binding (an answer that cannot be sent) must not end the server.
      sock.on('error', () => undefined);
      resolve(sock);
    });
  });
}

export class ProbeFailure extends Error {
  override name = 'ProbeFailure';
  /** "timeout", or the socket error's code (ECONNREFUSED, EHOSTUNREACH...): for machines. */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

export function connectTcp(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ProbeFailure(`tcp ${host}:${port}: no answer within ${timeoutMs} ms`, 'timeout'));
    }, timeoutMs);
    let data = '';
    sock.on('data', (b: Buffer) => (data += b.toString()));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ProbeFailure(`tcp ${host}:${port}: ${e.code ?? e.message}`, e.code ?? 'error'));
    });
  });
}

/** How often a UDP probe is sent again while no answer came (a datagram may be lost). */
const UDP_RESEND_MS = 500;

export async function connectUdp(host: string, port: number, timeoutMs: number): Promise<string> {
  // A name is resolved first so the socket's family matches the address.
  const { address, family } = await lookup(host);
  return new Promise((resolve, reject) => {
    const sock = createSocket(family === 6 ? 'udp6' : 'udp4');
    let resend: NodeJS.Timeout | undefined;
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      clearInterval(resend);
      sock.close();
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new ProbeFailure(`udp ${host}:${port}: no answer within ${timeoutMs} ms`, 'timeout'))), timeoutMs);
    sock.on('message', (msg: Buffer) => finish(() => resolve(msg.toString())));
    // On a connected socket the kernel reports an ICMP port unreachable as ECONNREFUSED.
    sock.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new ProbeFailure(`udp ${host}:${port}: ${e.code ?? e.message}`, e.code ?? 'error'))));
    sock.connect(port, address, () => {
      const send = (): void => sock.send('probe\n');
      send();
      resend = setInterval(send, UDP_RESEND_MS);
    });
  });
}

export async function resolveName(name: string, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeFailure(`resolve ${name}: no answer within ${timeoutMs} ms`, 'timeout')), timeoutMs);
  });
  try {
    // getaddrinfo, as most programs in a pod resolve: resolv.conf's search list and ndots apply.
    const found = await Promise.race([lookup(name, { all: true }), timedOut]);
    return [...new Set(found.map((a) => a.address))];
  } catch (e) {
    if (e instanceof ProbeFailure) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ProbeFailure(`resolve ${name}: ${code ?? (e as Error).message}`, code ?? 'error');
  } finally {
    clearTimeout(timer);
  }
}

/** One target's outcome in a matrix round: the server's answer, or why there was none. */
export type Outcome = { target: string; ok: true; from: string; ms: number } | { target: string; ok: false; error: string; ms: number };

export const targetText = (t: Target): string => `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}/${t.proto}`;

/** Probes every target at once; never rejects: each failure is an outcome. */
export async function probeAll(targets: readonly Target[], timeoutMs: number): Promise<Outcome[]> {
  return Promise.all(
    targets.map(async (t): Promise<Outcome> => {
      const t0 = performance.now();
      const ms = (): number => Math.round(performance.now() - t0);
      try {
        const out = await (t.proto === 'tcp' ? connectTcp : connectUdp)(t.host, t.port, timeoutMs);
        const from = /^from (\S+)/.exec(out)?.[1];
        // Something answered, but not a probe server: as good as no answer for a verdict.
        if (from === undefined) return { target: targetText(t), ok: false, error: 'garbled', ms: ms() };
        return { target: targetText(t), ok: true, from, ms: ms() };
      } catch (e) {
        const error = e instanceof ProbeFailure ? e.code : ((e as NodeJS.ErrnoException).code ?? 'error');
        return { target: targetText(t), ok: false, error, ms: ms() };
      }
    }),
  );
}

/** The matrix rounds, each written as one JSON line: --rounds of them, or one per line of `input`. */
export async function runMatrix(
  cmd: Extract<ProbeCommand, { kind: 'matrix' }>,
  input: NodeJS.ReadableStream = process.stdin,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Promise<void> {
  const round = async (): Promise<void> => {
    const at = Date.now();
    const results = await probeAll(cmd.targets, cmd.timeoutMs);
    write(`${JSON.stringify({ at, results })}\n`);
  };
  if (cmd.perLine) {
    for await (const _ of createInterface({ input, crlfDelay: Infinity })) await round();
    return;
  }
  for (let i = 0; i < cmd.rounds; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, cmd.intervalMs));
    await round();
  }
}

export async function runProbe(args: string[]): Promise<number> {
  let cmd: ProbeCommand;
  try {
    cmd = parseProbeArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`probe: ${e.message}\n${USAGE}`);
    return 2;
  }
  try {
    switch (cmd.kind) {
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      case 'serve': {
        const l = await listen(cmd.tcp, cmd.udp, cmd.addresses);
        process.stdout.write(`probe listening on ${l.bound.map((b) => `${b.proto}/${b.port}`).join(' ')}\n`);
        return await new Promise<never>(() => undefined);
      }
      case 'connect': {
        const connect = cmd.proto === 'tcp' ? connectTcp : connectUdp;
        process.stdout.write(await connect(cmd.host, cmd.port, cmd.timeoutMs));
        return 0;
      }
      case 'resolve':
        process.stdout.write((await resolveName(cmd.name, cmd.timeoutMs)).map((a) => `${a}\n`).join(''));
        return 0;
      case 'matrix':
        await runMatrix(cmd);
        return 0;
    }
  } catch (e) {
    process.stderr.write(`probe: ${(e as Error).message}\n`);
    return 1;
  }
}
