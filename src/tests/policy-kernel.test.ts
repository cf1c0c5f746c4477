// The policy kernel layer for real, dual-stack: a node namespace with a bridge and three pods on
// it (bridged traffic goes through FORWARD: bridge-nf-call-iptables is on in the node), a
// hand-written Ruleset that isolates p1 (ingress to TCP 80 only from a set's members), and TCP
// connections with `gingham probe` proving each verdict. Then what the agent relies on: a set
// change flips a verdict with no chain rewritten, a repeated sync changes nothing (counters and
// set seeds unchanged), every rule shape the compiler writes reads back equal, hand-made damage
// heals, a failed commit keeps the old rules, cleanup leaves nothing. Last, a timing figure.
import { type ResultPromise, execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTool } from '../kernel/exec.js';
import { PolicyApplier, type PolicySyncResult, sctpPortsSupported } from '../agent/policy/apply.js';
import { DATAPLANES, type PolicyDataplane, policyDataplane } from '../agent/policy/dataplane.js';
import { nftSctpPortsSupported } from '../agent/policy/nft-apply.js';
import type { AddrSet, Chain, FamilyRules, Hook, Rule } from '../kernel/packet-filter/model.js';
import { PolicyCompiler } from '../agent/policy/compile.js';
import type { ChainSpec, FamilyRuleset, IpSetSpec, PodInfo, Ruleset } from '../agent/policy/model.js';
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
const reject = (f: Fam): string => `-j REJECT --reject-with ${f === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`;
const allowSet = (f: Fam): string => `gingham-np${f}-allow`;

/** p1 isolated for ingress: TCP 80 from the members of the allow set, nothing else. */
function isolateP1(f: Fam, allow: readonly number[], allowType: IpSetSpec['type'] = 'hash:ip', extra: Partial<FamilyRuleset> = {}): FamilyRuleset {
  const sets: IpSetSpec[] = [
    { name: allowSet(f), family: f, type: allowType, entries: allow.map((i) => POD_IP[i]![f]).sort() },
    { name: `gingham-np${f}-isolated`, family: f, type: 'hash:ip', entries: [POD_IP[1]![f]] },
  ];
  const chains: ChainSpec[] = [
    { name: 'GINGHAM-NP-FORWARD', rules: ['-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN', `-m set --match-set gingham-np${f}-isolated dst -j GINGHAM-NP-INGRESS`] },
    {
      name: 'GINGHAM-NP-INGRESS',
      rules: [
        '-j MARK --set-xmark 0x0/0x20000',
        '-m comment --comment "test/web ingress" -j GINGHAM-NP-POL',
        '-m mark --mark 0x20000/0x20000 -j RETURN',
        '-m limit --limit 10/sec --limit-burst 20 -j NFLOG --nflog-prefix "gingham deny ingress GINGHAM-NP-INGRESS" --nflog-group 9917 --nflog-size 128',
        reject(f),
      ],
    },
    { name: 'GINGHAM-NP-POL', rules: [`-p tcp -m set --match-set ${allowSet(f)} src -m tcp --dport 80 -j MARK --set-xmark 0x20000/0x20000`] },
  ];
  return { sets: [...sets, ...(extra.sets ?? [])], chains: [...chains, ...(extra.chains ?? [])] };
}
const both = (allow: readonly number[], allowType: IpSetSpec['type'] = 'hash:ip'): Ruleset => ({ 4: isolateP1(4, allow, allowType), 6: isolateP1(6, allow, allowType) });

