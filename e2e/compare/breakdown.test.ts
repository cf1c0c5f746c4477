// The parsers and statistics of a burst round's breakdown (e2e/compare/breakdown.ts), on lines in
// the formats the nodes really write: cni-timer's log, containerd 1.6's journal, kubelet's metrics
// and /proc/<pid>/stat.
import { describe, expect, it } from 'vitest';
import { type Round, breakdown, callStats, parseSandboxes, parseTimerLog, procCpuS, runPodSandboxMetric } from './breakdown.ts';

describe('parseTimerLog', () => {
  it('reads the eight fields of each line and skips anything else', () => {
    const calls = parseTimerLog('n1', 'gingham ADD abc 1796540621105 31.500 20.250 8.125 0\nportmap DEL - 1796540621200 2.000 1.000 0.500 1\ngarbage line\nportmap ADD x 1 2 3 4\n');
    expect(calls).toEqual([
      { node: 'n1', plugin: 'gingham', cmd: 'ADD', container: 'abc', startMs: 1796540621105, wallMs: 31.5, userMs: 20.25, sysMs: 8.125, exit: 0 },
      { node: 'n1', plugin: 'portmap', cmd: 'DEL', container: '-', startMs: 1796540621200, wallMs: 2, userMs: 1, sysMs: 0.5, exit: 1 },
    ]);
  });
});

describe('parseSandboxes', () => {
  const line = (t: string, name: string, uid: string, tail = ''): string =>
    `time="${t}" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:${name},Uid:${uid},Namespace:gingham-compare,Attempt:0,}${tail}"`;
  it('times each pod from its first RunPodSandbox to its sandbox id, retries included, other pods left out', () => {
    const journal = [
      line('2026-12-06T07:01:48.084302044Z', 'cmp-start-00', 'u0'),
      line('2026-12-06T07:01:48.100000000Z', 'coredns-1', 'u9'),
      line('2026-12-06T07:01:48.200000000Z', 'cmp-start-01', 'u1'),
      line('2026-12-06T07:01:48.300000000Z', 'cmp-start-01', 'u1', ' failed, error'),
      line('2026-12-06T07:01:49.000000000Z', 'cmp-start-01', 'u1'),
      line('2026-12-06T07:01:48.584302044Z', 'cmp-start-00', 'u0', ' returns sandbox id \\"84607803\\"'),
      line('2026-12-06T07:01:50.200000000Z', 'cmp-start-01', 'u1', ' returns sandbox id \\"c53f5150\\"'),
      line('2026-12-06T07:01:51.000000000Z', 'cmp-start-02', 'u2'),
      line('2026-12-06T07:01:52.000000000Z', 'coredns-1', 'u9', ' returns sandbox id \\"89017430\\"'),
    ].join('\n');
    const s = parseSandboxes('n1', journal, 'cmp-start-');
    expect(s.map((x) => x.pod)).toEqual(['cmp-start-00', 'cmp-start-01']);
    expect(s[0]!.ms).toBeCloseTo(500, 6);
    expect(s[1]!.ms).toBeCloseTo(2000, 6);
  });
});

describe('runPodSandboxMetric', () => {
  it('reads the run_podsandbox sum and count, not other operations', () => {
    const text = [
      '# TYPE kubelet_runtime_operations_duration_seconds histogram',
      'kubelet_runtime_operations_duration_seconds_bucket{operation_type="run_podsandbox",le="0.005"} 0',
      'kubelet_runtime_operations_duration_seconds_sum{operation_type="create_container"} 9.5',
      'kubelet_runtime_operations_duration_seconds_sum{operation_type="run_podsandbox"} 1.525072766',
      'kubelet_runtime_operations_duration_seconds_count{operation_type="run_podsandbox"} 5',
    ].join('\n');
    expect(runPodSandboxMetric(text)).toEqual({ sumS: 1.525072766, count: 5 });
    expect(runPodSandboxMetric('')).toEqual({ sumS: Number.NaN, count: Number.NaN });
  });
});

describe('procCpuS', () => {
  it('adds utime and stime, counting fields after the command name even when it holds spaces', () => {
    const rest = 'S 1 169 169 0 -1 4194560 100 0 0 0 531 328 18 8 20 0 12 0';
    expect(procCpuS(`169 (containerd) ${rest}`, 100)).toBeCloseTo(8.59, 9);
    expect(procCpuS(`170 (a b) c) ${rest}`, 100)).toBeCloseTo(8.59, 9);
  });
});

