// `gingham policy drops`: what the policies of this node's pods denied (and, with --accepts, the new
// connections they accepted), read from the local agent's /events: one line per event for people,
// or the events' JSON. On a node, or inside the agent's pod through `kubectl exec`; --follow stays
// until Ctrl-C or until the agent closes the stream.
import { type IncomingMessage, get } from 'node:http';
import type { EventEnd, VerdictEvent } from './enrich.js';

export class DropsUsageError extends Error {
  override name = 'DropsUsageError';
}

export interface DropsArgs {
  follow: boolean;
  json: boolean;
  accepts: boolean;
  namespace?: string;
  pod?: string;
  /** The agent's health server, e.g. http://127.0.0.1:9917. */
  agent: string;
}

export const DEFAULT_AGENT = 'http://127.0.0.1:9917';

export function parseDropsArgs(argv: readonly string[]): DropsArgs {
  const out: DropsArgs = { follow: false, json: false, accepts: false, agent: DEFAULT_AGENT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--follow' || a === '-f') out.follow = true;
    else if (a === '--json') out.json = true;
    else if (a === '--accepts') out.accepts = true;
    else if (/^--(namespace|pod|agent|health-port)(=|$)/.test(a)) {
      const eq = a.indexOf('=');
      const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new DropsUsageError(`${a} needs a value`);
      if (key === 'namespace') out.namespace = value;
      else if (key === 'pod') {
        if (!/^[^/]+\/[^/]+$/.test(value)) throw new DropsUsageError(`--pod ${value}: want NAMESPACE/NAME`);
        out.pod = value;
      } else if (key === 'agent') {
        if (!/^https?:\/\/[^/]+\/?$/.test(value)) throw new DropsUsageError(`--agent ${value}: want http://HOST:PORT`);
        out.agent = value.replace(/\/$/, '');
      } else {
        const port = Number(value);
        if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new DropsUsageError(`--health-port ${value}: want a port number`);
        out.agent = `http://127.0.0.1:${port}`;
      }
    } else throw new DropsUsageError(`unknown argument "${a}"`);
  }
  return out;
}

/** The /events path for these arguments. */
export function eventsPath(a: DropsArgs): string {
  const q = new URLSearchParams();
  if (a.follow) q.set('follow', '1');
  if (a.namespace !== undefined) q.set('namespace', a.namespace);
  if (a.pod !== undefined) q.set('pod', a.pod);
  if (!a.accepts) q.set('verdict', 'denied');
  const s = q.toString();
  return `/events${s ? `?${s}` : ''}`;
}

const showEnd = (e: EventEnd): string => {
  const at = e.ip.includes(':') ? `[${e.ip}]` : e.ip;
  const addr = e.port !== undefined ? `${at}:${e.port}` : at;
  return e.pod ? `${e.pod} (${addr})` : addr;
};

/** One event for people: "10:28:03.019 DENIED ingress y/c (198.18.2.2:40000) -> x/a (198.18.1.2:81) TCP: isolated by x/deny, no rule allows". */
export function showEvent(e: VerdictEvent): string {
  const time = /T(\d\d:\d\d:\d\d\.\d{3})/.exec(e.time)?.[1] ?? e.time;
  return `${time} ${e.verdict.toUpperCase()} ${e.direction} ${showEnd(e.src)} -> ${showEnd(e.dst)} ${e.protocol}: ${e.reason}`;
}

/**
 * Reads the agent's /events and writes each event; 0 when the agent ended the answer (or Ctrl-C
 * ended a follow), 1 when no agent answered or it said why there are no events.
 */
export function runDrops(a: DropsArgs, out: (s: string) => void = (s) => void process.stdout.write(s), err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  const url = `${a.agent}${eventsPath(a)}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      resolve(code);
    };
    const interrupted = (): void => {
      req.destroy();
      finish(0);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    const req = get(url, (res: IncomingMessage) => {
      let pending = '';
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (c: string) => (pending += c));
        res.on('end', () => {
          let why = pending.trim();
          try {
            why = String((JSON.parse(why) as { error?: unknown }).error ?? why);
          } catch {
            // Not JSON: as it came.
          }
          err(`gingham policy drops: the agent at ${a.agent} answered ${res.statusCode}: ${why}\n`);
          finish(1);
        });
        return;
      }
      const line = (l: string): void => {
        if (l.trim() === '') return;
        if (a.json) return out(`${l}\n`);
        try {
          out(`${showEvent(JSON.parse(l) as VerdictEvent)}\n`);
        } catch {
          out(`${l}\n`);
        }
      };
      res.on('data', (c: string) => {
        const parts = (pending + c).split('\n');
        pending = parts.pop() ?? '';
        for (const l of parts) line(l);
      });
      res.on('end', () => {
        line(pending);
        finish(0);
      });
      // The agent went away mid-stream (stopped, restarted): what came is shown; that is the end.
      res.on('error', () => finish(0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (done) return;
      err(
        `gingham policy drops: no agent answers at ${a.agent} (${e.code ?? e.message}). Run it on a node with the gingham agent ` +
          '(or inside its pod: kubectl -n kube-system exec ds/gingham -- gingham policy drops), or point --agent/--health-port at it.\n',
      );
      finish(1);
    });
  });
}
