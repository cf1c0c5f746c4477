// The page's entry (bundled by esbuild into build/ui.js): loads /api/view, then follows
// /api/stream (Server-Sent Events `view` and `verdict`) and hands each message to the graph, the
// side panel and the "why?" form. EventSource reconnects by itself; #status says whether it is up.
import type { ClusterView, VerdictEvent } from '../model.js';
import { createExplain } from './explain.js';
import { createGraph } from './graph.js';
import { createPanels } from './panels.js';
import { clock } from './rows.js';
import { type StreamState, streamState, verdictFromMessage, viewFromMessage } from './stream.js';

const status = document.getElementById('status') as HTMLElement;
const state: StreamState = streamState();
let lastView = '';

const showStatus = (): void => {
  status.setAttribute('data-connected', String(state.connected));
  status.textContent = `${state.connected ? 'connected' : 'disconnected'}${lastView === '' ? '' : ` · view ${clock(lastView)} UTC`}`;
};

const pick = (from: string, to: string): void => {
  graph.pick(from, to);
  panels.pick(from, to);
};
const explain = createExplain(pick);
const onPod = (key: string): void => {
  const pair = explain.click(key);
  pick(pair.from, pair.to);
};
const graph = createGraph(document.getElementById('graph') as HTMLElement, onPod);
const panels = createPanels(onPod);

function applyView(view: ClusterView): void {
  graph.apply(view);
  panels.apply(view);
  const { from, to } = explain.current();
  pick(from, to);
  lastView = view.generatedAt;
  showStatus();
}

function applyVerdict(node: string, event: VerdictEvent): void {
  const seen = state.seen(node, event, Date.now());
  if (seen.duplicate) return;
  panels.verdict(node, event);
  if (seen.draw) graph.verdict(event);
}

async function start(): Promise<void> {
  showStatus();
  try {
    const res = await fetch('api/view');
    if (res.ok) applyView((await res.json()) as ClusterView);
  } catch {
    // the stream's first message brings the view as well
  }
  follow();
}

/**
 * /api/stream. EventSource retries a dropped connection by itself, but gives up for good on an
 * answer that is not a stream (the server's 503 when it has all the viewers it takes, a proxy's
 * error page): then a new one is made after a while.
 */
function follow(): void {
  const source = new EventSource('api/stream');
  source.addEventListener('open', () => {
    state.open(Date.now());
    showStatus();
  });
  source.addEventListener('error', () => {
    state.close();
    showStatus();
    if (source.readyState === EventSource.CLOSED) setTimeout(follow, RECONNECT_MS);
  });
  source.addEventListener('view', (m) => {
    const view = viewFromMessage((m as MessageEvent<string>).data);
    if (view !== undefined) applyView(view);
  });
  source.addEventListener('verdict', (m) => {
    const v = verdictFromMessage((m as MessageEvent<string>).data);
    if (v !== undefined) applyVerdict(v.node, v.event);
  });
}

/** How long the page waits before following the stream again once EventSource has given up. */
const RECONNECT_MS = 5000;

void start();
