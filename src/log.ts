// One line per event, appended to a file: never stdout, which belongs to the CNI result. The path
// comes from the network config ("logFile"), else GINGHAM_LOG, else the default; "" turns it off.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEFAULT_LOG = '/var/log/gingham.log';

let target: string | undefined = process.env['GINGHAM_LOG'] ?? DEFAULT_LOG;

export function setLogFile(path: string | undefined): void {
  if (path !== undefined) target = path;
}

export function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  if (!target) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, msg, ...fields });
  try {
    appendFileSync(target, `${line}\n`);
  } catch {
    try {
      mkdirSync(dirname(target), { recursive: true });
      appendFileSync(target, `${line}\n`);
    } catch {
      // Logging must never fail a CNI call.
    }
  }
}

/** Phase timings of this call (ms since start), written with its log line. */
const phases: Record<string, number> = {};
export function mark(phase: string): void {
  phases[phase] = Math.round(performance.now() * 10) / 10;
}
export const phaseTimes = (): Record<string, number> => ({ ...phases });
