// Every node's agent, asked by `gingham ui`: GET /state once a second (2 s timeout) for its plan
// and isolation, and GET /events?follow=1 kept open (reconnected with backoff) for its verdicts,
// asking on each reconnect only for what it has not had (since=).
// Each node has its own loops, so one slow or dead agent delays nobody else; each answer is
// bounded in size and checked for shape (agent-data.ts) before it is used.
import { setTimeout as wait } from 'node:timers/promises';
import { errorText } from '../agent/log.js';
import type { NodeInfo } from '../agent/network/nodes.js';
import { agentStateProblem, isVerdictEvent } from './agent-data.js';
import type { AgentState, VerdictEvent } from './model.js';
import type { AgentStatus } from './view.js';

/** A /state answer larger than this is refused (a node's plan is a few kilobytes per peer and pod). */
const MAX_STATE_BYTES = 8 * 1024 * 1024;
/** An /events line larger than this is dropped (an event is well under 1 KiB). */
const MAX_EVENT_LINE = 64 * 1024;
/** New verdicts taken from one node per second; more are dropped (the agent bounds its own rate too). */
const MAX_EVENTS_PER_SEC = 100;
/** On its first connection the ui asks a node for the events of this long ago and since. */
const HISTORY_MS = 10 * 60_000;
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export interface AgentFleetOptions {
  readonly agentPort: number;
  /** A node's state changed (or its agent came or went). */
  readonly onChange: () => void;
  readonly onVerdict: (node: string, event: VerdictEvent) => void;
  readonly pollMs?: number;
  readonly timeoutMs?: number;
  /** Where a node's agent answers; default http://FIRST-INTERNAL-IP:agentPort (tests point it elsewhere). */
  readonly baseUrl?: (node: NodeInfo) => string | undefined;
}

