// The policy scale curve as an SVG line chart, drawn from the bench's own JSON (policy-bench.ts
// --grid writes both), so the README's picture is always the figures of a run and never drawn by
// hand. No dependencies: scales, ticks and path data are small pure functions (bench-svg.test.ts),
// and the chart is a string. Small multiples: one panel per policy count, x = cluster-wide pods,
// y = ms on a log scale shared by the panels (full syncs and single events differ by 100x), one
// colour per measurement, iptables solid and nftables dashed, the issue's nftables targets as
// dotted guides. Also a script (Node 24, type stripping), to redraw from a results file:
//   node src/scripts/bench-svg.ts [e2e/bench/figures/policy-scale.json] [e2e/bench/figures/policy-scale.svg]
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** One grid point of policy-bench.ts --grid (times in ms: full sync and resync once, events medians). */
export interface ScalePoint {
  readonly dataplane: string;
  /** Cluster-wide pods, of which `local` on the measured node. */
  readonly pods: number;
  readonly local: number;
  readonly policies: number;
  readonly fullMs: number;
  readonly fullCompileMs: number;
  readonly resyncMs: number;
  readonly podAddedMs: number;
  readonly podRelabelledMs: number;
  readonly policyChangedMs: number;
  /** Heap the compiled ruleset and the compiler hold; the process's RSS; both after the full sync. */
  readonly heapMiB: number;
  readonly rssMiB: number;
  readonly rules: number;
  readonly chains: number;
  readonly sets: number;
  readonly entries: number;
  /** 1-minute load average when the point ended. */
  readonly load: number;
}

export interface ScaleResults {
  readonly what: string;
  readonly date: string;
  readonly cpus: number;
  /** Events: the median of `repeats` per round; every figure: the median of `rounds`. */
  readonly repeats: number;
  readonly rounds: number;
  readonly points: readonly ScalePoint[];
}

export type Scale = (v: number) => number;

/** Maps [d0, d1] onto [r0, r1] linearly (a flat domain maps to the middle of the range). */
export function linearScale([d0, d1]: readonly [number, number], [r0, r1]: readonly [number, number]): Scale {
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** Maps [d0, d1] (both > 0) onto [r0, r1] by their logarithms. */
export function logScale([d0, d1]: readonly [number, number], range: readonly [number, number]): Scale {
  if (d0 <= 0 || d1 <= 0) throw new Error(`a log scale needs a positive domain, not [${d0}, ${d1}]`);
  const s = linearScale([Math.log10(d0), Math.log10(d1)], range);
  return (v) => s(Math.log10(v));
}

/** The powers of ten around the values: [10^floor(log min), 10^ceil(log max)], at least one decade wide. */
export function logDomain(values: readonly number[]): [number, number] {
  const pos = values.filter((v) => v > 0);
  if (pos.length === 0) return [1, 10];
  const lo = Math.floor(Math.log10(Math.min(...pos)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...pos))));
  return [10 ** lo, 10 ** hi];
}

/** Ticks at each power of ten of a log domain. */
export function logTicks([d0, d1]: readonly [number, number]): number[] {
  const ticks: number[] = [];
  for (let e = Math.ceil(Math.log10(d0) - 1e-9); e <= Math.floor(Math.log10(d1) + 1e-9); e++) ticks.push(10 ** e);
  return ticks;
}

/** About `count` round ticks (steps of 1, 2 or 5 times a power of ten) from 0 or below `min` to at least `max`. */
export function linearTicks(min: number, max: number, count = 5): number[] {
  if (max <= min) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v < max + step - 1e-9 * step; v += step) ticks.push(Math.round(v / step) * step);
  return ticks;
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** SVG path data through the points, in order ("M x y L x y ..."), to 0.1 px. */
export function pathData(points: readonly (readonly [number, number])[], x: Scale, y: Scale): string {
  return points.map(([a, b], i) => `${i === 0 ? 'M' : 'L'}${round(x(a))} ${round(y(b))}`).join(' ');
}

