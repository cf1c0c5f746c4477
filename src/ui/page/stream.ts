// The stream's messages and its bookkeeping, pure: parsing `view` and `verdict` data, dropping verdicts seen before (the server replays its last 200
// at every connect), and deciding which verdicts get an arrow: not the replayed history.
import type { ClusterView, VerdictEvent, VerdictMessage } from '../model.js';

/** Verdicts arriving this soon after a (re)connect are the server's replay, unless they are recent. */
export const REPLAY_MS = 1000;
/** A verdict younger than this by its own time is drawn even during the replay. */
export const FRESH_MS = 10_000;
const MAX_SEEN = 2000;

const parse = (data: string): unknown => {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function viewFromMessage(data: string): ClusterView | undefined {
  const m = parse(data);
  if (!isObject(m)) return undefined;
  return Array.isArray(m.nodes) && Array.isArray(m.pods) && Array.isArray(m.links) ? (m as unknown as ClusterView) : undefined;
}

export function verdictFromMessage(data: string): VerdictMessage | undefined {
  const m = parse(data);
  if (!isObject(m) || !isObject(m.event) || !isObject(m.event.src) || !isObject(m.event.dst)) return undefined;
  return { node: typeof m.node === 'string' ? m.node : '', event: m.event as unknown as VerdictEvent };
}

export const verdictKey = (node: string, e: VerdictEvent): string =>
  [node, e.time, e.verdict, e.direction, e.protocol, e.src.ip, e.src.port ?? '', e.dst.ip, e.dst.port ?? ''].join('|');

export interface StreamState {
  readonly connected: boolean;
  open(now: number): void;
  close(): void;
  seen(node: string, e: VerdictEvent, now: number): { duplicate: boolean; draw: boolean };
}

export function streamState(): StreamState {
  let connected = false;
  let openedAt = 0;
  const seen = new Set<string>();
  return {
    get connected() {
      return connected;
    },
    open(now) {
      connected = true;
      openedAt = now;
    },
    close() {
      connected = false;
    },
    seen(node, e, now) {
      const key = verdictKey(node, e);
      if (seen.has(key)) return { duplicate: true, draw: false };
      seen.add(key);
      // A Set iterates in insertion order: the oldest keys go first.
      if (seen.size > MAX_SEEN) for (const k of [...seen].slice(0, seen.size - MAX_SEEN)) seen.delete(k);
      const age = now - Date.parse(e.time);
      return { duplicate: false, draw: now - openedAt > REPLAY_MS || !(age > FRESH_MS) };
    },
  };
}
