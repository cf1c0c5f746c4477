// The nftables policy applier's planning, without a kernel: which syncs that trust the last state
// become a delta (and which elements, chains, maps and sets it touches) and which a whole-table
// replace, on a small hand-made policy-shaped ruleset (hook chain, dispatch chain, pod chains,
// a policy chain with set matches, a nets set with an except); the order of a transaction's lines;
// and how a table read back compares with the wanted printed form.
import { describe, expect, it } from 'vitest';
import type { AddrSet, Chain, Dispatch, FamilyRules, Rule } from '../../kernel/packet-filter/model.js';
import type { ParsedTable } from '../../kernel/nft.js';
import { printedTable } from '../../kernel/packet-filter/nft-render.js';
import { type FamilyDelta, type Wanted, compareTable, deltaText, familyDelta, planSync } from './nft-apply.js';

const ALLOW = 0x20000;
const setAllow: Rule = { action: { kind: 'mark', value: ALLOW, mask: ALLOW } };
const clearAllow: Rule = { action: { kind: 'mark', value: 0, mask: ALLOW } };
const ifAllowedReturn: Rule = { mark: { value: ALLOW, mask: ALLOW }, action: { kind: 'return' } };
const replies: Rule = { ct: 'established-related', action: { kind: 'return' } };
const tcpReset: Rule = { proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } };
const unreachable: Rule = { action: { kind: 'reject', with: 'port-unreachable' } };
const denyEvent = (chain: string): Rule => ({ limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: `gingham deny ingress ${chain}`, group: 9917, snaplen: 128 } });

const peers: AddrSet = { name: 'gingham-np-peers', family: 4, kind: 'addrs', entries: ['198.18.0.12', '198.18.0.13'] };
const nets: AddrSet = { name: 'gingham-np-nets', family: 4, kind: 'nets', entries: ['198.18.0.0/16'], except: ['198.18.5.0/24'] };
const policyChain: Chain = {
  name: 'GINGHAM-NPP-web',
  rules: [
    { proto: 'tcp', comment: 'x/web ingress rule 0', sets: [{ set: peers.name, dir: 'src' }], dport: { from: 80, to: 80 }, action: setAllow.action },
    { sets: [{ set: nets.name, dir: 'src' }], action: setAllow.action },
  ],
};
const podChain = (name: string): Chain => ({ name, rules: [clearAllow, { comment: 'x/web ingress', action: { kind: 'jump', chain: policyChain.name } }, ifAllowedReturn, denyEvent(name), tcpReset, unreachable] });
const pod1 = podChain('GINGHAM-NPI-p1');
const pod2 = podChain('GINGHAM-NPI-p2');
const dispatch = (entries: { addr: string; chain: string }[]): Chain => ({ name: 'GINGHAM-NP-INGRESS', rules: [{ dispatch: { by: 'dst', map: 'ingress-dispatch', entries } }] });
const ingress = dispatch([{ addr: '198.18.0.11', chain: pod1.name }]);
const forward: Chain = { name: 'GINGHAM-NP-FORWARD', rules: [replies, { action: { kind: 'jump', chain: ingress.name } }] };
const hooks = [{ at: 'forward', chain: forward.name }] as const;

const v4: FamilyRules = { sets: [peers, nets], chains: [forward, ingress, pod1, policyChain], hooks };
const none: FamilyRules = { sets: [], chains: [], hooks: [] };
const both = (f4: FamilyRules, f6: FamilyRules = none): Wanted => ({ 4: f4, 6: f6 });

const delta = (have: FamilyRules, want: FamilyRules): FamilyDelta => {
  const d = familyDelta(have, want);
  if (!d) throw new Error('not a delta');
  return d;
};
const nothing: FamilyDelta = { newSets: [], setElements: [], newChains: [], refilled: [], newMaps: [], mapElements: [], goneChains: [], goneMaps: [], goneSets: [] };

