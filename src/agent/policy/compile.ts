// The policy compiler's entry: (policies, cluster policies, pods, namespaces, nodes, this node) -> the resolved policies
// (for explain and the agent's state file) and the ruleset the kernel layer applies.
import type { PolicyInputs, Ruleset } from './model.js';
import { PolicyResolver, type ResolvedClusterPolicy, type ResolvedPolicy } from './resolve.js';
import { RulesetBuilder, type RulesetOptions } from './ruleset.js';

export interface Compiled {
  readonly resolved: readonly ResolvedPolicy[];
  /** ClusterNetworkPolicies, Admin then Baseline, in check order. */
  readonly cluster: readonly ResolvedClusterPolicy[];
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
    const { policies, cluster } = this.resolver.resolveAll(inputs);
    return { resolved: policies, cluster, ruleset: this.builder.build(policies, opts, cluster) };
  }
}

/** One compilation with nothing remembered (explain, tests). */
export function compile(inputs: PolicyInputs, opts: RulesetOptions): Compiled {
  return new PolicyCompiler().compile(inputs, opts);
}
