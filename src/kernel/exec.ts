// Run a program with optional stdin and collect its output. node:child_process directly, not execa:
// this is on the CNI hot path and execa's module load alone costs ~12 ms per call (measured with
// the SEA code cache); the agent and the tests use execa.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { onTimeout } from '../cni/deadline.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
    readonly input = '',
  ) {
    super(`${argv.join(' ')} exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'ExecError';
  }
}

// Runtimes call plugins with whatever PATH they have (sometimes none), so system tools are looked
// up in the system directories first, then in PATH.
const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const found = new Map<string, string>();

export function resolveTool(name: string): string {
  if (name.includes('/')) return name;
  const hit = found.get(name);
  if (hit) return hit;
  for (const dir of [...SYSTEM_DIRS, ...(process.env['PATH'] ?? '').split(':').filter((d) => d)]) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      found.set(name, p);
      return p;
    } catch {
      // next
    }
  }
  return name;
}

export function run(argv: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(resolveTool(cmd!), args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: env ?? process.env });
    // A call that runs out of time does not leave a hung `ip` or delegated plugin behind.
    const forget = onTimeout(() => child.kill('SIGKILL'));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      forget();
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    if (input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

/** Like run, but a non-zero exit is an ExecError. */
export async function runOk(argv: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  const r = await run(argv, input, env);
  if (r.code !== 0) throw new ExecError(argv, r, input);
  return r;
}