describe('nftables policy delta', () => {
  it('the same objects: nothing to do', () => {
    expect(delta(v4, v4)).toEqual(nothing);
    expect(planSync(both(v4), both(v4))).toEqual({ kind: 'delta', families: { 4: nothing, 6: nothing } });
  });

  it('equal copies (not the same objects) are nothing to do either', () => {
    const copy: FamilyRules = structuredClone(v4);
    expect(delta(v4, copy)).toEqual(nothing);
  });

  it('a set member changed: element add and delete, no chain touched', () => {
    const moved: AddrSet = { ...peers, entries: ['198.18.0.13', '198.18.0.14'] };
    expect(delta(v4, { ...v4, sets: [moved, nets] })).toEqual({ ...nothing, setElements: [{ name: peers.name, add: ['198.18.0.14'], remove: ['198.18.0.12'] }] });
  });

  it('a nets set whose except changed: the CIDRs it prints as differ, the rest stays', () => {
    const wider: AddrSet = { ...nets, except: ['198.18.5.0/25'] };
    expect(delta(v4, { ...v4, sets: [peers, wider] }).setElements).toEqual([{ name: nets.name, add: ['198.18.5.128/25'], remove: [] }]);
  });

  it('a pod isolated: its chain added and one map element, the dispatch chain not refilled', () => {
    const want: FamilyRules = { ...v4, chains: [forward, dispatch([{ addr: '198.18.0.11', chain: pod1.name }, { addr: '198.18.0.12', chain: pod2.name }]), pod1, pod2, policyChain] };
    expect(delta(v4, want)).toEqual({ ...nothing, newChains: [pod2], mapElements: [{ name: 'ingress-dispatch', add: [{ addr: '198.18.0.12', chain: pod2.name }], remove: [] }] });
  });

  it('a pod released: its element deleted, its chain gone', () => {
    const two: FamilyRules = { ...v4, chains: [forward, dispatch([{ addr: '198.18.0.11', chain: pod1.name }, { addr: '198.18.0.12', chain: pod2.name }]), pod1, pod2, policyChain] };
    expect(delta(two, v4)).toEqual({ ...nothing, goneChains: [pod2.name], mapElements: [{ name: 'ingress-dispatch', add: [], remove: [{ addr: '198.18.0.12', chain: pod2.name }] }] });
  });

  it('an address that moves to another chain: delete and add of the same key', () => {
    const want: FamilyRules = { ...v4, chains: [forward, dispatch([{ addr: '198.18.0.11', chain: pod2.name }]), pod2, policyChain] };
    expect(delta(v4, want)).toEqual({
      ...nothing,
      newChains: [pod2],
      goneChains: [pod1.name],
      mapElements: [{ name: 'ingress-dispatch', add: [{ addr: '198.18.0.11', chain: pod2.name }], remove: [{ addr: '198.18.0.11', chain: pod1.name }] }],
    });
  });

  it('a changed policy chain is refilled; a set no rule uses any more goes', () => {
    const narrower: Chain = { ...policyChain, rules: [policyChain.rules[0]!] };
    expect(delta(v4, { ...v4, sets: [peers], chains: [forward, ingress, pod1, narrower] })).toEqual({ ...nothing, refilled: [narrower], goneSets: [nets.name] });
  });

  it('a new dispatch map (egress appears) and a map that goes', () => {
    const egress: Chain = { name: 'GINGHAM-NP-EGRESS', rules: [{ dispatch: { by: 'src', map: 'egress-dispatch', entries: [{ addr: '198.18.0.11', chain: pod2.name }] } }] };
    const fwd2: Chain = { ...forward, rules: [...forward.rules, { action: { kind: 'jump', chain: egress.name } }] };
    const want: FamilyRules = { ...v4, chains: [fwd2, ingress, egress, pod1, pod2, policyChain] };
    const d = delta(v4, want);
    expect(d).toEqual({ ...nothing, newChains: [egress, pod2], refilled: [fwd2], newMaps: [(egress.rules[0] as Dispatch).dispatch] });
    expect(delta(want, v4)).toEqual({ ...nothing, refilled: [forward], goneChains: [egress.name, pod2.name], goneMaps: ['egress-dispatch'] });
  });

  it('a set changing kind, a family appearing or going, or hooks changing: a whole-table replace', () => {
    expect(familyDelta(v4, { ...v4, sets: [{ ...peers, kind: 'nets' }, nets] })).toBeUndefined();
    expect(planSync(both(v4), both({ ...v4, sets: [{ ...peers, kind: 'nets' }, nets] }))).toMatchObject({ kind: 'replace' });
    const v6: FamilyRules = { sets: [], chains: [forward], hooks };
    expect(planSync(both(v4), both(v4, v6))).toEqual({ kind: 'replace', why: 'IPv6 appears' });
    expect(planSync(both(v4, v6), both(v4))).toEqual({ kind: 'replace', why: 'IPv6 goes' });
    expect(planSync(both(v4), both({ ...v4, hooks: [...hooks, { at: 'input', chain: forward.name }] }))).toEqual({ kind: 'replace', why: 'IPv4 hooks changed' });
    // Equal hooks, other objects: still a delta.
    expect(planSync(both(v4), both({ ...v4, hooks: [{ at: 'forward', chain: forward.name }] }))).toMatchObject({ kind: 'delta' });
  });
});

