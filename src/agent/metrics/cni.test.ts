import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../ipam/store.js';
import { log, setLogFile, setLogLimits } from '../../log.js';
import { runPlugin } from '../../plugin.js';
import { countCniLine } from './cni.js';
import { LogTail } from './log-tail.js';
import { registry } from './registry.js';
import { valueOf } from './testing.js';

describe('CNI metrics from the plugin log', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    registry.resetMetrics();
    dir = mkdtempSync(join(tmpdir(), 'gingham-cnim-'));
    path = join(dir, 'cni.log');
  });
  afterEach(() => {
    setLogFile('');
    setLogLimits({});
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the plugin\'s own lines: calls by verb, result and code, durations, IPAM repairs and GC', async () => {
    const tail = new LogTail(path, countCniLine, false);
    setLogFile(path);
    const data = join(dir, 'ipam');
    const store = new Store(data, 'n');
    store.ensureDirs();
    store.reserve({ containerId: 'keep', ifName: 'eth0', ips: ['198.18.40.2/24'], created: '' });
    store.reserve({ containerId: 'gone', ifName: 'eth0', ips: ['198.18.40.3/24'], created: '' });
    // A claim a crashed plugin left: no record holds its inode.
    writeFileSync(join(data, 'n', '198.18.40.9'), '');
    const conf = (extra: object = {}): string => JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'other', logFile: path, ipam: { type: 'gingham', dataDir: data, subnet: '198.18.40.0/24' }, ...extra });
    expect((await runPlugin({ CNI_COMMAND: 'STATUS' }, conf())).exitCode).toBe(0);
    const gc = await runPlugin({ CNI_COMMAND: 'GC' }, conf({ 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }));
    expect(gc.exitCode).toBe(0);
    expect((await runPlugin({ CNI_COMMAND: 'ADD' }, '{')).exitCode).toBe(1);
    expect((await runPlugin({ CNI_COMMAND: 'DEL' }, '{')).exitCode).toBe(1);
    tail.read();
    expect(await valueOf('gingham_cni_calls_total', { verb: 'STATUS', result: 'ok', code: '' })).toBe(1);
    expect(await valueOf('gingham_cni_calls_total', { verb: 'GC', result: 'ok' })).toBe(1);
    expect(await valueOf('gingham_cni_calls_total', { verb: 'ADD', result: 'error', code: '6' })).toBe(1);
    expect(await valueOf('gingham_cni_calls_total', { verb: 'DEL', result: 'error', code: '6' })).toBe(1);
    expect(await valueOf('gingham_cni_call_duration_seconds', { verb: 'ADD', le: '+Inf' })).toBe(1);
    expect(await valueOf('gingham_cni_call_duration_seconds', { verb: 'GC', le: '+Inf' })).toBe(1);
    expect(await valueOf('gingham_ipam_orphans_repaired_total')).toBe(1);
    expect(await valueOf('gingham_ipam_gc_runs_total')).toBe(1);
    expect(await valueOf('gingham_ipam_gc_released_total')).toBe(1);
    expect(await valueOf('gingham_cni_log_lines_total', { kind: 'call' })).toBe(4);
  });

  it('loses no line across the plugin\'s own rotations between two reads', async () => {
    const tail = new LogTail(path, countCniLine, false);
    setLogFile(path);
    setLogLimits({ maxBytes: 4096, keep: 2 });
    let written = 0;
    for (let round = 0; round < 20; round++) {
      // Fewer than one file's worth between reads: each rotation is seen through <file>.1.
      for (let i = 0; i < 15; i++, written++) log('info', 'ADD ok', { container: `c${written}`, ms: 40 + i, phases: { parsed: 1.5 } });
      tail.read();
    }
    expect(await valueOf('gingham_cni_calls_total', { verb: 'ADD', result: 'ok' })).toBe(written);
    expect(await valueOf('gingham_cni_call_duration_seconds', { verb: 'ADD', le: '0.05' })).toBe(20 * 11);
  });

  it('keeps labels bounded whatever a line holds, and counts other and unreadable lines apart', async () => {
    for (const l of [
      JSON.stringify({ msg: 'FROB failed: no', code: 'x' }),
      JSON.stringify({ msg: 'ADD failed: huge', code: 123456 }),
      JSON.stringify({ msg: 'rollback after failed ADD was incomplete' }),
      'not json',
      '42',
    ]) {
      countCniLine(l);
    }
    expect(await valueOf('gingham_cni_calls_total', { verb: 'other', result: 'error', code: 'other' })).toBe(1);
    expect(await valueOf('gingham_cni_calls_total', { verb: 'ADD', result: 'error', code: 'other' })).toBe(1);
    expect(await valueOf('gingham_cni_log_lines_total', { kind: 'other' })).toBe(1);
    expect(await valueOf('gingham_cni_log_lines_total', { kind: 'unreadable' })).toBe(2);
  });
});
