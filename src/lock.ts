// A cross-process lock on a directory, with proper-lockfile. A lock left by a killed process goes
// stale and is taken over after 2 s (proper-lockfile's minimum; a call holds it for milliseconds).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from './cni/errors.js';
import { makeDirs } from './cni/paths.js';

type Callback = (err: NodeJS.ErrnoException | null, value?: unknown) => void;

/** proper-lockfile's few fs calls (mkdir, stat, utimes, rmdir), served by the sync API: a lock is
 *  one syscall, and the async API would first start libuv's thread pool (~2 ms per CNI call). */
function viaSync<A extends unknown[]>(f: (...args: A) => unknown): (...args: [...A, Callback]) => void {
  return (...args) => {
    const cb = args.pop() as Callback;
    let value: unknown;
    try {
      value = f(...(args as unknown as A));
    } catch (e) {
      process.nextTick(cb, e as NodeJS.ErrnoException);
      return;
    }
    process.nextTick(cb, null, value);
  };
}

const syncFs = {
  mkdir: viaSync(fs.mkdirSync),
  stat: viaSync(fs.statSync),
  utimes: viaSync(fs.utimesSync),
  rmdir: viaSync(fs.rmdirSync),
  realpath: viaSync(fs.realpathSync),
  // proper-lockfile's exit hook removes a held lock synchronously.
  rmdirSync: fs.rmdirSync,
};

export async function withLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  makeDirs(dir);
  const { default: lockfile } = await import('proper-lockfile');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      lockfilePath: join(dir, 'lock'),
      realpath: false,
      stale: 2000,
      update: 1000,
      retries: { retries: 2000, factor: 1.2, minTimeout: 2, maxTimeout: 25 },
      fs: syncFs,
    });
  } catch (e) {
    throw new CniError(Code.TryAgainLater, `${dir} is locked: ${(e as Error).message}`);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
