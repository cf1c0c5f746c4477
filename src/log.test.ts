// The CNI log: bounded by rotation, never blocking, never failing a call.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { log, setLogFile, setLogLimits } from './log.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gingham-log-'));
});
afterEach(() => {
  setLogFile('');
  setLogLimits({});
  rmSync(dir, { recursive: true, force: true });
});

const lines = (path: string): unknown[] => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);

describe('log', () => {
  it('appends one JSON line per event, making the directory', () => {
    const path = join(dir, 'a', 'b', 'gingham.log');
    setLogFile(path);
    log('info', 'ADD ok', { container: 'c1' });
    log('error', 'DEL failed');
    expect(lines(path)).toEqual([expect.objectContaining({ level: 'info', msg: 'ADD ok', container: 'c1' }), expect.objectContaining({ level: 'error', msg: 'DEL failed' })]);
  });

  it('rotates at logMaxBytes and keeps logKeep older files', () => {
    const path = join(dir, 'gingham.log');
    setLogFile(path);
    setLogLimits({ maxBytes: 2048, keep: 2 });
    for (let i = 0; i < 200; i++) log('info', `line ${i}`, { pad: 'x'.repeat(50) });
    expect(readdirSync(dir).sort()).toEqual(['gingham.log', 'gingham.log.1', 'gingham.log.2']);
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).size).toBeLessThan(2048 + 200);
    // The newest lines are in the live file, the ones before in .1.
    const last = lines(path).at(-1) as { msg: string };
    expect(last.msg).toBe('line 199');
    expect(lines(`${path}.1`).length).toBeGreaterThan(0);
  });

  it('logKeep 0 keeps no old file', () => {
    const path = join(dir, 'gingham.log');
    setLogFile(path);
    setLogLimits({ maxBytes: 1024, keep: 0 });
    for (let i = 0; i < 100; i++) log('info', `line ${i}`);
    expect(readdirSync(dir).every((f) => f === 'gingham.log')).toBe(true);
  });

  it('never blocks on a FIFO (no reader, or a reader that does not read)', () => {
    const fifo = join(dir, 'fifo.log');
    execFileSync('mkfifo', [fifo]);
    setLogFile(fifo);
    const t0 = performance.now();
    log('info', 'into a FIFO');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('never throws: a path under /proc, a directory', () => {
    for (const path of ['/proc/no/such/dir/x.log', dir]) {
      setLogFile(path);
      expect(() => log('info', 'x')).not.toThrow();
    }
    expect(existsSync('/proc/no')).toBe(false);
  });
});
