// The conformance report's parsing and table, on JUnit text shaped as Ginkgo v2.21 writes it for
// e2e.test (test/e2e/framework/internal/junit: no failure message attribute, the failure in the
// element's text, the timeline in <system-err> for specs that did not pass or skip).
// Run: npx vitest run --config e2e/conformance/vitest.config.ts
import { describe, expect, it } from 'vitest';
import { parseJUnit, unescapeXml } from './junit.ts';
import { renderReport, type Run } from './report.ts';

const JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
  <testsuites tests="6" disabled="3" errors="0" failures="1" time="95.5">
      <testsuite name="Kubernetes e2e suite" package="/x/e2e.test" tests="6" disabled="0" skipped="3" errors="0" failures="1" time="95.5" timestamp="2026-11-26T02:11:35">
          <properties>
              <property name="SuiteSucceeded" value="false"></property>
          </properties>
          <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="0.2"></testcase>
          <testcase name="[It] [sig-storage] HostPathType Directory Should fail on mounting directory &#39;adir&#39;" classname="Kubernetes e2e suite" status="skipped" time="0">
              <skipped message="skipped"></skipped>
          </testcase>
          <testcase name="[It] [sig-network] DNS should provide DNS for services  [Conformance]" classname="Kubernetes e2e suite" status="passed" time="4.31"></testcase>
          <testcase name="[It] [sig-network] Services should serve endpoints on same port and different protocols [Conformance]" classname="Kubernetes e2e suite" status="failed" time="35.2">
              <failure message="" type="failed">[FAILED] service port &#34;tcp-port&#34; still reachable&#xA;In [It] at: k8s.io/kubernetes/test/e2e/network/service.go:4134 @ 11/26/26 02:12:10.1&#xA;</failure>
              <system-err>&gt; Enter [It] should serve endpoints - 02:11:40&#xA;STEP: checking TCP &amp; UDP&#xA;</system-err>
          </testcase>
          <testcase name="[It] [sig-network] Netpol NetworkPolicy should not mistakenly treat &#39;protocol: SCTP&#39; as &#39;protocol: TCP&#39; | x" classname="Kubernetes e2e suite" status="skipped" time="0.01">
              <skipped message="skipped - no SCTP in this kernel"></skipped>
          </testcase>
          <testcase name="[It] [sig-network] Ingress API should support creating Ingress API operations" classname="Kubernetes e2e suite" status="skipped" time="0"/>
          <testcase name="[SynchronizedAfterSuite]" classname="Kubernetes e2e suite" status="passed" time="0.0001"></testcase>
      </testsuite>
  </testsuites>`;

describe('parseJUnit', () => {
  const run = parseJUnit(JUNIT);

  it('keeps the selected tests: those that ran, and those that skipped themselves with a reason', () => {
    expect(run.timestamp).toBe('2026-11-26T02:11:35');
    expect(run.seconds).toBe(95.5);
    expect(run.cases.map((c) => [c.name, c.status, c.seconds])).toEqual([
      ['[sig-network] DNS should provide DNS for services  [Conformance]', 'passed', 4.31],
      ['[sig-network] Services should serve endpoints on same port and different protocols [Conformance]', 'failed', 35.2],
      ["[sig-network] Netpol NetworkPolicy should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP' | x", 'skipped', 0.01],
    ]);
  });

  it('takes the failure from the element text and the log from system-err, unescaped', () => {
    const failed = run.cases[1]!;
    expect(failed.message).toBe('[FAILED] service port "tcp-port" still reachable\nIn [It] at: k8s.io/kubernetes/test/e2e/network/service.go:4134 @ 11/26/26 02:12:10.1\n');
    expect(failed.log).toBe('> Enter [It] should serve endpoints - 02:11:40\nSTEP: checking TCP & UDP\n');
    expect(run.cases[2]!.message).toBe('skipped - no SCTP in this kernel');
    expect(run.cases[0]!.message).toBeUndefined();
  });

  it('reports a failed suite-level node, since no test could run after it', () => {
    const xml = JUNIT.replace(
      '<testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="0.2"></testcase>',
      '<testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="failed" time="0.2"><failure message="" type="failed">no nodes</failure></testcase>',
    );
    expect(parseJUnit(xml).cases[0]).toMatchObject({ name: '[SynchronizedBeforeSuite]', status: 'failed', message: 'no nodes' });
  });

  it('refuses text that is no JUnit report', () => {
    expect(() => parseJUnit('<html></html>')).toThrow(/not a JUnit report/);
  });

  it('unescapes named and numeric references, and leaves unknown ones', () => {
    expect(unescapeXml('&lt;a&gt; &amp; &quot;b&quot; &apos;c&#39; &#x41;&#66; &nbsp;')).toBe(`<a> & "b" 'c' AB &nbsp;`);
  });
});

describe('renderReport', () => {
  const base = parseJUnit(JUNIT);
  const run = (cluster: string, cni: string, suite: string, cases = base.cases): Run => ({
    cluster,
    cni,
    suite,
    focus: suite === 'netpol' ? '\\[sig-network\\] Netpol' : '\\[sig-network\\].*\\[Conformance\\]',
    skip: suite === 'netpol' ? '\\[Feature:SCTPConnectivity\\]' : '',
    procs: 4,
    wallSeconds: 111,
    note: cluster === 'gingham-flannel' ? 'Note: the underlay answers.' : '',
    junit: { ...base, cases },
  });
  const passing = base.cases.map((c) => ({ ...c, status: 'passed' as const, seconds: c.seconds + 1 }));
  const md = renderReport([
    run('gingham-flannel', 'flannel (kube-flannel, backend vxlan)', 'network'),
    run('gingham', 'gingham (gingham, backend vxlan)', 'network', passing.slice(0, 2)),
    run('gingham', 'gingham (gingham, backend vxlan)', 'netpol', [passing[2]!]),
  ]);
  const lines = md.split('\n');

  it('has one line per run with its CNI, date, times and counts, clusters in name order', () => {
    expect(lines).toContain('| gingham | gingham (gingham, backend vxlan) | netpol | 2026-11-26 02:11:35 | 4 | 111 s | 1.0 s | 1 | 0 | 0 |');
    expect(lines).toContain('| gingham | gingham (gingham, backend vxlan) | network | 2026-11-26 02:11:35 | 4 | 111 s | 42 s | 2 | 0 | 0 |');
    expect(lines).toContain('| gingham-flannel | flannel (kube-flannel, backend vxlan) | network | 2026-11-26 02:11:35 | 4 | 111 s | 40 s | 1 | 1 | 1 |');
    expect(md).toContain('netpol = focus `\\[sig-network\\] Netpol`, skip `\\[Feature:SCTPConnectivity\\]`; network = focus');
    expect(md).toContain('\nNote: the underlay answers.\n');
  });

  it('puts each test on one row with a column per cluster, blank where that cluster has no run of the suite', () => {
    expect(lines).toContain('| suite | test | gingham | gingham-flannel |');
    expect(lines).toContain('| network | [sig-network] Services should serve endpoints on same port and different protocols [Conformance] | pass 36 s | **FAIL** 35 s |');
    expect(lines).toContain('| network | [sig-network] DNS should provide DNS for services  [Conformance] | pass 5.3 s | pass 4.3 s |');
    // The | in a test name is escaped; Flannel ran the name in the network suite only.
    expect(lines).toContain("| netpol | [sig-network] Netpol NetworkPolicy should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP' \\| x | pass 1.0 s |  |");
    expect(lines).toContain("| network | [sig-network] Netpol NetworkPolicy should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP' \\| x |  | skipped 0.0 s |");
  });

  it('lists the failures with the start of their message', () => {
    const at = lines.indexOf('### gingham-flannel, network: [sig-network] Services should serve endpoints on same port and different protocols [Conformance]');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 2, at + 6)).toEqual(['```', '[FAILED] service port "tcp-port" still reachable', 'In [It] at: k8s.io/kubernetes/test/e2e/network/service.go:4134 @ 11/26/26 02:12:10.1', '```']);
  });

  it('says so when there is no run', () => {
    expect(renderReport([])).toContain('No run on record');
  });
});
