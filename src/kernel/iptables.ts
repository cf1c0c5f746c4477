// iptables through iptables-restore: a whole change in one exec, applied atomically per table.
import { CniError, Code } from '../cni/errors.js';
import { ExecError, runOk } from './exec.js';

export type Family = 4 | 6;

const bin = (f: Family, tool: 'save' | 'restore' | 'plain'): string => {
  const base = f === 4 ? 'iptables' : 'ip6tables';
  return tool === 'plain' ? base : `${base}-${tool}`;
};

/** Rules of one table as `-S` prints them (one per line, "-A CHAIN ..."; chains as "-N CHAIN"). */
export async function listRules(f: Family, table: string): Promise<string[]> {
  const r = await runOk([bin(f, 'plain'), '-w', '-t', table, '-S']);
  // nft-based iptables quotes comments in -S output; our comments have no spaces, so drop quotes.
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.replaceAll('"', ''));
}

export async function restore(f: Family, text: string): Promise<void> {
  try {
    await runOk([bin(f, 'restore'), '-w', '--noflush'], text);
  } catch (e) {
    if (e instanceof ExecError) throw new CniError(Code.KernelFailure, `${bin(f, 'restore')}: ${e.result.stderr.trim()}`, text);
    throw e;
  }
}
