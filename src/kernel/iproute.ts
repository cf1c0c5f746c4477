// iproute2 in batches: one exec of `ip -batch -` per namespace and step.
import { readFileSync, readdirSync } from 'node:fs';
import { CniError, Code } from '../cni/errors.js';
import { ExecError, run, runOk } from './exec.js';
import { type BatchLine, batchLine, batchText } from './ip-batch.js';

/** One batch of `ip` (or `bridge`: prefix ['bridge']) lines; a failure is a CniError naming the tool. */
export async function ipBatch(prefix: readonly string[], lines: readonly BatchLine[]): Promise<void> {
  if (lines.length === 0) return;
  try {
    await runOk([...prefix, '-batch', '-'], batchText(lines));
  } catch (e) {
    const tool = prefix.includes('bridge') ? 'bridge' : 'ip';
    if (e instanceof ExecError) throw new CniError(Code.KernelFailure, `${tool}: ${e.result.stderr.trim() || `exit ${e.result.code}`}`, lines.join('\n'));
    throw e;
  }
}

/**
 * Delete links, each at most once, tolerating those already gone: a pod's netns dying in the
 * kernel takes its veth pair with it at any moment, also between our look and our delete.
 */
export async function deleteLinks(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  // `dev NAME`: a bare name that happens to prefix a keyword ("he" for "help") would be read as it.
  const lines = names.map((n) => batchLine('link', 'del', 'dev', n));
  const r = await run(['ip', '-force', '-batch', '-'], batchText(lines));
  if (r.code === 0) return;
  const real = deleteErrors(r.stderr);
  if (real.length > 0) throw new CniError(Code.KernelFailure, `ip: ${real.join('; ')}`, lines.join('\n'));
}

/**
 * The lines of a `link del` batch's stderr that are real errors. "Cannot find device": the link
 * was gone before ip looked it up; "No such device": it went between that lookup and the delete
 * (two DELs of one pod at once, or the pod's netns dying meanwhile).
 */
export const deleteErrors = (stderr: string): string[] =>
  stderr.split('\n').filter((l) => l.trim() !== '' && !/Cannot find device|No such device|Command failed -:\d+/.test(l));

/** Several `ip -json` queries in one exec; one parsed array per query (empty when it failed). */
export async function ipJson(prefix: readonly string[], queries: readonly BatchLine[]): Promise<unknown[][]> {
  const r = await run([...prefix, '-json', '-force', '-batch', '-'], batchText(queries));
  const out: unknown[][] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('[')) continue;
    try {
      out.push(JSON.parse(line) as unknown[]);
    } catch {
      out.push([]);
    }
  }
  return out;
}

function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function listSys(path: string): string[] | undefined {
  try {
    return readdirSync(path);
  } catch {
    return undefined;
  }
}

/** Link facts straight from sysfs: no exec for the common questions. */
export const sysfs = {
  exists: (link: string): boolean => readSys(`/sys/class/net/${link}/ifindex`) !== undefined,
  ifindex(link: string): number | undefined {
    const v = readSys(`/sys/class/net/${link}/ifindex`);
    return v === undefined ? undefined : Number(v);
  },
  mac: (link: string): string | undefined => readSys(`/sys/class/net/${link}/address`)?.trim(),
  bridgePorts: (bridge: string): string[] => listSys(`/sys/class/net/${bridge}/brif`) ?? [],
  isBridge: (link: string): boolean => listSys(`/sys/class/net/${link}/bridge`) !== undefined,
};
