// `gingham ui`'s command line: where to listen, which kubeconfig, and the agents' port. Parsed
// apart from the wiring so it is tested without a cluster.
import { parseIp } from '../net/ip.js';

export const UI_USAGE = `usage: gingham ui [--listen HOST:PORT] [--kubeconfig PATH] [--agent-port N]
  Serves the live class view: one page with the cluster's nodes, pod CIDRs, tunnels or routes,
  pods, the policies isolating them and the verdicts as they happen, with "why?" (the same
  answer as gingham policy explain). Reads the API server (--kubeconfig, else KUBECONFIG,
  ~/.kube/config or the pod's service account) and each node's agent at
  http://INTERNAL-IP:N/state and /events (N: --agent-port, default 20917, the agents' metricsPort).
  --listen: default 127.0.0.1:20918 (an IPv6 host in brackets: [::1]:20918). The page's data
  is read-only; anyone who reaches the port sees the cluster's pods and policies.
  Endpoints: / (the page), /app.js, /api/view, /api/stream (Server-Sent Events), /api/explain.
`;

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 20918 } as const;
export const DEFAULT_AGENT_PORT = 20917;

export class UiUsageError extends Error {
  override name = 'UiUsageError';
}

export interface UiArgs {
  readonly host: string;
  readonly port: number;
  readonly agentPort: number;
  readonly kubeconfig?: string;
  readonly help: boolean;
}

function portOf(text: string, what: string, min: number): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > 65535) throw new UiUsageError(`${what} ${JSON.stringify(text)}: want a port number ${min}-65535`);
  return Number(text);
}

/** HOST:PORT, [IPV6]:PORT; a host is an address or a name (such as localhost). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text);
  if (!m) throw new UiUsageError(`--listen ${JSON.stringify(text)}: want HOST:PORT (an IPv6 address in brackets)`);
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && parseIp(host)?.family !== 6) throw new UiUsageError(`--listen ${JSON.stringify(text)}: ${host} in brackets is not an IPv6 address`);
  if (m[2] !== undefined && parseIp(host) === undefined && !/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(host)) throw new UiUsageError(`--listen ${JSON.stringify(text)}: ${host} is not an address or host name`);
  // Port 0 lets the system choose (tests); the address it got is logged.
  return { host, port: portOf(m[3]!, '--listen port', 0) };
}

/**
 * Whether a request's Host header names this server the way people reach it: an address (what
 * port-forward, a Service and kubelet's probe send), localhost, or the --listen host. A name of
 * someone else's is refused, so a web page that points its own name at this address (DNS
 * rebinding) cannot read the cluster's pods and policies through the browser.
 */
export function hostAllowed(header: string, listenHost: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d{1,5})?$/.exec(header);
  if (!m) return false;
  const host = (m[1] ?? m[2]!).toLowerCase();
  if (m[1] !== undefined) return parseIp(host)?.family === 6;
  return parseIp(host)?.family === 4 || host === 'localhost' || host.endsWith('.localhost') || host === listenHost.toLowerCase();
}

export function parseUiArgs(argv: readonly string[]): UiArgs {
  let listen: { host: string; port: number } = DEFAULT_LISTEN;
  let agentPort = DEFAULT_AGENT_PORT;
  let kubeconfig: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h' || a === 'help') {
      help = true;
      continue;
    }
    const m = /^--(listen|kubeconfig|agent-port)(?:=(.*))?$/.exec(a);
    if (!m) throw new UiUsageError(`unknown argument ${JSON.stringify(a)}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === '') throw new UiUsageError(`--${m[1]} needs a value`);
    if (m[1] === 'listen') listen = parseListen(value);
    else if (m[1] === 'agent-port') agentPort = portOf(value, '--agent-port', 1);
    else kubeconfig = value;
  }
  return { ...listen, agentPort, help, ...(kubeconfig !== undefined ? { kubeconfig } : {}) };
}
