// `gingham policy explain --from A --to B --port 80/TCP`: reads the policies (NetworkPolicy and
// ClusterNetworkPolicy), pods, namespaces and nodes from the API server once, resolves them with
// the agent's own compiler and prints why the connection passes or not. A and B are NS/POD, node/NAME, or an address (a pod's, a node's or
// any other). explainConnection is the one computation, which `gingham ui`'s /api/explain
// answers with too. `gingham policy drops` (verdicts/drops-cli.ts) shows what the kernel did instead.
import { CoreV1Api } from '@kubernetes/client-node';
import { type Family, parseIp } from '../../net/ip.js';
import { errorText } from '../log.js';
import type { NodeInfo } from '../network/nodes.js';
import { loadKubeConfig } from '../sources/kubernetes.js';
import { toNodeInfo } from '../sources/node-info.js';
import { listPolicyInputs } from '../sources/policy-source.js';
import { type Connection, type Endpoint, explain, showExplanation } from './explain.js';
import { PROTOCOLS, type PodInfo, type PolicyInputs, type Protocol } from './model.js';
import { familyOf, podKey, resolveAll } from './resolve.js';
import { DropsUsageError, parseDropsArgs, runDrops } from '../verdicts/drops-cli.js';

export const POLICY_USAGE = `usage:
  gingham policy explain --from A --to B --port PORT[/TCP|UDP|SCTP] [--ipv4|--ipv6] [--json] [--kubeconfig PATH]
      Whether a connection from A to B passes the cluster's ClusterNetworkPolicies (Admin tier,
      then Baseline) and NetworkPolicies, and the tier, policy and rule that decide it (with each
      Pass that handed it on), or that nothing applies, computed by the agent's compiler.
      A and B: NS/POD, node/NAME or an IP address. The family is the one both ends have (IPv4
      when they have both; an address given names its own); --ipv4 or --ipv6 chooses it.
  gingham policy drops [--follow] [--namespace NS] [--pod NS/NAME] [--accepts] [--json]
                       [--agent http://HOST:PORT | --health-port PORT]
      The packets this node's policies denied (with --accepts, also the new connections they
      accepted), as the local agent saw them: time, direction, source and destination pod or
      address, protocol and port, and the policy that decided. --follow keeps printing new ones
      until Ctrl-C. Needs "policyLogDrops" (or "policyLogAccepts") in the agent config; reads the
      agent on 127.0.0.1:9917 (run it on the node, or in the agent pod with kubectl exec).
`;

export class ExplainUsageError extends Error {
  override name = 'ExplainUsageError';
}

export interface ExplainArgs {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  /** Asked for with --ipv4 or --ipv6; else the ends decide (connectionFamily). */
  family?: Family;
  json: boolean;
  kubeconfig?: string;
}

export function parseExplainArgs(argv: readonly string[]): ExplainArgs {
  const [sub, ...rest] = argv;
  if (sub !== 'explain') throw new ExplainUsageError(sub === undefined ? 'missing command' : `unknown command "${sub}"`);
  const opts = new Map<string, string>();
  let family: Family | undefined;
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--ipv4' || a === '--ipv6') {
      const f = a === '--ipv4' ? 4 : 6;
      if (family !== undefined && family !== f) throw new ExplainUsageError('--ipv4 and --ipv6 exclude each other');
      family = f;
    }
    else if (a === '--json') json = true;
    else if (/^--(from|to|port|kubeconfig)(=|$)/.test(a)) {
      const eq = a.indexOf('=');
      const value = eq >= 0 ? a.slice(eq + 1) : rest[++i];
      if (value === undefined || value === '') throw new ExplainUsageError(`${a} needs a value`);
      opts.set(eq >= 0 ? a.slice(2, eq) : a.slice(2), value);
    } else throw new ExplainUsageError(`unknown argument "${a}"`);
  }
  const from = opts.get('from');
  const to = opts.get('to');
  const portText = opts.get('port');
  if (!from || !to || !portText) throw new ExplainUsageError('--from, --to and --port are required');
  const m = /^(\d{1,5})(?:\/(\w+))?$/.exec(portText);
  const protocol = (m?.[2] ?? 'TCP').toUpperCase() as Protocol;
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || !PROTOCOLS.includes(protocol)) throw new ExplainUsageError(`--port ${portText}: want PORT or PORT/TCP|UDP|SCTP`);
  const kubeconfig = opts.get('kubeconfig');
  return { from, to, port: Number(m[1]), protocol, json, ...(family ? { family } : {}), ...(kubeconfig ? { kubeconfig } : {}) };
}

/** What NS/POD or node/NAME names: a node, or a pod; an address stands for itself. */
type Named = { readonly ips: readonly string[] } & ({ readonly node: NodeInfo } | { readonly pod: PodInfo } | { readonly ip: string });

function lookup(spec: string, inputs: PolicyInputs, nodes: readonly NodeInfo[]): Named {
  if (parseIp(spec)) return { ips: [spec], ip: spec };
  const slash = spec.indexOf('/');
  if (slash <= 0) throw new ExplainUsageError(`"${spec}" is not NS/POD, node/NAME or an IP address`);
  if (spec.startsWith('node/')) {
    const node = nodes.find((n) => n.name === spec.slice(5));
    if (!node) throw new ExplainUsageError(`no node "${spec.slice(5)}"`);
    return { ips: node.internalIPs, node };
  }
  const pod = inputs.pods.find((p) => podKey(p) === spec);
  if (!pod) throw new ExplainUsageError(`no pod ${spec} with an address`);
  return { ips: pod.ips, pod };
}

