// `gingham agent install-cni`: the DaemonSet's init container puts the running binary where
// kubelet's runtime looks for plugins. The copy lands atomically, so a pod being wired while we
// install runs either the old binary or the new one.
import { join } from 'node:path';
import { copyFileAtomic } from './files.js';

export const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';

/** Copy `self` (process.execPath: in the single executable, the binary itself) to dir/gingham. */
export function installCni(dir: string, self = process.execPath, name = 'gingham'): string {
  const target = join(dir, name);
  copyFileAtomic(self, target, 0o755);
  return target;
}
