// CNI metrics from the plugin's log. The plugin is a process per call and keeps no state, so it
// exports nothing itself: every call already ends with one JSON line ("ADD ok" with `ms` and its
// phase timings, or "ADD failed: …" with the CNI error `code` and `ms`), and the IPAM's repairs and
// garbage collection add `repaired` / `released` to it. The agent tails that file (log-tail.ts) and
// counts; the CNI path pays nothing beyond the line it always wrote.
import { LogTail } from './log-tail.js';
import { metrics } from './registry.js';

const VERBS = new Set(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION']);
const CALL = /^(\S+) (ok|failed)\b/;

const count = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0);

/** Counts one line of the plugin's log. Labels stay bounded whatever the file holds. */
export function countCniLine(text: string): void {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    metrics.cniLogLines.inc({ kind: 'unreadable' });
    return;
  }
  const o = typeof line === 'object' && line !== null ? (line as Record<string, unknown>) : {};
  const call = typeof o['msg'] === 'string' ? CALL.exec(o['msg']) : null;
  if (!call) {
    metrics.cniLogLines.inc({ kind: typeof line === 'object' && line !== null ? 'other' : 'unreadable' });
    return;
  }
  metrics.cniLogLines.inc({ kind: 'call' });
  const verb = VERBS.has(call[1]!) ? call[1]! : 'other';
  const ok = call[2] === 'ok';
  const code = o['code'];
  // CNI codes are small integers (the spec's below 100, plugins' own from 100): anything else is "other".
  const codeLabel = ok ? '' : typeof code === 'number' && Number.isInteger(code) && code >= 0 && code < 1000 ? String(code) : 'other';
  metrics.cniCalls.inc({ verb, result: ok ? 'ok' : 'error', code: codeLabel });
  const ms = o['ms'];
  if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) metrics.cniDuration.observe({ verb }, ms / 1000);
  const repaired = count(o['repaired']);
  if (repaired > 0) metrics.ipamRepaired.inc(repaired);
  if (verb === 'GC' && ok) {
    metrics.ipamGcRuns.inc();
    const released = count(o['released']);
    if (released > 0) metrics.ipamGcReleased.inc(released);
  }
}

/** How often the log is read besides scrapes, so a rotation between two scrapes loses nothing. */
export const CNI_LOG_READ_MS = 10_000;

/**
 * Tails the plugin's log at `path`: read now and then every CNI_LOG_READ_MS, and by `read()` (on
 * each scrape). Returns read and stop.
 */
export function tailCniLog(path: string): { read: () => void; stop: () => void } {
  const tail = new LogTail(path, countCniLine);
  const read = (): void => {
    try {
      tail.read();
    } catch {
      // An unreadable log only stops the CNI counts moving; the next read tries again.
    }
  };
  read();
  const timer = setInterval(read, CNI_LOG_READ_MS);
  timer.unref();
  return { read, stop: () => clearInterval(timer) };
}
