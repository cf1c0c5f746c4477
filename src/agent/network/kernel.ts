// The host side of host-gw: read the routes that carry our protocol number, apply a diff in one
// `ip -batch`. `-force` keeps going past a line the kernel refuses (typically "Nexthop has invalid
// gateway": that node is not on our link), so one bad node does not hold back the others; the
// failed lines come back to the caller to log, and the next resync tries them again.
import { run } from '../../kernel/exec.js';
import { ROUTE_PROTO, type Route, parseRoutes } from './routes.js';

/** The argv prefix for `ip`: the node's own namespace, or another one for tests (`ip -n NAME`). */
export type IpPrefix = readonly string[];

export class RouteReadError extends Error {
  override name = 'RouteReadError';
}

/** Our routes of both families in the main table (`ip -batch` cannot switch family, so two execs). */
export async function readRoutes(ip: IpPrefix = ['ip'], proto = ROUTE_PROTO): Promise<Route[]> {
  const read = async (family: '-4' | '-6'): Promise<Route[]> => {
    const r = await run([...ip, '-json', family, 'route', 'show', 'table', 'main', 'proto', String(proto)]);
    // A kernel booted without IPv6 answers `ip -6` with "Address family not supported": no routes.
    if (r.code !== 0 && family === '-6' && /not supported/i.test(r.stderr)) return [];
    if (r.code !== 0) throw new RouteReadError(`ip ${family} route show: ${r.stderr.trim() || `exit ${r.code}`}`);
    const text = r.stdout.trim();
    if (text === '') return [];
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RouteReadError(`ip ${family} route show: unreadable output`);
    }
    return Array.isArray(json) ? parseRoutes(json) : [];
  };
  const [v4, v6] = await Promise.all([read('-4'), read('-6')]);
  return [...v4, ...v6];
}

export interface ApplyOutcome {
  /** Lines the kernel refused, each with its error. */
  readonly failed: { line: string; error: string }[];
}

/** Apply batch lines in one exec; report the lines that failed instead of throwing for them. */
export async function applyRouteLines(lines: readonly string[], ip: IpPrefix = ['ip']): Promise<ApplyOutcome> {
  if (lines.length === 0) return { failed: [] };
  const r = await run([...ip, '-force', '-batch', '-'], `${lines.join('\n')}\n`);
  if (r.code === 0) return { failed: [] };
  return { failed: failedLines(lines, r.stderr) };
}

/**
 * iproute2 reports each failure as "Error: WHY" followed by "Command failed -:N" (N: 1-based line
 * of the batch). Output we cannot attribute is reported against the whole batch.
 */
export function failedLines(lines: readonly string[], stderr: string): { line: string; error: string }[] {
  const out: { line: string; error: string }[] = [];
  let why: string[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(l.trim());
    if (m) {
      out.push({ line: lines[Number(m[1]) - 1] ?? `line ${m[1]}`, error: why.join('; ') || 'failed' });
      why = [];
    } else if (l.trim() !== '') why.push(l.trim().replace(/^Error: /, ''));
  }
  if (why.length > 0) out.push({ line: '(batch)', error: why.join('; ') });
  return out;
}
