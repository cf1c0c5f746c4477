// /api/explain's query, which anyone who reaches the page can send: each value is checked (ends as
// NS/POD, node/NAME or an address; a port; a protocol) before the explanation, which is
// `gingham policy explain`'s own (explainConnection), is computed.
import type { Answer } from '../agent/health.js';
import type { NodeInfo } from '../agent/network/nodes.js';
import { ExplainUsageError, explainConnection } from '../agent/policy/explain-cli.js';
import { PROTOCOLS, type PolicyInputs, type Protocol } from '../agent/policy/model.js';
import { dnsLabelProblem, dnsSubdomainProblem, shown } from '../agent/sources/k8s-names.js';
import { parseIp } from '../net/ip.js';
import type { ExplainAnswer } from './model.js';

export interface ExplainQuery {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: Protocol;
}

function endProblem(what: string, v: string | null): string | undefined {
  if (v === null || v === '') return `${what} is missing (NS/POD or an IP address)`;
  if (parseIp(v)) return undefined;
  const parts = v.split('/');
  const why = parts.length !== 2 ? 'is not NS/POD or an IP address' : (dnsLabelProblem(parts[0]) ?? dnsSubdomainProblem(parts[1]));
  return why === undefined ? undefined : `${what}=${shown(v)}: ${why}`;
}

/** The query's values, or why they are refused. */
export function parseExplainQuery(q: URLSearchParams): ExplainQuery | { error: string } {
  const from = q.get('from');
  const to = q.get('to');
  const bad = endProblem('from', from) ?? endProblem('to', to);
  if (bad) return { error: bad };
  const portText = q.get('port') ?? '';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return { error: `port=${shown(portText)}: want 1-65535` };
  const protocol = (q.get('protocol') ?? 'TCP').toUpperCase() as Protocol;
  if (!PROTOCOLS.includes(protocol)) return { error: `protocol=${shown(q.get('protocol'))}: want TCP, UDP or SCTP` };
  return { from: from!, to: to!, port: Number(portText), protocol };
}

/** What the cluster reads as now; undefined until the API server has been listed once. */
export type ClusterRead = () => { inputs: PolicyInputs; problems: readonly string[]; nodes: readonly NodeInfo[] } | undefined;

export function explainAnswer(q: URLSearchParams, read: ClusterRead): Answer {
  const query = parseExplainQuery(q);
  if ('error' in query) return { status: 400, body: { error: query.error } };
  const cluster = read();
  if (!cluster) return { status: 503, body: { error: 'the API server has not been read yet' } };
  try {
    const r = explainConnection(query, cluster, cluster.nodes);
    const body: ExplainAnswer = { allowed: r.allowed, text: r.text, json: r.json };
    return { status: 200, body };
  } catch (e) {
    if (e instanceof ExplainUsageError) return { status: 400, body: { error: e.message } };
    throw e;
  }
}
