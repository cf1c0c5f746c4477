// The agent's health endpoints for kubelet's probes: /healthz (every loop finished a pass lately,
// so none is stuck) and /readyz (every loop has had one pass that succeeded: the node's routes,
// overlay and conflist are in place, and so are the policy rules). A plain node:http server with
// the routes as a table, so further read-only endpoints (metrics, verdict events) join it as more
// entries: an answer is JSON, text (the Prometheus exposition) or a stream of lines (followed events).
import { type Server, createServer } from 'node:http';

/**
 * What one route answers: an HTTP status and a JSON body, a text body of a content type, or a
 * stream: `stream(write, closed)` writes chunks until `closed` resolves (the client went away or
 * the server stops).
 */
export type Answer =
  | { status: number; body: unknown }
  | { status: number; text: string; contentType: string }
  | { status: number; contentType: string; stream: (write: (chunk: string) => void, closed: Promise<void>) => void };
/** A route gets the query string's parameters. */
export type Route = (query: URLSearchParams) => Answer | Promise<Answer>;
export type Routes = Readonly<Record<string, Route>>;

interface LoopState {
  /** When the loop was announced: a loop that never completes a pass counts from here. */
  since: number;
  /** End of its last pass, whatever the pass's outcome. */
  lastPassEnd?: number;
  /** Start of the pass in progress. */
  runningSince?: number;
  /** Its first pass that succeeded has happened: it stays ready. */
  ready: boolean;
}

/** Each loop's state as the endpoints show it (milliseconds ago; absent: never). */
export interface LoopReport {
  live: boolean;
  ready: boolean;
  lastPassMsAgo?: number;
  runningForMs?: number;
}

/**
 * The loops' progress. A loop is live while its last pass (or, before the first, its start) is
 * at most staleMs old: the loops pass at least once per resync period, so a loop that has not
 * finished one in several periods is stuck (a hung child process, a lock never released), and a
 * restart is the cure. An API server that cannot be reached does not make a loop stale: its
 * passes then end at once doing nothing; they just do not make it ready.
 */
export class Health {
  private readonly loops = new Map<string, LoopState>();

  constructor(
    private readonly staleMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Announce the loop `name` (from now on it must pass) and return what wraps its reconciler so
   * that every pass is recorded: ended (always) and succeeded (when `succeeded` says so of its
   * result; never when it throws). Announced apart from the wrapping, so a loop whose start-up
   * hangs before its reconciler exists is not live either.
   */
  track(name: string): <T>(reconciler: { pass(): Promise<T> }, succeeded: (result: T) => boolean) => { pass(): Promise<T> } {
    const state: LoopState = { since: this.now(), ready: false };
    this.loops.set(name, state);
    return (reconciler, succeeded) => ({
      pass: async () => {
        state.runningSince = this.now();
        let ok = false;
        try {
          const result = await reconciler.pass();
          ok = succeeded(result);
          return result;
        } finally {
          state.lastPassEnd = this.now();
          state.runningSince = undefined;
          if (ok) state.ready = true;
        }
      },
    });
  }

  /** Per loop: live, ready and its timings. */
  report(): Record<string, LoopReport> {
    const now = this.now();
    const out: Record<string, LoopReport> = {};
    for (const [name, s] of this.loops) {
      const r: LoopReport = { live: now - (s.lastPassEnd ?? s.since) <= this.staleMs, ready: s.ready };
      if (s.lastPassEnd !== undefined) r.lastPassMsAgo = Math.round(now - s.lastPassEnd);
      if (s.runningSince !== undefined) r.runningForMs = Math.round(now - s.runningSince);
      out[name] = r;
    }
    return out;
  }

  /** /healthz and /readyz: 200 when every loop is live (ready), else 503; the body says which. */
  routes(): Record<'/healthz' | '/readyz', () => Answer> {
    const answer = (key: 'live' | 'ready'): Answer => {
      const loops = this.report();
      const ok = Object.values(loops).every((l) => l[key]);
      return { status: ok ? 200 : 503, body: { [key]: ok, loops } };
    };
    return { '/healthz': () => answer('live'), '/readyz': () => answer('ready') };
  }
}

/** What a stream's reader may leave unread before it is disconnected. */
export const STREAM_BACKLOG_BYTES = 1 << 20;

export interface ServeOptions {
  /**
   * Whether a request's Host header (as sent, with its port) may be answered; others get 403. A
   * server people open in a browser needs it: a web page can point a name of its own at
   * 127.0.0.1 (DNS rebinding) and would read the answers as its own.
   */
  readonly hostAllowed?: (host: string) => boolean;
}

/**
 * Serve `routes` (GET and HEAD only) on host:port. Resolves once listening; rejects when the
 * address cannot be had (a port in use, an address not on the node). A route that throws answers
 * 500 with the error's message.
 */
export function serveRoutes(routes: Routes, port: number, host: string, opts: ServeOptions = {}): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
    const answer = async (): Promise<Answer> => {
      if (opts.hostAllowed && !opts.hostAllowed(req.headers.host ?? '')) return { status: 403, body: { error: 'not served under this Host name: use an address or localhost' } };
      if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, body: { error: 'only GET and HEAD' } };
      if (route === undefined) return { status: 404, body: { error: 'not found', paths: Object.keys(routes) } };
      try {
        return await route(url.searchParams);
      } catch (e) {
        return { status: 500, body: { error: e instanceof Error ? e.message : String(e) } };
      }
    };
    void answer().then((a) => {
      if ('stream' in a) {
        res.writeHead(a.status, { 'content-type': a.contentType, 'cache-control': 'no-store' });
        if (req.method === 'HEAD') return void res.end();
        // A follower stays as long as it likes: no request or idle timeout for it.
        req.socket.setTimeout(0);
        const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
        // A follower that stops reading is let go once this much waits for it, so no reader can
        // make the server hold its events (or a page's views) without bound.
        a.stream((chunk) => {
          if (res.writableLength > STREAM_BACKLOG_BYTES) res.destroy();
          else res.write(chunk);
        }, closed);
        return;
      }
      const [text, type] = 'text' in a ? [a.text, a.contentType] : [`${JSON.stringify(a.body)}\n`, 'application/json'];
      res.writeHead(a.status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
  });
  // A slow or idle client must not keep a socket: probes and scrapes finish in milliseconds.
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Stop serving, and end open streams (a follower would otherwise hold the server open). */
export function stopServing(server: Server): void {
  server.close();
  server.closeAllConnections();
}
