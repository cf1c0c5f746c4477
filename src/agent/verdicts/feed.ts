// Where verdict events go once made: a bound on how many a second the agent takes at all (a token
// bucket: beyond it they are dropped and counted, so a flood on many pods at once costs the node
// little), the last ones in a ring, and the /events route that serves the ring and follows new
// events as newline-delimited JSON, filtered by namespace, pod and verdict.
import type { Answer } from '../health.js';
import type { VerdictEvent } from './enrich.js';

/** `rate` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

/** The last `size` items, oldest first. */
export class Ring<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(private readonly size: number) {}

  push(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.size;
    }
  }

  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

export type EventFilter = (e: VerdictEvent) => boolean;

const ends = (e: VerdictEvent): string[] => [e.src.pod, e.dst.pod].filter((p): p is string => p !== undefined);

/**
 * The filter a query asks for (a string: what is wrong with it). namespace=NS: an end of the
 * packet is a pod of NS; pod=NS/NAME: an end is that pod; verdict=denied|accepted; since=TIME
 * (ISO 8601): events of that time or later, so a follower that reconnects is not sent again what
 * it has.
 */
export function queryFilter(q: URLSearchParams): EventFilter | string {
  const ns = q.get('namespace');
  const pod = q.get('pod');
  const verdict = q.get('verdict');
  const sinceText = q.get('since');
  if (pod !== null && !/^[^/]+\/[^/]+$/.test(pod)) return `pod=${pod}: want NAMESPACE/NAME`;
  if (verdict !== null && verdict !== 'denied' && verdict !== 'accepted') return `verdict=${verdict}: want denied or accepted`;
  const sinceMs = sinceText === null ? undefined : Date.parse(sinceText);
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) return `since=${sinceText}: want an ISO 8601 time`;
  // Events carry toISOString() times, which compare as text.
  const since = sinceMs === undefined ? undefined : new Date(sinceMs).toISOString();
  return (e) =>
    (ns === null || ends(e).some((p) => p.startsWith(`${ns}/`))) &&
    (pod === null || ends(e).includes(pod)) &&
    (verdict === null || e.verdict === verdict) &&
    (since === undefined || e.time >= since);
}

export interface FeedOptions {
  /** Events the agent takes a second, all pods together, and the burst beyond that. */
  readonly ratePerSec: number;
  readonly burst: number;
  /** Events kept for /events. */
  readonly keep: number;
  /** Followers at once; more are turned away (each is a socket and a listener). */
  readonly maxFollowers: number;
  readonly now?: () => number;
}

export class VerdictFeed {
  private readonly bucket: TokenBucket;
  private readonly ring: Ring<VerdictEvent>;
  private readonly followers = new Set<(e: VerdictEvent) => void>();
  /** Taken by the bound and dropped, since the start. */
  dropped = 0;
  taken = 0;

  constructor(private readonly opts: FeedOptions) {
    this.bucket = new TokenBucket(opts.ratePerSec, opts.burst, opts.now);
    this.ring = new Ring(opts.keep);
  }

  /** Whether the bound lets one more in now (call before the work of making the event). */
  admit(): boolean {
    if (this.bucket.take()) return true;
    this.dropped++;
    return false;
  }

  publish(e: VerdictEvent): void {
    this.taken++;
    this.ring.push(e);
    for (const f of this.followers) f(e);
  }

  /**
   * The /events answer: the kept events that match, and with follow=1 a stream that goes on with
   * new ones until the client leaves. `unavailable`: why there are no events to serve (503).
   */
  answer(q: URLSearchParams, unavailable: string | undefined): Answer {
    if (unavailable !== undefined) return { status: 503, body: { error: unavailable } };
    const filter = queryFilter(q);
    if (typeof filter === 'string') return { status: 400, body: { error: filter } };
    const line = (e: VerdictEvent): string => `${JSON.stringify(e)}\n`;
    const kept = this.ring.toArray().filter(filter).map(line).join('');
    const contentType = 'application/x-ndjson';
    if (q.get('follow') !== '1') return { status: 200, text: kept, contentType };
    if (this.followers.size >= this.opts.maxFollowers) return { status: 503, body: { error: `already ${this.opts.maxFollowers} followers of /events` } };
    return {
      status: 200,
      contentType,
      stream: (write, closed) => {
        if (kept) write(kept);
        const follower = (e: VerdictEvent): void => {
          if (filter(e)) write(line(e));
        };
        this.followers.add(follower);
        void closed.then(() => this.followers.delete(follower));
      },
    };
  }
}
