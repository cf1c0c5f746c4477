// The conformance report: every run on record side by side, one row per test and one column per
// cluster, so the class reads each CNI's verdict on the same upstream test in one line. Pure:
// summary.ts reads the runs from .e2e/conformance/ and writes what renderReport returns.
import type { JUnitRun, TestCase } from './junit.ts';

/** One suite run on one cluster: what run.sh recorded beside e2e.test's JUnit report. */
export interface Run {
  cluster: string;
  /** What networks the cluster, as run.sh described it ("gingham (backend vxlan)"). */
  cni: string;
  /** The selection's name (network, netpol, or custom for a CONFORMANCE_FOCUS of one's own). */
  suite: string;
  focus: string;
  skip: string;
  procs: number;
  /** Wall time of the whole ginkgo run, set-up and tear-down included. */
  wallSeconds: number;
  /** A remark about the machine that explains a failure (run.sh's underlay probe), or ''. */
  note: string;
  /** What was cut out of the suite for this machine (the cnp suite's SCTP), if anything. */
  removed?: Removed;
  junit: JUnitRun;
}

/** cnp-patch.sh's record of what it cut, with the release it cut it from (run.sh adds it). */
export interface Removed {
  release: string;
  removedTests: string[];
  removedProbes: { test: string; probes: number }[];
  removedContainers: number;
  /** The tests left in the suite. */
  tests: number;
}

/** One sentence saying what a suite lost and why, for the report. */
export function removedText(suite: string, r: Removed): string {
  const probes = r.removedProbes.reduce((s, p) => s + p.probes, 0);
  return `${suite} (sigs.k8s.io/network-policy-api ${r.release}) is built without SCTP, which this kernel lacks: ` +
    `${r.removedTests.length} SCTP tests removed (${r.removedTests.join(', ')}), ` +
    `${probes} SCTP probes removed from ${r.removedProbes.length} tests (${r.removedProbes.map((p) => `${p.test} ${p.probes}`).join(', ')}), ` +
    `${r.removedContainers} SCTP server containers removed from the base pods; ${r.tests} tests remain.`;
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export function counts(cases: readonly TestCase[]): Counts {
  const c: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const t of cases) c[t.status]++;
  return c;
}

/** Lines of a failure message shown under Failures; the JUnit file has them all. */
const MESSAGE_LINES = 12;

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const secs = (s: number): string => `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
const result = (t: TestCase): string => `${t.status === 'passed' ? 'pass' : t.status === 'failed' ? '**FAIL**' : 'skipped'} ${secs(t.seconds)}`;

/** Runs in a stable order: by cluster, then suite. */
export function sortRuns(runs: readonly Run[]): Run[] {
  return [...runs].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.suite.localeCompare(b.suite));
}

export function renderReport(input: readonly Run[]): string {
  const runs = sortRuns(input);
  const clusters = [...new Set(runs.map((r) => r.cluster))];
  const out: string[] = ['# Upstream Kubernetes tests per CNI', ''];
  if (runs.length === 0) return [...out, 'No run on record: `make conformance` writes one.', ''].join('\n');

  out.push('| cluster | CNI | suite | started | processes | wall time | sum of test times | passed | failed | skipped |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of runs) {
    const c = counts(r.junit.cases);
    const busy = r.junit.cases.reduce((s, t) => s + t.seconds, 0);
    out.push(`| ${r.cluster} | ${cell(r.cni)} | ${r.suite} | ${r.junit.timestamp.replace('T', ' ')} | ${r.procs} | ${secs(r.wallSeconds)} | ${secs(busy)} | ${c.passed} | ${c.failed} | ${c.skipped} |`);
  }
  out.push('', 'Selections: ' + [...new Map(runs.map((r) => [r.suite, `${r.suite} = focus \`${r.focus}\`${r.skip ? `, skip \`${r.skip}\`` : ''}`])).values()].join('; ') + '.');
  for (const [suite, removed] of new Map(runs.filter((r) => r.removed).map((r) => [r.suite, r.removed!])))
    out.push('', removedText(suite, removed));
  for (const note of new Set(runs.map((r) => r.note).filter((n) => n !== ''))) out.push('', note);

  // One row per (suite, test); a cluster's cell is blank where it has no run of that suite.
  const rows = new Map<string, { suite: string; name: string; byCluster: Map<string, TestCase> }>();
  for (const r of runs)
    for (const t of r.junit.cases) {
      const key = `${r.suite}\u0000${t.name}`;
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { suite: r.suite, name: t.name, byCluster: new Map() }));
      row.byCluster.set(r.cluster, t);
    }
  const sorted = [...rows.values()].sort((a, b) => a.suite.localeCompare(b.suite) || a.name.localeCompare(b.name));
  out.push('', `| suite | test | ${clusters.join(' | ')} |`, `| --- | --- |${' --- |'.repeat(clusters.length)}`);
  for (const row of sorted) {
    const cells = clusters.map((c) => {
      const t = row.byCluster.get(c);
      return t ? result(t) : '';
    });
    out.push(`| ${row.suite} | ${cell(row.name)} | ${cells.join(' | ')} |`);
  }

  const failed = runs.flatMap((r) => r.junit.cases.filter((t) => t.status === 'failed').map((t) => ({ r, t })));
  if (failed.length > 0) {
    out.push('', '## Failures', '', 'The first lines of each message; the whole message and the test\'s log are in the run\'s junit_01.xml (cnp: test2json.json and conformance.log).');
    for (const { r, t } of failed) {
      const lines = (t.message ?? '(no message)').trim().split('\n');
      const shown = lines.slice(0, MESSAGE_LINES);
      if (lines.length > MESSAGE_LINES) shown.push(`... (${lines.length - MESSAGE_LINES} more lines)`);
      out.push('', `### ${r.cluster}, ${r.suite}: ${t.name}`, '', '```', ...shown, '```');
    }
  }
  out.push('');
  return out.join('\n');
}