describe('nftables policy transaction text', () => {
  it('a pod released: map element gone before its chain is emptied and deleted; one transaction', () => {
    const two: FamilyRules = { ...v4, chains: [forward, dispatch([{ addr: '198.18.0.11', chain: pod1.name }, { addr: '198.18.0.12', chain: pod2.name }]), pod1, pod2, policyChain] };
    const plan = planSync(both(two), both(v4));
    if (plan.kind !== 'delta') throw new Error('not a delta');
    expect(deltaText(plan.families, both(v4)).trim().split('\n')).toEqual([
      'delete element inet gingham-policy ingress-dispatch-4 { 198.18.0.12 }',
      'flush chain inet gingham-policy GINGHAM-NPI-p2-4',
      'delete chain inet gingham-policy GINGHAM-NPI-p2-4',
    ]);
  });

  it('a pod isolated: its chain declared before the map element that jumps to it, filled before anything jumps', () => {
    const two: FamilyRules = { ...v4, chains: [forward, dispatch([{ addr: '198.18.0.11', chain: pod1.name }, { addr: '198.18.0.12', chain: pod2.name }]), pod1, pod2, policyChain] };
    const plan = planSync(both(v4), both(two));
    if (plan.kind !== 'delta') throw new Error('not a delta');
    const lines = deltaText(plan.families, both(two)).trim().split('\n');
    expect(lines[0]).toBe('add chain inet gingham-policy GINGHAM-NPI-p2-4');
    expect(lines.at(-1)).toBe('add element inet gingham-policy ingress-dispatch-4 { 198.18.0.12 : jump GINGHAM-NPI-p2-4 }');
    expect(lines.filter((l) => l.startsWith('add rule inet gingham-policy GINGHAM-NPI-p2-4 '))).toHaveLength(pod2.rules.length);
  });

  it('nothing changed: no text at all', () => {
    const plan = planSync(both(v4), both(v4));
    if (plan.kind !== 'delta') throw new Error('not a delta');
    expect(deltaText(plan.families, both(v4))).toBe('');
  });
});

describe('nftables policy read-back compare', () => {
  const printed = (want: Wanted): ParsedTable => {
    const t = printedTable(want);
    return { chains: t.chains, sets: new Map([...t.sets].map(([k, s]) => [k, { ...s, typeof: false }])) };
  };

  it('no table and nothing wanted: the same; a table left with nothing wanted: not', () => {
    expect(compareTable(undefined, both(none)).same).toBe(true);
    expect(compareTable({ chains: new Map(), sets: new Map() }, both(none)).same).toBe(false);
  });

  it('no table yet: every chain created, the hook hooked, sets and the map created', () => {
    const r = compareTable(undefined, both(v4));
    expect(r.same).toBe(false);
    expect(r.chains[4]).toEqual({ created: ['GINGHAM-NP-FORWARD', 'GINGHAM-NP-INGRESS', 'GINGHAM-NPI-p1', 'GINGHAM-NPP-web'], rewritten: [], removed: [], hooked: ['forward'], unhooked: [] });
    expect(r.sets.created).toEqual([peers.name, nets.name, 'ingress-dispatch-4']);
  });

  it('the printed form read back: the same; an element, a rule and a stray chain of difference show', () => {
    expect(compareTable(printed(both(v4)), both(v4)).same).toBe(true);
    const t = printed(both(v4));
    const chains = new Map(t.chains);
    chains.set('GINGHAM-NPI-p1-4', { rules: chains.get('GINGHAM-NPI-p1-4')!.rules.slice(1) });
    chains.set('GINGHAM-NP-OLD-6', { rules: ['return'] });
    const sets = new Map(t.sets);
    sets.set(peers.name, { ...sets.get(peers.name)!, elements: ['198.18.0.12', '198.18.0.99'] });
    const r = compareTable({ chains, sets }, both(v4));
    expect(r.same).toBe(false);
    expect(r.chains[4].rewritten).toEqual(['GINGHAM-NPI-p1']);
    expect(r.chains[6].removed).toEqual(['GINGHAM-NP-OLD']);
    expect(r.sets).toMatchObject({ updated: [peers.name], added: 1, removed: 1 });
  });
});
