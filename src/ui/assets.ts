// The page and its script as `gingham ui` serves them: the HTML (inline CSS, no CDN, no external
// font: the page works offline) and the page bundle build/ui.js (src/ui/page/, bundled by
// src/build/sea.mjs). In the single executable the bundle is the SEA asset 'ui.js'; run from
// build/ (`node build/gingham.cjs`) it is read from beside the script, as src/agent/load.ts does.
// URLs in the page are relative, so it also works behind a path prefix (kubectl proxy).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as sea from 'node:sea';

export const UI_ASSET = 'ui.js';

let script: string | undefined;

/** The page bundle, read once. */
export function pageScript(): string {
  if (script === undefined) {
    if (sea.isSea()) script = sea.getAsset(UI_ASSET, 'utf8');
    else {
      const file = join(dirname(process.argv[1] ?? '.'), UI_ASSET);
      try {
        script = readFileSync(file, 'utf8');
      } catch (e) {
        throw new Error(`the page bundle ${file} is missing (make build writes it): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return script;
}

const CSS = `
:root { --fg: #1d2733; --muted: #5f6c7b; --line: #d5dce4; --bg: #f7f9fb; --panel: #ffffff; --deny: #d62728; --allow: #2ca02c; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); display: flex; flex-direction: column; }
header { display: flex; align-items: baseline; gap: 16px; padding: 8px 16px; background: #24303d; color: #fff; }
header h1 { font-size: 17px; margin: 0; font-weight: 600; }
header .sub { color: #b8c4d0; }
#status { margin-left: auto; font-variant-numeric: tabular-nums; padding: 2px 10px; border-radius: 10px; background: #6b7480; }
#status[data-connected="true"] { background: #2b7a3d; }
#status[data-connected="false"] { background: #a3312f; }
main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(0, 1fr) 420px; }
#graph { min-width: 0; min-height: 400px; background: #fff; border-right: 1px solid var(--line); }
aside { overflow-y: auto; padding: 4px 12px 12px; }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 12px 0 6px; }
ul, ol { list-style: none; margin: 0; padding: 0; }
.row { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; margin-bottom: 4px; }
.line { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.line.title { color: var(--fg); font-weight: 600; font-size: 13px; }
.node-row[data-drift="true"] { border: 2px solid var(--deny); }
.node-row[data-drift="true"] .line:last-child { color: var(--deny); font-weight: 600; }
.node-row[data-agent="unreachable"] { border-style: dashed; background: #f3f3f3; }
.node-row[data-agent="unreachable"] .line:last-child { color: var(--deny); }
.pod-row { border-left: 6px solid var(--ns-color, #999); cursor: pointer; }
.pod-row:hover { background: #f1f5fa; }
.pod-row[data-isolated]:not([data-isolated=""]) { box-shadow: inset 0 0 0 2px #111; }
.pod-row[data-isolated]:not([data-isolated=""]) .line:last-child { color: #111; }
.pod-row.pick-from, .pod-row.pick-to { background: #fff3c4; }
.pod-row.pick-from .title::after { content: "  ← from"; color: #a26b00; }
.pod-row.pick-to .title::after { content: "  ← to"; color: #a26b00; }
#events { max-height: 34vh; overflow-y: auto; }
.filters { display: flex; gap: 6px; margin-bottom: 6px; }
input, select, button { font: inherit; padding: 3px 6px; border: 1px solid #b9c3ce; border-radius: 4px; background: #fff; color: var(--fg); min-width: 0; }
.filters input { flex: 1; }
.event-row { border-left: 6px solid #999; padding: 3px 8px; }
.event-row.denied { border-left-color: var(--deny); }
.event-row.denied .title { color: var(--deny); }
.event-row.accepted { border-left-color: var(--allow); }
.event-row .title { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; font-weight: 500; }
.why { display: grid; grid-template-columns: 44px 1fr; gap: 4px 6px; align-items: center; }
.why label { color: var(--muted); }
.why .port { display: flex; gap: 6px; }
.why .port input { width: 90px; }
#explain-go { flex: 1; background: #24303d; color: #fff; border-color: #24303d; cursor: pointer; }
#explain-go:disabled { opacity: .6; }
#explain-result { margin-top: 6px; }
#explain-result pre { margin: 0; padding: 6px 8px; white-space: pre-wrap; overflow-wrap: anywhere; font: 11.5px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; background: #f1f3f5; border-radius: 6px; border-left: 6px solid #999; min-height: 1em; }
#explain-result[data-allowed="true"] pre { border-left-color: var(--allow); }
#explain-result[data-allowed="false"] pre { border-left-color: var(--deny); }
#explain-result pre:empty { display: none; }
.hint { color: var(--muted); font-size: 12px; margin: 0 0 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; color: var(--muted); font-size: 12px; margin: 0 0 6px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
.legend .iso::before { border: 3px solid #111; width: 6px; height: 6px; }
.legend .drift::before { border: 2px solid var(--deny); }
.legend .deny::before { background: var(--deny); height: 3px; vertical-align: 3px; }
.legend .allow::before { background: var(--allow); height: 3px; vertical-align: 3px; }
@media (max-width: 1100px) { main { grid-template-columns: 1fr; } #graph { height: 70vh; } }
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'">
<title>gingham · live class view</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>gingham</h1><span class="sub">live class view</span><span id="status" data-connected="false">connecting</span></header>
<main>
<div id="graph"></div>
<aside>
<h2>Nodes</h2>
<ul id="nodes"></ul>
<h2>Why?</h2>
<div class="why">
<label for="explain-from">from</label><input id="explain-from" placeholder="namespace/pod (click a pod)" autocomplete="off">
<label for="explain-to">to</label><input id="explain-to" placeholder="namespace/pod (click another)" autocomplete="off">
<label for="explain-port">port</label><span class="port"><input id="explain-port" type="number" min="1" max="65535" value="80"><select id="explain-protocol"><option>TCP</option><option>UDP</option><option>SCTP</option></select><button id="explain-go" type="button">why?</button></span>
</div>
<div id="explain-result"><pre></pre></div>
<h2>Verdicts</h2>
<p class="legend"><span class="deny">denied</span><span class="allow">accepted</span><span class="iso">isolated pod</span><span class="drift">kernel drifted</span></p>
<div class="filters"><input id="filter-namespace" placeholder="filter namespace" autocomplete="off"><input id="filter-pod" placeholder="filter pod or address" autocomplete="off"></div>
<ol id="events"></ol>
<h2>Pods</h2>
<ul id="pods"></ul>
</aside>
</main>
<script src="app.js"></script>
</body>
</html>
`;

export function pageHtml(): string {
  return HTML;
}
