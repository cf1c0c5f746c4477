// The cap on one CNI call. A call must end, with one result or error JSON, in bounded time whatever
// the config says: a lock held elsewhere, a hung `ip` or delegated plugin. When the cap elapses the
// call gives up with code 11 (the runtime retries) after undoing what it reserved; links it made
// meanwhile are the runtime's DEL's or GC's to remove, as after a crash. The timer runs on the event
// loop, so it cuts off waits (locks, child processes), not a synchronous loop or a blocking read:
// those are prevented where they could arise (cni/paths.ts, log.ts).
import { CniError, Code } from './errors.js';

/** Seconds. Well under kubelet's 2 min runtime request timeout, far over a slow ADD (~1 s). */
export const DEFAULT_TIMEOUT = 30;

const undos = new Set<() => void>();

/** Run undo if the call times out; the returned function forgets it. */
export function onTimeout(undo: () => void): () => void {
  undos.add(undo);
  return () => undos.delete(undo);
}

/** The cap from cniTimeout in the config, else GINGHAM_CNI_TIMEOUT, else the default. */
export function timeoutSeconds(configured: number | undefined, environ: Record<string, string | undefined>): number {
  if (configured !== undefined) return configured;
  const env = environ['GINGHAM_CNI_TIMEOUT'];
  if (env === undefined || env === '') return DEFAULT_TIMEOUT;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 3600) throw new CniError(Code.InvalidEnvironment, `GINGHAM_CNI_TIMEOUT "${env}" must be a whole number of seconds from 1 to 3600`);
  return n;
}

/** work, or a code 11 error once `seconds` have passed (after the undos registered meanwhile ran). */
export async function withDeadline<T>(seconds: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const undo of undos) {
        try {
          undo();
        } catch {
          // best effort: GC removes what is left
        }
      }
      undos.clear();
      reject(new CniError(Code.TryAgainLater, `the call did not finish within ${seconds} s (cniTimeout)`));
    }, seconds * 1000);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    undos.clear();
  }
}
