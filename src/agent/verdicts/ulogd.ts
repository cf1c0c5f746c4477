// Debian's ulogd2 as the agent's child: it reads the NFLOG group the policy chains log to and
// sends each packet as a JSON line to a unix socket the agent listens on (its JSON plugin's "unix"
// mode). Not its stdout: Node gives a child's stdio as socket pairs, and ulogd opens its output by
// path, which /dev/stdout of a socket refuses (ENXIO). Netlink parsing stays in a maintained tool;
// the agent writes its config, starts it, restarts it with backoff when it exits, and stops it
// when the agent stops. Its own log (errors only) comes on its stdout and becomes agent log lines.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { type Logger, errorText } from '../log.js';

export const ULOGD = '/usr/sbin/ulogd';
/** Where Debian's ulogd2 keeps its plugins, per architecture. */
export const PLUGIN_DIRS = ['/usr/lib/x86_64-linux-gnu/ulogd', '/usr/lib/aarch64-linux-gnu/ulogd', '/usr/lib/ulogd'];
const PLUGINS = ['ulogd_inppkt_NFLOG.so', 'ulogd_raw2packet_BASE.so', 'ulogd_filter_IP2STR.so', 'ulogd_output_JSON.so'];

/** The first of `dirs` that holds every plugin we load. */
export const findPluginDir = (dirs: readonly string[] = PLUGIN_DIRS): string | undefined => dirs.find((d) => PLUGINS.every((p) => existsSync(join(d, p))));

/**
 * The config: NFLOG (our group; unbind=0 so it never touches another logger's binding of the
 * address family; sent on by the kernel one packet at a time) -> BASE (headers to fields) -> IP2STR (addresses as text) -> JSON, one line a
 * packet to the unix socket `socket`. loglevel 7: errors only (the notices of every start would
 * be noise), to its stdout.
 */
export function ulogdConfig(pluginDir: string, group: number, socket: string): string {
  return [
    '# Written by the gingham agent on every start of its ulogd child; changes are overwritten.',
    '[global]',
    'logfile="stdout"',
    'loglevel=7',
    ...PLUGINS.map((p) => `plugin="${join(pluginDir, p)}"`),
    'stack=log1:NFLOG,base1:BASE,ip2str1:IP2STR,json1:JSON',
    '',
    '[log1]',
    `group=${group}`,
    'unbind=0',
    // Each packet at once: the kernel's default batches up to 100 for up to a second.
    'netlink_qthreshold=1',
    '',
    '[json1]',
    'mode="unix"',
    `file="${socket}"`,
    'sync=1',
    '',
  ].join('\n');
}

export interface UlogdOptions {
  /** A writable directory for the config and the socket. */
  readonly dir: string;
  readonly group: number;
  readonly binary?: string;
  readonly pluginDirs?: readonly string[];
  /** Runs ulogd inside something (tests: ['ip', 'netns', 'exec', NS]). */
  readonly wrap?: readonly string[];
  /** Each line it sends. */
  readonly onLine: (line: string) => void;
  readonly log: Logger;
  /** Restart delays: the first, doubling up to the last; back to the first after a long run. */
  readonly backoffMs?: readonly [number, number];
}

/** A line longer than this is no packet of ours: dropped rather than buffered without end. */
const MAX_LINE = 64 * 1024;
/** A run this long counts as healthy: the next restart waits the shortest delay again. */
const HEALTHY_RUN_MS = 60_000;
const STOP_GRACE_MS = 2000;
/** sun_path: 108 bytes with the NUL. */
const MAX_SOCKET_PATH = 107;

/** Runs ulogd until stopped, restarting it when it exits. */
export class UlogdReader {
  private child: ChildProcess | undefined;
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private delay: number;
  /** Why it is not running (undefined while it is). */
  problem: string | undefined = 'not started yet';
  restarts = 0;

  constructor(private readonly o: UlogdOptions) {
    this.delay = this.backoff[0];
  }

  private get backoff(): readonly [number, number] {
    return this.o.backoffMs ?? [1000, 30_000];
  }

  /** Listens on the socket ulogd sends to (once; a restarted ulogd connects again). */
  private listen(socket: string): Promise<void> {
    if (this.server) return Promise.resolve();
    rmSync(socket, { force: true });
    const server = createServer((conn) => {
      this.conns.add(conn);
      conn.on('close', () => this.conns.delete(conn));
      conn.on('error', () => undefined);
      lines(conn, this.o.onLine);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => {
        server.off('error', reject);
        // Only root (the agent, ulogd) may send events.
        chmodSync(socket, 0o600);
        this.server = server;
        resolve();
      });
    });
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    const pluginDir = findPluginDir(this.o.pluginDirs);
    const binary = this.o.binary ?? ULOGD;
    if (!pluginDir || !existsSync(binary)) {
      this.problem = `ulogd2 is not installed (want ${binary} and its NFLOG, BASE, IP2STR and JSON plugins in one of ${(this.o.pluginDirs ?? PLUGIN_DIRS).join(', ')})`;
      this.o.log('error', 'no verdict events: ulogd2 and ulogd2-json are needed', { problem: this.problem });
      return this.again();
    }
    const conf = join(this.o.dir, 'ulogd.conf');
    const socket = join(this.o.dir, 'ulogd.sock');
    try {
      if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new Error(`the socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes`);
      mkdirSync(this.o.dir, { recursive: true });
      writeFileSync(conf, ulogdConfig(pluginDir, this.o.group, socket));
      await this.listen(socket);
    } catch (e) {
      this.problem = `cannot prepare ${this.o.dir}: ${errorText(e)}`;
      this.o.log('error', 'no verdict events: cannot write the ulogd config or listen on its socket', { problem: this.problem });
      return this.again();
    }
    if (this.stopped) return;
    const argv = [...(this.o.wrap ?? []), binary, '-c', conf];
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.problem = undefined;
    const said: string[] = [];
    const tell = (l: string): void => {
      said.push(l);
      if (said.length > 5) said.shift();
      this.o.log('warn', 'ulogd', { line: l });
    };
    lines(child.stdout!, tell);
    lines(child.stderr!, tell);
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      this.child = undefined;
      if (this.stopped) return;
      this.problem = `ulogd ${why}${said.length ? `: ${said.join(' / ')}` : ''}`;
      if (performance.now() - started >= HEALTHY_RUN_MS) this.delay = this.backoff[0];
      this.o.log('warn', 'ulogd ended; restarting it', { problem: this.problem, inMs: this.delay });
      this.again();
    };
    child.on('error', (e) => end(`could not run: ${errorText(e)}`));
    child.on('exit', (code, signal) => end(signal ? `was killed by ${signal}` : `exited with ${code}`));
  }

  private again(): void {
    if (this.stopped) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.backoff[1]);
    this.restarts++;
    this.timer = setTimeout(() => void this.start(), wait);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(kill);
    }
    for (const c of this.conns) c.destroy();
    this.server?.close();
  }
}

/** Calls `each` with every complete line of a stream (split on "\n" only). */
function lines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    if (pending.length > MAX_LINE) pending = '';
    for (const l of parts) if (l.length > 0 && l.length <= MAX_LINE) each(l);
  });
}
