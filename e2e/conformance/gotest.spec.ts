// The cnp suite's results: test2json events (as `conformance.test -test.v=test2json | go tool
// test2json -t` writes them, Go 1.26) read into report rows, and the report's note on what was cut.
// Run: npx vitest run --config e2e/conformance/vitest.config.ts
import { describe, expect, it } from 'vitest';
import { collapseRepeats, parseTest2Json } from './gotest.ts';
import { type Removed, removedText, renderReport, type Run } from './report.ts';

const TOP = 'TestConformanceProfiles';
let clock = 0;
/** One event line; times move on by 1 s per event from 2026-12-06T13:30:44Z. */
function ev(action: string, test?: string, extra: { Output?: string; Elapsed?: number } = {}): string {
  const Time = new Date(Date.UTC(2026, 11, 6, 13, 30, 44) + 1000 * clock++).toISOString().replace('.000Z', '.571209981Z');
  return JSON.stringify({ Time, Action: action, ...(test ? { Test: test } : {}), ...extra });
}
const out = (test: string, line: string): string => ev('output', test, { Output: line + '\n' });
/** A (sub)test that runs, says lines, and ends with action after seconds. */
function test(name: string, action: 'pass' | 'fail' | 'skip', seconds: number, ...lines: string[]): string[] {
  const word = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' }[action];
  return [ev('run', name), out(name, `=== RUN   ${name}`), ...lines.map((l) => out(name, l)),
    out(name, `--- ${word}: ${name} (${seconds.toFixed(2)}s)`), ev(action, name, { Elapsed: seconds })];
}

function run(): string {
  clock = 0;
  const tcp = `${TOP}/CNPAdminTierIngressTCP`;
  const prio = `${TOP}/CNPAdminTierPriorityField`;
  return [
    ev('start'),
    ev('run', TOP),
    out(TOP, `=== RUN   ${TOP}`),
    out(TOP, '    conformance_profile_test.go:120: Running conformance profile tests with cleanup: true'),
    ev('run', tcp),
    out(tcp, `=== RUN   ${tcp}`),
    ...test(`${tcp}/Should_support_a_'deny-ingress'_policy_for_TCP_protocol`, 'pass', 12.5, '    helper.go:40: probe ok'),
    out(tcp, `--- PASS: ${tcp} (13.00s)`),
    ev('pass', tcp, { Elapsed: 13 }),
    ev('run', prio),
    out(prio, `=== RUN   ${prio}`),
    ...test(`${prio}/Should_Deny_traffic_from_slytherin_to_gryffindor`, 'pass', 7, '    admin.go:44: creating policy'),
    ...test(`${prio}/Should_respect_admin_CNP_priority_field`, 'fail', 24.25, '    helper.go:74: ',
      '        \tError Trace:\thelper.go:74', '        \tError:      \tCondition never satisfied',
      '        \tMessages:   \texpected harry-potter-0 to be denied'),
    out(prio, `--- FAIL: ${prio} (31.30s)`),
    ev('fail', prio, { Elapsed: 31.3 }),
    ...test(`${TOP}/CNPBaselineTierEgressNodePeers`, 'skip', 0,
      '    suite.go:210: Skipping CNPBaselineTierEgressNodePeers: suite does not support ClusterNetworkPolicyEgressNodePeers'),
    out(TOP, `--- FAIL: ${TOP} (95.00s)`),
    ev('fail', TOP, { Elapsed: 95 }),
    ev('output', undefined, { Output: 'FAIL\n' }),
    ev('fail', undefined, { Elapsed: 95.2 }),
  ].join('\n') + '\n';
}

