// iptables as the kernel layer sees it: read a table, apply iptables-restore text (made by
// iptables-text.ts) in one exec, atomically per table. The one reader and applier of the CNI
// plugin, the agent's network chains and the policy layer; `wrap` runs the tool in another network
// namespace (["ip", "netns", "exec", NAME], for tests).
import { CniError, Code } from '../cni/errors.js';
import { run } from './exec.js';

export type Family = 4 | 6;
export type Wrap = readonly string[];

const TOOL = { 4: 'iptables', 6: 'ip6tables' } as const;

export class IptablesReadError extends Error {
  override name = 'IptablesReadError';
}

/**
 * `iptables -t TABLE -S`: every line as printed ("-P CHAIN POLICY", "-N CHAIN", "-A CHAIN RULE"),
 * quotes and all (iptables-text.ts canonicalRule compares them).
 */
export async function listRules(f: Family, table: string, wrap: Wrap = []): Promise<string[]> {
  const r = await run([...wrap, TOOL[f], '-w', '-t', table, '-S']);
  if (r.code !== 0) throw new IptablesReadError(`${TOOL[f]} -t ${table} -S: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/**
 * `iptables-save -t TABLE`. `mayLack`: a family or table the kernel does not have ("not
 * supported", "does not exist", a failed insmod) reads as empty.
 */
export async function saveTable(f: Family, table: string, wrap: Wrap = [], mayLack = false): Promise<string> {
  const r = await run([...wrap, `${TOOL[f]}-save`, '-t', table]);
  if (r.code === 0) return r.stdout;
  if (mayLack && /not supported|does not exist|insmod/i.test(r.stderr)) return '';
  throw new IptablesReadError(`${TOOL[f]}-save -t ${table}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** One `iptables-restore -w --noflush`; its error text (the whole text was refused, nothing applied) or undefined. */
export async function applyRestore(f: Family, text: string, wrap: Wrap = []): Promise<string | undefined> {
  if (text === '') return undefined;
  const r = await run([...wrap, `${TOOL[f]}-restore`, '-w', '--noflush'], text);
  return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
}

/** applyRestore for the CNI plugin: a failure is a CNI error carrying the text. */
export async function restore(f: Family, text: string, wrap: Wrap = []): Promise<void> {
  const error = await applyRestore(f, text, wrap);
  if (error !== undefined) throw new CniError(Code.KernelFailure, `${TOOL[f]}-restore: ${error}`, text);
}
