// The side panel's lists (#nodes, #pods, #events) kept in step with the data: rows are keyed and
// updated in place, so a row someone is clicking is not replaced under them every 250 ms. All text
// from the data goes in with textContent and setAttribute: names come from the API server.
import type { ClusterView, VerdictEvent } from '../model.js';
import { namespaceColor, podKey } from './elements.js';
import { eventMatches, eventRow, nodeRow, podRow, type Row } from './rows.js';

/** How many events the list keeps; older rows are dropped. */
export const MAX_EVENTS = 300;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className !== undefined) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Write a row's attributes and lines into its element (title line first, then details). */
function fill(e: HTMLElement, row: Row): void {
  for (const [k, v] of Object.entries(row.attrs)) if (e.getAttribute(`data-${k}`) !== v) e.setAttribute(`data-${k}`, v);
  const lines = e.querySelectorAll<HTMLElement>(':scope > .line');
  if (lines.length !== row.lines.length) {
    for (const l of lines) l.remove();
    row.lines.forEach((text, i) => e.append(el('div', i === 0 ? 'line title' : 'line', text)));
    return;
  }
  row.lines.forEach((text, i) => {
    const l = lines[i] as HTMLElement;
    if (l.textContent !== text) l.textContent = text;
  });
}

/** Keyed rows in a container, in the given order; rows of keys no longer there are removed. */
function sync(container: HTMLElement, rows: readonly { key: string; row: Row }[], make: (key: string) => HTMLElement, byKey: Map<string, HTMLElement>): void {
  const keep = new Set(rows.map((r) => r.key));
  for (const [key, e] of byKey) if (!keep.has(key)) {
    e.remove();
    byKey.delete(key);
  }
  let prev: Element | null = null;
  for (const { key, row } of rows) {
    let e = byKey.get(key);
    if (e === undefined) {
      e = make(key);
      byKey.set(key, e);
    }
    fill(e, row);
    const want: Element | null = prev === null ? container.firstElementChild : prev.nextElementSibling;
    if (want !== e) container.insertBefore(e, want);
    prev = e;
  }
}

export interface Panels {
  apply(view: ClusterView): void;
  verdict(node: string, event: VerdictEvent): void;
  /** Mark the "why?" pair's rows. */
  pick(from: string, to: string): void;
}

export function createPanels(onPodClick: (key: string) => void): Panels {
  const nodes = document.getElementById('nodes') as HTMLElement;
  const pods = document.getElementById('pods') as HTMLElement;
  const events = document.getElementById('events') as HTMLElement;
  const nsFilter = document.getElementById('filter-namespace') as HTMLInputElement;
  const podFilter = document.getElementById('filter-pod') as HTMLInputElement;
  const nodeRows = new Map<string, HTMLElement>();
  const podRows = new Map<string, HTMLElement>();
  const eventData = new WeakMap<HTMLElement, VerdictEvent>();
  let seq = 0;

  const filter = (e: HTMLElement): void => {
    const ev = eventData.get(e);
    e.hidden = ev !== undefined && !eventMatches(ev, nsFilter.value, podFilter.value);
  };
  const refilter = (): void => {
    for (const e of events.querySelectorAll<HTMLElement>('[data-event]')) filter(e);
  };
  nsFilter.addEventListener('input', refilter);
  podFilter.addEventListener('input', refilter);

  return {
    apply(view) {
      const ns = [...view.nodes].sort((a, b) => a.name.localeCompare(b.name)).map((n) => ({ key: n.name, row: nodeRow(n) }));
      sync(nodes, ns, () => el('li', 'row node-row'), nodeRows);
      const ps = [...view.pods].sort((a, b) => podKey(a).localeCompare(podKey(b))).map((p) => ({ key: podKey(p), row: podRow(p) }));
      sync(
        pods,
        ps,
        (key) => {
          const e = el('li', 'row pod-row');
          e.style.setProperty('--ns-color', namespaceColor(key.split('/')[0] ?? ''));
          e.tabIndex = 0;
          e.addEventListener('click', () => onPodClick(key));
          e.addEventListener('keydown', (k) => {
            if (k.key === 'Enter' || k.key === ' ') onPodClick(key);
          });
          return e;
        },
        podRows,
      );
    },

    verdict(node, event) {
      const e = el('li', `row event-row ${event.verdict}`);
      fill(e, eventRow(++seq, node, event));
      eventData.set(e, event);
      filter(e);
      events.prepend(e);
      while (events.children.length > MAX_EVENTS) events.lastElementChild?.remove();
    },

    pick(from, to) {
      for (const [key, e] of podRows) {
        e.classList.toggle('pick-from', key === from);
        e.classList.toggle('pick-to', key === to);
      }
    },
  };
}
