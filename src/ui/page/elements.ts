// The graph's content, computed from a ClusterView: one compound box per node, a bridge box inside
// it holding the node's pods, and one edge per ordered pair of nodes for the tunnels or routes
// between them. Pure (no DOM, no cytoscape instance), so the unit tests check what the page draws.
import type { ClusterView, LinkView, NodeView, PodView } from '../model.js';

/** Enough of cytoscape's ElementDefinition for add() and data(): a group, its data and its classes. */
export interface GraphElement {
  readonly group: 'nodes' | 'edges';
  readonly data: { readonly id: string; readonly parent?: string; readonly source?: string; readonly target?: string; readonly label: string; readonly color?: string };
  readonly classes: string;
}

export const nodeId = (name: string): string => `node:${name}`;
export const bridgeId = (node: string): string => `bridge:${node}`;
/** NS/NAME, as the agent's podKey (policy/resolve.ts) writes it: the page's bundle takes no agent module. */
export const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;
export const podId = (key: string): string => `pod:${key}`;

// Colour-blind-friendly hues, dark enough for white text and distinct on a light page.
const PALETTE = ['#1f77b4', '#d95f02', '#2ca02c', '#7570b3', '#e7298a', '#8c564b', '#17becf', '#bcbd22', '#66a61e', '#e6ab02', '#a6761d', '#6a3d9a'];

/** A namespace's colour: a stable hash (FNV-1a) into the palette, the same on every page load. */
export function namespaceColor(namespace: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < namespace.length; i++) {
    h ^= namespace.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return PALETTE[h % PALETTE.length] as string;
}

/** Whether the node's agent compared its kernel with its plan and found them different. */
export const drifted = (n: NodeView): boolean => n.agent.ok && n.agent.state.kernel.error === undefined && !n.agent.state.kernel.matches;

/** A node box's title: name and backend, InternalIPs, pod CIDRs (both families), and what is wrong. */
export function nodeLabel(n: NodeView): string {
  const backend = n.agent.ok ? `  ·  ${n.agent.state.backend}` : '';
  const lines = [`${n.name}${backend}${n.unreadable === undefined ? '' : '  ·  unreadable'}`, n.internalIPs.join('  '), n.podCIDRs.join('  ')];
  if (!n.agent.ok) lines.push('agent unreachable');
  else if (drifted(n)) lines.push(`kernel drifted: ${n.agent.state.kernel.differences} differences`);
  return lines.filter((l) => l !== '').join('\n');
}

function bridgeLabel(n: NodeView): string {
  return n.agent.ok ? `bridge ${n.agent.state.bridge}` : 'bridge (agent unreachable)';
}

/** Isolation in words for the pod's box: which directions, by which policies, is in the side panel. */
export function isolatedDirections(p: PodView): string[] {
  const dirs: string[] = [];
  if (p.isolation.ingress.length > 0 || p.isolation.cluster.length > 0) dirs.push('ingress');
  if (p.isolation.egress.length > 0 || p.isolation.cluster.length > 0) dirs.push('egress');
  return dirs;
}

export function podLabel(p: PodView): string {
  const lines = [podKey(p), ...p.ips];
  if (p.hostNetwork) lines.push('hostNetwork');
  else if (p.veth) lines.push(p.veth);
  return lines.join('\n');
}

/** One family's hop: the VXLAN device, the peer's VTEP MAC and the MTU, or the underlay next hop. */
export function hopLabel(l: LinkView): string {
  if (l.kind === 'host-gw') return `via ${l.via}`;
  return [l.dev ?? 'vxlan', l.vtepMac, l.mtu === undefined ? undefined : `mtu ${l.mtu}`].filter((s) => s !== undefined).join(' ');
}

/** All elements for one view, parents before children (cytoscape's add() needs them in that order). */
export function viewElements(view: ClusterView): GraphElement[] {
  const out: GraphElement[] = [];
  const known = new Set(view.nodes.map((n) => n.name));
  for (const n of view.nodes) {
    const classes = ['k8s-node', n.agent.ok ? (drifted(n) ? 'drift' : '') : 'unreachable'].filter((c) => c !== '').join(' ');
    out.push({ group: 'nodes', data: { id: nodeId(n.name), label: nodeLabel(n) }, classes });
    out.push({ group: 'nodes', data: { id: bridgeId(n.name), parent: nodeId(n.name), label: bridgeLabel(n) }, classes: 'bridge' });
  }
  for (const p of view.pods) {
    const key = podKey(p);
    // Host-network pods have no veth on the bridge: they sit in the node's box beside it.
    const parent = !known.has(p.node) ? undefined : p.hostNetwork ? nodeId(p.node) : bridgeId(p.node);
    const classes = ['pod', p.hostNetwork ? 'host-network' : '', isolatedDirections(p).length > 0 ? 'isolated' : ''].filter((c) => c !== '').join(' ');
    const data = { id: podId(key), label: podLabel(p), color: namespaceColor(p.namespace) };
    out.push({ group: 'nodes', data: parent === undefined ? data : { ...data, parent }, classes });
  }
  // Each plan's links by ordered pair: the families of one pair share an edge, one line each.
  const pairs = new Map<string, LinkView[]>();
  for (const l of view.links) {
    if (!known.has(l.from) || !known.has(l.to) || l.from === l.to) continue;
    const id = `link:${l.from}>${l.to}`;
    pairs.set(id, [...(pairs.get(id) ?? []), l]);
  }
  for (const [id, links] of pairs) {
    const first = links[0] as LinkView;
    const sorted = [...links].sort((a, b) => a.family - b.family);
    out.push({
      group: 'edges',
      data: { id, source: nodeId(first.from), target: nodeId(first.to), label: sorted.map(hopLabel).join('\n') },
      classes: `link ${first.kind}`,
    });
  }
  return out;
}

/** What changed between the elements drawn and the next view's: ids to add, remove, and restyle. */
export interface ElementDiff {
  readonly add: GraphElement[];
  readonly remove: string[];
  readonly update: GraphElement[];
}

/** Elements whose parent or ends changed are removed and added again, so add() sees a whole element. */
export function diffElements(current: ReadonlyMap<string, GraphElement>, next: readonly GraphElement[]): ElementDiff {
  const add: GraphElement[] = [];
  const update: GraphElement[] = [];
  const remove: string[] = [];
  const nextIds = new Set(next.map((e) => e.data.id));
  const moved = new Set<string>();
  for (const e of next) {
    const cur = current.get(e.data.id);
    if (cur === undefined) add.push(e);
    else if (cur.data.parent !== e.data.parent || cur.data.source !== e.data.source || cur.data.target !== e.data.target) {
      moved.add(e.data.id);
      add.push(e);
    } else if (cur.data.label !== e.data.label || cur.data.color !== e.data.color || cur.classes !== e.classes) update.push(e);
  }
  for (const id of current.keys()) if (!nextIds.has(id) || moved.has(id)) remove.push(id);
  return { add, remove, update };
}
