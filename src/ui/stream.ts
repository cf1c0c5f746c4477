// The view as it changes, for /api/view and /api/stream: rebuilt when a source says something
// changed, at most every 250 ms, and sent to the stream's clients only when what it shows changed
// (viewKey); verdicts go out as they come, and the last 200 are kept for clients that connect.
// Clients are capped; each costs a socket and one write per message.
import type { Answer } from '../agent/health.js';
import type { ClusterView, VerdictEvent, VerdictMessage } from './model.js';
import { viewKey } from './view.js';

export interface HubOptions {
  readonly intervalMs?: number;
  readonly keep?: number;
  readonly maxClients?: number;
  /** A comment line this often keeps proxies (kubectl port-forward, load balancers) from closing an idle stream. */
  readonly heartbeatMs?: number;
}

const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export class ViewHub {
  private last: { view: ClusterView; key: string } | undefined;
  private lastCheck = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly verdicts: VerdictMessage[] = [];
  private readonly clients = new Set<(chunk: string) => void>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly opts: Required<HubOptions>;

  constructor(
    private readonly build: () => ClusterView,
    opts: HubOptions = {},
  ) {
    this.opts = { intervalMs: 250, keep: 200, maxClients: 32, heartbeatMs: 15_000, ...opts };
    this.heartbeat = setInterval(() => this.send(': keep-alive\n\n'), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Something the view is made of changed: look again, at most once per interval. */
  changed(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastCheck + this.opts.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.check();
    }, wait);
  }

  private check(): ClusterView {
    this.lastCheck = Date.now();
    const view = this.build();
    const key = viewKey(view);
    if (key !== this.last?.key) {
      this.last = { view, key };
      this.send(sse('view', view));
    }
    return view;
  }

  /** The view now (for /api/view: built fresh, so it says when each agent last answered). */
  view(): ClusterView {
    return this.check();
  }

  verdict(node: string, event: VerdictEvent): void {
    const v = { node, event };
    this.verdicts.push(v);
    if (this.verdicts.length > this.opts.keep) this.verdicts.shift();
    this.send(sse('verdict', v));
  }

  private send(chunk: string): void {
    for (const c of this.clients) c(chunk);
  }

  /** /api/stream: the view and the kept verdicts at once, then every change until the client leaves. */
  streamAnswer(): Answer {
    if (this.clients.size >= this.opts.maxClients) return { status: 503, body: { error: `already ${this.opts.maxClients} viewers of /api/stream` } };
    return {
      status: 200,
      contentType: 'text/event-stream; charset=utf-8',
      stream: (write, closed) => {
        const view = this.last?.view ?? this.check();
        write(`retry: 2000\n\n${sse('view', view)}${this.verdicts.map((v) => sse('verdict', v)).join('')}`);
        this.clients.add(write);
        void closed.then(() => this.clients.delete(write));
      },
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    this.clients.clear();
  }
}
