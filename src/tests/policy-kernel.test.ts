// The policy kernel layer for real, dual-stack, for each dataplane (iptables + ipset, and nftables'
// table inet gingham-policy) on the same model ruleset: a node namespace with a bridge and three
// pods on it (bridged traffic reaches the forward hook: bridge-nf-call-ip(6)tables is on in the
// node), a hand-made Ruleset that isolates p1 (ingress to TCP 80 only from a set's members, the pod
// found by a dispatch), and TCP connections with `gingham probe` proving each verdict. Then what
// the agent relies on: a set change flips a verdict with no chain rewritten, a repeated sync changes
// nothing, a trusting sync runs only the change, every rule shape the compiler writes reads back
// equal, hand-made damage heals, a change that cannot be applied keeps the old rules, cleanup
// leaves nothing; what only one dataplane has (iptables' in-place edits, prepared commits and
// temporary sets; nftables' base chain); the compiler kept across passes; a timing figure of each.
import { type ResultPromise, execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTool } from '../kernel/exec.js';
import { type PolicySyncResult, sctpPortsSupported } from '../agent/policy/apply.js';
import { DATAPLANES, type PolicyDataplane, policyDataplane } from '../agent/policy/dataplane.js';
import { nftSctpPortsSupported } from '../agent/policy/nft-apply.js';
import type { AddrSet, Chain, FamilyRules, Hook, Rule } from '../kernel/packet-filter/model.js';
import { PolicyCompiler } from '../agent/policy/compile.js';
import type { PodInfo, Ruleset } from '../agent/policy/model.js';
import { iptablesRules } from '../kernel/packet-filter/iptables-render.js';
import { EGRESS_CHAIN, INGRESS_CHAIN } from '../agent/policy/ruleset.js';
import { pod, syntheticCluster } from '../agent/policy/testing.js';
import { Cluster, GINGHAM, requirePrivileges } from './cluster.js';

requirePrivileges();
if (!resolveTool('ipset').startsWith('/')) throw new Error('privileged tests cannot run, missing: ipset (make deps)');

type Fam = 4 | 6;
const FAMILIES = [4, 6] as const;
const POD_IP: Record<number, Record<Fam, string>> = {
  1: { 4: '198.18.0.11', 6: 'fd42:18::11' },
  2: { 4: '198.18.0.12', 6: 'fd42:18::12' },
  3: { 4: '198.18.0.13', 6: 'fd42:18::13' },
};
const allowSet = (f: Fam): string => `gingham-np${f}-allow`;

const noChanges = (r: PolicySyncResult): void => {
  expect(r.failures).toEqual([]);
  expect(r.restores).toBe(0);
  for (const f of FAMILIES) expect(r.chains[f]).toEqual({ created: [], rewritten: [], removed: [], hooked: [], unhooked: [] });
  expect(r.sets).toEqual({ created: [], rebuilt: [], retyped: [], updated: [], destroyed: [], added: 0, removed: 0 });
};

// ---- Both dataplanes: the same model ruleset, the same verdicts. ----

const ALLOW = 0x20000;
const SET_ALLOW: Rule = { action: { kind: 'mark', value: ALLOW, mask: ALLOW } };
const CLEAR_ALLOW: Rule = { action: { kind: 'mark', value: 0, mask: ALLOW } };
const IF_ALLOWED_RETURN: Rule = { mark: { value: ALLOW, mask: ALLOW }, action: { kind: 'return' } };
const REPLIES: Rule = { ct: 'established-related', action: { kind: 'return' } };
const REJECT: Rule = { action: { kind: 'reject', with: 'port-unreachable' } };
const denyEvent = (chain: string): Rule => ({ limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: `gingham deny ingress ${chain}`, group: 9917, snaplen: 128 } });
const podChainName = (i: number): string => `GINGHAM-NPI-p${i}`;
/** The pod chain of an isolated pod: its policy chain decides, the rest is rejected (with an event). */
const podChain = (i: number): Chain => ({
  name: podChainName(i),
  rules: [CLEAR_ALLOW, { comment: 'test/web ingress', action: { kind: 'jump', chain: 'GINGHAM-NP-POL' } }, IF_ALLOWED_RETURN, denyEvent(podChainName(i)), REJECT],
});
const POD_CHAINS = new Map([1, 2, 3].map((i) => [i, podChain(i)]));
const modelSets = new Map<string, AddrSet>();
/** The same AddrSet object for the same content (the compiler's identity caching, in small). */
const addrSet = (name: string, f: Fam, members: readonly number[]): AddrSet => {
  const entries = members.map((i) => POD_IP[i]![f]).sort();
  const key = `${name} ${entries.join(',')}`;
  let s = modelSets.get(key);
  if (!s) modelSets.set(key, (s = { name, family: f, kind: 'addrs', entries }));
  return s;
};
const policyChain = (f: Fam): Chain => ({ name: 'GINGHAM-NP-POL', rules: [{ proto: 'tcp', sets: [{ set: allowSet(f), dir: 'src' }], dport: { from: 80, to: 80 }, action: SET_ALLOW.action }] });
const POLICY_CHAINS = { 4: policyChain(4), 6: policyChain(6) };
const FORWARD: Chain = { name: 'GINGHAM-NP-FORWARD', rules: [REPLIES, { action: { kind: 'jump', chain: 'GINGHAM-NP-INGRESS' } }] };
const HOOKS: readonly Hook[] = [{ at: 'forward', chain: FORWARD.name, comment: 'gingham-policy' }];