/** Text for XML content and attributes. */
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 1000 -> "1k", 2500 -> "2.5k", 500 -> "500". */
export const countLabel = (v: number): string => (v >= 1000 ? `${v / 1000}k` : String(v));
/** 10 -> "10 ms", 1000 -> "1 s", 0.1 -> "0.1 ms". */
/** Milliseconds as a label, at most four significant digits (no binary-fraction tails). */
export const msLabel = (v: number): string => (v >= 1000 ? `${Number((v / 1000).toPrecision(4))} s` : `${Number(v.toPrecision(4))} ms`);

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed: boolean;
  /** [x, y], drawn in x order. */
  readonly points: readonly (readonly [number, number])[];
}

export interface Chart {
  readonly title: string;
  readonly subtitle: string;
  readonly xLabel: string;
  readonly xTickLabel: (v: number) => string;
  readonly yTickLabel: (v: number) => string;
  readonly panels: readonly { readonly title: string; readonly series: readonly Series[] }[];
  /** Legend entries: what each colour and each line style means. */
  readonly legend: readonly { readonly label: string; readonly color: string; readonly dashed: boolean }[];
  /** Horizontal dotted lines (targets), with a label at their right end. */
  readonly guides: readonly { readonly y: number; readonly label: string }[];
}

const PANEL_W = 300;
const PANEL_H = 260;
const MARGIN = { left: 76, right: 16, top: 70, gap: 36, bottom: 50 };
const DASH = '6 4';
const LEGEND_W = 160;

