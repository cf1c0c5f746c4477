// Any other IPAM type (host-local, static, dhcp, …) runs as the spec says: the plugin found on
// CNI_PATH, the same stdin, CNI_COMMAND set to the verb at hand.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors.js';
import { type Result, parseResult } from '../cni/result.js';
import { isObj } from '../cni/validate.js';
import { run } from '../kernel/exec.js';

export function findPlugin(type: string, cniPath: string[]): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) throw new CniError(Code.InvalidConfig, `plugin type "${type}" is not a plugin name`);
  for (const dir of cniPath) {
    const p = join(dir, type);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new CniError(Code.InvalidConfig, `plugin "${type}" not found in CNI_PATH (${cniPath.join(':') || 'empty'})`);
}

/** Exec a delegate; its CNI error (code, msg, details) is passed on unchanged. */
export async function delegate(type: string, command: string, stdin: string, cniPath: string[]): Promise<Result | undefined> {
  const bin = findPlugin(type, cniPath);
  const r = await run([bin], stdin, { ...process.env, CNI_COMMAND: command });
  let out: unknown;
  try {
    out = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    out = undefined;
  }
  if (r.code !== 0) {
    if (isObj(out) && typeof out['code'] === 'number') {
      throw new CniError(out['code'], `${type}: ${String(out['msg'] ?? '')}`, typeof out['details'] === 'string' ? out['details'] : '');
    }
    throw new CniError(Code.DelegateFailure, `${type} ${command} exited with ${r.code}`, r.stderr.trim());
  }
  return command === 'ADD' ? parseResult(out, `${type} result`) : undefined;
}