/** The pods in `isolated` take ingress to TCP 80 only from the members of the allow set: a dispatch map by destination to their pod chains. */
function isolate(f: Fam, allow: readonly number[], isolated: readonly number[] = [1], extra: Partial<FamilyRules> = {}): FamilyRules {
  const ingress: Chain = { name: 'GINGHAM-NP-INGRESS', rules: [{ dispatch: { by: 'dst', map: 'ingress-pods', entries: isolated.map((i) => ({ addr: POD_IP[i]![f], chain: podChainName(i) })) } }] };
  return {
    sets: [addrSet(allowSet(f), f, allow), ...(extra.sets ?? [])],
    chains: [FORWARD, ingress, ...isolated.map((i) => POD_CHAINS.get(i)!), POLICY_CHAINS[f], ...(extra.chains ?? [])],
    hooks: HOOKS,
  };
}
const isolating = (allow: readonly number[], isolated: readonly number[] = [1]): Ruleset => ({ 4: isolate(4, allow, isolated), 6: isolate(6, allow, isolated) });

/** Every rule shape the compiler writes (ruleset.ts), as model rules. */
function modelShapes(f: Fam, sctp: boolean): Partial<FamilyRules> {
  const [a, b] = f === 4 ? ['198.18.0.11/32', '198.18.0.0/24'] : ['fd42:18::11/128', 'fd42:18::/64'];
  const s1 = `gingham-np${f}-shape1`;
  const s2 = `gingham-np${f}-shape2`;
  const rules: Rule[] = [
    { src: { cidr: a }, action: { kind: 'return' } },
    { dst: { cidr: b }, action: { kind: 'return' } },
    { src: { cidr: a }, dst: { cidr: b }, proto: 'tcp', dport: { from: 80, to: 80 }, action: { kind: 'return' } },
    { proto: 'tcp', comment: 'x/y ingress rule 0', sets: [{ set: s1, dir: 'src' }, { set: s2, dir: 'dst' }], dport: { from: 80, to: 80 }, action: SET_ALLOW.action },
    { proto: 'udp', comment: 'x/y ingress rule 1', sets: [{ set: s2, dir: 'src' }], dport: { from: 80, to: 90 }, action: SET_ALLOW.action },
    { proto: 'udp', action: { kind: 'return' } },
    ...(sctp ? [{ proto: 'sctp', dport: { from: 80, to: 80 }, action: { kind: 'return' } } as const, { proto: 'sctp', action: { kind: 'return' } } as const] : []),
    ...(f === 6 ? [{ proto: 'icmpv6', icmpv6Type: 135, action: { kind: 'return' } } as const, { proto: 'icmpv6', icmpv6Type: 136, action: { kind: 'return' } } as const] : []),
    REPLIES,
    IF_ALLOWED_RETURN,
    { mark: { value: ALLOW | 0x40000, mask: ALLOW | 0x40000 }, action: { kind: 'return' } },
    { comment: 'x/y ingress', action: { kind: 'jump', chain: 'GINGHAM-NP-POL' } },
    CLEAR_ALLOW,
    { action: { kind: 'mark', value: 0, mask: ALLOW | 0x40000 } },
    { ct: 'new', mark: IF_ALLOWED_RETURN.mark!, limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: 'gingham accept ingress GINGHAM-NP-SHAPES', group: 9917, snaplen: 128 } },
    denyEvent('GINGHAM-NP-SHAPES'),
    { proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } },
    REJECT,
    { action: { kind: 'drop' } },
    { action: { kind: 'goto', chain: 'GINGHAM-NP-POL' } },
    { action: { kind: 'return' } },
  ];
  return {
    sets: [
      { name: s1, family: f, kind: 'addrs', entries: [POD_IP[3]![f]] },
      f === 4
        ? { name: s2, family: f, kind: 'nets', entries: ['198.18.0.0/16'], except: ['198.18.0.16/28'] }
        : { name: s2, family: f, kind: 'nets', entries: ['fd42:18::/64'], except: ['fd42:18::10/124'] },
    ],
    chains: [{ name: 'GINGHAM-NP-SHAPES', rules }],
  };
}

