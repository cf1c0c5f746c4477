// e2e/lib/prometheus.ts against real prom-client output (the library the agent exposes its metrics
// with): a registry's text goes through Prometheus' parser (e2e/promtext) and comes back as the
// families, labels and values put in; broken text is refused with the parser's message. Builds
// e2e/promtext on first use (Go and the module proxy, or a warm e2e cache).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { family, parseExposition, promtextBinary, series, total } from './prometheus.ts';

beforeAll(async () => {
  await promtextBinary();
}, 300_000);

describe('parseExposition', () => {
  it('reads back what prom-client rendered: counters, gauges and histograms with labels', async () => {
    const registry = new Registry();
    const denied = new Counter({ name: 'bench_denied_packets_total', help: 'Packets denied.', labelNames: ['namespace', 'pod', 'direction'], registers: [registry] });
    const used = new Gauge({ name: 'bench_ipam_used', help: 'Addresses in use.', labelNames: ['range'], registers: [registry] });
    const took = new Histogram({ name: 'bench_cni_duration_seconds', help: 'CNI call time.', labelNames: ['verb'], buckets: [0.01, 0.1, 1], registers: [registry] });
    denied.inc({ namespace: 'ns-a', pod: 'web-1', direction: 'ingress' }, 3);
    denied.inc({ namespace: 'ns-a', pod: 'web-1', direction: 'egress' });
    // Quotes, a backslash and a newline in a label value: escaped by prom-client, unescaped by the parser.
    denied.inc({ namespace: 'ns-b', pod: 'odd "name"\\x\ny', direction: 'ingress' }, 2);
    used.set({ range: '198.18.128.0/24' }, 7);
    used.set({ range: '198.18.129.0/24' }, -0.5);
    for (const s of [0.005, 0.05, 0.05, 2]) took.observe({ verb: 'ADD' }, s);
    took.observe({ verb: 'DEL' }, 0.02);
    collectDefaultMetrics({ register: registry });

    const fams = await parseExposition(await registry.metrics());

    const d = family(fams, 'bench_denied_packets_total')!;
    expect(d).toMatchObject({ type: 'counter', help: 'Packets denied.' });
    expect(d.metrics).toHaveLength(3);
    expect(series(fams, 'bench_denied_packets_total', { pod: 'web-1', direction: 'ingress' })).toEqual([{ labels: { namespace: 'ns-a', pod: 'web-1', direction: 'ingress' }, value: 3 }]);
    expect(series(fams, 'bench_denied_packets_total', { pod: 'odd "name"\\x\ny' })[0]?.value).toBe(2);
    expect(total(fams, 'bench_denied_packets_total')).toBe(6);
    expect(total(fams, 'bench_denied_packets_total', { namespace: 'ns-a' })).toBe(4);

    expect(family(fams, 'bench_ipam_used')?.type).toBe('gauge');
    expect(series(fams, 'bench_ipam_used', { range: '198.18.129.0/24' })[0]?.value).toBe(-0.5);

    const h = family(fams, 'bench_cni_duration_seconds')!;
    expect(h.type).toBe('histogram');
    const add = series(fams, 'bench_cni_duration_seconds', { verb: 'ADD' })[0]!;
    expect(add.buckets).toEqual([
      { le: 0.01, count: 1 },
      { le: 0.1, count: 3 },
      { le: 1, count: 3 },
      { le: Infinity, count: 4 },
    ]);
    expect(add.count).toBe(4);
    expect(add.sum).toBeCloseTo(2.105, 9);
    expect(total(fams, 'bench_cni_duration_seconds')).toBe(5);

    // prom-client's own process and Node metrics parse too (gauges, counters, histograms).
    expect(family(fams, 'process_cpu_seconds_total')?.type).toBe('counter');
    expect(family(fams, 'nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(fams.map((f) => f.name)).toEqual([...fams.map((f) => f.name)].sort());
  });

  it('gives NaN and the infinities back as numbers', async () => {
    const fams = await parseExposition('# TYPE g gauge\ng{k="nan"} NaN\ng{k="inf"} +Inf\ng{k="-inf"} -Inf\n');
    expect(series(fams, 'g', { k: 'nan' })[0]?.value).toBeNaN();
    expect(series(fams, 'g', { k: 'inf' })[0]?.value).toBe(Infinity);
    expect(series(fams, 'g', { k: '-inf' })[0]?.value).toBe(-Infinity);
  });

  it.each([
    ['a second HELP line', '# HELP a_total One.\n# HELP a_total Two.\n# TYPE a_total counter\na_total 1\n', /second HELP line for metric name "a_total"/],
    ['a value that is no number', '# TYPE a_total counter\na_total 1x\n', /expected float as value, got "1x"/],
    ['a second TYPE line', '# TYPE a gauge\n# TYPE a counter\na 1\n', /second TYPE line for metric name "a"/],
    ['an unclosed label value', 'a{x="1} 2\n', /text format parsing error/],
    ['a name the legacy scheme refuses', 'a.b 1\n', /text format parsing error/],
    ['the same series twice', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /series \{x="1"\} given more than once/],
  ])('refuses %s with the parser’s message', async (_what, text, message) => {
    await expect(parseExposition(text)).rejects.toThrow(message);
  });
});