/** The chart as an SVG document: panels side by side, one shared log y axis range. */
export function lineChart(c: Chart): string {
  const all = c.panels.flatMap((p) => p.series.flatMap((s) => s.points));
  const yDomain = logDomain([...all.map(([, v]) => v), ...c.guides.map((g) => g.y)]);
  const xMax = Math.max(1, ...all.map(([v]) => v));
  const xTicks = linearTicks(0, xMax, 4);
  const xDomain: [number, number] = [0, xTicks.at(-1)!];

  const width = MARGIN.left + c.panels.length * PANEL_W + (c.panels.length - 1) * MARGIN.gap + MARGIN.right;
  const perRow = Math.max(1, Math.floor((width - MARGIN.left) / LEGEND_W));
  const legendRows = Math.ceil(c.legend.length / perRow);
  const height = MARGIN.top + PANEL_H + MARGIN.bottom + legendRows * 20 + 10;
  const y = logScale(yDomain, [MARGIN.top + PANEL_H, MARGIN.top]);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(c.title)}</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${esc(c.subtitle)}</text>`,
    `<text transform="translate(14 ${MARGIN.top + PANEL_H / 2}) rotate(-90)" text-anchor="middle">ms (log scale)</text>`,
  ];
  c.panels.forEach((panel, i) => {
    const left = MARGIN.left + i * (PANEL_W + MARGIN.gap);
    const x = linearScale(xDomain, [left, left + PANEL_W]);
    const bottom = MARGIN.top + PANEL_H;
    out.push(`<text x="${left + PANEL_W / 2}" y="${MARGIN.top - 10}" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`);
    for (const t of logTicks(yDomain)) {
      out.push(`<line x1="${left}" x2="${left + PANEL_W}" y1="${round(y(t))}" y2="${round(y(t))}" stroke="#e4e4e4"/>`);
      if (i === 0) out.push(`<text x="${left - 6}" y="${round(y(t)) + 4}" text-anchor="end">${esc(c.yTickLabel(t))}</text>`);
    }
    for (const t of xTicks) {
      out.push(`<line x1="${round(x(t))}" x2="${round(x(t))}" y1="${bottom}" y2="${bottom + 5}" stroke="#333"/>`);
      out.push(`<text x="${round(x(t))}" y="${bottom + 18}" text-anchor="middle">${esc(c.xTickLabel(t))}</text>`);
    }
    out.push(`<path d="M${left} ${MARGIN.top} V${bottom} H${left + PANEL_W}" fill="none" stroke="#333"/>`);
    out.push(`<text x="${left + PANEL_W / 2}" y="${bottom + 36}" text-anchor="middle">${esc(c.xLabel)}</text>`);
    for (const g of c.guides) {
      out.push(`<line x1="${left}" x2="${left + PANEL_W}" y1="${round(y(g.y))}" y2="${round(y(g.y))}" stroke="#888" stroke-dasharray="2 3"/>`);
      out.push(`<text x="${left + PANEL_W - 2}" y="${round(y(g.y)) - 3}" text-anchor="end" font-size="10" fill="#666">${esc(g.label)}</text>`);
    }
    for (const s of panel.series) {
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      if (pts.length === 0) continue;
      out.push(`<path d="${pathData(pts, x, y)}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ` stroke-dasharray="${DASH}"` : ''}><title>${esc(s.label)}</title></path>`);
      for (const [a, b] of pts) out.push(`<circle cx="${round(x(a))}" cy="${round(y(b))}" r="3" fill="${s.color}"><title>${esc(`${s.label}: ${c.xTickLabel(a)}, ${c.yTickLabel(b)}`)}</title></circle>`);
    }
  });
  const legendTop = MARGIN.top + PANEL_H + MARGIN.bottom + 8;
  c.legend.forEach((l, i) => {
    const lx = MARGIN.left + (i % perRow) * LEGEND_W;
    const ly = legendTop + Math.floor(i / perRow) * 20;
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${l.color}" stroke-width="2"${l.dashed ? ` stroke-dasharray="${DASH}"` : ''}/>`);
    out.push(`<text x="${lx + 34}" y="${ly + 4}">${esc(l.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The measurements drawn, each a colour. */
const MEASURES = [
  { key: 'fullMs', label: 'full sync', color: '#1f77b4' },
  { key: 'podAddedMs', label: 'pod added', color: '#2ca02c' },
  { key: 'podRelabelledMs', label: 'pod relabelled', color: '#ff7f0e' },
  { key: 'policyChangedMs', label: 'policy changed', color: '#d62728' },
] as const;
const DATAPLANE_ORDER = ['iptables', 'nftables'];

/** The scale results as a chart: a panel per policy count, a line per dataplane and measurement. */
export function scaleChart(r: ScaleResults): string {
  const policyCounts = [...new Set(r.points.map((p) => p.policies))].sort((a, b) => a - b);
  const dataplanes = [...new Set(r.points.map((p) => p.dataplane))].sort((a, b) => DATAPLANE_ORDER.indexOf(a) - DATAPLANE_ORDER.indexOf(b));
  const dashed = (d: string): boolean => d !== 'iptables';
  const local = [...new Set(r.points.map((p) => p.local))].join('/');
  const loads = r.points.map((p) => p.load);
  return lineChart({
    title: `NetworkPolicy on one node: ${dataplanes.join(' vs ')}`,
    subtitle: `${local} pods on the node; compile + apply; events: median of ${r.repeats} per round, ${r.rounds} rounds; ${r.cpus} CPUs, load ${Math.min(...loads)}-${Math.max(...loads)}, ${r.date}`,
    xLabel: 'pods in the cluster',
    xTickLabel: countLabel,
    yTickLabel: msLabel,
    panels: policyCounts.map((n) => ({
      title: `${n.toLocaleString('en-US')} policies`,
      series: dataplanes.flatMap((d) =>
        MEASURES.map((m) => ({
          label: `${d} ${m.label}, ${n} policies`,
          color: m.color,
          dashed: dashed(d),
          points: r.points.filter((p) => p.dataplane === d && p.policies === n).map((p): [number, number] => [p.pods, p[m.key]]),
        })),
      ),
    })),
    legend: [...MEASURES.map((m) => ({ label: m.label, color: m.color, dashed: false })), ...dataplanes.map((d) => ({ label: d, color: '#333', dashed: dashed(d) }))],
    guides: [
      { y: 2000, label: 'nftables target: full sync' },
      { y: 20, label: 'nftables target: one event' },
    ],
  });
}

// Run as a script (not when imported by the tests or bundled into policy-bench).
if (import.meta.url.endsWith('/bench-svg.ts') && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [input = 'e2e/bench/figures/policy-scale.json', output = 'e2e/bench/figures/policy-scale.svg'] = process.argv.slice(2);
  writeFileSync(output, scaleChart(JSON.parse(readFileSync(input, 'utf8')) as ScaleResults));
  process.stdout.write(`${output}\n`);
}