describe.each(DATAPLANES)('policy dataplane %s in a namespace', (dataplane) => {
  const c = new Cluster();
  const servers: ResultPromise[] = [];
  let applier: PolicyDataplane;
  let sctp = false;
  const hookName = dataplane === 'iptables' ? 'FORWARD' : 'forward';

  const sh = (ns: string, cmd: string): Promise<string> => c.exec(ns, ['sh', '-c', cmd]);
  const reaches = async (from: number, to: number, port: number, f: Fam): Promise<boolean> => {
    const host = f === 4 ? POD_IP[to]![4] : `[${POD_IP[to]![6]}]`;
    const r = await c.sh(['ip', 'netns', 'exec', c.ns(`p${from}`), GINGHAM, 'probe', 'connect', `${host}:${port}`, '--timeout', '2000']);
    return r.exitCode === 0;
  };
  /** Verdicts of p2 and p3 to p1 on 80 and 81, and of p1 to p3 on 80, per family. */
  const matrix = async (): Promise<Record<string, boolean>> => {
    const out: Record<string, boolean> = {};
    const pairs: [number, number, number][] = [[2, 1, 80], [2, 1, 81], [3, 1, 80], [3, 1, 81], [1, 3, 80]];
    await Promise.all(FAMILIES.flatMap((f) => pairs.map(async ([a, b, p]) => (out[`v${f} p${a}->p${b}:${p}`] = await reaches(a, b, p, f)))));
    return Object.fromEntries(Object.entries(out).sort());
  };
  const expected = (allowed: number | undefined): Record<string, boolean> =>
    Object.fromEntries(
      FAMILIES.flatMap((f) => [
        [`v${f} p1->p3:80`, true],
        [`v${f} p2->p1:80`, allowed === undefined || allowed === 2],
        [`v${f} p2->p1:81`, allowed === undefined],
        [`v${f} p3->p1:80`, allowed === undefined || allowed === 3],
        [`v${f} p3->p1:81`, allowed === undefined],
      ]).sort(),
    );
  /**
   * Our kernel state in a form that shows any rewrite: iptables with rule counters (a rewritten
   * rule starts again from zero; counters may grow meanwhile) and ipsets; nftables with rule
   * handles (a replaced table or refilled chain gets new ones).
   */
  const ourState = async (): Promise<string> => {
    if (dataplane === 'nftables') return (await c.sh(['ip', 'netns', 'exec', c.ns('node'), 'nft', '-a', '-s', 'list', 'table', 'inet', 'gingham-policy'])).stdout;
    const parts = await Promise.all([sh('node', 'iptables-save -t filter'), sh('node', 'ip6tables-save -t filter'), sh('node', 'ipset save')]);
    return parts.join('').split('\n').filter((l) => /GINGHAM-NP|gingham-np/.test(l)).join('\n');
  };
  const READS = dataplane === 'iptables' ? 3 : 1;

  beforeAll(async () => {
    await c.addNamespace('node');
    await sh('node', 'ip link add br0 type bridge && ip link set br0 up && ip addr add 198.18.0.1/24 dev br0 && ip addr add fd42:18::1/64 dev br0 nodad');
    // Bridged pod-to-pod traffic reaches the forward hook (iptables FORWARD, nft's inet forward) only with these on.
    await c.exec('node', ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
    for (const i of [1, 2, 3]) {
      await c.addNamespace(`p${i}`);
      await c.exec('node', ['ip', 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c.ns(`p${i}`)]);
      await c.exec('node', ['ip', 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
      await sh(`p${i}`, `ip addr add ${POD_IP[i]![4]}/24 dev eth0 && ip addr add ${POD_IP[i]![6]}/64 dev eth0 nodad && ip link set eth0 up`);
    }
    for (const i of [1, 3]) servers.push(execa('ip', ['netns', 'exec', c.ns(`p${i}`), GINGHAM, 'probe', 'serve', '--tcp', '80,81'], { reject: false }));
    for (let n = 0; n < 50 && !((await reaches(2, 1, 81, 6)) && (await reaches(2, 3, 80, 4))); n++) await new Promise((r) => setTimeout(r, 100));
    applier = policyDataplane(dataplane, c.ns('node'));
    sctp = dataplane === 'iptables' ? await sctpPortsSupported(c.ns('node')) : await nftSctpPortsSupported(c.ns('node'));
  });
  afterAll(async () => {
    for (const s of servers) s.kill();
    await Promise.all(servers);
    await c.destroy();
  });

  it('before any policy every pair connects, in both families; the SCTP probe leaves nothing behind', async () => {
    expect(await matrix()).toEqual(expected(undefined));
    expect(await ourState()).toBe('');
    console.log(`${dataplane}: SCTP port matches accepted here: ${sctp}`);
  });

  it('isolates p1: only the set member reaches TCP 80, in both families', async () => {
    const r = await applier.sync(isolating([2]));
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) {
      expect(r.chains[f].created.sort()).toEqual(['GINGHAM-NP-FORWARD', 'GINGHAM-NP-INGRESS', 'GINGHAM-NP-POL', 'GINGHAM-NPI-p1']);
      expect(r.chains[f].hooked).toEqual([hookName]);
    }
    expect(r.restores).toBe(dataplane === 'iptables' ? 3 : 1);
    expect(await matrix()).toEqual(expected(2));
  });

  it('a second sync with the same ruleset only reads: nothing rewritten', async () => {
    const before = await ourState();
    const r = await applier.sync(isolating([2]));
    noChanges(r);
    expect(r.reads).toBe(READS);
    expect(await ourState()).toBe(before);
  });

  it('a set membership change flips the verdict in one exec, no chain rewritten', async () => {
    const r = await applier.sync(isolating([3]));
    expect(r.failures).toEqual([]);
    expect(r.restores).toBe(1);
    for (const f of FAMILIES) expect(r.chains[f]).toEqual({ created: [], rewritten: [], removed: [], hooked: [], unhooked: [] });
    expect(r.sets).toMatchObject({ updated: [allowSet(4), allowSet(6)], added: 2, removed: 2 });
    expect(await matrix()).toEqual(expected(3));
  });

  it('a sync that trusts the last state execs only the change; what it cannot see waits for the next sync that reads', async () => {
    const r = await applier.sync(isolating([2]), { read: false });
    expect([r.failures, r.reads, r.restores]).toEqual([[], 0, 1]);
    expect(await matrix()).toEqual(expected(2));
    await sh('node', dataplane === 'iptables' ? `ipset del ${allowSet(4)} ${POD_IP[2]![4]}` : `nft delete element inet gingham-policy ${allowSet(4)} '{ ${POD_IP[2]![4]} }'`);
    const blind = await applier.sync(isolating([2]), { read: false });
    expect([blind.reads, blind.restores]).toEqual([0, 0]);
    expect(await reaches(2, 1, 80, 4)).toBe(false);
    const healed = await applier.sync(isolating([2]));
    expect(healed.failures).toEqual([]);
    expect(healed.sets).toMatchObject({ updated: [allowSet(4)], added: 1, removed: 0 });
    expect(await reaches(2, 1, 80, 4)).toBe(true);
    expect((await applier.sync(isolating([3]), { read: false })).failures).toEqual([]);
    expect(await matrix()).toEqual(expected(3));
  });

  it('a pod isolated and released again, trusting the last state: one commit each (iptables: one per family), verdicts follow', async () => {
    // p3 isolated too (its pod chain allows from the set's member, p3 itself: nobody else reaches it).
    // iptables: one iptables-restore per family; nftables: one transaction for both.
    const commits = dataplane === 'iptables' ? 2 : 1;
    const added = await applier.sync(isolating([3], [1, 3]), { read: false });
    expect([added.failures, added.reads, added.restores]).toEqual([[], 0, commits]);
    for (const f of FAMILIES) expect(added.chains[f].created).toEqual(['GINGHAM-NPI-p3']);
    expect(await reaches(1, 3, 80, 4)).toBe(false);
    expect(await reaches(1, 3, 80, 6)).toBe(false);
    noChanges(await applier.sync(isolating([3], [1, 3])));
    const released = await applier.sync(isolating([3]), { read: false });
    expect([released.failures, released.reads, released.restores]).toEqual([[], 0, commits]);
    for (const f of FAMILIES) expect(released.chains[f].removed).toEqual(['GINGHAM-NPI-p3']);
    expect(await matrix()).toEqual(expected(3));
    noChanges(await applier.sync(isolating([3])));
  });

  it('every rule shape the compiler writes reads back as written: the next sync changes nothing', async () => {
    const want: Ruleset = { 4: isolate(4, [3], [1], modelShapes(4, sctp)), 6: isolate(6, [3], [1], modelShapes(6, sctp)) };
    const r = await applier.sync(want);
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) expect(r.chains[f].created).toEqual(['GINGHAM-NP-SHAPES']);
    noChanges(await applier.sync(want));
    expect(await matrix()).toEqual(expected(3));
  });

  it('a rule, a hook and a set entry deleted by hand come back on the next sync that reads', async () => {
    const want: Ruleset = { 4: isolate(4, [3], [1], modelShapes(4, sctp)), 6: isolate(6, [3], [1], modelShapes(6, sctp)) };
    if (dataplane === 'iptables') await sh('node', `iptables -D GINGHAM-NPI-p1 5; ip6tables -D FORWARD 1; ipset del ${allowSet(6)} ${POD_IP[3]![6]}`);
    else {
      const handle = async (chain: string, pattern: RegExp): Promise<string> => {
        const listing = await c.exec('node', ['nft', '-a', 'list', 'chain', 'inet', 'gingham-policy', chain]);
        return /# handle (\d+)/.exec(listing.split('\n').find((l) => pattern.test(l)) ?? '')![1]!;
      };
      await c.exec('node', ['nft', 'delete', 'rule', 'inet', 'gingham-policy', 'GINGHAM-NPI-p1-4', 'handle', await handle('GINGHAM-NPI-p1-4', /^\s*reject/)]);
      await c.exec('node', ['nft', 'delete', 'rule', 'inet', 'gingham-policy', 'hook-forward', 'handle', await handle('hook-forward', /jump GINGHAM-NP-FORWARD-6/)]);
      await c.exec('node', ['nft', 'delete', 'element', 'inet', 'gingham-policy', allowSet(6), `{ ${POD_IP[3]![6]} }`]);
    }
    expect(await reaches(2, 1, 80, 4)).toBe(true);
    expect(await reaches(2, 1, 81, 6)).toBe(true);
    const r = await applier.sync(want);
    expect(r.failures).toEqual([]);
    expect(r.chains[4]).toMatchObject({ rewritten: ['GINGHAM-NPI-p1'], hooked: [] });
    expect(r.chains[6]).toMatchObject({ rewritten: [], hooked: [hookName] });
    expect(r.sets).toMatchObject({ updated: [allowSet(6)], added: 1, removed: 0 });
    expect(await matrix()).toEqual(expected(3));
    noChanges(await applier.sync(want));
  });

  it('a change that cannot be applied keeps the previous rules in force, is reported, and makes the next sync read', async () => {
    const before = await ourState();
    const broken = isolate(4, [2], [1], { chains: [{ name: 'GINGHAM-NP-BROKEN', rules: [{ action: { kind: 'jump', chain: 'GINGHAM-NP-NOSUCH' } }] }] });
    const r = await applier.sync({ 4: broken, 6: isolate(6, [2]) }, { read: false });
    expect(r.failures).toHaveLength(1);
    // iptables refuses the jump to a missing chain before any exec; nft in the kernel's transaction.
    expect(r.failures[0]!.step).toBe(dataplane === 'iptables' ? 'render' : 'nft');
    if (dataplane === 'nftables') expect(await ourState()).toBe(before);
    expect(await reaches(2, 1, 80, 4)).toBe(false);
    expect(await reaches(3, 1, 80, 4)).toBe(true);
    const next = await applier.sync(isolating([3]), { read: false });
    expect([next.failures, next.reads]).toEqual([[], READS]);
    expect(await matrix()).toEqual(expected(3));
  });

  it('cleanup leaves nothing of ours; every pair connects again', async () => {
    const r = await applier.cleanup();
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) {
      expect(r.chains[f].removed.sort()).toEqual(['GINGHAM-NP-FORWARD', 'GINGHAM-NP-INGRESS', 'GINGHAM-NP-POL', 'GINGHAM-NPI-p1']);
      expect(r.chains[f].unhooked).toEqual([hookName]);
    }
    expect(await ourState()).toBe('');
    expect(await matrix()).toEqual(expected(undefined));
    noChanges(await applier.cleanup());
  });

  // ---- What only one dataplane has. ----

  it.runIf(dataplane === 'iptables')('iptables: the hook at the top of FORWARD (none in INPUT: a pod and its node always talk); a repeated sync leaves every counter running', async () => {
    expect((await applier.sync(isolating([3]))).failures).toEqual([]);
    for (const tool of ['iptables', 'ip6tables']) {
      expect((await c.exec('node', [tool, '-S', 'FORWARD'])).split('\n')[1]).toBe('-A FORWARD -m comment --comment gingham-policy -j GINGHAM-NP-FORWARD');
      expect(await c.exec('node', [tool, '-S', 'INPUT'])).not.toContain('GINGHAM');
    }
    expect(await reaches(2, 1, 80, 4)).toBe(false);
    const counted = async (): Promise<[number, string][]> =>
      (await Promise.all([sh('node', 'iptables-save -c -t filter'), sh('node', 'ip6tables-save -c -t filter')]))
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('['))
        .map((l) => [Number(/^\[(\d+):/.exec(l)![1]), l.replace(/^\[\d+:\d+\] /, '')]);
    const before = await counted();
    expect(before.some(([n, l]) => l.includes('-j REJECT') && n > 0)).toBe(true);
    noChanges(await applier.sync(isolating([3])));
    const after = await counted();
    // A rewritten rule would start again from zero; the namespaces' own packets may add meanwhile.
    expect(after.map(([, l]) => l)).toEqual(before.map(([, l]) => l));
    after.forEach(([n], i) => expect(n).toBeGreaterThanOrEqual(before[i]![0]));
  });

  it.runIf(dataplane === 'iptables')('iptables: a stale chain of ours, the jump to it and the set it uses are removed in one pass', async () => {
    await sh(
      'node',
      'ipset create gingham-np4-old hash:ip && iptables -N GINGHAM-NP-OLD && iptables -A GINGHAM-NP-OLD -m set --match-set gingham-np4-old src -j RETURN && iptables -I GINGHAM-NP-FORWARD 1 -j GINGHAM-NP-OLD',
    );
    const r = await applier.sync(isolating([3]));
    expect(r.failures).toEqual([]);
    expect(r.chains[4]).toMatchObject({ rewritten: ['GINGHAM-NP-FORWARD'], removed: ['GINGHAM-NP-OLD'] });
    expect(r.sets.destroyed).toEqual(['gingham-np4-old']);
    expect(await ourState()).not.toMatch(/GINGHAM-NP-OLD|gingham-np4-old/);
    noChanges(await applier.sync(isolating([3])));
  });

  /** The ruleset with the allow sets of another kind (the same members). */
  const asNets = (want: Ruleset): Ruleset => ({
    4: { ...want[4], sets: want[4].sets.map((x) => (x.name === allowSet(4) ? { ...x, kind: 'nets' } : x)) },
    6: { ...want[6], sets: want[6].sets.map((x) => (x.name === allowSet(6) ? { ...x, kind: 'nets' } : x)) },
  });

  it('a set that changes kind is replaced in one sync, verdicts kept (iptables: through a temporary set; nftables: the whole table)', async () => {
    expect((await applier.sync(isolating([3]))).failures).toEqual([]);
    const want = asNets(isolating([3]));
    const r = await applier.sync(want);
    expect(r.failures).toEqual([]);
    expect(r.sets.retyped).toEqual([allowSet(4), allowSet(6)]);
    if (dataplane === 'iptables') {
      const sets = await c.exec('node', ['ipset', 'save']);
      expect(sets).toMatch(new RegExp(`create ${allowSet(4)} hash:net family inet `));
      expect(sets).toMatch(new RegExp(`create ${allowSet(6)} hash:net family inet6 `));
      expect(sets).not.toContain('gingham-np-tmp');
    } else expect(await c.exec('node', ['nft', 'list', 'set', 'inet', 'gingham-policy', allowSet(4)])).toContain('flags interval');
    expect(await matrix()).toEqual(expected(3));
    noChanges(await applier.sync(want));
    // Back, trusting the last state (nftables: a whole-table replace; iptables: two rounds).
    const back = await applier.sync(isolating([3]), { read: false });
    expect([back.failures, back.restores > 0]).toEqual([[], true]);
    expect(await matrix()).toEqual(expected(3));
    noChanges(await applier.sync(isolating([3])));
  });

  it('a set of 70,000 addresses (beyond ipset\'s default maxelem: filled aside and swapped in)', async () => {
    // 70,000 addresses from 198.18.128.0 on, clear of the pods' 198.18.0.0/24.
    const filler = Array.from({ length: 70_000 }, (_, i) => {
      const v = 0xc6128000 + i;
      return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
    });
    const base = isolate(4, [3]);
    const big: FamilyRules = { ...base, sets: base.sets.map((x) => (x.name === allowSet(4) ? { ...x, entries: [...x.entries, ...filler].sort() } : x)) };
    const r = await applier.sync({ 4: big, 6: isolate(6, [3]) });
    expect(r.failures).toEqual([]);
    if (dataplane === 'iptables') {
      expect(r.sets.rebuilt).toEqual([allowSet(4)]);
      expect(await c.exec('node', ['ipset', 'save', allowSet(4)])).toMatch(/maxelem 262144/);
    }
    expect(await matrix()).toEqual(expected(3));
    const back = await applier.sync(isolating([3]));
    expect(back.failures).toEqual([]);
    expect(back.sets.removed).toBe(70_000);
  });

  it.runIf(dataplane === 'iptables')('iptables: a commit that fails keeps the previous rules in force and is reported; the other family still commits', async () => {
    const rules = async (f: Fam): Promise<string[]> => (await c.exec('node', [f === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter'])).split('\n').filter((l) => l.includes('GINGHAM-NP'));
    const before = await rules(4);
    // IPv4: a burst iptables refuses (at most 10,000); IPv6: another member.
    const tooBursty: Rule = { limit: { perSecond: 10, burst: 10_001 }, action: { kind: 'return' } };
    const v4 = isolate(4, [2]);
    const broken: Ruleset = { 4: { ...v4, chains: v4.chains.map((ch) => (ch.name === 'GINGHAM-NP-POL' ? { ...ch, rules: [tooBursty, ...ch.rules] } : ch)) }, 6: isolate(6, [2]) };
    const r = await applier.sync(broken);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ step: 'iptables', family: 4 });
    expect(r.failures[0]!.error).toMatch(/limit-burst/);
    expect(r.chains[4].rewritten).toEqual([]);
    expect(await rules(4)).toEqual(before);
    // The sets changed first (both families): the IPv4 rules in force use the new members too.
    expect(await reaches(2, 1, 80, 6)).toBe(true);
    expect(await reaches(3, 1, 80, 6)).toBe(false);
    expect((await applier.sync(isolating([3]))).failures).toEqual([]);
    expect(await matrix()).toEqual(expected(3));
  });

  it.runIf(dataplane === 'nftables')('nftables: one base chain at filter - 10 on forward (none on input); a stale chain, map and set of ours go with the next read', async () => {
    expect((await applier.sync(isolating([3]))).failures).toEqual([]);
    expect(await c.exec('node', ['nft', 'list', 'chain', 'inet', 'gingham-policy', 'hook-forward'])).toContain('type filter hook forward priority filter - 10; policy accept;');
    expect(await c.exec('node', ['nft', 'list', 'table', 'inet', 'gingham-policy'])).not.toContain('hook input');
    await c.exec(
      'node',
      ['nft', '-f', '-'],
      'add set inet gingham-policy gingham-np4-old { type ipv4_addr; }\nadd map inet gingham-policy old-pods-4 { type ipv4_addr : verdict; }\nadd chain inet gingham-policy GINGHAM-NP-OLD-4\nadd rule inet gingham-policy GINGHAM-NP-OLD-4 ip saddr @gingham-np4-old return\nadd rule inet gingham-policy GINGHAM-NP-FORWARD-4 jump GINGHAM-NP-OLD-4\n',
    );
    const r = await applier.sync(isolating([3]));
    expect(r.failures).toEqual([]);
    expect(r.restores).toBe(1);
    expect(r.chains[4]).toMatchObject({ rewritten: ['GINGHAM-NP-FORWARD'], removed: ['GINGHAM-NP-OLD'] });
    expect(r.sets.destroyed.sort()).toEqual(['gingham-np4-old', 'old-pods-4']);
    expect(await ourState()).not.toMatch(/OLD|old/);
    noChanges(await applier.sync(isolating([3])));
    expect((await applier.cleanup()).failures).toEqual([]);
  });
});

describe.each(DATAPLANES)('policy dataplane %s timing (a figure, not a benchmark)', (dataplane) => {
  const c = new Cluster();
  afterAll(() => c.destroy());

  it('500 sets of 20 entries, 500 policy chains of 9 rules, 500 pods dispatched, one family: first sync, no-op, one entry, one pod added and removed', async () => {
    await c.addNamespace('bench');
    const applier = policyDataplane(dataplane, c.ns('bench'));
    const sets: AddrSet[] = Array.from({ length: 500 }, (_, i) => ({
      name: `gingham-np4-b${i}`,
      family: 4,
      kind: 'addrs',
      entries: Array.from({ length: 20 }, (_, j) => `198.19.${i >> 1}.${(i & 1) * 100 + j + 1}`).sort(),
    }));
    const policyChains: Chain[] = Array.from({ length: 500 }, (_, i) => ({
      name: `GINGHAM-NPP-${i}`,
      rules: Array.from({ length: 9 }, (_, j): Rule => ({ proto: 'tcp', comment: `ns/p${i} ingress rule ${j}`, sets: [{ set: `gingham-np4-b${(i + j) % 500}`, dir: 'src' }], dport: { from: 80 + j, to: 80 + j }, action: SET_ALLOW.action })),
    }));
    const podChains: Chain[] = policyChains.map((p, i) => ({ name: `GINGHAM-NPI-${i}`, rules: [CLEAR_ALLOW, { action: { kind: 'jump', chain: p.name } }, IF_ALLOWED_RETURN, REJECT] }));
    const ingress = (n: number): Chain => ({ name: 'GINGHAM-NP-INGRESS', rules: [{ dispatch: { by: 'dst', map: 'ingress-pods', entries: podChains.slice(0, n).map((p, i) => ({ addr: `198.18.${i >> 8}.${i & 255}`, chain: p.name })) } }] });
    const forward: Chain = { name: 'GINGHAM-NP-FORWARD', rules: [REPLIES, { action: { kind: 'jump', chain: 'GINGHAM-NP-INGRESS' } }] };
    const ingress499 = ingress(499);
    const ingress500 = ingress(500);
    const want = (s: AddrSet[], d: Chain = ingress499): Ruleset => ({
      4: { sets: s, chains: [forward, d, ...podChains.slice(0, d === ingress500 ? 500 : 499), ...policyChains], hooks: HOOKS },
      6: { sets: [], chains: [], hooks: [] },
    });
    const rules = 2 + 499 + 499 * 4 + 500 * 9;

    const first = await applier.sync(want(sets));
    expect(first.failures).toEqual([]);
    const noop = await applier.sync(want(sets));
    expect([noop.failures, noop.restores]).toEqual([[], 0]);
    const changed = sets.map((s, i) => (i === 7 ? { ...s, entries: [...s.entries.slice(1), '198.19.250.1'].sort() } : s));
    const one = await applier.sync(want(changed), { read: false });
    expect([one.failures, one.restores]).toEqual([[], 1]);
    expect(one.sets).toMatchObject({ updated: ['gingham-np4-b7'], added: 1, removed: 1 });
    const added = await applier.sync(want(changed, ingress500), { read: false });
    expect([added.failures, added.reads, added.restores]).toEqual([[], 0, 1]);
    expect(added.chains[4].created).toEqual(['GINGHAM-NPI-499']);
    const removed = await applier.sync(want(changed), { read: false });
    expect([removed.failures, removed.reads, removed.restores]).toEqual([[], 0, 1]);
    expect(removed.chains[4].removed).toEqual(['GINGHAM-NPI-499']);
    expect((await applier.sync(want(changed))).restores).toBe(0);
    const ms = (r: PolicySyncResult): string =>
      `${r.timings.totalMs.toFixed(0)} ms (read ${r.timings.readMs.toFixed(0)}, render ${r.timings.renderMs.toFixed(0)}, sets ${r.timings.setsMs.toFixed(0)}, rules ${r.timings.rulesMs.toFixed(0)}; ${r.reads} reads, ${r.restores} restores)`;
    console.log(
      `policy sync (${dataplane}), ${sets.length} sets x 20 entries, ${rules} rules, 499 pods dispatched (IPv4):\n  first:       ${ms(first)}\n  no-op:       ${ms(noop)}\n  one entry, trusting: ${ms(one)}\n  one pod added, trusting: ${ms(added)}\n  one pod removed, trusting: ${ms(removed)}`,
    );
    expect((await applier.cleanup()).failures).toEqual([]);
  });
});


describe.each(DATAPLANES)('policy dataplane %s with many chains', (dataplane) => {
  const c = new Cluster();
  let applier: PolicyDataplane;
  const rules = async (chain: string): Promise<string[]> => (await c.exec('node', ['iptables', '-S', chain])).trim().split('\n').slice(1);
  const REJECT_CHAIN: Chain = { name: 'GINGHAM-NP-REJECT', rules: [REJECT] };
  const dispatchRules = new Map<number, Rule>();
  /** The same Rule object for the same pod (so only the changed rules are new objects). */
  const dispatchRule = (i: number): Rule => {
    let r = dispatchRules.get(i);
    if (!r) dispatchRules.set(i, (r = { dst: { cidr: `198.18.2.${i}/32` }, comment: `x/p${i} ingress`, action: { kind: 'jump', chain: REJECT_CHAIN.name } }));
    return r;
  };
  const dispatch = (n: number, skip: readonly number[] = []): Chain => ({
    name: 'GINGHAM-NP-INGRESS',
    rules: Array.from({ length: n }, (_, i) => i)
      .filter((i) => !skip.includes(i))
      .map(dispatchRule),
  });
  const FWD: Chain = { name: 'GINGHAM-NP-FORWARD', rules: [{ action: { kind: 'jump', chain: 'GINGHAM-NP-INGRESS' } }] };
  const want = (d: Chain): Ruleset => ({ 4: { sets: [], chains: [FWD, d, REJECT_CHAIN], hooks: HOOKS }, 6: { sets: [], chains: [], hooks: [] } });
  const printed = (d: Chain): string[] => iptablesRules(d.rules, 4).map((r) => `-A ${d.name} ${r}`);

  beforeAll(async () => {
    await c.addNamespace('node');
    applier = policyDataplane(dataplane, c.ns('node'));
  });
  afterAll(() => c.destroy());

  it.runIf(dataplane === 'iptables')('iptables: a long chain with one rule added or removed is edited in place, trusting the last state or after a read, and reads back in order', async () => {
    expect((await applier.sync(want(dispatch(64, [20])))).failures).toEqual([]);
    const added = await applier.sync(want(dispatch(64)), { read: false });
    expect([added.failures, added.reads, added.restores]).toEqual([[], 0, 1]);
    expect(added.chains[4]).toMatchObject({ created: [], rewritten: ['GINGHAM-NP-INGRESS'] });
    expect(await rules('GINGHAM-NP-INGRESS')).toEqual(printed(dispatch(64)));
    noChanges(await applier.sync(want(dispatch(64))));
    // After that read the rule goes by number.
    const removed = await applier.sync(want(dispatch(64, [7])));
    expect([removed.failures, removed.restores, removed.chains[4].rewritten]).toEqual([[], 1, ['GINGHAM-NP-INGRESS']]);
    noChanges(await applier.sync(want(dispatch(64, [7]))));
  });

  it.runIf(dataplane === 'iptables')('iptables: a rule someone added meanwhile never makes a trusting edit delete the wrong one; the next read removes it', async () => {
    await c.exec('node', ['iptables', '-I', 'GINGHAM-NP-INGRESS', '1', '-d', '198.19.0.1/32', '-j', 'RETURN']);
    const r = await applier.sync(want(dispatch(64, [7, 30])), { read: false });
    expect(r.failures).toEqual([]);
    const now = await rules('GINGHAM-NP-INGRESS');
    expect(now[0]).toBe('-A GINGHAM-NP-INGRESS -d 198.19.0.1/32 -j RETURN');
    expect(now.slice(1)).toEqual(printed(dispatch(64, [7, 30])));
    const healed = await applier.sync(want(dispatch(64, [7, 30])));
    expect(healed.chains[4].rewritten).toEqual(['GINGHAM-NP-INGRESS']);
    expect(await rules('GINGHAM-NP-INGRESS')).toEqual(printed(dispatch(64, [7, 30])));
    // A rule to delete that is already gone: the commit fails, changes nothing, and the next sync reads.
    await c.exec('node', ['iptables', '-D', 'GINGHAM-NP-INGRESS', '1']);
    const failed = await applier.sync(want(dispatch(64, [0, 7, 30])), { read: false });
    expect(failed.failures).toMatchObject([{ step: 'iptables', family: 4 }]);
    const retried = await applier.sync(want(dispatch(64, [0, 7, 30])), { read: false });
    expect([retried.failures, retried.reads]).toEqual([[], 3]);
    noChanges(await applier.sync(want(dispatch(64, [0, 7, 30]))));
  });

  it('1,100 new chains in one sync (iptables: prepared in commits nothing jumps to yet, then one commit hooks them); they read back as written', async () => {
    const policies = Array.from({ length: 700 }, (_, i): Chain => ({ name: `GINGHAM-NPPI-${i}`, rules: [SET_ALLOW] }));
    const pods = Array.from({ length: 400 }, (_, i): Chain => ({ name: `GINGHAM-NPI-${i}`, rules: [{ action: { kind: 'jump', chain: policies[i]!.name } }, { action: { kind: 'jump', chain: policies[i + 300]!.name } }, REJECT] }));
    const ing: Chain = { name: 'GINGHAM-NP-INGRESS', rules: [{ dispatch: { by: 'dst', map: 'ingress-pods', entries: pods.map((p, i) => ({ addr: `198.18.${4 + (i >> 8)}.${i & 255}`, chain: p.name })) } }] };
    const many: Ruleset = { 4: { sets: [], chains: [FWD, ing, ...pods, ...policies], hooks: HOOKS }, 6: { sets: [], chains: [], hooks: [] } };
    await applier.cleanup();
    const r = await applier.sync(many);
    expect(r.failures).toEqual([]);
    // iptables: three preparing commits (512 chains each at most) and the one that hooks FORWARD.
    expect(r.restores).toBe(dataplane === 'iptables' ? 4 : 1);
    expect(r.chains[4].created).toHaveLength(1102);
    expect(r.chains[4].hooked).toEqual([dataplane === 'iptables' ? 'FORWARD' : 'forward']);
    noChanges(await applier.sync(many));
    expect((await applier.cleanup()).failures).toEqual([]);
    if (dataplane === 'iptables') expect(await c.exec('node', ['iptables-save', '-t', 'filter'])).not.toMatch(/GINGHAM/);
    else expect((await c.sh(['ip', 'netns', 'exec', c.ns('node'), 'nft', 'list', 'tables'])).stdout).not.toContain('gingham');
  });

  it('with the compiler kept across passes: one pod added or relabelled is one change of the changed parts (iptables: an ipset and an iptables restore; nftables: one transaction)', async () => {
    const compiler = new PolicyCompiler();
    const opts = { node: 'n1', sctpPorts: false, logDrops: false };
    const base = syntheticCluster(300, 100);
    const sync = async (pods: readonly PodInfo[], read: boolean): Promise<PolicySyncResult> => applier.sync(compiler.compile({ ...base, pods }, opts).ruleset, { read });
    const execs = dataplane === 'iptables' ? 2 : 1;
    expect((await sync(base.pods, true)).failures).toEqual([]);
    // ns3/new is selected by ns3/policy63 (app3): isolated, and a member of sets (tier front).
    const fresh = pod('ns3', 'new', ['198.18.190.1'], { labels: { app: 'app3', tier: 'front' } });
    const added = await sync([...base.pods, fresh], false);
    expect([added.failures, added.reads, added.restores]).toEqual([[], 0, execs]);
    expect(added.chains[4].created).toHaveLength(2);
    // iptables rewrites the dispatch chains; nftables adds map elements.
    if (dataplane === 'iptables') expect(added.chains[4].rewritten.sort()).toEqual([EGRESS_CHAIN, INGRESS_CHAIN]);
    else expect(added.chains[4].rewritten).toEqual([]);
    expect(added.sets.added).toBeGreaterThan(0);
    noChanges(await sync([...base.pods, fresh], true));
    // base.pods[7] (ns7, app0, back) becomes app1 db: other policies isolate it, other sets hold it.
    const victim = base.pods[7]!;
    const moved = base.pods.map((p) => (p === victim ? { ...p, labels: { app: 'app1', tier: 'db' } } : p));
    const relabelled = await sync([...moved, fresh], false);
    expect([relabelled.failures, relabelled.reads, relabelled.restores]).toEqual([[], 0, execs]);
    expect(relabelled.chains[4].created).toEqual([]);
    // ns7/policy7 isolated only that pod: its chains went.
    expect(relabelled.chains[4].removed).toHaveLength(2);
    if (dataplane === 'iptables') {
      expect(relabelled.chains[4].rewritten).toHaveLength(2);
      // Its sets no rule uses any more are left to the next sync that reads, which destroys them and changes nothing else.
      expect(relabelled.sets.destroyed).toEqual([]);
      const resync = await sync([...moved, fresh], true);
      expect([resync.failures, resync.restores, resync.chains[4].rewritten]).toEqual([[], 1, []]);
      expect(resync.sets.destroyed.length).toBeGreaterThan(0);
      expect(resync.sets).toMatchObject({ created: [], updated: [], added: 0, removed: 0 });
    } else expect(relabelled.sets.destroyed.length).toBeGreaterThan(0);
    noChanges(await sync([...moved, fresh], true));
    expect((await applier.cleanup()).failures).toEqual([]);
  });

  it('names that try to break out of their comment or log prefix stay inside it, and read back as written (issue 14, defect 5)', async () => {
    const evil = 'a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#';
    const inputs = {
      namespaces: [{ name: 'x', labels: {} }],
      pods: [pod('x', 'p"q\\\'', ['198.18.3.2'], { labels: { app: 'web' } })],
      policies: [{ namespace: 'x', name: evil, podSelector: { matchLabels: { app: 'web' }, matchExpressions: [] }, ingress: [] }],
    };
    const { ruleset } = new PolicyCompiler().compile(inputs, { node: 'n1', sctpPorts: false, logDrops: true, logAccepts: true });
    expect((await applier.sync(ruleset)).failures).toEqual([]);
    expect((await c.exec('node', ['iptables', '-S', 'INPUT'])).trim()).toBe('-P INPUT ACCEPT');
    if (dataplane === 'iptables') {
      const saved = await c.exec('node', ['iptables-save', '-t', 'filter']);
      expect(saved).toMatch(/--nflog-prefix "gingham deny ingress GINGHAM-NPI-[0-9a-f]{12}" --nflog-group 9917 --nflog-size 128\n/);
      expect(saved).toMatch(/--nflog-prefix "gingham accept ingress GINGHAM-NPI-[0-9a-f]{12}" --nflog-group 9917 --nflog-size 128\n/);
      expect(saved).toContain('--comment "x/p\\"q\\\\\\\' ingress"');
      expect(saved).toContain('--comment "x/a?-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT?# ingress"');
    } else {
      const listed = await c.exec('node', ['nft', 'list', 'table', 'inet', 'gingham-policy']);
      expect(listed).not.toContain('hook input');
      expect(listed).toMatch(/log prefix "gingham deny ingress GINGHAM-NPI-[0-9a-f]{12}" group 9917 snaplen 128\n/);
      expect(listed).toMatch(/log prefix "gingham accept ingress GINGHAM-NPI-[0-9a-f]{12}" group 9917 snaplen 128\n/);
      // nft strings cannot hold a '"': the compiler's comment text never has one for nft to refuse.
      expect(listed).toContain('comment "x/a?-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT?# ingress"');
    }
    noChanges(await applier.sync(ruleset));
    expect((await applier.cleanup()).failures).toEqual([]);
  });
});
