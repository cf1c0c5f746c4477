// The policy compiler's entry: (policies, pods, namespaces, this node) -> the resolved policies
// (for explain and the agent's state file) and the ruleset the kernel layer applies.
import type { PolicyInputs, Ruleset } from './model.js';
import { PolicyResolver, type ResolvedPolicy } from './resolve.js';
import { RulesetBuilder, type RulesetOptions } from './ruleset.js';

export interface Compiled {
  readonly resolved: readonly ResolvedPolicy[];
  readonly ruleset: Ruleset;
}

/**
 * The compiler the agent keeps from pass to pass: it remembers what each unchanged input (the same
 * Pod, Policy or Namespace object as last pass) gave, so a pass after one pod changed redoes that
 * pod's part and returns last pass's chain and set objects for the rest. Inputs must be immutable
 * (a changed object is a new object), as the policy source hands them out. Its output is always
 * equal to `compile`'s.
 */
export class PolicyCompiler {
  private readonly resolver = new PolicyResolver();
  private readonly builder = new RulesetBuilder();

  compile(inputs: PolicyInputs, opts: RulesetOptions): Compiled {
    const resolved = this.resolver.resolve(inputs);
    return { resolved, ruleset: this.builder.build(resolved, opts) };
  }
}

/** One compilation with nothing remembered (explain, tests). */
export function compile(inputs: PolicyInputs, opts: RulesetOptions): Compiled {
  return new PolicyCompiler().compile(inputs, opts);
}
