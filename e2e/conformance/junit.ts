// The JUnit report e2e.test writes (junit_01.xml, Ginkgo's reporter), read without an XML library:
// Ginkgo writes one flat <testsuite> of <testcase> elements, each with name, status and time
// attributes and at most a <skipped>, <failure> or <error> child and the captured output. Only
// what the conformance report needs is kept: the selected tests and their results.

export type Status = 'passed' | 'failed' | 'skipped';

export interface TestCase {
  /** The spec's full text without Ginkgo's node-type prefix ("[It] "). */
  name: string;
  status: Status;
  seconds: number;
  /** The failure's (or a skipping test's) message. */
  message?: string;
  /** What the spec logged (Ginkgo's timeline, in <system-err>): the place to read why it failed. */
  log?: string;
}

export interface JUnitRun {
  /** The suite's start as Ginkgo wrote it (local time, no zone). */
  timestamp: string;
  /** The suite's duration. */
  seconds: number;
  /** The tests that were selected, in file order. */
  cases: TestCase[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML character data and attribute values: the five named entities and numeric references. */
export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]!] = unescapeXml(m[2]!);
  return out;
}

/** The text of the first <name ...>...</name> in body, with its attributes; undefined if none. */
function child(body: string, name: string): { attrs: Record<string, string>; text: string } | undefined {
  const m = new RegExp(`<${name}(\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}>)`).exec(body);
  return m ? { attrs: attributes(m[1] ?? ''), text: unescapeXml(m[2] ?? '') } : undefined;
}

/**
 * The selected tests of one run. Ginkgo lists every spec of the binary: one skipped by the focus
 * or skip expressions carries the bare message "skipped" and is left out; one that skipped itself
 * at run time ("skipped - <why>") was selected and stays. Suite-level nodes ([BeforeSuite] and
 * the like) count only when they failed, since then no test could run.
 */
export function parseJUnit(xml: string): JUnitRun {
  const suite = /<testsuite\s[^>]*>/.exec(xml);
  if (!suite) throw new Error('no <testsuite> element: not a JUnit report');
  const suiteAttrs = attributes(suite[0]);
  const cases: TestCase[] = [];
  for (const m of xml.matchAll(/<testcase\s([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = attributes(m[1]!);
    const body = m[2] ?? '';
    const raw = attrs['name'] ?? '';
    const failure = child(body, 'failure') ?? child(body, 'error');
    const skipped = child(body, 'skipped');
    const status: Status = failure ? 'failed' : attrs['status'] === 'skipped' || skipped ? 'skipped' : 'passed';
    const isSpec = raw.startsWith('[It] ');
    if (status === 'skipped' && (!isSpec || (skipped?.attrs['message'] ?? 'skipped') === 'skipped')) continue;
    if (!isSpec && status !== 'failed') continue;
    const tc: TestCase = { name: isSpec ? raw.slice(5) : raw, status, seconds: Number(attrs['time'] ?? 0) };
    const message = failure ? failure.attrs['message'] || failure.text : skipped?.attrs['message'];
    if (message) tc.message = message;
    const log = child(body, 'system-err')?.text;
    if (log) tc.log = log;
    cases.push(tc);
  }
  return { timestamp: suiteAttrs['timestamp'] ?? '', seconds: Number(suiteAttrs['time'] ?? 0), cases };
}
