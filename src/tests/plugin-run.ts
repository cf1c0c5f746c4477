// The real binary run as a runtime runs it, for the fuzz and the soak: inside a node namespace,
// with an exact environment, a hard time bound, and a kill -9 at a moment the caller picks. The
// call runs in its own process group, so that after gingham is killed its orphaned children (an
// `ip -batch` still running, say) are waited for before anyone looks at the kernel.
import { execa } from 'execa';
import type { Cluster } from './cluster.js';
import { GINGHAM } from './cluster.js';

export interface PluginCall {
  stdin: string;
  /** The whole environment of the call (no NUL: execve cannot carry it). */
  env: Record<string, string>;
  cwd?: string;
  /** In a fresh PID namespace too, so that /proc/1 is the plugin itself and never the VM's init. */
  pidns?: boolean;
  /** Kill -9 and report a time-out after this long. */
  timeoutMs?: number;
}

export interface PluginRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** kill() was called (the call may have ended just before). */
  killed: boolean;
  /** The signal that ended it, if one did. */
  signal?: string;
  ms: number;
}

export interface Running {
  done: Promise<PluginRun>;
  /** kill -9 the plugin alone (its children live on, as they would under a runtime). */
  kill(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start one plugin call in the node namespace `node` of cluster c. */
export function startPlugin(c: Cluster, node: string, call: PluginCall): Running {
  const started = performance.now();
  const wrap = call.pidns ? ['unshare', '--pid', '--mount-proc', '--kill-child', GINGHAM] : [GINGHAM];
  const p = execa('ip', ['netns', 'exec', c.ns(node), ...wrap], {
    input: call.stdin,
    env: call.env,
    extendEnv: false,
    reject: false,
    detached: true,
    stripFinalNewline: false,
    ...(call.cwd ? { cwd: call.cwd } : {}),
  });
  let killed = false;
  let timedOut = false;
  const pgid = p.pid;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pgid) groupKill(pgid);
  }, call.timeoutMs ?? 10_000);
  const done = (async (): Promise<PluginRun> => {
    const r = await p;
    clearTimeout(timer);
    // Orphans of a killed call finish (or are killed) before the caller inspects anything.
    if (pgid) {
      const until = performance.now() + 10_000;
      while (groupAlive(pgid) && performance.now() < until) await sleep(5);
      if (groupAlive(pgid)) groupKill(pgid);
    }
    return {
      exitCode: r.exitCode ?? (r.signal ? 128 : 1),
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      timedOut,
      killed,
      ...(r.signal ? { signal: r.signal } : {}),
      ms: performance.now() - started,
    };
  })();
  return {
    done,
    kill: () => {
      if (!pgid || killed) return;
      killed = true;
      try {
        // `ip netns exec` execs gingham in place: this pid is gingham (or unshare, which takes its child along).
        process.kill(pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

function groupKill(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export const runPlugin = (c: Cluster, node: string, call: PluginCall): Promise<PluginRun> => startPlugin(c, node, call).done;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What is wrong with the shape of a finished call, or undefined: stdout is exactly one JSON document
 * (a result for ADD, an error object on failure) or empty (DEL, CHECK, GC, STATUS that succeeded),
 * and the exit code agrees with it.
 */
export function shapeProblem(command: string, r: PluginRun): string | undefined {
  if (r.timedOut) return `did not finish within the time bound (${Math.round(r.ms)} ms)`;
  const text = r.stdout.trim();
  if (text === '') {
    if (r.exitCode !== 0) return `exit ${r.exitCode} with nothing on stdout (stderr: ${r.stderr.slice(0, 300)})`;
    if (command === 'ADD' || command === 'VERSION') return `${command} succeeded with nothing on stdout`;
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return `stdout is not one JSON document: ${JSON.stringify(r.stdout.slice(0, 300))}`;
  }
  if (!isObj(doc)) return `stdout is JSON but not an object: ${text.slice(0, 200)}`;
  if (r.exitCode !== 0) {
    const ok = typeof doc['cniVersion'] === 'string' && Number.isInteger(doc['code']) && typeof doc['msg'] === 'string';
    return ok ? undefined : `exit ${r.exitCode} but stdout is not an error {cniVersion, code, msg}: ${text.slice(0, 300)}`;
  }
  if (command === 'ADD') {
    return typeof doc['cniVersion'] === 'string' && Array.isArray(doc['ips']) ? undefined : `ADD exit 0 but stdout is not a result: ${text.slice(0, 300)}`;
  }
  if (command === 'VERSION') return Array.isArray(doc['supportedVersions']) ? undefined : `VERSION output lacks supportedVersions: ${text.slice(0, 200)}`;
  if (Number.isInteger(doc['code'])) return `exit 0 with an error object on stdout: ${text.slice(0, 300)}`;
  return `${command} succeeded but printed ${text.slice(0, 200)}`;
}

/** The error code of a failed call, if its stdout is an error object. */
export function errorCode(r: PluginRun): number | undefined {
  try {
    const doc: unknown = JSON.parse(r.stdout);
    return isObj(doc) && Number.isInteger(doc['code']) ? (doc['code'] as number) : undefined;
  } catch {
    return undefined;
  }
}
