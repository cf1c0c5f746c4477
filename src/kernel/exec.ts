// Run a program with optional stdin and collect its output, in one of two ways behind one call:
// - blocking, for the CNI plugin (runBlocking()): through the spawn_sync binding, the same one
//   child_process.spawnSync calls. Loading node:child_process pulls in net, dgram and the stream
//   modules, ~14 ms of CPU on every CNI call (measured on a bare Node start: 18.5 ms of user time
//   with the binding, 33 ms with spawnSync), while the plugin runs its commands one after another
//   anyway. Each command gets the time left before the call's cap (cni/deadline.ts).
// - in the background, for the agent, the CLI and the tests (the default): child_process.spawn,
//   loaded on first use, so the event loop keeps serving while a command runs.
// Not execa on either path: its module load alone costs ~12 ms (the tests use it).
import { accessSync, constants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { expire, msLeft, onTimeout } from '../cni/deadline.js';

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

type Runner = (file: string, argv: readonly string[], input: string | undefined, env: NodeJS.ProcessEnv) => Promise<ExecResult>;

/** What the spawn_sync binding returns; error is a negative errno. */
interface SyncOutcome {
  status: number | null;
  signal: string | null;
  output: [null, Buffer, Buffer] | null;
  error?: number;
}
interface SpawnSyncBinding {
  spawn(options: object): SyncOutcome;
}

const spawnError = (file: string, errno: number): Error => {
  const name = getSystemErrorName(errno);
  return Object.assign(new Error(`spawn ${file} ${name}`), { code: name, errno, path: file });
};

const blocking: Runner = async (file, argv, input, env) => {
  const left = msLeft();
  // Past the cap a command is not started: the call ends as the timer would end it.
  if (left <= 0) throw expire();
  // process.binding is deprecated in the docs only; the Node runtime is pinned (package.json) and
  // the tests run every command through here, so a change of the binding shows at once.
  const binding = (process as unknown as { binding(name: string): SpawnSyncBinding }).binding('spawn_sync');
  const pipe = { type: 'pipe', readable: false, writable: true };
  const r = binding.spawn({
    file,
    args: argv,
    envPairs: Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])),
    stdio: [input === undefined ? { type: 'ignore' } : { type: 'pipe', readable: true, writable: false, input: Buffer.from(input) }, pipe, pipe],
    // A hung command is killed when the call's time is up (0: no cap outside withDeadline).
    timeout: Number.isFinite(left) ? Math.ceil(left) : 0,
    killSignal: osConstants.signals.SIGKILL,
    maxBuffer: 64 << 20,
    detached: false,
    windowsHide: false,
    windowsVerbatimArguments: false,
  });
  if (r.error === -osConstants.errno.ETIMEDOUT) throw expire();
  if (r.error !== undefined) throw spawnError(file, r.error);
  return { code: r.status ?? (r.signal ? 128 : 1), stdout: r.output?.[1].toString() ?? '', stderr: r.output?.[2].toString() ?? '' };
};

const background: Runner = (file, argv, input, env) => {
  // Loaded on first use, synchronously: the agent's bundle is evaluated with vm.compileFunction
  // (agent/load.ts), where a dynamic import() has no loader to call.
  const { spawn } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env });
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
};

let runner = background;

/** The CNI plugin's choice, made once at its start: commands run blocking (see the header). */
export function runBlocking(): void {
  runner = blocking;
}

export function run(argv: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  return runner(resolveTool(argv[0]!), argv, input, env ?? process.env);
}

/** Like run, but a non-zero exit is an ExecError. */
export async function runOk(argv: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  const r = await run(argv, input, env);
  if (r.code !== 0) throw new ExecError(argv, r, input);
  return r;
}
