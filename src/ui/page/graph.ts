// The #graph canvas: cytoscape draws the elements elements.ts computes and lays them out (cose,
// which packs compound boxes: node → bridge → pods). Each view is applied as a diff so existing
// boxes keep their places; the layout runs again only when nodes or pods come or go. Verdicts are
// short-lived arrows between pods that fade out.
import cytoscape from 'cytoscape';
import type { ClusterView, VerdictEvent } from '../model.js';
import { diffElements, type GraphElement, podId, viewElements } from './elements.js';

/** How long a verdict's arrow stays, fading, in ms. */
export const ARROW_MS = 5000;

const STYLE: cytoscape.StylesheetJson = [
  {
    selector: 'node',
    style: { label: 'data(label)', 'text-wrap': 'wrap', 'font-family': 'system-ui, sans-serif', color: '#1d2733', 'min-zoomed-font-size': 6 },
  },
  {
    selector: 'node.k8s-node',
    style: {
      shape: 'round-rectangle',
      'background-color': '#eef2f7',
      'border-width': 2,
      'border-color': '#5b6b7f',
      'text-valign': 'top',
      'text-halign': 'center',
      'font-size': 15,
      'font-weight': 'bold',
      'text-margin-y': -6,
      padding: '18px',
    },
  },
  { selector: 'node.k8s-node.drift', style: { 'border-color': '#d62728', 'border-width': 5, color: '#b00000' } },
  { selector: 'node.k8s-node.unreachable', style: { 'border-style': 'dashed', 'border-color': '#9aa3ad', 'background-color': '#f3f3f3', color: '#6b7480' } },
  {
    selector: 'node.bridge',
    style: {
      shape: 'round-rectangle',
      'background-color': '#ffffff',
      'border-width': 1,
      'border-style': 'dashed',
      'border-color': '#8a97a8',
      'text-valign': 'top',
      'text-halign': 'center',
      'font-size': 11,
      color: '#4a5868',
      padding: '12px',
    },
  },
  {
    selector: 'node.pod',
    style: {
      shape: 'round-rectangle',
      width: 24,
      height: 24,
      'background-color': 'data(color)',
      'border-width': 1,
      'border-color': '#ffffff',
      'text-valign': 'bottom',
      'text-halign': 'center',
      'text-margin-y': 3,
      'font-size': 11,
      'text-max-width': '120px',
      // Pod names have no spaces to break at: long ones wrap anywhere rather than widen the grid.
      'text-overflow-wrap': 'anywhere',
    },
  },
  { selector: 'node.pod.host-network', style: { shape: 'diamond', 'background-opacity': 0.55 } },
  { selector: 'node.pod.isolated', style: { 'border-width': 5, 'border-color': '#111111' } },
  { selector: 'node.pod.pick-from, node.pod.pick-to', style: { 'overlay-color': '#ffbf00', 'overlay-opacity': 0.45, 'overlay-padding': 6 } },
  { selector: 'node:selected', style: { 'overlay-opacity': 0 } },
  {
    selector: 'edge.link',
    style: {
      width: 2,
      'line-color': '#5b6b7f',
      'target-arrow-color': '#5b6b7f',
      'target-arrow-shape': 'triangle',
      'curve-style': 'bezier',
      // The two directions of a pair bow apart and their labels follow the line, so they do not
      // cover each other.
      'control-point-step-size': 120,
      label: 'data(label)',
      'text-rotation': 'autorotate',
      'text-wrap': 'wrap',
      'font-size': 10,
      'font-family': 'ui-monospace, monospace',
      color: '#24303d',
      'text-background-color': '#ffffff',
      'text-background-opacity': 0.9,
      'text-background-padding': '2px',
      'text-border-width': 1,
      'text-border-color': '#c9d1db',
      'text-border-opacity': 1,
    },
  },
  { selector: 'edge.link.host-gw', style: { 'line-style': 'dashed' } },
  {
    selector: 'edge.verdict',
    style: { width: 4, 'curve-style': 'straight', 'target-arrow-shape': 'triangle', 'arrow-scale': 1.4, 'z-index': 100, 'z-compound-depth': 'top' },
  },
  { selector: 'edge.verdict.denied', style: { 'line-color': '#d62728', 'target-arrow-color': '#d62728' } },
  { selector: 'edge.verdict.accepted', style: { 'line-color': '#2ca02c', 'target-arrow-color': '#2ca02c' } },
];

export interface Graph {
  apply(view: ClusterView): void;
  verdict(event: VerdictEvent): void;
  /** Mark the "why?" pair's pods (NS/NAME, '' for none). */
  pick(from: string, to: string): void;
}

