// The events `go tool test2json -t` writes for a Go test binary (the ClusterNetworkPolicy suite's
// conformance.test), read into the same shape as a JUnit report (junit.ts), so that report.ts
// shows them beside the Kubernetes suites: one case per test of the suite, that is per subtest of
// the top-level test (TestConformanceProfiles/<ShortName>); deeper subtests (the tests' steps)
// fold into their test, and the output of the failed ones becomes its message.
import type { JUnitRun, Status, TestCase } from './junit.ts';

/** One line of test2json's output (cmd/test2json's TestEvent). */
interface Event {
  Time?: string;
  Action: string;
  Test?: string;
  Elapsed?: number;
  Output?: string;
}

interface Result {
  status?: Status;
  seconds: number;
}

const FINAL: Record<string, Status> = { pass: 'passed', fail: 'failed', skip: 'skipped' };

/** Go's framing lines, which say nothing the status does not. */
const FRAMING = /^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS:)/;

/** "2026-12-06T13:40:01.123456789Z" or with an offset: the local wall clock to the second. */
const stamp = (time: string): string => time.slice(0, 19);

/**
 * The suite's tests from test2json's lines. A subtest that never ended (the binary timed out or
 * panicked) is failed, with the end of its output. The top-level test shows as a case of its own
 * only when it failed while none of its subtests did: then the failure was its own (setup, the
 * CRD bundle-version check, the report) and no test could say so.
 */
export function parseTest2Json(text: string): JUnitRun {
  const events: Event[] = [];
  for (const line of text.split('\n')) {
    // test2json -t passes through what is no JSON event (it never should); keep it out.
    if (line.startsWith('{')) events.push(JSON.parse(line) as Event);
  }
  if (events.length === 0) throw new Error('no test2json events');

  const results = new Map<string, Result>();
  const output: { test: string; line: string }[] = [];
  let started = '';
  let ended = '';
  let seconds: number | undefined;
  for (const e of events) {
    if (e.Time) {
      started ||= e.Time;
      ended = e.Time;
    }
    if (!e.Test) {
      if (e.Action in FINAL) seconds = e.Elapsed;
      continue;
    }
    if (!results.has(e.Test)) results.set(e.Test, { seconds: 0 });
    if (e.Action === 'output' && e.Output !== undefined) output.push({ test: e.Test, line: e.Output });
    else if (e.Action in FINAL) results.set(e.Test, { status: FINAL[e.Action], seconds: e.Elapsed ?? 0 });
  }
  seconds ??= started && ended ? (Date.parse(ended) - Date.parse(started)) / 1000 : 0;

  // A case's lines: its own output and its steps' (deeper subtests), in the order written.
  const caseOf = (name: string): TestCase => {
    const r = results.get(name)!;
    const status: Status = r.status ?? 'failed';
    const mine = output.filter((o) => o.test === name || (depth(name) > 0 && o.test.startsWith(name + '/')));
    const tc: TestCase = { name: depth(name) === 0 ? name : name.slice(name.indexOf('/') + 1), status, seconds: r.seconds };
    const said = (keep: (test: string) => boolean): string[] =>
      mine.filter((o) => keep(o.test) && !FRAMING.test(o.line)).map((o) => o.line);
    if (status === 'failed') {
      // What its failed steps and the test itself said; a step that passed is only in the log.
      const failing = (test: string): boolean => test === name || results.get(test)?.status !== 'passed';
      let lines = collapseRepeats(said(failing));
      if (r.status === undefined) lines = ['no result: the test binary ended while this test ran (timeout or panic)\n', ...lines.slice(-20)];
      tc.message = lines.join('').replace(/\s+$/, '') + '\n';
    } else if (status === 'skipped') {
      const why = said(() => true).filter((l) => !/^\s*--- SKIP:/.test(l));
      if (why.length > 0) tc.message = why.map((l) => l.trim()).join(' ');
    }
    if (status !== 'passed' && mine.length > 0) tc.log = mine.map((o) => o.line).join('');
    return tc;
  };

  const names = [...results.keys()];
  const cases = names.filter((n) => depth(n) === 1).map(caseOf);
  const anyFailed = cases.some((c) => c.status === 'failed');
  for (const n of names)
    if (depth(n) === 0 && (results.get(n)!.status ?? 'failed') === 'failed' && !anyFailed) cases.unshift(caseOf(n));
  return { timestamp: stamp(started), seconds, cases };
}

const depth = (name: string): number => name.split('/').length - 1;

/** Longest block of lines that collapseRepeats looks for. */
const MAX_PERIOD = 4;

/**
 * A block of 1 to MAX_PERIOD lines written again and again in a row (a probe retried until its
 * deadline logs the same pair each time) kept once, with a line saying how often it came.
 */
export function collapseRepeats(lines: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  next: while (i < lines.length) {
    for (let k = 1; k <= MAX_PERIOD && i + 2 * k <= lines.length; k++) {
      let times = 1;
      while (i + (times + 1) * k <= lines.length && lines.slice(i + times * k, i + (times + 1) * k).every((l, j) => l === lines[i + j])) times++;
      if (times > 1) {
        out.push(...lines.slice(i, i + k), `    (the ${k === 1 ? 'line' : `${k} lines`} above ${times - 1} more time${times > 2 ? 's' : ''})\n`);
        i += times * k;
        continue next;
      }
    }
    out.push(lines[i]!);
    i++;
  }
  return out;
}
