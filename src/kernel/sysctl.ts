// sysctls of the caller's own network namespace, written through /proc without an exec.
import { readFileSync, writeFileSync } from 'node:fs';

export function ensureSysctl(key: string, value: string): void {
  const path = `/proc/sys/${key.replaceAll('.', '/')}`;
  if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
}
