// Debian's ulogd2 as the agent's child: it reads the NFLOG group the policy chains log to and
// writes each packet as a JSON line to its stdout, which the agent reads. Netlink parsing stays in
// a maintained tool; the agent writes its config, starts it, restarts it with backoff when it
// exits, and stops it when the agent stops. Its own log (errors only) goes to stderr, which the
// agent turns into log lines of its own, so its stdout carries nothing but packets.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
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
 * address family) -> BASE (headers to fields) -> IP2STR (addresses as text) -> JSON on stdout,
 * flushed per line. loglevel 7: errors only (the notices of every start would be noise).
 */
export function ulogdConfig(pluginDir: string, group: number): string {
  return [
    '# Written by the gingham agent on every start of its ulogd child; changes are overwritten.',
    '[global]',
    'logfile="/dev/stderr"',
    'loglevel=7',
    ...PLUGINS.map((p) => `plugin="${join(pluginDir, p)}"`),
    'stack=log1:NFLOG,base1:BASE,ip2str1:IP2STR,json1:JSON',
    '',
    '[log1]',
    `group=${group}`,
    'unbind=0',
    '',
    '[json1]',
    'file="/dev/stdout"',
    'sync=1',
    '',
  ].join('\n');
}

export interface UlogdOptions {
  /** A writable directory for the config. */
  readonly dir: string;
  readonly group: number;
  readonly binary?: string;
  readonly pluginDirs?: readonly string[];
  /** Runs ulogd inside something (tests: ['ip', 'netns', 'exec', NS]). */
  readonly wrap?: readonly string[];
  /** Each line it writes to stdout. */
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

/** Runs ulogd until stopped, restarting it when it exits. */
export class UlogdReader {
  private child: ChildProcess | undefined;
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

  start(): void {
    if (this.stopped) return;
    const pluginDir = findPluginDir(this.o.pluginDirs);
    const binary = this.o.binary ?? ULOGD;
    if (!pluginDir || !existsSync(binary)) {
      this.problem = `ulogd2 is not installed (want ${binary} and its NFLOG, BASE, IP2STR and JSON plugins in one of ${(this.o.pluginDirs ?? PLUGIN_DIRS).join(', ')})`;
      this.o.log('error', 'no verdict events: ulogd2 and ulogd2-json are needed', { problem: this.problem });
      return this.again();
    }
    const conf = join(this.o.dir, 'ulogd.conf');
    try {
      mkdirSync(this.o.dir, { recursive: true });
      writeFileSync(conf, ulogdConfig(pluginDir, this.o.group));
    } catch (e) {
      this.problem = `cannot write ${conf}: ${errorText(e)}`;
      this.o.log('error', 'no verdict events: cannot write the ulogd config', { problem: this.problem });
      return this.again();
    }
    const argv = [...(this.o.wrap ?? []), binary, '-c', conf];
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.problem = undefined;
    const stderr: string[] = [];
    lines(child.stdout!, this.o.onLine);
    lines(child.stderr!, (l) => {
      stderr.push(l);
      if (stderr.length > 5) stderr.shift();
      this.o.log('warn', 'ulogd', { line: l });
    });
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      this.child = undefined;
      if (this.stopped) return;
      this.problem = `ulogd ${why}${stderr.length ? `: ${stderr.join(' / ')}` : ''}`;
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
    this.timer = setTimeout(() => this.start(), wait);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(kill);
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
