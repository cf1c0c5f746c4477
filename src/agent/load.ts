// Runs `gingham agent` from its own bundle. The agent (with @kubernetes/client-node, ~5 MB of
// script) is a second esbuild output shipped as a SEA asset, so the plugin's script, which every
// CNI call loads, stays small: bundled into it, the client cost ~17 ms per pod (measured).
// Outside the single executable (`node build/gingham.cjs`) the bundle is read from beside the script.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as sea from 'node:sea';
import { compileFunction } from 'node:vm';
import type { runAgent, runPolicyCli, runUi } from './main.js';

export const AGENT_ASSET = 'agent.cjs';

function agentSource(): { code: string; filename: string } {
  if (sea.isSea()) return { code: sea.getAsset(AGENT_ASSET, 'utf8'), filename: join(dirname(process.execPath), AGENT_ASSET) };
  const filename = join(dirname(process.argv[1] ?? '.'), AGENT_ASSET);
  return { code: readFileSync(filename, 'utf8'), filename };
}

/** The agent bundle's entry points: the agent itself, and the CLI commands that need its client. */
export interface AgentEntries {
  runAgent: typeof runAgent;
  runPolicyCli: typeof runPolicyCli;
  runUi: typeof runUi;
}

/** Evaluate the agent bundle as a CommonJS module and return its entry points. */
export function loadAgent(): AgentEntries {
  const { code, filename } = agentSource();
  const module = { exports: {} as Record<string, unknown> };
  const fn = compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename });
  // The bundle needs only Node's built-in modules; a require rooted at the bundle finds them.
  fn(module.exports, createRequire(filename), module, filename, dirname(filename));
  for (const name of ['runAgent', 'runPolicyCli', 'runUi']) if (typeof module.exports[name] !== 'function') throw new Error(`${AGENT_ASSET} has no ${name} export`);
  return module.exports as unknown as AgentEntries;
}