export function createGraph(container: HTMLElement, onPodTap: (key: string) => void): Graph {
  const cy = cytoscape({ container, style: STYLE, minZoom: 0.2, maxZoom: 3, boxSelectionEnabled: false });
  // For the browser tests and the console: window.ginghamGraph.edges('edge.verdict.denied') are the arrows shown.
  (window as unknown as { ginghamGraph: cytoscape.Core }).ginghamGraph = cy;
  const drawn = new Map<string, GraphElement>();
  let seq = 0;
  let picked = { from: '', to: '' };

  // Classes set from the view replace all of an element's classes: the pair's marks go on after.
  const mark = (): void => {
    cy.nodes('.pick-from, .pick-to').removeClass('pick-from pick-to');
    if (picked.from !== '') cy.getElementById(podId(picked.from)).addClass('pick-from');
    if (picked.to !== '') cy.getElementById(podId(picked.to)).addClass('pick-to');
  };

  cy.on('tap', 'node.pod', (e) => onPodTap(String(e.target.id()).slice('pod:'.length)));

  // Pods keep their place in their bridge's grid: new ones go last.
  const arrival = new Map<string, number>();
  let arrivals = 0;
  const byArrival = (a: cytoscape.NodeSingular, b: cytoscape.NodeSingular): number => (arrival.get(a.id()) ?? 0) - (arrival.get(b.id()) ?? 0);

  // Built-in layouts do not place compound boxes, and cose packs each edgeless pod as a component of
  // its own (so boxes end up overlapping). So two levels: a grid of pods in each bridge (host-network
  // pods below it), then the node boxes as a circle of stand-ins of their size in a headless
  // instance, each box moved to its stand-in's place.
  const layout = (): void => {
    const grid = (pods: cytoscape.NodeCollection, x: number, y: number): void => {
      if (pods.empty()) return;
      const cols = Math.max(2, Math.ceil(Math.sqrt(pods.length)));
      pods.layout({ name: 'grid', cols, fit: false, avoidOverlap: true, avoidOverlapPadding: 10, nodeDimensionsIncludeLabels: true, boundingBox: { x1: x, y1: y, w: 1, h: 1 }, sort: byArrival }).run();
    };
    const boxes = cy.nodes('.k8s-node');
    boxes.forEach((box) => {
      const origin = box.boundingBox();
      const bridge = box.children('.bridge');
      grid(bridge.children('.pod'), origin.x1, origin.y1);
      const below = bridge.boundingBox();
      grid(box.children('.pod'), below.x1, below.y2 + 24);
    });
    const standIns = cytoscape({
      headless: true,
      styleEnabled: true,
      style: [{ selector: 'node', style: { width: 'data(w)', height: 'data(h)' } }],
      elements: boxes.map((box) => {
        const bb = box.boundingBox();
        return { group: 'nodes' as const, data: { id: box.id(), w: bb.w, h: bb.h } };
      }),
    });
    // A circle (three nodes: a triangle, so no tunnel passes behind a third box) just wide enough
    // that neighbours keep a gap for the tunnels' labels: circle's own avoidOverlap spaces far more.
    const diagonal = Math.max(0, ...standIns.nodes().map((n) => Math.hypot(n.width(), n.height())));
    const radius = boxes.length < 2 ? 0 : (diagonal + 220) / (2 * Math.sin(Math.PI / boxes.length));
    standIns.layout({ name: 'circle', radius, startAngle: boxes.length === 2 ? Math.PI : -Math.PI / 2, sort: (a, b) => a.id().localeCompare(b.id()) }).run();
    cy.batch(() => {
      boxes.forEach((box) => {
        const to = standIns.getElementById(box.id()).position();
        const bb = box.boundingBox();
        box.descendants().filter((d) => !d.isParent()).shift({ x: to.x - (bb.x1 + bb.w / 2), y: to.y - (bb.y1 + bb.h / 2) });
      });
    });
    // Pods of no known node (not scheduled, or their node gone) in a grid under the boxes.
    const all = boxes.boundingBox();
    grid(cy.nodes('.pod').orphans(), all.x1, all.y2 + 40);
    standIns.destroy();
    cy.fit(undefined, 16);
  };

  return {
    apply(view) {
      const next = viewElements(view);
      const diff = diffElements(drawn, next);
      cy.batch(() => {
        for (const id of diff.remove) {
          cy.getElementById(id).remove();
          drawn.delete(id);
          arrival.delete(id);
        }
        // Removing a parent takes its children with it: those that stay are added back.
        for (const e of next) if (drawn.has(e.data.id) && cy.getElementById(e.data.id).empty()) {
          drawn.delete(e.data.id);
          diff.add.push(e);
        }
        const order = new Map(next.map((e, i) => [e.data.id, i]));
        diff.add.sort((a, b) => (order.get(a.data.id) ?? 0) - (order.get(b.data.id) ?? 0));
        for (const e of diff.add) {
          // A new pod starts at its box's centre, so the layout moves it from there.
          const parent = e.data.parent === undefined ? undefined : cy.getElementById(e.data.parent);
          const position = parent !== undefined && parent.nonempty() ? { ...parent.position() } : undefined;
          cy.add(position === undefined ? { ...e, data: { ...e.data } } : { ...e, data: { ...e.data }, position });
          drawn.set(e.data.id, e);
          if (!arrival.has(e.data.id)) arrival.set(e.data.id, ++arrivals);
        }
        for (const e of diff.update) {
          const el = cy.getElementById(e.data.id);
          el.data({ ...e.data });
          el.classes(e.classes);
          drawn.set(e.data.id, e);
        }
        mark();
      });
      const nodesChanged = diff.add.some((e) => e.group === 'nodes') || diff.remove.some((id) => !id.startsWith('link:'));
      if (nodesChanged) layout();
    },

    verdict(event) {
      const src = event.src.pod;
      const dst = event.dst.pod;
      if (src === undefined || dst === undefined) return;
      const s = cy.getElementById(podId(src));
      const t = cy.getElementById(podId(dst));
      if (s.empty() || t.empty()) return;
      const edge = cy.add({ group: 'edges', data: { id: `verdict:${++seq}`, source: s.id(), target: t.id() }, classes: `verdict ${event.verdict}` });
      edge.animate({ style: { opacity: 0 } }, { duration: ARROW_MS, easing: 'ease-in-sine', complete: () => edge.remove() });
    },

    pick(from, to) {
      picked = { from, to };
      cy.batch(mark);
    },
  };
}
