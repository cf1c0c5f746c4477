// The SVG chart writer of the policy scale bench: its scales, ticks and path data, and that a chart
// of both dataplanes has every line, marker and legend entry, well-formed and escaped.
import { describe, expect, it } from 'vitest';
import { countLabel, esc, lineChart, linearScale, linearTicks, logDomain, logScale, logTicks, msLabel, pathData, scaleChart, type ScalePoint, type ScaleResults } from './bench-svg.js';

describe('scales', () => {
  it('maps a domain onto a range, flipped ranges included', () => {
    const s = linearScale([0, 10_000], [100, 400]);
    expect([s(0), s(5000), s(10_000)]).toEqual([100, 250, 400]);
    expect(linearScale([0, 10], [300, 0])(2)).toBe(240);
    expect(linearScale([5, 5], [0, 100])(5)).toBe(50);
  });

  it('puts each decade the same distance apart on a log scale', () => {
    const s = logScale([1, 1000], [300, 0]);
    expect([s(1), s(10), s(100), s(1000)].map((v) => Math.round(v))).toEqual([300, 200, 100, 0]);
    expect(() => logScale([0, 10], [0, 1])).toThrow(/positive/);
  });

  it('widens a log domain to whole decades, at least one', () => {
    expect(logDomain([14, 350, 2100])).toEqual([10, 10_000]);
    expect(logDomain([20, 30])).toEqual([10, 100]);
    expect(logDomain([100])).toEqual([100, 1000]);
    expect(logDomain([0, -1])).toEqual([1, 10]);
  });

  it('ticks each power of ten of a log domain', () => {
    expect(logTicks([10, 10_000])).toEqual([10, 100, 1000, 10_000]);
    expect(logTicks([0.1, 1])).toEqual([0.1, 1]);
  });

  it('ticks a linear domain in round 1-2-5 steps that cover it', () => {
    expect(linearTicks(0, 10_000, 4)).toEqual([0, 5000, 10_000]);
    expect(linearTicks(0, 9000, 4)).toEqual([0, 5000, 10_000]);
    expect(linearTicks(0, 1000, 4)).toEqual([0, 500, 1000]);
    expect(linearTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(linearTicks(3, 3)).toEqual([3]);
  });
});

describe('path data and labels', () => {
  it('draws the points in order, rounded to 0.1 px', () => {
    const x = linearScale([0, 10], [0, 100]);
    const y = linearScale([0, 3], [30, 0]);
    expect(pathData([[0, 0], [5, 1], [10, 3]], x, y)).toBe('M0 30 L50 20 L100 0');
    expect(pathData([[1 / 3, 0]], x, y)).toBe('M3.3 30');
    expect(pathData([], x, y)).toBe('');
  });

  it('labels counts and durations briefly, and escapes text', () => {
    expect([countLabel(500), countLabel(1000), countLabel(2500)]).toEqual(['500', '1k', '2.5k']);
    expect([msLabel(10), msLabel(1000), msLabel(0.1), msLabel(1169.9)]).toEqual(['10 ms', '1 s', '0.1 ms', '1.17 s']);
    expect(esc('a < b & "c" > d')).toBe('a &lt; b &amp; &quot;c&quot; &gt; d');
  });
});

const point = (dataplane: string, pods: number, policies: number, fullMs: number): ScalePoint => ({
  dataplane,
  pods,
  local: 110,
  policies,
  fullMs,
  fullCompileMs: fullMs / 3,
  resyncMs: fullMs / 2,
  podAddedMs: 15,
  podRelabelledMs: 18,
  policyChangedMs: 25,
  heapMiB: 2,
  rssMiB: 70,
  rules: 400,
  chains: 90,
  sets: 60,
  entries: 2000,
  load: 1,
});

describe('scaleChart', () => {
  const results: ScaleResults = {
    what: 'test',
    date: '2026-12-06',
    cpus: 2,
    repeats: 5,
    rounds: 3,
    points: [
      point('nftables', 1000, 100, 80),
      point('iptables', 1000, 100, 110),
      point('iptables', 5000, 100, 300),
      point('iptables', 1000, 5000, 900),
      point('nftables', 5000, 100, 120),
    ],
  };
  const svg = scaleChart(results);

  it('has a panel per policy count, iptables before nftables', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>100 policies</text>');
    expect(svg).toContain('>5,000 policies</text>');
    expect(svg).toContain('NetworkPolicy on one node: iptables vs nftables');
  });

  it('draws a line per dataplane and measurement that has points, nftables dashed', () => {
    const paths = [...svg.matchAll(/<path d="([^"]+)"[^>]*stroke="(#[0-9a-f]+)"[^>]*>(?:<title>([^<]*)<\/title>)?/g)].filter((m) => m[3]);
    // 100 policies: 4 measurements x 2 dataplanes; 5,000 policies: 4 x iptables only.
    expect(paths).toHaveLength(12);
    const nftFull = svg.match(/<path d="[^"]+" fill="none" stroke="#1f77b4" stroke-width="2" stroke-dasharray="6 4"><title>nftables full sync, 100 policies<\/title>/);
    expect(nftFull).not.toBeNull();
    expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+ L[\d.]+ [\d.]+" fill="none" stroke="#1f77b4" stroke-width="2"><title>iptables full sync, 100 policies<\/title>/);
    // One marker per point and measurement.
    expect(svg.match(/<circle /g)).toHaveLength(results.points.length * 4);
  });

  it('has a shared log axis from the data and the targets, and a legend', () => {
    for (const t of ['10 ms', '100 ms', '1 s', '10 s']) expect(svg).toContain(`>${t}</text>`);
    for (const l of ['full sync', 'pod added', 'pod relabelled', 'policy changed', 'iptables', 'nftables']) expect(svg).toContain(`>${l}</text>`);
    expect(svg).toContain('nftables target: full sync');
  });

  it('says how it was measured, and under what load', () => {
    expect(svg).toContain('events: median of 5 per round, 3 rounds; 2 CPUs, load 1-1, 2026-12-06');
  });

  it('escapes what it is given', () => {
    const c = lineChart({ title: '<x & y>', subtitle: '', xLabel: 'x', xTickLabel: String, yTickLabel: String, panels: [], legend: [], guides: [] });
    expect(c).toContain('&lt;x &amp; y&gt;');
    expect(c).not.toContain('<x & y>');
  });
});
