// The cap on one CNI call. A call must end, with one result or error JSON, in bounded time whatever
// the config says: a lock held elsewhere, a hung `ip` or delegated plugin. When the cap elapses the
// call gives up with code 11 (the runtime retries) after undoing what it reserved; links it made
// meanwhile are the runtime's DEL's or GC's to remove, as after a crash. The timer runs on the event
// loop, so it cuts off waits (locks), not a synchronous loop or a blocking read: those are prevented
// where they could arise (cni/paths.ts, log.ts). The plugin runs its commands blocking
// (kernel/exec.ts), so each is given the time left (msLeft) and a command cut off ends the call
// through expire(), as the timer would.
import { CniError, Code } from './errors.js';

/** Seconds. Well under kubelet's 2 min runtime request timeout, far over a slow ADD (~1 s). */
export const DEFAULT_TIMEOUT = 30;

const undos = new Set<() => void>();
/** When the call in progress must end (ms since the epoch); Infinity outside withDeadline. */
let deadline = Number.POSITIVE_INFINITY;
let capSeconds = 0;

/** Milliseconds until the call's cap (Infinity when no call is capped). */
export const msLeft = (): number => deadline - Date.now();

/** The cap has passed: run the undos registered so far (once) and give the call's error. */
export function expire(): CniError {
  for (const undo of undos) {
    try {
      undo();
    } catch {
      // best effort: GC removes what is left
    }
  }
  undos.clear();
  return new CniError(Code.TryAgainLater, `the call did not finish within ${capSeconds} s (cniTimeout)`);
}

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

/** work(), or a code 11 error once `seconds` have passed (after the undos registered meanwhile ran). */
export async function withDeadline<T>(seconds: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  capSeconds = seconds;
  deadline = Date.now() + seconds * 1000;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expire()), seconds * 1000);
  });
  try {
    return await Promise.race([work(), expired]);
  } finally {
    clearTimeout(timer);
    undos.clear();
    deadline = Number.POSITIVE_INFINITY;
  }
}
