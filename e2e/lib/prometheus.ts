// Prometheus text expositions (the agents' /metrics) read with Prometheus' own parser: e2e/promtext,
// a small Go program around github.com/prometheus/common/expfmt, built into the e2e cache on first
// use. A text the parser refuses (or with a series given twice) rejects with the parser's message, so
// a check of the agent's metrics is also a check that a Prometheus server could scrape them. Plain
// Node too (e2e/bench runs under type stripping): no vitest import, `.ts` specifiers.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO } from './env.ts';

const run = promisify(execFile);

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'untyped';

/** One series of a family; value for counters, gauges and untyped, the rest for histograms and summaries. */
export interface Metric {
  labels: Record<string, string>;
  value?: number;
  /** Cumulative, as exposed, the +Inf bucket included (le Infinity). */
  buckets?: { le: number; count: number }[];
  quantiles?: { quantile: number; value: number }[];
  sum?: number;
  count?: number;
  timestampMs?: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  metrics: Metric[];
}

let binary: Promise<string> | undefined;

/** The parser's path; e2e/promtext/build.sh builds it when the cache lacks this version. */
export function promtextBinary(): Promise<string> {
  binary ??= run('bash', [`${REPO}/e2e/promtext/build.sh`], { timeout: 300_000 }).then(
    (r) => r.stdout.trim(),
    (e: Error & { stderr?: string }) => {
      binary = undefined;
      throw new Error(`building e2e/promtext failed: ${e.stderr?.trim() || e.message}`);
    },
  );
  return binary;
}

/** promtext writes NaN and the infinities as strings, the way the text format spells them. */
const num = (v: unknown): number => (v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : (v as number));

function revive(raw: Family[]): Family[] {
  for (const f of raw)
    for (const m of f.metrics) {
      if (m.value !== undefined) m.value = num(m.value);
      if (m.sum !== undefined) m.sum = num(m.sum);
      if (m.count !== undefined) m.count = num(m.count);
      for (const b of m.buckets ?? []) Object.assign(b, { le: num(b.le), count: num(b.count) });
      for (const q of m.quantiles ?? []) Object.assign(q, { quantile: num(q.quantile), value: num(q.value) });
    }
  return raw;
}

/** Parses an exposition; rejects with the parser's error when Prometheus would not accept it. */
export async function parseExposition(text: string, o: { utf8?: boolean } = {}): Promise<Family[]> {
  const bin = await promtextBinary();
  return new Promise((resolve, reject) => {
    const p = spawn(bin, o.utf8 ? ['-utf8'] : [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(err.trim() || `promtext exited ${code}`));
      try {
        resolve(revive(JSON.parse(out) as Family[]));
      } catch (e) {
        reject(e as Error);
      }
    });
    // The program may exit on a parse error before reading everything: EPIPE is not the error to report.
    p.stdin.on('error', () => undefined);
    p.stdin.end(text);
  });
}

/** The family of that name, or undefined. */
export const family = (families: readonly Family[], name: string): Family | undefined => families.find((f) => f.name === name);

/** Whether every label of `match` is on the series with that value. */
const matches = (m: Metric, match: Record<string, string>): boolean => Object.entries(match).every(([k, v]) => m.labels[k] === v);

/** The series of a family whose labels include `match` (all of them when match is empty). */
export const series = (families: readonly Family[], name: string, match: Record<string, string> = {}): Metric[] =>
  (family(families, name)?.metrics ?? []).filter((m) => matches(m, match));

/** The sum of the values (counters, gauges) or counts (histograms, summaries) of those series; 0 when none. */
export const total = (families: readonly Family[], name: string, match: Record<string, string> = {}): number =>
  series(families, name, match).reduce((a, m) => a + (m.value ?? m.count ?? 0), 0);
