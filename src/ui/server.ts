// `gingham ui`'s routes: the page and its script, the view (once, or as a stream of changes and
// verdicts) and "why?" (/api/explain). All GET, all read-only; served by the agent's own route
// server (serveRoutes), which bounds request time and answers 404/405 for everything else.
import type { Answer, Routes } from '../agent/health.js';
import { pageHtml, pageScript } from './assets.js';
import { type ClusterRead, explainAnswer } from './explain-query.js';
import type { ViewHub } from './stream.js';

export function uiRoutes(hub: ViewHub, read: ClusterRead): Routes {
  const text = (t: string, contentType: string): Answer => ({ status: 200, text: t, contentType });
  return {
    '/': () => text(pageHtml(), 'text/html; charset=utf-8'),
    '/app.js': () => text(pageScript(), 'text/javascript; charset=utf-8'),
    '/api/view': () => ({ status: 200, body: hub.view() }),
    '/api/stream': () => hub.streamAnswer(),
    '/api/explain': (q) => explainAnswer(q, read),
  };
}