/** Every rule shape the compiler writes, in the text iptables prints back (render.ts lists them). */
function shapes(f: Fam, sctp: boolean): FamilyRuleset {
  const [a, b] = f === 4 ? ['198.18.0.11/32', '198.18.0.0/24'] : ['fd42:18::11/128', 'fd42:18::/64'];
  const s1 = `gingham-np${f}-shape1`;
  const s2 = `gingham-np${f}-shape2`;
  const rules = [
    `-s ${a} -j RETURN`,
    `-d ${b} -j RETURN`,
    `-s ${a} -d ${b} -p tcp -m tcp --dport 80 -j RETURN`,
    `-p tcp -m comment --comment "x/y ingress rule 0" -m set --match-set ${s1} src -m set --match-set ${s2} dst -m tcp --dport 80 -j MARK --set-xmark 0x20000/0x20000`,
    `-p udp -m comment --comment "x/y ingress rule 1" -m set --match-set ${s2} src -m udp --dport 80:90 -j MARK --set-xmark 0x20000/0x20000`,
    '-p udp -j RETURN',
    `-p tcp -m set --match-set ${s1} dst -m tcp --dport 8080 -j RETURN`,
    ...(sctp ? ['-p sctp -m sctp --dport 80 -j RETURN', '-p sctp -j RETURN'] : []),
    '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-m mark --mark 0x20000/0x20000 -j RETURN',
    '-m comment --comment "x/y ingress" -j GINGHAM-NP-POL',
    '-j MARK --set-xmark 0x0/0x20000',
    '-m conntrack --ctstate NEW -m mark --mark 0x20000/0x20000 -m limit --limit 10/sec --limit-burst 20 -j NFLOG --nflog-prefix "gingham accept ingress GINGHAM-NP-SHAPES" --nflog-group 9917 --nflog-size 128',
    '-m limit --limit 10/sec --limit-burst 20 -j NFLOG --nflog-prefix "gingham deny egress GINGHAM-NP-SHAPES" --nflog-group 9917 --nflog-size 128',
    '-p tcp -j REJECT --reject-with tcp-reset',
    reject(f),
    '-j RETURN',
  ];
  return {
    sets: [
      { name: s1, family: f, type: 'hash:ip', entries: [POD_IP[3]![f]] },
      { name: s2, family: f, type: 'hash:net', entries: f === 4 ? ['198.18.0.0/16', '198.18.0.16/28 nomatch'] : ['fd42:18::/64', 'fd42:18::10/124 nomatch'] },
    ],
    chains: [{ name: 'GINGHAM-NP-SHAPES', rules }],
  };
}

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
  const nothingChanged = (r: PolicySyncResult): void => {
    expect(r.failures).toEqual([]);
    expect(r.restores).toBe(0);
    for (const f of FAMILIES) expect(r.chains[f]).toEqual({ created: [], rewritten: [], removed: [], hooked: [], unhooked: [] });
    expect(r.sets).toEqual({ created: [], rebuilt: [], retyped: [], updated: [], destroyed: [], added: 0, removed: 0 });
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
    nothingChanged(r);
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
    nothingChanged(await applier.sync(isolating([3], [1, 3])));
    const released = await applier.sync(isolating([3]), { read: false });
    expect([released.failures, released.reads, released.restores]).toEqual([[], 0, commits]);
    for (const f of FAMILIES) expect(released.chains[f].removed).toEqual(['GINGHAM-NPI-p3']);
    expect(await matrix()).toEqual(expected(3));
    nothingChanged(await applier.sync(isolating([3])));
  });

  it('every rule shape the compiler writes reads back as written: the next sync changes nothing', async () => {
    const want: Ruleset = { 4: isolate(4, [3], [1], modelShapes(4, sctp)), 6: isolate(6, [3], [1], modelShapes(6, sctp)) };
    const r = await applier.sync(want);
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) expect(r.chains[f].created).toEqual(['GINGHAM-NP-SHAPES']);
    nothingChanged(await applier.sync(want));
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
    nothingChanged(await applier.sync(want));
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
    nothingChanged(await applier.cleanup());
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

describe('policy kernel layer in a namespace', () => {
  const c = new Cluster();
  const servers: ResultPromise[] = [];
  let applier: PolicyApplier;
  let sctp = false;

  const sh = (ns: string, cmd: string): Promise<string> => c.exec(ns, ['sh', '-c', cmd]);
  /** Whether a TCP connection from pod `from` to pod `to` on `port` is answered. */
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
  /** The filter table with counters (a rewritten chain starts again from zero) and our sets (a recreated set gets a new initval). */
  const snapshot = async (): Promise<string> => {
    const parts = await Promise.all([
      sh('node', 'iptables-save -c -t filter'),
      sh('node', 'ip6tables-save -c -t filter'),
      sh('node', 'ipset save'),
    ]);
    return parts.join('').split('\n').filter((l) => !l.startsWith('#')).join('\n');
  };
  /**
   * The same lines, and no rule's counters started again from zero as a rewritten rule's would.
   * Counters may grow meanwhile: the namespaces' own packets (IPv6 router and neighbour
   * solicitations) still pass.
   */
  const expectKept = (before: string[], after: string[]): void => {
    const counted = (lines: string[]): [number, string][] => lines.map((l) => [Number(/^\[(\d+):/.exec(l)?.[1] ?? -1), l.replace(/^\[\d+:\d+\] /, '')]);
    expect(counted(after).map(([, l]) => l)).toEqual(counted(before).map(([, l]) => l));
    counted(after).forEach(([n], i) => expect(n).toBeGreaterThanOrEqual(counted(before)[i]![0]));
  };
  const ourState = async (): Promise<string> => (await snapshot()).split('\n').filter((l) => /GINGHAM-NP|gingham-np/.test(l)).join('\n');

  beforeAll(async () => {
    await c.addNamespace('node');
    await sh('node', 'ip link add br0 type bridge && ip link set br0 up && ip addr add 198.18.0.1/24 dev br0 && ip addr add fd42:18::1/64 dev br0 nodad');
    // Bridged pod-to-pod traffic goes through iptables FORWARD only with these on (per namespace).
    await c.exec('node', ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
    for (const i of [1, 2, 3]) {
      await c.addNamespace(`p${i}`);
      await c.exec('node', ['ip', 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c.ns(`p${i}`)]);
      await c.exec('node', ['ip', 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
      await sh(`p${i}`, `ip addr add ${POD_IP[i]![4]}/24 dev eth0 && ip addr add ${POD_IP[i]![6]}/64 dev eth0 nodad && ip link set eth0 up`);
    }
    for (const i of [1, 3]) servers.push(execa('ip', ['netns', 'exec', c.ns(`p${i}`), GINGHAM, 'probe', 'serve', '--tcp', '80,81'], { reject: false }));
    for (let n = 0; n < 50 && !((await reaches(2, 1, 81, 6)) && (await reaches(2, 3, 80, 4))); n++) await new Promise((r) => setTimeout(r, 100));
    applier = new PolicyApplier(c.ns('node'));
    sctp = await sctpPortsSupported(c.ns('node'));
  });
  afterAll(async () => {
    for (const s of servers) s.kill();
    await Promise.all(servers);
    await c.destroy();
  });

  it('before any policy every pair connects, in both families; the SCTP probe leaves nothing behind', async () => {
    expect(await matrix()).toEqual(expected(undefined));
    expect(await ourState()).toBe('');
    console.log(`SCTP port matches accepted here: ${sctp}`);
  });

  it('isolates p1: only the set member reaches TCP 80, in both families; the hook at the top of FORWARD (none in INPUT: a pod and its node always talk)', async () => {
    const r = await applier.sync(both([2]));
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) {
      expect(r.chains[f].created).toEqual(['GINGHAM-NP-FORWARD', 'GINGHAM-NP-INGRESS', 'GINGHAM-NP-POL']);
      expect(r.chains[f].hooked).toEqual(['FORWARD']);
    }
    expect(r.sets.created).toHaveLength(4);
    // One ipset restore, one iptables-restore per family.
    expect(r.restores).toBe(3);
    expect(await matrix()).toEqual(expected(2));
    for (const tool of ['iptables', 'ip6tables']) {
      expect((await c.exec('node', [tool, '-S', 'FORWARD'])).split('\n')[1]).toBe('-A FORWARD -m comment --comment gingham-policy -j GINGHAM-NP-FORWARD');
      expect(await c.exec('node', [tool, '-S', 'INPUT'])).not.toContain('GINGHAM');
    }
  });

  it('a second sync with the same ruleset execs only the reads: counters and sets untouched', async () => {
    const before = await snapshot();
    const r = await applier.sync(both([2]));
    noChanges(r);
    expect(r.reads).toBe(3);
    expectKept(before.split('\n'), (await snapshot()).split('\n'));
  });

  it('a set membership change flips the verdict with no iptables rewrite', async () => {
    const rules = async (): Promise<string[]> => (await snapshot()).split('\n').filter((l) => l.startsWith('['));
    const before = await rules();
    expect(before.some((l) => l.includes('-j REJECT') && !l.startsWith('[0:0]'))).toBe(true);
    const r = await applier.sync(both([3]));
    expectKept(before, await rules());
    expect(r.failures).toEqual([]);
    expect(r.restores).toBe(1);
    for (const f of FAMILIES) expect(r.chains[f]).toEqual({ created: [], rewritten: [], removed: [], hooked: [], unhooked: [] });
    expect(r.sets).toMatchObject({ updated: [allowSet(4), allowSet(6)], added: 2, removed: 2 });
    expect(await matrix()).toEqual(expected(3));
  });

  it('a sync that trusts the last state execs only the change; what it cannot see waits for the next sync that reads', async () => {
    const r = await applier.sync(both([2]), { read: false });
    expect([r.failures, r.reads, r.restores]).toEqual([[], 0, 1]);
    expect(await matrix()).toEqual(expected(2));
    await sh('node', `ipset del ${allowSet(4)} ${POD_IP[2]![4]}`);
    const blind = await applier.sync(both([2]), { read: false });
    expect([blind.reads, blind.restores]).toEqual([0, 0]);
    expect(await reaches(2, 1, 80, 4)).toBe(false);
    const healed = await applier.sync(both([2]));
    expect(healed.sets).toMatchObject({ updated: [allowSet(4)], added: 1, removed: 0 });
    expect(await reaches(2, 1, 80, 4)).toBe(true);
    expect((await applier.sync(both([3]), { read: false })).failures).toEqual([]);
    expect(await matrix()).toEqual(expected(3));
  });

  it('every rule shape the compiler writes reads back as written (iptables and ip6tables): the next sync rewrites nothing', async () => {
    const want: Ruleset = {
      4: isolateP1(4, [3], 'hash:ip', shapes(4, sctp)),
      6: isolateP1(6, [3], 'hash:ip', shapes(6, sctp)),
    };
    const r = await applier.sync(want);
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) {
      expect(r.chains[f].created).toEqual(['GINGHAM-NP-SHAPES']);
      const saved = (await c.exec('node', [f === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter'])).split('\n');
      for (const rule of want[f].chains.flatMap((ch) => ch.rules.map((x) => `-A ${ch.name} ${x}`))) expect(saved, `IPv${f}`).toContain(rule);
    }
    noChanges(await applier.sync(want));
    expect(await matrix()).toEqual(expected(3));
  });

  it('a rule, a hook and a set entry deleted by hand come back on the next sync, and only they', async () => {
    await sh('node', 'iptables -D GINGHAM-NP-INGRESS 5');
    expect(await reaches(2, 1, 80, 4)).toBe(true);
    await sh('node', `ip6tables -D FORWARD 1; ipset del ${allowSet(6)} ${POD_IP[3]![6]}`);
    expect(await reaches(2, 1, 81, 6)).toBe(true);
    const r = await applier.sync(both([3]));
    expect(r.failures).toEqual([]);
    expect(r.chains[4]).toMatchObject({ rewritten: ['GINGHAM-NP-INGRESS'], removed: ['GINGHAM-NP-SHAPES'], hooked: [] });
    expect(r.chains[6]).toMatchObject({ rewritten: [], removed: ['GINGHAM-NP-SHAPES'], hooked: ['FORWARD'] });
    expect(r.sets).toMatchObject({ updated: [allowSet(6)], added: 1, removed: 0 });
    expect(r.sets.destroyed.sort()).toEqual(['gingham-np4-shape1', 'gingham-np4-shape2', 'gingham-np6-shape1', 'gingham-np6-shape2']);
    expect(await matrix()).toEqual(expected(3));
  });

  it('a stale chain of ours, the jump to it and the set it uses are removed in one pass', async () => {
    await sh(
      'node',
      'ipset create gingham-np4-old hash:ip && iptables -N GINGHAM-NP-OLD && iptables -A GINGHAM-NP-OLD -m set --match-set gingham-np4-old src -j RETURN && iptables -I GINGHAM-NP-FORWARD 1 -j GINGHAM-NP-OLD',
    );
    const r = await applier.sync(both([3]));
    expect(r.failures).toEqual([]);
    expect(r.chains[4]).toMatchObject({ rewritten: ['GINGHAM-NP-FORWARD'], removed: ['GINGHAM-NP-OLD'] });
    expect(r.sets.destroyed).toEqual(['gingham-np4-old']);
    expect(await ourState()).not.toMatch(/GINGHAM-NP-OLD|gingham-np4-old/);
    noChanges(await applier.sync(both([3])));
  });

  it('a set that changes type is replaced in one sync, through a temporary set, verdicts kept', async () => {
    const r = await applier.sync(both([3], 'hash:net'));
    expect(r.failures).toEqual([]);
    expect(r.sets.retyped).toEqual([allowSet(4), allowSet(6)]);
    const sets = await c.exec('node', ['ipset', 'save']);
    expect(sets).toMatch(new RegExp(`create ${allowSet(4)} hash:net family inet `));
    expect(sets).toMatch(new RegExp(`create ${allowSet(6)} hash:net family inet6 `));
    expect(sets).not.toContain('gingham-np-tmp');
    expect(await matrix()).toEqual(expected(3));
    noChanges(await applier.sync(both([3], 'hash:net')));
  });

  it('a set beyond ipset\'s default maxelem is filled aside and swapped in', async () => {
    // 70,000 addresses from 198.18.128.0 on, clear of the pods' 198.18.0.0/24.
    const filler = Array.from({ length: 70_000 }, (_, i) => {
      const v = 0xc6128000 + i;
      return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
    });
    const base = isolateP1(4, [3], 'hash:net');
    const big: FamilyRuleset = { ...base, sets: base.sets.map((s) => (s.name === allowSet(4) ? { ...s, entries: [...s.entries, ...filler] } : s)) };
    const r = await applier.sync({ 4: big, 6: isolateP1(6, [3], 'hash:net') });
    expect(r.failures).toEqual([]);
    expect(r.sets.rebuilt).toEqual([allowSet(4)]);
    expect(await c.exec('node', ['ipset', 'save', allowSet(4)])).toMatch(/maxelem 262144/);
    expect(await matrix()).toEqual(expected(3));
    const back = await applier.sync(both([3], 'hash:net'));
    expect(back.failures).toEqual([]);
    expect(back.sets.removed).toBe(70_000);
  });

  it('a commit that fails keeps the previous rules in force and is reported; the other family still commits', async () => {
    const rules = async (f: Fam): Promise<string[]> => (await c.exec('node', [f === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter'])).split('\n').filter((l) => l.includes('GINGHAM-NP'));
    const before = await rules(4);
    const withRule = (fr: FamilyRuleset, chain: string, edit: (rules: readonly string[]) => string[]): FamilyRuleset => ({
      ...fr,
      chains: fr.chains.map((ch) => (ch.name === chain ? { ...ch, rules: edit(ch.rules) } : ch)),
    });
    // IPv4: a rule no iptables takes; IPv6: another member, and port 81 instead of 80.
    const v6 = withRule(isolateP1(6, [2], 'hash:net'), 'GINGHAM-NP-POL', (rs) => rs.map((x) => x.replace('--dport 80', '--dport 81')));
    const broken: Ruleset = { 4: withRule(isolateP1(4, [3], 'hash:net'), 'GINGHAM-NP-INGRESS', (rs) => ['-m nosuchmatch --nosuchoption -j RETURN', ...rs]), 6: v6 };
    const r = await applier.sync(broken);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ step: 'iptables', family: 4 });
    expect(r.failures[0]!.error).toMatch(/nosuchmatch/);
    expect(r.chains[4].rewritten).toEqual([]);
    expect(r.chains[6].rewritten).toEqual(['GINGHAM-NP-POL']);
    expect(await rules(4)).toEqual(before);
    expect(await reaches(3, 1, 80, 4)).toBe(true);
    expect(await reaches(2, 1, 80, 4)).toBe(false);
    expect(await reaches(2, 1, 81, 6)).toBe(true);
    expect(await reaches(2, 1, 80, 6)).toBe(false);
    expect(await reaches(3, 1, 81, 6)).toBe(false);
    // Without the bad rule IPv4 has nothing left to do: its old rules were the wanted ones.
    noChanges(await applier.sync({ 4: isolateP1(4, [3], 'hash:net'), 6: v6 }));
  });

  it('cleanup leaves no chain, hook or set of ours; every pair connects again', async () => {
    const r = await applier.cleanup();
    expect(r.failures).toEqual([]);
    for (const f of FAMILIES) {
      expect(r.chains[f].removed.sort()).toEqual(['GINGHAM-NP-FORWARD', 'GINGHAM-NP-INGRESS', 'GINGHAM-NP-POL']);
      expect(r.chains[f].unhooked).toEqual(['FORWARD']);
    }
    expect(await ourState()).toBe('');
    expect(await snapshot()).not.toMatch(/gingham/i);
    expect(await matrix()).toEqual(expected(undefined));
    noChanges(await applier.cleanup());
  });
});

describe('policy kernel layer timing (a figure, not a benchmark)', () => {
  const c = new Cluster();
  afterAll(() => c.destroy());

  it('500 sets of 20 entries and 5,000 rules in one family: first sync, no-op sync, one entry changed', async () => {
    await c.addNamespace('bench');
    const applier = new PolicyApplier(c.ns('bench'));
    const sets: IpSetSpec[] = Array.from({ length: 500 }, (_, i) => ({
      name: `gingham-np4-b${i}`,
      family: 4,
      type: 'hash:ip',
      entries: Array.from({ length: 20 }, (_, j) => `198.19.${i >> 1}.${(i & 1) * 100 + j + 1}`).sort(),
    }));
    const policyChains: ChainSpec[] = Array.from({ length: 500 }, (_, i) => ({
      name: `GINGHAM-NP-P${i}`,
      rules: Array.from({ length: 9 }, (_, j) => `-p tcp -m comment --comment "ns/p${i} ingress rule ${j}" -m set --match-set gingham-np4-b${(i + j) % 500} src -m tcp --dport ${80 + j} -j MARK --set-xmark 0x20000/0x20000`),
    }));
    const dispatch: ChainSpec = { name: 'GINGHAM-NP-FORWARD', rules: policyChains.map((p, i) => `-d 198.18.${i >> 8}.${i & 255}/32 -j ${p.name}`) };
    const want = (s: IpSetSpec[]): Ruleset => ({ 4: { sets: s, chains: [dispatch, ...policyChains] }, 6: { sets: [], chains: [] } });
    const rules = dispatch.rules.length + policyChains.reduce((n, p) => n + p.rules.length, 0);

    const first = await applier.sync(want(sets));
    expect(first.failures).toEqual([]);
    expect(first.restores).toBe(2);
    const noop = await applier.sync(want(sets));
    noChanges(noop);
    const changed = sets.map((s, i) => (i === 7 ? { ...s, entries: [...s.entries.slice(1), '198.19.250.1'].sort() } : s));
    const one = await applier.sync(want(changed));
    expect(one.failures).toEqual([]);
    expect(one.restores).toBe(1);
    expect(one.sets).toMatchObject({ updated: ['gingham-np4-b7'], added: 1, removed: 1 });
    const trusted = await applier.sync(want(sets), { read: false });
    expect([trusted.failures, trusted.reads, trusted.restores]).toEqual([[], 0, 1]);
    const ms = (r: PolicySyncResult): string =>
      `${r.timings.totalMs.toFixed(0)} ms (read ${r.timings.readMs.toFixed(0)}, render ${r.timings.renderMs.toFixed(0)}, ipset ${r.timings.setsMs.toFixed(0)}, iptables ${r.timings.rulesMs.toFixed(0)}; ${r.restores} restores)`;
    console.log(`policy sync, ${sets.length} sets x 20 entries, ${rules} rules in ${policyChains.length + 1} chains (IPv4):\n  first:       ${ms(first)}\n  no-op:       ${ms(noop)}\n  one entry:   ${ms(one)}\n  one entry, trusting the last state: ${ms(trusted)}`);
    const cleaned = await applier.cleanup();
    expect(cleaned.failures).toEqual([]);
    expect(cleaned.sets.destroyed).toHaveLength(500);
  });
});

describe('policy kernel layer with many chains', () => {
  const c = new Cluster();
  let applier: PolicyApplier;
  const rules = async (chain: string): Promise<string[]> => (await c.exec('node', ['iptables', '-S', chain])).trim().split('\n').slice(1);
  const dispatch = (n: number, skip: readonly number[] = []): ChainSpec => ({
    name: 'GINGHAM-NP-INGRESS',
    rules: Array.from({ length: n }, (_, i) => i)
      .filter((i) => !skip.includes(i))
      .map((i) => `-d 198.18.2.${i}/32 -m comment --comment "x/p${i} ingress" -j GINGHAM-NP-REJECT`),
  });
  const want = (d: ChainSpec): Ruleset => ({
    4: { sets: [], chains: [{ name: 'GINGHAM-NP-FORWARD', rules: ['-j GINGHAM-NP-INGRESS'] }, d, { name: 'GINGHAM-NP-REJECT', rules: [reject(4)] }] },
    6: { sets: [], chains: [] },
  });

  beforeAll(async () => {
    await c.addNamespace('node');
    applier = new PolicyApplier(c.ns('node'));
  });
  afterAll(() => c.destroy());

  it('a long chain with one rule added or removed is edited in place, trusting the last state or after a read, and reads back in order', async () => {
    expect((await applier.sync(want(dispatch(64, [20])))).failures).toEqual([]);
    const added = await applier.sync(want(dispatch(64)), { read: false });
    expect([added.failures, added.reads, added.restores]).toEqual([[], 0, 1]);
    expect(added.chains[4]).toMatchObject({ created: [], rewritten: ['GINGHAM-NP-INGRESS'] });
    expect(await rules('GINGHAM-NP-INGRESS')).toEqual(dispatch(64).rules.map((r) => `-A GINGHAM-NP-INGRESS ${r}`));
    noChanges(await applier.sync(want(dispatch(64))));
    // After that read the rule goes by number.
    const removed = await applier.sync(want(dispatch(64, [7])));
    expect([removed.failures, removed.restores, removed.chains[4].rewritten]).toEqual([[], 1, ['GINGHAM-NP-INGRESS']]);
    noChanges(await applier.sync(want(dispatch(64, [7]))));
  });

  it('a rule someone added meanwhile never makes a trusting edit delete the wrong one; the next read removes it', async () => {
    await c.exec('node', ['iptables', '-I', 'GINGHAM-NP-INGRESS', '1', '-d', '198.19.0.1/32', '-j', 'RETURN']);
    const r = await applier.sync(want(dispatch(64, [7, 30])), { read: false });
    expect(r.failures).toEqual([]);
    const now = await rules('GINGHAM-NP-INGRESS');
    expect(now[0]).toBe('-A GINGHAM-NP-INGRESS -d 198.19.0.1/32 -j RETURN');
    expect(now.slice(1)).toEqual(dispatch(64, [7, 30]).rules.map((x) => `-A GINGHAM-NP-INGRESS ${x}`));
    const healed = await applier.sync(want(dispatch(64, [7, 30])));
    expect(healed.chains[4].rewritten).toEqual(['GINGHAM-NP-INGRESS']);
    expect(await rules('GINGHAM-NP-INGRESS')).toEqual(dispatch(64, [7, 30]).rules.map((x) => `-A GINGHAM-NP-INGRESS ${x}`));
    // A rule to delete that is already gone: the commit fails, changes nothing, and the next sync reads.
    await c.exec('node', ['iptables', '-D', 'GINGHAM-NP-INGRESS', '1']);
    const failed = await applier.sync(want(dispatch(64, [0, 7, 30])), { read: false });
    expect(failed.failures).toMatchObject([{ step: 'iptables', family: 4 }]);
    const retried = await applier.sync(want(dispatch(64, [0, 7, 30])), { read: false });
    expect([retried.failures, retried.reads]).toEqual([[], 3]);
    noChanges(await applier.sync(want(dispatch(64, [0, 7, 30]))));
  });

  it('1,100 new chains: prepared in commits nothing jumps to yet, then one commit hooks them; they read back as written', async () => {
    const policies = Array.from({ length: 700 }, (_, i): ChainSpec => ({ name: `GINGHAM-NPPI-${i}`, rules: ['-j MARK --set-xmark 0x20000/0x20000'] }));
    const pods = Array.from({ length: 400 }, (_, i): ChainSpec => ({ name: `GINGHAM-NPI-${i}`, rules: [`-j ${policies[i]!.name}`, `-j ${policies[i + 300]!.name}`, reject(4)] }));
    const ing: ChainSpec = { name: 'GINGHAM-NP-INGRESS', rules: pods.map((p, i) => `-d 198.18.${4 + (i >> 8)}.${i & 255}/32 -j ${p.name}`) };
    const many: Ruleset = { 4: { sets: [], chains: [{ name: 'GINGHAM-NP-FORWARD', rules: ['-j GINGHAM-NP-INGRESS'] }, ing, ...pods, ...policies] }, 6: { sets: [], chains: [] } };
    await applier.cleanup();
    const r = await applier.sync(many);
    expect(r.failures).toEqual([]);
    // Three preparing commits (512 chains each at most) and the one that hooks FORWARD.
    expect(r.restores).toBe(4);
    expect(r.chains[4].created).toHaveLength(1102);
    expect(r.chains[4].hooked).toEqual(['FORWARD']);
    noChanges(await applier.sync(many));
    expect((await applier.cleanup()).failures).toEqual([]);
    expect(await c.exec('node', ['iptables-save', '-t', 'filter'])).not.toMatch(/GINGHAM/);
  });

  it('with the compiler kept across passes: one pod added or relabelled is one ipset restore and one iptables-restore of the changed chains', async () => {
    const compiler = new PolicyCompiler();
    const opts = { node: 'n1', sctpPorts: false, logDrops: false };
    const base = syntheticCluster(300, 100);
    const sync = async (pods: readonly PodInfo[], read: boolean): Promise<PolicySyncResult> => applier.sync(compiler.compile({ ...base, pods }, opts).ruleset, { read });
    expect((await sync(base.pods, true)).failures).toEqual([]);
    // ns3/new is selected by ns3/policy63 (app3): isolated, and a member of sets (tier front).
    const fresh = pod('ns3', 'new', ['198.18.190.1'], { labels: { app: 'app3', tier: 'front' } });
    const added = await sync([...base.pods, fresh], false);
    expect([added.failures, added.reads, added.restores]).toEqual([[], 0, 2]);
    expect(added.chains[4].created).toHaveLength(2);
    expect(added.chains[4].rewritten.sort()).toEqual([EGRESS_CHAIN, INGRESS_CHAIN]);
    expect(added.sets.added).toBeGreaterThan(0);
    noChanges(await sync([...base.pods, fresh], true));
    // base.pods[7] (ns7, app0, back) becomes app1 db: other policies isolate it, other sets hold it.
    const victim = base.pods[7]!;
    const moved = base.pods.map((p) => (p === victim ? { ...p, labels: { app: 'app1', tier: 'db' } } : p));
    const relabelled = await sync([...moved, fresh], false);
    expect([relabelled.failures, relabelled.reads, relabelled.restores]).toEqual([[], 0, 2]);
    expect(relabelled.chains[4].created).toEqual([]);
    expect(relabelled.chains[4].rewritten).toHaveLength(2);
    // ns7/policy7 isolated only that pod: its chains went, and its sets no rule uses any more
    // are left to the next sync that reads, which destroys them and changes nothing else.
    expect(relabelled.chains[4].removed).toHaveLength(2);
    expect(relabelled.sets.destroyed).toEqual([]);
    const resync = await sync([...moved, fresh], true);
    expect([resync.failures, resync.restores, resync.chains[4].rewritten]).toEqual([[], 1, []]);
    expect(resync.sets.destroyed.length).toBeGreaterThan(0);
    expect(resync.sets).toMatchObject({ created: [], updated: [], added: 0, removed: 0 });
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
    const saved = await c.exec('node', ['iptables-save', '-t', 'filter']);
    expect(saved).toMatch(/--nflog-prefix "gingham deny ingress GINGHAM-NPI-[0-9a-f]{12}" --nflog-group 9917 --nflog-size 128\n/);
    expect(saved).toMatch(/--nflog-prefix "gingham accept ingress GINGHAM-NPI-[0-9a-f]{12}" --nflog-group 9917 --nflog-size 128\n/);
    expect(saved).toContain('--comment "x/p\\"q\\\\\\\' ingress"');
    expect(saved).toContain('--comment "x/a?-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT?# ingress"');
    noChanges(await applier.sync(ruleset));
    expect((await applier.cleanup()).failures).toEqual([]);
  });
});
