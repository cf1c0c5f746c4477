// A node as the agent needs it: what the Kubernetes source reduces a Node object to. Everything
// after the source works on these plain objects, so tests build them by hand.
export interface NodeInfo {
  readonly name: string;
  /** spec.podCIDRs (or the older spec.podCIDR): networks in canonical text, at most one per family. */
  readonly podCIDRs: readonly string[];
  /** status.addresses of type InternalIP, in the API's order, in canonical text. */
  readonly internalIPs: readonly string[];
  /**
   * Set when the Node object holds a podCIDR or InternalIP that cannot be read: why. Such a node is
   * skipped whole (podCIDRs and internalIPs are then empty), never half read.
   */
  readonly invalid?: string;
}