/** The family asked for, else one both ends have, IPv4 first (an IPv6-only cluster gets IPv6). */
export function connectionFamily(args: Pick<ExplainArgs, 'from' | 'to' | 'family'>, inputs: PolicyInputs, nodes: readonly NodeInfo[]): Family {
  if (args.family) return args.family;
  const has = (spec: string): Set<Family> => new Set(lookup(spec, inputs, nodes).ips.flatMap((ip) => familyOf(ip) ?? []));
  const [from, to] = [has(args.from), has(args.to)];
  const shared = ([4, 6] as const).find((f) => from.has(f) && to.has(f));
  if (shared) return shared;
  const show = (fs: Set<Family>): string => [...fs].map((f) => `IPv${f}`).join(' and ') || 'no address';
  throw new ExplainUsageError(`${args.from} has ${show(from)}, ${args.to} has ${show(to)}: no family in common`);
}

/** NS/POD, node/NAME or an address, as an endpoint of `family`. */
export function endpointOf(spec: string, family: Family, inputs: PolicyInputs, nodes: readonly NodeInfo[]): Endpoint {
  const named = lookup(spec, inputs, nodes);
  if ('ip' in named) {
    const pod = inputs.pods.find((p) => !p.hostNetwork && p.ips.includes(spec));
    if (pod) return { kind: 'pod', pod, ip: spec };
    const node = nodes.find((n) => n.internalIPs.includes(spec));
    return { kind: 'ip', ip: spec, ...(node ? { node: node.name } : {}) };
  }
  const ip = named.ips.find((a) => familyOf(a) === family);
  if ('node' in named) {
    if (!ip) throw new ExplainUsageError(`node ${named.node.name} has no IPv${family} InternalIP`);
    return { kind: 'ip', ip, node: named.node.name };
  }
  const { pod } = named;
  if (!ip) throw new ExplainUsageError(`pod ${spec} has no IPv${family} address`);
  // A hostNetwork pod has its node's address: it is judged as that node.
  return pod.hostNetwork ? { kind: 'ip', ip, node: pod.node } : { kind: 'pod', pod, ip };
}

/** One explanation, in both of the CLI's forms: `text` is exactly what it prints, `json` the object --json prints. */
export interface ExplainResult {
  readonly allowed: boolean;
  readonly text: string;
  readonly json: unknown;
}

/**
 * Whether a connection passes, from the policies, pods and nodes as read: what `gingham policy
 * explain` prints and `gingham ui`'s /api/explain answers. Throws ExplainUsageError when an end is
 * not there or the ends share no family. `problems`: the objects left out, noted under the text.
 */
export function explainConnection(
  args: Pick<ExplainArgs, 'from' | 'to' | 'port' | 'protocol' | 'family'>,
  read: { readonly inputs: PolicyInputs; readonly problems: readonly string[] },
  nodes: readonly NodeInfo[],
): ExplainResult {
  const { inputs, problems } = read;
  const family = connectionFamily(args, inputs, nodes);
  const c: Connection = { from: endpointOf(args.from, family, inputs, nodes), to: endpointOf(args.to, family, inputs, nodes), port: args.port, protocol: args.protocol };
  const { policies, cluster } = resolveAll(inputs);
  const e = explain(policies, c, cluster);
  const notes = problems.map((p) => `  note: not used as written: ${p}\n`).join('');
  return {
    allowed: e.allowed,
    text: `${showExplanation(c, e)}\n${notes}`,
    json: { from: args.from, to: args.to, fromIP: c.from.ip, toIP: c.to.ip, port: c.port, protocol: c.protocol, ...e, problems },
  };
}

export async function runPolicyCli(argv: string[]): Promise<number> {
  if (argv.length === 0 || ['help', '--help', '-h'].includes(argv[0]!)) {
    process.stdout.write(POLICY_USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'drops') {
    try {
      return await runDrops(parseDropsArgs(argv.slice(1)));
    } catch (e) {
      if (!(e instanceof DropsUsageError)) throw e;
      process.stderr.write(`gingham policy drops: ${e.message}\n\n${POLICY_USAGE}`);
      return 2;
    }
  }
  let args: ExplainArgs;
  try {
    args = parseExplainArgs(argv);
  } catch (e) {
    if (!(e instanceof ExplainUsageError)) throw e;
    process.stderr.write(`gingham policy: ${e.message}\n\n${POLICY_USAGE}`);
    return 2;
  }
  let inputs: PolicyInputs;
  let nodes: NodeInfo[];
  let problems: readonly string[];
  try {
    const kc = loadKubeConfig(args.kubeconfig);
    const [listed, nodeList] = await Promise.all([listPolicyInputs(kc), kc.makeApiClient(CoreV1Api).listNode()]);
    ({ inputs, problems } = listed);
    nodes = nodeList.items.map(toNodeInfo).filter((n): n is NodeInfo => n !== undefined);
  } catch (e) {
    process.stderr.write(`gingham policy: cannot read the cluster: ${errorText(e)}\n`);
    return 1;
  }
  let answer: ExplainResult;
  try {
    answer = explainConnection(args, { inputs, problems }, nodes);
  } catch (e) {
    if (!(e instanceof ExplainUsageError)) throw e;
    process.stderr.write(`gingham policy: ${e.message}\n`);
    return 2;
  }
  process.stdout.write(args.json ? `${JSON.stringify(answer.json)}\n` : answer.text);
  return 0;
}
