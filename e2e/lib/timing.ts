// Phase timings: each is printed when it ends and appended to one file, which the global
// teardown prints as a table at the end of the run.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { REPO } from './env.js';

export const TIMINGS_FILE = `${REPO}/.e2e/timings.jsonl`;

export function log(msg: string): void {
  process.stdout.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function record(name: string, seconds: number, extra?: string): void {
  log(`${name}: ${seconds.toFixed(1)} s${extra ? ` (${extra})` : ''}`);
  try {
    mkdirSync(dirname(TIMINGS_FILE), { recursive: true });
    appendFileSync(TIMINGS_FILE, `${JSON.stringify({ name, seconds, extra })}\n`);
  } catch {
    // Timings are a report, never a reason to fail.
  }
}

/** Runs fn, records how long it took (also when it throws). */
export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  let ok = false;
  try {
    const v = await fn();
    ok = true;
    return v;
  } finally {
    record(ok ? name : `${name} (failed)`, (performance.now() - t0) / 1000);
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls check() until it returns a value other than undefined; throws after timeoutMs with the
 * last reason check() gave (via the `why` callback), so a failure says what was still missing.
 */
export async function waitFor<T>(what: string, timeoutMs: number, check: (why: (reason: string) => void) => Promise<T | undefined>, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let reason = 'not checked yet';
  const why = (r: string): void => {
    reason = r;
  };
  for (;;) {
    try {
      const v = await check(why);
      if (v !== undefined) return v;
    } catch (e) {
      reason = `error: ${(e as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${reason}`);
    await sleep(intervalMs);
  }
}
