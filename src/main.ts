// One binary, two faces: a CNI plugin when CNI_COMMAND is set, the gingham CLI otherwise.
import { readFileSync } from 'node:fs';

async function main(): Promise<void> {
  if (process.env['CNI_COMMAND'] !== undefined) {
    const { runPlugin } = await import('./plugin.js');
    let stdin = '';
    if (process.env['CNI_COMMAND'] !== 'VERSION' || !process.stdin.isTTY) {
      try {
        stdin = readFileSync(0, 'utf8');
      } catch {
        stdin = '';
      }
    }
    const out = await runPlugin(process.env, stdin);
    if (out.stdout) process.stdout.write(`${out.stdout}\n`);
    // Exit now rather than let Node wind down handles it no longer needs: a few ms per pod.
    // Writes to pipes and files are synchronous on Linux, so the result is out.
    process.exit(out.exitCode);
  }
  const { runCli } = await import('./cli/cli.js');
  process.exitCode = await runCli(process.argv.slice(2));
}

void main();
