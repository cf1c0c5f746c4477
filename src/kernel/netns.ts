// Network namespaces given by path (CNI_NETNS). `ip -n NAME` is the cheapest way in (measured
// 1.6 ms against 2.8 ms for nsenter + ip) but takes only names under /run/netns; any other path
// (/proc/PID/ns/net, a CRI-O pin) goes through nsenter.
import { statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CniError, Code } from '../cni/errors.js';

const NAMED_DIRS = new Set(['/run/netns', '/var/run/netns']);

/**
 * A pod's namespace must exist and must not be the one the plugin runs in: CNI_NETNS=/proc/1/ns/net
 * or /proc/self/ns/net would wire "the pod" into the node itself (its address and subnet route
 * on the host). Namespaces are the same file when device and inode are.
 */
export function checkPodNetns(path: string): void {
  let pod;
  try {
    pod = statSync(path);
  } catch {
    throw new CniError(Code.UnknownContainer, `network namespace ${path} does not exist`);
  }
  const own = statSync('/proc/self/ns/net');
  if (pod.ino === own.ino && pod.dev === own.dev) throw new CniError(Code.InvalidEnvironment, `CNI_NETNS ${path} is the plugin's own network namespace, not a pod's`);
}

/** The argv prefix that runs `ip` inside the namespace at path. */
export function ipIn(path: string): string[] {
  return NAMED_DIRS.has(dirname(path)) ? ['ip', '-n', basename(path)] : ['nsenter', `--net=${path}`, 'ip'];
}

/** The inode of our own network namespace: names per-namespace state of the node in /run. */
export function ownNetnsId(): string {
  return String(statSync('/proc/self/ns/net').ino);
}
