// A node as the agent needs it: what the Kubernetes source reduces a Node object to. Everything
// after the source works on these plain objects, so tests build them by hand.
export interface NodeInfo {
  readonly name: string;
  /** spec.podCIDRs (or the older spec.podCIDR), as the API gives them. */
  readonly podCIDRs: readonly string[];
  /** status.addresses of type InternalIP, in the API's order. */
  readonly internalIPs: readonly string[];
}