/** http://IP:PORT with an IPv6 address in brackets; undefined for a node without an InternalIP. */
export function agentUrl(node: NodeInfo, port: number): string | undefined {
  const ip = node.internalIPs[0];
  if (ip === undefined) return undefined;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/** The body as text, refused past `max` bytes. */
async function boundedText(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) throw new Error(`answer of ${declared} bytes, more than ${max}`);
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel();
      throw new Error(`answer of more than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Waits `ms`, or less when `signal` aborts (stop()): never rejects. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> => wait(ms, undefined, { signal }).catch(() => undefined);

/** One node's agent: its poll loop and its event follower, both ended by stop(). */
class NodeAgent {
  status: AgentStatus = { ok: false, error: 'not asked yet' };
  private readonly abort = new AbortController();
  /** The last state taken, as compared (without its check time): the same again only refreshes `at`. */
  private lastKey = '';
  /** The newest event time taken, and the lines of that time (since= asks from it, inclusive). */
  private newest = '';
  private atNewest = new Set<string>();
  private window = { start: 0, count: 0 };

  constructor(
    readonly name: string,
    readonly base: string,
    private readonly opts: Required<Pick<AgentFleetOptions, 'pollMs' | 'timeoutMs'>> & AgentFleetOptions,
  ) {
    void this.poll();
    void this.follow();
  }

  stop(): void {
    this.abort.abort();
  }

  private set(status: AgentStatus, changed: boolean): void {
    this.status = status;
    if (changed && !this.abort.signal.aborted) this.opts.onChange();
  }

  private async poll(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const started = Date.now();
      await this.pollOnce();
      await sleep(Math.max(0, this.opts.pollMs - (Date.now() - started)), signal);
    }
  }

  private async pollOnce(): Promise<void> {
    try {
      const res = await fetch(`${this.base}/state`, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.timeoutMs)]) });
      const text = await boundedText(res, MAX_STATE_BYTES);
      if (res.status !== 200) throw new Error(`/state answered ${res.status}${res.status === 404 ? ' (an agent without /state: older than this gingham?)' : ''}`);
      const at = new Date().toISOString();
      const state: unknown = JSON.parse(text);
      const problem = agentStateProblem(state);
      if (problem) throw new Error(`/state: ${problem}`);
      const s = state as AgentState;
      if (s.node !== this.name) throw new Error(`/state is node ${JSON.stringify(s.node.slice(0, 64))}'s, not ${this.name}'s`);
      const key = stateKey(s);
      const changed = !this.status.ok || key !== this.lastKey;
      this.lastKey = key;
      this.set({ ok: true, state: s, at }, changed);
    } catch (e) {
      if (this.abort.signal.aborted) return;
      const error = e instanceof Error && e.name === 'TimeoutError' ? `no answer from ${this.base} in ${this.opts.timeoutMs} ms` : `${this.base}: ${errorText(e)}${causeText(e)}`;
      this.lastKey = '';
      const same = !this.status.ok && this.status.error === error;
      this.set({ ok: false, error }, !same);
    }
  }

  /** Follows /events until stopped: reconnects after an end or a failure, backing off while it fails. */
  private async follow(): Promise<void> {
    const signal = this.abort.signal;
    let backoff = MIN_BACKOFF_MS;
    while (!signal.aborted) {
      if (await this.followOnce()) backoff = MIN_BACKOFF_MS;
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** One /events?follow=1 answer, read to its end; true when the agent did answer 200. */
  private async followOnce(): Promise<boolean> {
    const headers = new AbortController();
    const timer = setTimeout(() => headers.abort(), this.opts.timeoutMs);
    try {
      const since = this.newest || new Date(Date.now() - HISTORY_MS).toISOString();
      const connectedAt = new Date().toISOString();
      const res = await fetch(`${this.base}/events?${new URLSearchParams({ follow: '1', since })}`, { signal: AbortSignal.any([this.abort.signal, headers.signal]) });
      clearTimeout(timer);
      if (res.status !== 200 || !res.body) {
        void res.body?.cancel();
        return false;
      }
      const decoder = new TextDecoder();
      let pending = '';
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        pending += decoder.decode(value, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        // A line that never ends is dropped, not kept growing.
        if (pending.length > MAX_EVENT_LINE) pending = '';
        for (const l of lines) this.line(l, connectedAt);
      }
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One line of /events. What the agent sends again from its kept events (older than this
   * connection: at most its keep, 1000) is not rate-limited, only what is new; an event older than
   * the newest taken, or one of the same time already taken, is not taken twice.
   */
  private line(l: string, connectedAt: string): void {
    if (l.trim() === '' || l.length > MAX_EVENT_LINE) return;
    let e: unknown;
    try {
      e = JSON.parse(l);
    } catch {
      return;
    }
    if (!isVerdictEvent(e) || e.time < this.newest || (e.time === this.newest && this.atNewest.has(l))) return;
    if (e.time >= connectedAt) {
      const now = Date.now();
      if (now - this.window.start >= 1000) this.window = { start: now, count: 0 };
      if (++this.window.count > MAX_EVENTS_PER_SEC) return;
    }
    if (e.time > this.newest) {
      this.newest = e.time;
      this.atNewest = new Set();
    }
    this.atNewest.add(l);
    this.opts.onVerdict(this.name, e);
  }
}

/** A state as compared between polls: without the time of its kernel check, which moves every few seconds. */
export const stateKey = (s: AgentState): string => JSON.stringify({ ...s, kernel: { ...s.kernel, checkedAt: '' } });

/** fetch's "fetch failed" hides why (ECONNREFUSED, EHOSTUNREACH): its cause says. */
function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (!cause) return '';
  return ` (${String(cause.code ?? cause.message ?? '')})`;
}

/** The agents of the nodes there are: update() starts loops for new nodes and ends those of nodes gone. */
export class AgentFleet {
  private readonly agents = new Map<string, NodeAgent>();
  /** Nodes without an address to ask. */
  private readonly unaskable = new Map<string, AgentStatus>();
  private readonly opts: Required<Pick<AgentFleetOptions, 'pollMs' | 'timeoutMs'>> & AgentFleetOptions;

  constructor(opts: AgentFleetOptions) {
    this.opts = { pollMs: 1000, timeoutMs: 2000, ...opts };
  }

  update(nodes: readonly NodeInfo[]): void {
    const wanted = new Map<string, string>();
    this.unaskable.clear();
    for (const n of nodes) {
      const base = this.opts.baseUrl ? this.opts.baseUrl(n) : agentUrl(n, this.opts.agentPort);
      if (base === undefined) this.unaskable.set(n.name, { ok: false, error: n.invalid ?? 'the node has no InternalIP' });
      else wanted.set(n.name, base);
    }
    for (const [name, agent] of this.agents) {
      if (wanted.get(name) === agent.base) continue;
      agent.stop();
      this.agents.delete(name);
    }
    for (const [name, base] of wanted) if (!this.agents.has(name)) this.agents.set(name, new NodeAgent(name, base, this.opts));
  }

  statuses(): ReadonlyMap<string, AgentStatus> {
    return new Map([...this.unaskable, ...[...this.agents].map(([name, a]) => [name, a.status] as const)]);
  }

  stop(): void {
    for (const a of this.agents.values()) a.stop();
    this.agents.clear();
  }
}
