// One line per event, appended to a file: never stdout, which belongs to the CNI result. The path
// comes from the network config ("logFile"), else GINGHAM_LOG, else the default; "" turns it off.
// Bounded: once the file reaches logMaxBytes it becomes <file>.1 (.1 becomes .2, … up to logKeep
// files), so a busy node keeps at most (logKeep + 1) × logMaxBytes. Cheap on the pod start path:
// open, fstat, write, close. Never blocks and never fails a call: the file is opened non-blocking
// and written only when it is a regular file (a FIFO or a device there is skipped). Many plugin
// processes log at once: a line is one O_APPEND write, so lines never interleave; two processes
// rotating at the same moment may lose a rotated file's lines, which is the price of taking no lock.
import { closeSync, constants, fstatSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirs } from './cni/paths.js';

export const DEFAULT_LOG = '/var/log/gingham.log';
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_KEEP = 3;

let target: string | undefined = process.env['GINGHAM_LOG'] ?? DEFAULT_LOG;
let maxBytes = DEFAULT_LOG_MAX_BYTES;
let keep = DEFAULT_LOG_KEEP;

export function setLogFile(path: string | undefined): void {
  if (path !== undefined) target = path;
}

/** The rotation limits of the network config; the caller has checked their range. */
export function setLogLimits(limits: { maxBytes?: number | undefined; keep?: number | undefined }): void {
  maxBytes = limits.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  keep = limits.keep ?? DEFAULT_LOG_KEEP;
}

const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY;

function open(path: string): number | undefined {
  try {
    return openSync(path, FLAGS, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  try {
    makeDirs(dirname(path));
    return openSync(path, FLAGS, 0o644);
  } catch {
    return undefined;
  }
}

/**
 * Move the full file aside. Only a process that still finds the file it wrote to under the name
 * rotates, so processes that saw the same full file do not each shift the older ones once more.
 */
function rotate(path: string, ino: number): void {
  if (statSync(path).ino !== ino) return;
  if (keep === 0) {
    unlinkSync(path);
    return;
  }
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    } catch {
      // not there yet
    }
  }
  renameSync(path, `${path}.1`);
}

export function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  if (!target) return;
  const line = `${JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, msg, ...fields })}\n`;
  const fd = open(target);
  if (fd === undefined) return;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return;
    writeSync(fd, line);
    if (st.size + Buffer.byteLength(line) >= maxBytes) rotate(target, st.ino);
  } catch {
    // Logging must never fail a CNI call.
  } finally {
    closeSync(fd);
  }
}

/**
 * Milliseconds since the process started. Not performance.now(): its first use loads perf_hooks and
 * five more modules, a cost on every CNI call.
 */
export const sinceStartMs = (): number => process.uptime() * 1000;

/** Phase timings of this call (ms since start), written with its log line. */
const phases: Record<string, number> = {};
export function mark(phase: string): void {
  phases[phase] = Math.round(sinceStartMs() * 10) / 10;
}
export const phaseTimes = (): Record<string, number> => ({ ...phases });
