// Verdict events (README: Verdict events): packets the policy chains log to NFLOG, read by a ulogd
// child, bounded, named (pod, direction, policy) and sent out three ways: a JSON line on the
// agent's stdout, a callback (the metrics' denied-packets counter) and the /events route
// (`gingham policy drops`). The one entry the agent wires: startVerdictEvents.
import type { Routes } from '../health.js';
import type { Logger } from '../log.js';
import type { CompiledView } from '../policy/reconcile.js';
import { NFLOG_GROUP } from '../policy/ruleset.js';
import { Enricher, type VerdictEvent } from './enrich.js';
import { VerdictFeed } from './feed.js';
import { parseUlogdLine } from './packet.js';
import { UlogdReader } from './ulogd.js';

export type { VerdictEvent } from './enrich.js';

export interface VerdictEventsOptions {
  /** Whether the policy chains log at all (networkPolicy, and policyLogDrops or policyLogAccepts). */
  readonly enabled: boolean;
  /** The policy reconciler's last compiled view (PolicyReconciler.latest). */
  readonly view: () => CompiledView | undefined;
  /** A writable directory for ulogd's config and the socket it sends to (the DaemonSet: /run/gingham/agent). */
  readonly dir: string;
  readonly log: Logger;
  /** Called with each event (after the bound). */
  readonly onEvent?: (e: VerdictEvent) => void;
  /** Tests: run ulogd inside a network namespace (['ip', 'netns', 'exec', NS]), another binary. */
  readonly wrap?: readonly string[];
  readonly ulogd?: string;
}

/**
 * All pods together: at most 200 events a second (bursts of 400) get past ulogd's pipe into the
 * agent; each costs a parse, a lookup and a log line, so a flood costs a fraction of one core at
 * most. The kernel's limit (10 a second per pod chain) keeps most floods far below it.
 */
const RATE = 200;
const BURST = 400;
/** Kept for /events: a few minutes of a student's trials; about 300 bytes each. */
const KEEP = 1000;
const MAX_FOLLOWERS = 16;
/** How often dropped events are told, when there were any. */
const DROPPED_REPORT_MS = 10_000;

export interface VerdictEvents {
  /** /events, for the health server's routes. */
  readonly routes: Routes;
  /** Events taken and dropped by the agent's bound, unreadable lines, ulogd restarts. */
  stats(): { events: number; dropped: number; unreadable: number; restarts: number };
  stop(): Promise<void>;
}

export const EVENTS_OFF = 'verdict events are off on this node: set "policyLogDrops": true (and "policyLogAccepts": true for accepted connections) in the agent config (ConfigMap gingham)';

export function startVerdictEvents(o: VerdictEventsOptions): VerdictEvents {
  const feed = new VerdictFeed({ ratePerSec: RATE, burst: BURST, keep: KEEP, maxFollowers: MAX_FOLLOWERS });
  if (!o.enabled) {
    return { routes: { '/events': (q) => feed.answer(q, EVENTS_OFF) }, stats: () => ({ events: 0, dropped: 0, unreadable: 0, restarts: 0 }), stop: async () => undefined };
  }
  const enricher = new Enricher(o.view);
  let unreadable = 0;
  const onLine = (line: string): void => {
    if (!feed.admit()) return;
    const packet = parseUlogdLine(line);
    const event = packet && enricher.event(packet);
    if (!event) {
      if (unreadable++ === 0) o.log('warn', 'ulogd wrote a line that is no verdict event of ours (told once)', { line: line.slice(0, 500) });
      return;
    }
    feed.publish(event);
    o.log('info', 'policy verdict', { ...event });
    o.onEvent?.(event);
  };
  const reader = new UlogdReader({ dir: o.dir, group: NFLOG_GROUP, onLine, log: o.log, ...(o.wrap ? { wrap: o.wrap } : {}), ...(o.ulogd ? { binary: o.ulogd } : {}) });
  void reader.start();
  let toldDropped = 0;
  const report = setInterval(() => {
    if (feed.dropped === toldDropped) return;
    o.log('warn', 'verdict events dropped: more than the agent takes a second', { dropped: feed.dropped - toldDropped, perSecond: RATE });
    toldDropped = feed.dropped;
  }, DROPPED_REPORT_MS);
  report.unref();
  return {
    routes: { '/events': (q) => feed.answer(q, reader.problem === undefined ? undefined : `no verdict events now: ${reader.problem} (the agent retries)`) },
    stats: () => ({ events: feed.taken, dropped: feed.dropped, unreadable, restarts: reader.restarts }),
    stop: async () => {
      clearInterval(report);
      await reader.stop();
    },
  };
}
