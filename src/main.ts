// One binary, two faces: a CNI plugin when CNI_COMMAND is set, the gingham CLI otherwise.
import { readFileSync, writeSync } from 'node:fs';

/** writeSync may write part of a long text to a pipe; the rest follows until all is out. */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      // A non-blocking pipe that is full: wait for the reader rather than lose the result.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

async function main(): Promise<void> {
  if (process.env['CNI_COMMAND'] !== undefined) {
    const [{ runPlugin }, { runBlocking }] = await Promise.all([import('./plugin.js'), import('./kernel/exec.js')]);
    runBlocking();
    let stdin = '';
    if (process.env['CNI_COMMAND'] !== 'VERSION' || !process.stdin.isTTY) {
      try {
        stdin = readFileSync(0, 'utf8');
      } catch {
        stdin = '';
      }
    }
    const out = await runPlugin(process.env, stdin);
    // Straight to fd 1: process.stdout on a pipe would load net and the stream modules (several
    // ms per pod). Exit now rather than let Node wind down handles it no longer needs.
    if (out.stdout) writeAll(1, `${out.stdout}\n`);
    process.exit(out.exitCode);
  }
  const { runCli } = await import('./cli/cli.js');
  process.exitCode = await runCli(process.argv.slice(2));
}

void main();
