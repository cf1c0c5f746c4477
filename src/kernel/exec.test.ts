// The blocking runner the CNI plugin uses (through the spawn_sync binding): the same results as
// the background runner, the call's cap kills a hung command, and past the cap nothing starts.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../cni/errors.js';
import { withDeadline } from '../cni/deadline.js';
import { ExecError, run, runBlocking, runOk } from './exec.js';

beforeAll(() => runBlocking());

describe('blocking exec (the CNI plugin)', () => {
  it('returns the exit code, stdout and stderr, and feeds stdin', async () => {
    expect(await run(['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(await run(['cat'], 'a line\nand more')).toMatchObject({ code: 0, stdout: 'a line\nand more' });
    expect(await run(['sh', '-c', 'echo "$GH_X"'], undefined, { GH_X: 'given', PATH: '/usr/bin:/bin' })).toMatchObject({ stdout: 'given\n' });
    await expect(runOk(['false'])).rejects.toBeInstanceOf(ExecError);
  });

  it('a command killed by a signal exits non-zero; a missing program is an error, as with spawn', async () => {
    expect((await run(['sh', '-c', 'kill -9 $$'])).code).toBe(128);
    await expect(run(['/nonexistent/gh-tool'])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the call cap kills a hung command with code 11, and runs the undos once', async () => {
    const { onTimeout } = await import('../cni/deadline.js');
    let undone = 0;
    const t0 = Date.now();
    const work = async (): Promise<void> => {
      onTimeout(() => undone++);
      await run(['sleep', '30']);
    };
    await expect(withDeadline(1, work)).rejects.toMatchObject({ code: Code.TryAgainLater });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(undone).toBe(1);
  });

  it('runs the command in place: the event loop does not turn until it has finished', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      expect((await run(['sleep', '0.2'])).code).toBe(0);
      expect(ticks).toBe(0);
    } finally {
      clearInterval(timer);
    }
  });

  it('past the cap nothing starts: the call ends with code 11 and the undos run', async () => {
    const { onTimeout } = await import('../cni/deadline.js');
    const marker = join(mkdtempSync(join(tmpdir(), 'gh-exec-')), 'ran');
    let undone = 0;
    const work = async (): Promise<void> => {
      onTimeout(() => undone++);
      // Busy past the 1 s cap without yielding, so the timer cannot end the call first.
      const until = Date.now() + 1100;
      while (Date.now() < until);
      await run(['touch', marker]);
    };
    await expect(withDeadline(1, work)).rejects.toMatchObject({ code: Code.TryAgainLater });
    expect(existsSync(marker)).toBe(false);
    expect(undone).toBe(1);
  });

  it('outside a capped call nothing is cut off', async () => {
    expect((await run(['sh', '-c', 'sleep 0.2; echo done'])).stdout).toBe('done\n');
  });
});