describe('parseTest2Json', () => {
  const r = parseTest2Json(run());

  it('has one case per test of the suite, named by its ShortName, with its time', () => {
    expect(r.timestamp).toBe('2026-12-06T13:30:44');
    expect(r.seconds).toBe(95.2);
    expect(r.cases.map((c) => [c.name, c.status, c.seconds])).toEqual([
      ['CNPAdminTierIngressTCP', 'passed', 13],
      ['CNPAdminTierPriorityField', 'failed', 31.3],
      ['CNPBaselineTierEgressNodePeers', 'skipped', 0],
    ]);
    expect(r.cases[0]!.message).toBeUndefined();
    expect(r.cases[0]!.log).toBeUndefined();
  });

  it("gives a failed test what its failed steps said, not the steps that passed; the log has everything", () => {
    const failed = r.cases[1]!;
    expect(failed.message).toBe([
      '    helper.go:74: ',
      '        \tError Trace:\thelper.go:74',
      '        \tError:      \tCondition never satisfied',
      '        \tMessages:   \texpected harry-potter-0 to be denied',
      `--- FAIL: ${TOP}/CNPAdminTierPriorityField/Should_respect_admin_CNP_priority_field (24.25s)`,
      `--- FAIL: ${TOP}/CNPAdminTierPriorityField (31.30s)`,
      '',
    ].join('\n'));
    expect(failed.log).toContain('admin.go:44: creating policy');
    expect(failed.log).toContain('=== RUN   TestConformanceProfiles/CNPAdminTierPriorityField/Should_Deny');
  });

  it('keeps the reason of a skipped test', () => {
    expect(r.cases[2]!.message).toBe('suite.go:210: Skipping CNPBaselineTierEgressNodePeers: suite does not support ClusterNetworkPolicyEgressNodePeers');
  });

  it('fails a test that never ended (timeout or panic) with the end of its output', () => {
    clock = 0;
    const name = `${TOP}/CNPAdminTierGress`;
    const text = [ev('start'), ev('run', TOP), ev('run', name), out(name, `=== RUN   ${name}`), out(name, '    helper.go:50: poking'),
      out(TOP, 'panic: test timed out after 40m0s'), ev('fail', TOP, { Elapsed: 2400 }), ev('fail', undefined, { Elapsed: 2400.1 })].join('\n');
    const c = parseTest2Json(text).cases;
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ name: 'CNPAdminTierGress', status: 'failed', seconds: 0 });
    expect(c[0]!.message).toBe('no result: the test binary ended while this test ran (timeout or panic)\n    helper.go:50: poking\n');
  });

  it('shows the top-level test when it failed on its own: setup or the CRD bundle check, before any test', () => {
    clock = 0;
    const text = [ev('start'), ev('run', TOP), out(TOP, `=== RUN   ${TOP}`),
      out(TOP, '    conformance_profile_test.go:117: error creating experimental conformance test suite: the installed CRDs version is different from the suite version'),
      out(TOP, `--- FAIL: ${TOP} (0.12s)`), ev('fail', TOP, { Elapsed: 0.12 }), ev('fail', undefined, { Elapsed: 0.2 })].join('\n');
    const c = parseTest2Json(text).cases;
    expect(c).toEqual([expect.objectContaining({ name: TOP, status: 'failed', seconds: 0.12 })]);
    expect(c[0]!.message).toContain('the installed CRDs version is different from the suite version');
    // A top-level test that failed because one of its tests did is no row of its own.
    expect(parseTest2Json(run()).cases.map((x) => x.name)).not.toContain(TOP);
  });

  it('keeps a block written again and again in a row once, and says how often it came', () => {
    const l = (s: string): string => s + '\n';
    expect(collapseRepeats(['a', 'b', 'a', 'b', 'a', 'b', 'c', 'c', 'd', 'a'].map(l))).toEqual(
      ['a', 'b', '    (the 2 lines above 2 more times)', 'c', '    (the line above 1 more time)', 'd', 'a'].map(l));
    expect(collapseRepeats(['x', 'y', 'z'].map(l))).toEqual(['x', 'y', 'z'].map(l));
  });

  it('refuses text without events', () => {
    expect(() => parseTest2Json('FAIL\n')).toThrow(/no test2json events/);
  });
});

describe('the report of a cnp run', () => {
  const removed: Removed = {
    release: 'v0.3.0',
    removedTests: ['CNPAdminTierEgressSCTP', 'CNPAdminTierIngressSCTP', 'CNPBaselineTierEgressSCTP', 'CNPBaselineTierIngressSCTP'],
    removedProbes: [{ test: 'CNPAdminTierGress', probes: 18 }, { test: 'CNPBaselineTierGress', probes: 12 }],
    removedContainers: 10,
    tests: 26,
  };
  const cnp: Run = {
    cluster: 'gingham', cni: 'gingham (DaemonSet gingham, backend vxlan)', suite: 'cnp', focus: '^TestConformanceProfiles$', skip: '',
    procs: 1, wallSeconds: 812, note: '', removed, junit: parseTest2Json(run()),
  };
  const md = renderReport([cnp]);
  const lines = md.split('\n');

  it('says which SCTP tests and probes were cut, and why', () => {
    expect(removedText('cnp', removed)).toBe(
      'cnp (sigs.k8s.io/network-policy-api v0.3.0) is built without SCTP, which this kernel lacks: 4 SCTP tests removed ' +
      '(CNPAdminTierEgressSCTP, CNPAdminTierIngressSCTP, CNPBaselineTierEgressSCTP, CNPBaselineTierIngressSCTP), ' +
      '30 SCTP probes removed from 2 tests (CNPAdminTierGress 18, CNPBaselineTierGress 12), ' +
      '10 SCTP server containers removed from the base pods; 26 tests remain.');
    expect(lines).toContain(removedText('cnp', removed));
  });

  it('has its line, a row per test and its failures like the other suites', () => {
    expect(lines).toContain('| gingham | gingham (DaemonSet gingham, backend vxlan) | cnp | 2026-12-06 13:30:44 | 1 | 812 s | 44 s | 1 | 1 | 1 |');
    expect(md).toContain('Selections: cnp = focus `^TestConformanceProfiles$`.');
    expect(lines).toContain('| cnp | CNPAdminTierPriorityField | **FAIL** 31 s |');
    expect(lines).toContain('| cnp | CNPBaselineTierEgressNodePeers | skipped 0.0 s |');
    const at = lines.indexOf('### gingham, cnp: CNPAdminTierPriorityField');
    expect(lines.slice(at + 2, at + 4)).toEqual(['```', 'helper.go:74: ']);
  });
});
