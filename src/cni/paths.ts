// Files and directories named by the network config (ipam.dataDir, ipam.resolvConf, logFile):
// checked once at the edge, and touched only in ways that cannot hang the call. Node's recursive
// mkdir loops forever on procfs (mkdir says ENOENT, the parent says EEXIST), and opening or reading
// a FIFO blocks until a peer appears; a CNI call must end in bounded time whatever the config says.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname, normalize } from 'node:path';
import { invalidConfig } from './errors.js';

/** Kernel pseudo file systems: nothing of ours is ever stored there. */
const PSEUDO = ['/proc', '/sys', '/dev'];

/** An absolute path outside the pseudo file systems, normalized; or a code 7 naming the key. */
export function configPath(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') throw invalidConfig(`${key} must be a non-empty absolute path`);
  if (!value.startsWith('/')) throw invalidConfig(`${key} "${value}" must be an absolute path (a relative one would depend on the runtime's working directory)`);
  if (value.includes('\0')) throw invalidConfig(`${key} contains a NUL byte`);
  const path = normalize(value);
  if (PSEUDO.some((p) => path === p || path.startsWith(`${p}/`))) throw invalidConfig(`${key} "${value}" is on a kernel pseudo file system (${PSEUDO.join(', ')})`);
  return path;
}

const isCode = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException).code === code;

/**
 * mkdir -p that cannot loop: one mkdir when the directory exists (the hot path), else each missing
 * parent once, top down; any other answer from the file system is an error.
 */
export function makeDirs(dir: string): void {
  try {
    mkdirSync(dir, 0o755);
  } catch (e) {
    if (isCode(e, 'EEXIST')) return;
    const parent = dirname(dir);
    if (!isCode(e, 'ENOENT') || parent === dir) throw e;
    makeDirs(parent);
    try {
      mkdirSync(dir, 0o755);
    } catch (again) {
      if (!isCode(again, 'EEXIST')) throw again;
    }
  }
}

/** Larger is not a config file; reading stops there. */
const MAX_READ = 1 << 20;

/**
 * Read a regular file without ever blocking: a FIFO, device or directory is an error. Read to the
 * end whatever its size says (files under /proc say 0), up to MAX_READ.
 */
export function readRegularFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
    const buf = Buffer.allocUnsafe(MAX_READ);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