describe('callStats', () => {
  const call = (container: string, plugin: string, cmd: string, wallMs: number, cpu: number, exit = 0) => ({ node: 'n1', plugin, cmd, container, startMs: 0, wallMs, userMs: cpu / 2, sysMs: cpu / 2, exit });
  it("sums a pod's chain per command, and counts calls and failures", () => {
    const s = callStats(
      [call('a', 'gingham', 'ADD', 30, 20), call('a', 'portmap', 'ADD', 5, 2), call('b', 'gingham', 'ADD', 40, 30, 1), call('a', 'gingham', 'DEL', 10, 8), call('a', 'gingham', 'DEL', 1, 1)],
      'ADD',
    );
    expect(s).toEqual({ calls: 3, failed: 1, wallMs: [35, 40], cpuMs: [22, 30], cpuS: 0.052 });
    expect(callStats([call('a', 'gingham', 'DEL', 10, 8), call('a', 'gingham', 'DEL', 1, 1)], 'DEL').wallMs).toEqual([11]);
  });
});

describe('breakdown', () => {
  const round: Round = {
    cni: 'gingham',
    cluster: 'gingham',
    pair: 1,
    pods: 2,
    nodes: 2,
    startS: [1, 2],
    clean: { allS: 3, apiGoneS: 2, perNodeS: {} },
    runningS: 2,
    burstS: 6,
    loads: [1, 2],
    timed: ['gingham', 'portmap'],
    calls: [
      { node: 'n1', plugin: 'gingham', cmd: 'ADD', container: 'a', startMs: 0, wallMs: 30, userMs: 10, sysMs: 10, exit: 0 },
      { node: 'n2', plugin: 'gingham', cmd: 'ADD', container: 'b', startMs: 0, wallMs: 50, userMs: 20, sysMs: 20, exit: 0 },
    ],
    sandboxes: [
      { node: 'n1', pod: 'p0', ms: 300 },
      { node: 'n2', pod: 'p1', ms: 100 },
    ],
    kubelet: [
      { node: 'n1', sumS: 0.4, count: 1 },
      { node: 'n2', sumS: 0.2, count: 1 },
    ],
    cpu: [
      { node: 'n1', toRunning: { nodeS: 1, kubeletS: 0.5, containerdS: 0.25, agentS: 0.1 }, burst: { nodeS: 2, kubeletS: 1, containerdS: 0.5, agentS: 0.2 } },
      { node: 'n2', toRunning: { nodeS: 1, kubeletS: 0.5, containerdS: 0.25, agentS: 0.1 }, burst: { nodeS: 3, kubeletS: 1, containerdS: 0.5, agentS: 0.3 } },
    ],
  };
  it('one node', () => {
    const b = breakdown(round, 'n2');
    expect(b.add.wallMs).toEqual([50]);
    expect(b.sandboxMs).toEqual([100]);
    expect(b.kubeletMeanS).toBeCloseTo(0.2, 9);
    expect(b.cpu).toEqual({ nodeS: 3, kubeletS: 1, containerdS: 0.5, agentS: 0.3 });
  });
  it('all nodes: calls and sandboxes pooled, kubelet as a mean over all, CPU summed', () => {
    const b = breakdown(round);
    expect(b.add.wallMs).toEqual([30, 50]);
    expect(b.add.cpuS).toBeCloseTo(0.06, 9);
    expect(b.sandboxMs).toEqual([100, 300]);
    expect(b.kubeletMeanS).toBeCloseTo(0.3, 9);
    expect(b.cpu.nodeS).toBe(5);
    expect(b.cpu.agentS).toBeCloseTo(0.5, 9);
    expect(b.toRunning.kubeletS).toBe(1);
  });
  it('no agent (the bridge cluster): no agent figure', () => {
    const b = breakdown({ ...round, cpu: round.cpu.map((c) => ({ node: c.node, toRunning: { nodeS: 1, kubeletS: 1, containerdS: 1 }, burst: { nodeS: 1, kubeletS: 1, containerdS: 1 } })) });
    expect(b.cpu.agentS).toBeUndefined();
  });
});
