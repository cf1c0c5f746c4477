// The compiler kept across passes (PolicyCompiler) must never miss a change: after every step of a
// long random sequence of pod, namespace, policy and option changes, its output equals a fresh
// compilation's. And it must actually remember: what a change does not touch comes back as the
// very same objects (the kernel layer skips those by identity).
import { describe, expect, it } from 'vitest';
import { PolicyCompiler, compile } from './compile.js';
import type { LabelSelector, NamespaceInfo, PodInfo, Policy, PolicyInputs, PolicyPeer, PolicyPort } from './model.js';
import type { RulesetOptions } from './ruleset.js';
import { ns, pod, policy, rule, sel } from './testing.js';

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMESPACES = ['a', 'b', 'c', 'd'];
const APPS = ['web', 'db', 'cache'];
const TEAMS = ['red', 'blue'];

class World {
  private n = 0;
  pods: PodInfo[] = [];
  policies: Policy[] = [];
  namespaces: NamespaceInfo[] = NAMESPACES.map((name, i) => ns(name, { ns: name, team: TEAMS[i % 2]! }));

  constructor(private readonly r: () => number) {
    for (let i = 0; i < 24; i++) this.pods.push(this.newPod());
    for (let i = 0; i < 10; i++) this.policies.push(this.newPolicy());
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  private ips(): string[] {
    const i = this.n++;
    const v4 = `198.18.${1 + (i >> 8)}.${i & 255}`;
    const v6 = `fd42:18::${(i + 1).toString(16)}`;
    const x = this.r();
    return x < 0.1 ? [] : x < 0.35 ? [v4, v6] : x < 0.45 ? [v6] : [v4];
  }

  private labels(): Record<string, string> {
    const l: Record<string, string> = { app: this.pick(APPS) };
    if (this.r() < 0.6) l['tier'] = this.pick(['front', 'back']);
    return l;
  }

  newPod(namespace = this.pick(NAMESPACES), name = `p${this.n}`): PodInfo {
    return pod(namespace, name, this.ips(), {
      node: this.r() < 0.75 ? 'n1' : 'n2',
      labels: this.labels(),
      hostNetwork: this.r() < 0.05,
      namedPorts: this.r() < 0.5 ? [{ name: 'http', protocol: 'TCP', port: this.pick([80, 8080]) }] : [],
    });
  }

  private selector(): LabelSelector {
    const x = this.r();
    if (x < 0.2) return sel();
    if (x < 0.6) return sel({ app: this.pick(APPS) });
    if (x < 0.8) return sel({}, [{ key: 'tier', operator: this.pick(['In', 'NotIn'] as const), values: [this.pick(['front', 'back'])] }]);
    return sel({}, [{ key: 'tier', operator: this.pick(['Exists', 'DoesNotExist'] as const), values: [] }]);
  }

  private peer(): PolicyPeer {
    const x = this.r();
    if (x < 0.4) return { podSelector: this.selector() };
    if (x < 0.6) return { namespaceSelector: sel({ team: this.pick(TEAMS) }) };
    if (x < 0.8) return { namespaceSelector: sel({ team: this.pick(TEAMS) }), podSelector: this.selector() };
    return { ipBlock: this.r() < 0.5 ? { cidr: '198.19.0.0/16', except: ['198.19.1.0/24'] } : { cidr: 'fd42:19::/32', except: [] } };
  }

  private port(): PolicyPort {
    const x = this.r();
    if (x < 0.3) return { protocol: 'TCP', port: 'http' };
    if (x < 0.5) return { protocol: 'UDP', port: 53, endPort: 60 };
    if (x < 0.6) return { protocol: 'SCTP', port: 9 };
    if (x < 0.7) return { protocol: 'TCP' };
    return { protocol: 'TCP', port: this.pick([80, 443]) };
  }

  private rules(): ReturnType<typeof rule>[] {
    return Array.from({ length: Math.floor(this.r() * 3) }, () =>
      rule(
        Array.from({ length: Math.floor(this.r() * 3) }, () => this.peer()),
        Array.from({ length: Math.floor(this.r() * 3) }, () => this.port()),
      ),
    );
  }

  newPolicy(namespace = this.pick(NAMESPACES), name = `np${this.n++}`): Policy {
    const x = this.r();
    return policy(namespace, name, {
      select: this.selector(),
      ...(x < 0.8 ? { ingress: this.rules() } : {}),
      ...(x > 0.5 ? { egress: this.rules() } : {}),
    });
  }

  /** One random change, as the source would show it: a changed object is a new object. */
  step(): string {
    const x = this.r();
    const i = Math.floor(this.r() * this.pods.length);
    const p = this.pods[i];
    if (x < 0.15) {
      this.pods.push(this.newPod());
      return 'pod added';
    }
    if (x < 0.25 && p) {
      this.pods.splice(i, 1);
      return 'pod deleted';
    }
    if (x < 0.4 && p) {
      this.pods[i] = { ...p, labels: this.labels() };
      return 'pod relabelled';
    }
    if (x < 0.45 && p) {
      this.pods[i] = { ...p, ips: this.ips() };
      return 'pod readdressed';
    }
    if (x < 0.5 && p) {
      this.pods[i] = { ...p, namedPorts: p.namedPorts.length > 0 ? [] : [{ name: 'http', protocol: 'TCP', port: this.pick([80, 8080]) }] };
      return 'pod named ports changed';
    }
    if (x < 0.53 && p) {
      this.pods[i] = { ...p, node: p.node === 'n1' ? 'n2' : 'n1' };
      return 'pod moved';
    }
    if (x < 0.56 && p) {
      this.pods[i] = this.newPod(p.namespace, p.name);
      return 'pod replaced';
    }
    if (x < 0.64) {
      const j = Math.floor(this.r() * this.namespaces.length);
      const n = this.namespaces[j]!;
      this.namespaces[j] = { ...n, labels: { ...n.labels, team: this.pick(TEAMS) } };
      return 'namespace relabelled';
    }
    if (x < 0.66) {
      const extra = this.namespaces.find((n) => n.name === 'e');
      this.namespaces = extra ? this.namespaces.filter((n) => n !== extra) : [...this.namespaces, ns('e', { ns: 'e', team: this.pick(TEAMS) })];
      return 'namespace added or deleted';
    }
    if (x < 0.74) {
      this.policies.push(this.newPolicy());
      return 'policy added';
    }
    const k = Math.floor(this.r() * this.policies.length);
    const old = this.policies[k];
    if (x < 0.8 && old) {
      this.policies.splice(k, 1);
      return 'policy deleted';
    }
    if (x < 0.9 && old) {
      this.policies[k] = this.newPolicy(old.namespace, old.name);
      return 'policy changed';
    }
    return 'nothing changed';
  }

  /** Sorted by namespace and name, as the source gives them. */
  inputs(): PolicyInputs {
    const byName = <T extends { namespace?: string; name: string }>(a: T, b: T): number => `${a.namespace ?? ''}/${a.name}`.localeCompare(`${b.namespace ?? ''}/${b.name}`);
    return { pods: [...this.pods].sort(byName), policies: [...this.policies].sort(byName), namespaces: [...this.namespaces] };
  }
}

describe('PolicyCompiler, remembering from pass to pass', () => {
  it.each([1, 2, 3, 4, 5, 6])('equals a fresh compilation after every change of a random sequence (seed %i)', (seed) => {
    const r = random(seed);
    const world = new World(r);
    const compiler = new PolicyCompiler();
    let opts: RulesetOptions = { node: 'n1', sctpPorts: true, logDrops: false };
    const steps: string[] = [];
    for (let i = 0; i < 150; i++) {
      steps.push(r() < 0.03 ? ((opts = { ...opts, [r() < 0.5 ? 'sctpPorts' : 'logDrops']: r() < 0.5 }), 'options changed') : world.step());
      const inputs = world.inputs();
      const kept = compiler.compile(inputs, opts);
      const fresh = compile(inputs, opts);
      expect(kept.ruleset, `after ${steps.join(', ')}`).toEqual(fresh.ruleset);
      expect(kept.resolved, `after ${steps.join(', ')}`).toEqual(fresh.resolved);
    }
  });

  it('a pod relabelled elsewhere leaves every other chain and set the same object; the pass after a no-op returns the same ruleset parts', () => {
    const namespaces = [ns('x'), ns('y')];
    const pods = [
      pod('x', 'a', ['198.18.1.1'], { labels: { app: 'web' } }),
      pod('x', 'b', ['198.18.1.2'], { labels: { app: 'db' } }),
      pod('y', 'c', ['198.18.1.3'], { labels: { app: 'web' } }),
    ];
    const policies = [
      policy('x', 'web', { select: sel({ app: 'web' }), ingress: [rule([{ podSelector: sel({ app: 'db' }) }], [{ protocol: 'TCP', port: 80 }])] }),
      policy('y', 'web', { select: sel({ app: 'web' }), ingress: [rule([{ podSelector: sel({ app: 'api' }) }])] }),
    ];
    const opts = { node: 'n1', sctpPorts: true, logDrops: false };
    const compiler = new PolicyCompiler();
    const first = compiler.compile({ pods, policies, namespaces }, opts).ruleset;
    const again = compiler.compile({ pods: [...pods], policies: [...policies], namespaces: [...namespaces] }, opts).ruleset;
    first[4].chains.forEach((c, i) => expect(again[4].chains[i]).toBe(c));
    first[4].sets.forEach((s, i) => expect(again[4].sets[i]).toBe(s));

    // y/c joins the peer of y/web: y's set changes, x's chains and sets stay.
    const moved = { ...pods[2]!, labels: { app: 'web', role: 'x' } };
    const next = compiler.compile({ pods: [pods[0]!, pods[1]!, moved], policies, namespaces }, opts).ruleset;
    expect(next).toEqual(compile({ pods: [pods[0]!, pods[1]!, moved], policies, namespaces }, opts).ruleset);
    const xSets = first[4].sets.filter((s) => s.entries.includes('198.18.1.2'));
    expect(xSets).toHaveLength(1);
    expect(next[4].sets).toContain(xSets[0]);
    const same = next[4].chains.filter((c) => first[4].chains.includes(c)).map((c) => c.name);
    // Only the pod chain of y/c (a new PodInfo) and the dispatch chains may be rebuilt; y/c's
    // dispatch rules do not change, so those chains are the old objects as well.
    expect(same.length).toBeGreaterThanOrEqual(first[4].chains.length - 2);
  });
});
