// The side panel's rows as data: the data- attributes of the page's DOM contract and the readable
// lines beside them, for nodes, pods and verdict events, and the event filter. Pure, so the unit
// tests check the contract the browser tests rely on; panels.ts only copies these into the DOM.
import type { NodeView, PodView, VerdictEvent } from '../model.js';
import { drifted, isolatedDirections, podKey } from './elements.js';

export interface Row {
  /** data- attributes without the prefix, in the contract's spelling. */
  readonly attrs: Readonly<Record<string, string>>;
  /** Lines of readable text; the first is the row's title. */
  readonly lines: readonly string[];
}

export function nodeRow(n: NodeView): Row {
  const drift = drifted(n);
  const backend = n.agent.ok ? n.agent.state.backend : '';
  const lines: string[] = [];
  if (!n.agent.ok) lines.push(`agent unreachable: ${n.agent.error}`);
  else {
    const { version, dataplane, kernel, events, skipped } = n.agent.state;
    const check = kernel.error !== undefined ? `kernel not compared: ${kernel.error}` : drift ? `kernel drifted (${kernel.differences} differences)` : 'kernel matches plan';
    // A class that sees no arrows should see why.
    if (!events) lines.push('verdict events off (policyLogDrops)');
    for (const s of skipped) lines.push(`skips ${s.node}: ${s.reason}`);
    // Last: the page's style marks a drifted or unreachable node's last line.
    lines.push(`agent ${version}, ${dataplane}, ${check}`);
  }
  return {
    attrs: {
      node: n.name,
      'internal-ips': n.internalIPs.join(','),
      'pod-cidrs': n.podCIDRs.join(','),
      backend,
      drift: String(drift),
      agent: n.agent.ok ? 'ok' : 'unreachable',
    },
    lines: [`${n.name}${backend === '' ? '' : ` · ${backend}`}${n.unreadable === undefined ? '' : ` · unreadable: ${n.unreadable}`}`, `InternalIP ${n.internalIPs.join(', ') || '-'}`, `pod CIDRs ${n.podCIDRs.join(', ') || '-'}`, ...lines],
  };
}

/** Every policy isolating the pod: NetworkPolicies of either direction, then ClusterNetworkPolicies. */
export function podPolicies(p: PodView): string[] {
  return [...new Set([...p.isolation.ingress, ...p.isolation.egress, ...p.isolation.cluster])];
}

export function podRow(p: PodView): Row {
  const isolated = isolatedDirections(p).join(',');
  const policies = podPolicies(p);
  const lines = [podKey(p), `${p.node} · ${p.ips.join(', ') || 'no address'}${p.hostNetwork ? ' · hostNetwork' : p.veth ? ` · ${p.veth}` : ''}`];
  if (isolated !== '') lines.push(`isolated ${isolated} by ${policies.join(', ')}`);
  return { attrs: { pod: podKey(p), node: p.node, ips: p.ips.join(','), veth: p.veth ?? '', isolated, policies: policies.join(',') }, lines };
}

/** An event's end as the list names it: the pod when the agent knew it, else the address. */
export const endName = (end: VerdictEvent['src']): string => end.pod ?? end.ip;

/** HH:MM:SS of an ISO time, in UTC like the agents' logs. */
export const clock = (iso: string): string => (/T(\d\d:\d\d:\d\d)/.exec(iso)?.[1] ?? iso);

export function eventRow(seq: number, node: string, e: VerdictEvent): Row {
  const port = e.dst.port === undefined ? e.protocol : `${e.protocol}/${e.dst.port}`;
  const by = e.policy !== undefined ? `${e.policy}${e.rule === undefined ? '' : ` rule ${e.rule}`}` : e.policies.join(', ') || e.tier;
  return {
    attrs: { event: String(seq), verdict: e.verdict, src: endName(e.src), dst: endName(e.dst), node },
    lines: [`${clock(e.time)} ${e.verdict} ${endName(e.src)} → ${endName(e.dst)} ${port}`, `${e.direction} · ${by} · ${e.reason}`],
  };
}

/**
 * Whether an event passes the filters: the namespace filter matches a pod end's namespace exactly
 * (empty: every event), the pod filter is a substring of either end's name or address (empty:
 * every event).
 */
export function eventMatches(e: VerdictEvent, namespace: string, pod: string): boolean {
  const ns = namespace.trim();
  const needle = pod.trim();
  const ends = [e.src, e.dst];
  if (ns !== '' && !ends.some((end) => end.pod?.split('/')[0] === ns)) return false;
  if (needle !== '' && !ends.some((end) => endName(end).includes(needle) || end.ip.includes(needle))) return false;
  return true;
}

/** The /api/explain URL for a pair; the server validates the values, the page only encodes them. */
export function explainUrl(from: string, to: string, port: string, protocol: string): string {
  const q = new URLSearchParams({ from: from.trim(), to: to.trim(), port: port.trim(), protocol });
  return `api/explain?${q.toString()}`;
}

/** The "why?" pair after a click on a pod: the first click fills from, the second to, a third starts over. */
export function pickPair(from: string, to: string, clicked: string): { from: string; to: string } {
  if (from === '' || to !== '') return { from: clicked, to: '' };
  return { from, to: clicked };
}
