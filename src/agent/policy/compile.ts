// The policy compiler's entry: (policies, pods, namespaces, this node) -> the resolved policies
// (for explain and the agent's state file) and the ruleset the kernel layer applies.
import type { PolicyInputs, Ruleset } from './model.js';
import { type ResolvedPolicy, resolvePolicies } from './resolve.js';
import { type RulesetOptions, buildRuleset } from './ruleset.js';

export interface Compiled {
  readonly resolved: readonly ResolvedPolicy[];
  readonly ruleset: Ruleset;
}

export function compile(inputs: PolicyInputs, opts: RulesetOptions): Compiled {
  const resolved = resolvePolicies(inputs);
  return { resolved, ruleset: buildRuleset(resolved, opts) };
}
