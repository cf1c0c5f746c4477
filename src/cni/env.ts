// The CNI_* environment of one plugin call, read and checked once.
import { CniError, Code } from './errors.js';
import { dns1123Label, dns1123Subdomain, literalPath, validIfName } from './validate.js';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
const COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

export interface CniArgs {
  ignoreUnknown: boolean;
  /** Addresses requested with IP=a[,b]. */
  ips: string[];
  podNamespace?: string;
  podName?: string;
  podUid?: string;
  infraContainerId?: string;
}

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifName: string;
  args: CniArgs;
  /** The raw CNI_ARGS string, passed through unchanged to delegated plugins. */
  rawArgs: string;
  path: string[];
}

type Env = Record<string, string | undefined>;

const bad = (msg: string): CniError => new CniError(Code.InvalidEnvironment, msg);

const KNOWN_ARGS = new Set(['IgnoreUnknown', 'IP', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_UID', 'K8S_POD_INFRA_CONTAINER_ID']);

/**
 * CNI_ARGS: "K=V;K=V". Unknown keys are an error unless IgnoreUnknown is true, as in libcni. A key
 * given twice is an error too: which one a runtime meant is a guess (libcni would take the last).
 */
export function parseCniArgs(raw: string, command: Command = 'ADD'): CniArgs {
  const out: CniArgs = { ignoreUnknown: false, ips: [] };
  const pairs: [string, string][] = [];
  const seen = new Set<string>();
  for (const part of raw.split(';')) {
    if (part === '') continue;
    const kv = part.split('=');
    if (kv.length !== 2 || !kv[0]) throw bad(`CNI_ARGS: "${part}" is not KEY=VALUE`);
    if (seen.has(kv[0])) throw bad(`CNI_ARGS: key "${kv[0]}" is given more than once`);
    seen.add(kv[0]);
    pairs.push([kv[0], kv[1]!]);
  }
  for (const [k, v] of pairs) {
    if (k !== 'IgnoreUnknown') continue;
    // As libcni: 1/true and 0/false, any case; anything else is an error.
    if (!/^(1|0|true|false)$/i.test(v)) throw bad(`CNI_ARGS: IgnoreUnknown must be true or false, not "${v}"`);
    out.ignoreUnknown = /^(1|true)$/i.test(v);
  }
  for (const [k, v] of pairs) {
    switch (k) {
      case 'IP':
        out.ips = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      case 'K8S_POD_NAMESPACE':
        if (podName(k, v, dns1123Label, command)) out.podNamespace = v;
        break;
      case 'K8S_POD_NAME':
        if (podName(k, v, dns1123Subdomain, command)) out.podName = v;
        break;
      case 'K8S_POD_UID':
        out.podUid = v;
        break;
      case 'K8S_POD_INFRA_CONTAINER_ID':
        out.infraContainerId = v;
        break;
      default:
        if (!KNOWN_ARGS.has(k) && !out.ignoreUnknown) throw bad(`CNI_ARGS: unknown key "${k}" (set IgnoreUnknown=1 to allow it)`);
    }
  }
  return out;
}

/**
 * The pod's namespace and name are stored with the reservation, and the agent puts them into rule
 * comments, so the API server's rules are enforced here too (kubelet only ever sends names that
 * pass them). ADD refuses a bad one; other verbs drop it, so a teardown is never blocked by it.
 */
function podName(key: string, v: string, valid: (s: string) => boolean, command: Command): boolean {
  if (v === '' || valid(v)) return true;
  if (command === 'ADD') throw bad(`CNI_ARGS: ${key} ${JSON.stringify(v)} is not a Kubernetes name (DNS-1123)`);
  return false;
}

export function readCommand(env: Env): Command {
  const c = env['CNI_COMMAND'] ?? '';
  if (!(COMMANDS as readonly string[]).includes(c)) throw bad(`CNI_COMMAND "${c}" is not one of ${COMMANDS.join(', ')}`);
  return c as Command;
}

/**
 * Read and check what the spec requires for each verb. Every value that later reaches a command
 * line or an `ip -batch` line is checked here, and a bad one is code 4 (the spec's code for a bad
 * CNI_* variable; libcni's skel answers a bad CNI_IFNAME with 4 too).
 */
export function readEnv(env: Env): CniEnv {
  const command = readCommand(env);
  const perContainer = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const ifName = env['CNI_IFNAME'] ?? '';
  let netns = env['CNI_NETNS'] ?? '';
  if (perContainer) {
    if (!containerId) throw bad('CNI_CONTAINERID is required');
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) throw bad(`CNI_CONTAINERID "${containerId}" has characters outside [A-Za-z0-9_.-]`);
    if (!ifName) throw bad('CNI_IFNAME is required');
    if (!validIfName(ifName)) {
      throw bad(`CNI_IFNAME ${JSON.stringify(ifName)} is not an interface name gingham takes: 1-15 printable ASCII bytes without / : # quotes or backslash`);
    }
    if (command !== 'DEL' && !netns) throw bad(`CNI_NETNS is required for ${command}`);
  }
  if (netns && !literalPath(netns)) {
    // DEL never enters the netns (the host end is named after the attachment), so it goes on
    // without one rather than fail a teardown that has nothing of this path to undo.
    if (command !== 'DEL') throw bad(`CNI_NETNS ${JSON.stringify(netns)} must be an absolute path without whitespace, control characters, # quotes or backslash`);
    netns = '';
  }
  const rawArgs = env['CNI_ARGS'] ?? '';
  return {
    command,
    containerId,
    netns,
    ifName,
    args: parseCniArgs(rawArgs, command),
    rawArgs,
    path: (env['CNI_PATH'] ?? '').split(':').filter((p) => p !== ''),
  };
}
