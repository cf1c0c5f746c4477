// Test helpers: a metric's value read back from the registry (prom-client's own JSON form).
import { registry } from './registry.js';

type Labels = Readonly<Record<string, string | number>>;

const matches = (have: Labels, want: Labels): boolean => Object.entries(want).every(([k, v]) => String(have[k]) === String(v));

/** The value of the series of `name` whose labels include `labels` (summed over matches); 0 when none. */
export async function valueOf(name: string, labels: Labels = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name}`);
  return m.values.filter((v) => matches(v.labels as Labels, labels)).reduce((n, v) => n + v.value, 0);
}

/** The label sets of the series of `name` (for a histogram: of its _count series). */
export async function seriesOf(name: string): Promise<Labels[]> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name}`);
  const values = String(m.type) === 'histogram' ? m.values.filter((v) => (v as { metricName?: string }).metricName === `${name}_count`) : m.values;
  return values.map((v) => v.labels as Labels);
}
