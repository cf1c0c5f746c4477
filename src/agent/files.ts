// Files other processes read while we write them (the conflist kubelet and containerd watch, the
// binary kubelet runs for every pod): written beside the target, flushed, renamed over it, so a
// reader sees the old file or the new one, never half of one.
import { closeSync, copyFileSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const tmpBeside = (path: string): string => join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);

/** fsync a file or directory, and optionally set its mode on the same descriptor. */
function flush(path: string, mode?: number): void {
  const fd = openSync(path, 'r');
  try {
    if (mode !== undefined) fchmodSync(fd, mode);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Put the file `fill(tmp)` makes at path, atomically, with mode (not the umask's or the source's). */
function placeAtomically(path: string, mode: number, fill: (tmp: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpBeside(path);
  try {
    fill(tmp);
    flush(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // The rename is durable only once the directory is flushed.
  flush(dirname(path));
}

export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  placeAtomically(path, mode, (tmp) => writeFileSync(tmp, text));
}

export function copyFileAtomic(src: string, dest: string, mode = 0o755): void {
  placeAtomically(dest, mode, (tmp) => copyFileSync(src, tmp));
}

/** Write only when the content differs: kubelet and containerd react to every change. */
export function writeIfChanged(path: string, text: string, mode = 0o644): boolean {
  try {
    if (readFileSync(path, 'utf8') === text) return false;
  } catch {
    // absent or unreadable: write it
  }
  writeFileAtomic(path, text, mode);
  return true;
}
