// Problems are recomputed on every pass (a pass sees all objects); the log should get each once.
// Plain, with no imports, so any part of the agent can use it without loading client-node.

/**
 * The lines that have appeared since the last call, so each problem is logged once, not on every
 * pass; one that goes away and comes back is new again.
 */
export class NewLines {
  private before = new Set<string>();

  since(now: readonly string[]): string[] {
    const fresh = now.filter((l) => !this.before.has(l));
    this.before = new Set(now);
    return fresh;
  }
}
