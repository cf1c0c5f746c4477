// The nftables renderer against the real nft, in a network namespace of its own: every rule shape
// of the packet-filter model, both families, hooks at every point, sets with excepts and dispatch
// maps are written by replaceTableText, read back by listTable, and must equal what the renderer
// says nft prints (printedTable: printedStep, printedHook, setElements, …) string for string:
// the comparison the nftables appliers heal by. Then the transactions they rely on: a failing last
// line applies nothing, deleting an absent table succeeds, the event pieces do what they say.
// Last, timings of a policy-sized table.
import { isDeepStrictEqual } from 'node:util';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTool } from '../kernel/exec.js';
import { RefusedNftText } from '../kernel/nft-text.js';
import { applyNft, listTable, nftAvailable, parseNftList, type ParsedTable } from '../kernel/nft.js';
import type { AddrSet, Chain, Dispatch, Family, FamilyRules, Hook, Rule } from '../kernel/packet-filter/model.js';
import {
  type Want,
  addChainLines,
  addSetLines,
  deleteChainLines,
  deleteSetLines,
  deleteTableText,
  dispatchElementLines,
  joinNft,
  printedRule,
  printedStep,
  printedTable,
  refillChainLines,
  replaceTableText,
  setElementLines,
  setElements,
} from '../kernel/packet-filter/nft-render.js';

const ROOT = process.getuid?.() === 0;
const NFT = resolveTool('nft').startsWith('/');
// On CI a test that cannot run fails: the nftables dataplane would otherwise go untested.
if (!(ROOT && NFT) && process.env['CI'] === 'true') throw new Error(`nft round-trip tests cannot run, missing: ${ROOT ? '' : 'root '}${NFT ? '' : 'nft (make deps)'}`);

const NS = `gt${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}-nft`;
const WRAP = ['ip', 'netns', 'exec', NS];
const TABLE = 'gingham-test';

const ADDR = { 4: ['198.18.0.11', '198.18.0.12', '198.18.0.13'], 6: ['fd42:18::11', 'fd42:18::12', 'fd42:18::13'] } as const;
const NET = { 4: '198.18.0.0/16', 6: 'fd42:18::/64' } as const;
const EXCEPT = { 4: ['198.18.4.0/24', '198.18.0.0/30'], 6: ['fd42:18::/120', 'fd42:18::8000:0/100'] } as const;

/** Every shape the model can say, for one family (ICMPv6 only in IPv6). */
function shapeRules(f: Family): Rule[] {
  const set = `gh-test${f}-a`;
  const nets = `gh-test${f}-n`;
  const [a] = ADDR[f];
  const r: Rule[] = [
    { src: { cidr: a }, action: { kind: 'return' } },
    { src: { cidr: `${a}/${f === 4 ? 32 : 128}` }, action: { kind: 'accept' } },
    { dst: { cidr: NET[f], not: true }, action: { kind: 'drop' } },
    { src: { cidr: NET[f] }, dst: { cidr: a }, proto: 'tcp', dport: { from: 80, to: 80 }, action: { kind: 'return' } },
    { iif: { name: 'br0' }, oif: { name: 'br0', not: true }, action: { kind: 'accept' } },
    { iif: { name: 'gh-a.b_c', not: true }, oif: { name: 'veth0' }, action: { kind: 'return' } },
    { proto: 'tcp', action: { kind: 'return' } },
    { proto: 'udp', action: { kind: 'return' } },
    { proto: 'sctp', action: { kind: 'return' } },
    { proto: 'udp', dport: { from: 80, to: 90 }, action: { kind: 'return' } },
    { proto: 'sctp', dport: { from: 9, to: 9 }, action: { kind: 'return' } },
    { proto: 'tcp', comment: 'x/y ingress rule 0', sets: [{ set, dir: 'src' }, { set: nets, dir: 'dst' }], dport: { from: 8080, to: 8080 }, action: { kind: 'mark', value: 0x20000, mask: 0x20000 } },
    { proto: 'udp', sets: [{ set: nets, dir: 'src' }], action: { kind: 'return' } },
    { ct: 'established-related', action: { kind: 'return' } },
    { ct: 'new', mark: { value: 0x20000, mask: 0x20000 }, limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: 'gingham accept ingress GINGHAM-NP-SHAPES', group: 9917, snaplen: 128 } },
    { limit: { perSecond: 10, burst: 5 }, action: { kind: 'log', prefix: 'p', group: 0, snaplen: 0 } },
    { action: { kind: 'log', prefix: "a\\b #;{}é 'x' include define", group: 1, snaplen: 64 } },
    { mark: { value: 0, mask: 0x40000 }, action: { kind: 'return' } },
    { mark: { value: 5, mask: 0xffffffff }, action: { kind: 'return' } },
    { action: { kind: 'mark', value: 0, mask: 0x20000 } },
    { action: { kind: 'mark', value: 0x10000, mask: 0x30000 } },
    { action: { kind: 'mark', value: 7, mask: 0xffffffff } },
    { proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } },
    { action: { kind: 'reject', with: 'port-unreachable' } },
    { dst: { cidr: f === 4 ? '198.18.48.0/24' : 'fd42:18:48::/112' }, action: { kind: 'reject', with: 'port-unreachable' } },
    { action: { kind: 'jump', chain: 'GH-TEST-POL' } },
    { comment: 'x/y ingress', action: { kind: 'goto', chain: 'GH-TEST-POL' } },
    { comment: "a\\b #;{} é😀 'q'", action: { kind: 'return' } },
    { comment: '', action: { kind: 'return' } },
    { comment: 'x'.repeat(128), action: { kind: 'return' } },
    ...(f === 6 ? [{ src: { cidr: '::ffff:198.18.0.0/120' }, dst: { cidr: '::c612:7' }, action: { kind: 'return' } } as const] : []),
  ];
  if (f === 6) {
    r.push({ proto: 'icmpv6', action: { kind: 'return' } });
    for (const t of [1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143, 200]) r.push({ proto: 'icmpv6', icmpv6Type: t, action: { kind: 'return' } });
  }
  return r;
}

function shapes(f: Family): FamilyRules {
  const dispatch = (by: 'src' | 'dst', map: string): Dispatch => ({ dispatch: { by, map, entries: ADDR[f].slice(0, 2).map((addr) => ({ addr, chain: 'GH-TEST-POD' })) } });
  const sets: AddrSet[] = [
    { name: `gh-test${f}-a`, family: f, kind: 'addrs', entries: [...ADDR[f]] },
    { name: `gh-test${f}-n`, family: f, kind: 'nets', entries: [NET[f]], except: [...EXCEPT[f]] },
    { name: `gh-test${f}-e`, family: f, kind: 'addrs', entries: [] },
    { name: `gh-test${f}-en`, family: f, kind: 'nets', entries: [] },
    // IPv6 that nft prints in dotted form (glibc inet_ntop).
    ...(f === 6
      ? ([
          { name: 'gh-test6-m', family: 6, kind: 'addrs', entries: ['::ffff:198.18.0.1', '::198.18.0.2', '::2', '::'] },
          { name: 'gh-test6-mn', family: 6, kind: 'nets', entries: ['::ffff:0:0/96', '::/96'] },
        ] as const)
      : []),
  ];
  const chains: Chain[] = [
    { name: 'GH-TEST-SHAPES', rules: shapeRules(f) },
    { name: 'GH-TEST-DISPATCH', rules: [{ action: { kind: 'mark', value: 0, mask: 0x20000 } }, dispatch('src', 'GH-TEST-EGRESS'), dispatch('dst', 'GH-TEST-INGRESS'), { action: { kind: 'return' } }] },
    { name: 'GH-TEST-POL', rules: [] },
    { name: 'GH-TEST-POD', rules: [{ action: { kind: 'jump', chain: 'GH-TEST-POL' } }] },
    { name: 'GH-TEST-MASQ', rules: [{ dst: { cidr: NET[f], not: true }, action: { kind: 'masquerade' } }] },
  ];
  const hooks: Hook[] = [
    { at: 'forward', chain: 'GH-TEST-SHAPES' },
    { at: 'forward', chain: 'GH-TEST-DISPATCH', source: NET[f] },
    { at: 'input', chain: 'GH-TEST-DISPATCH' },
    { at: 'output', chain: 'GH-TEST-DISPATCH', comment: 'iptables only' },
    { at: 'postrouting', chain: 'GH-TEST-MASQ', source: NET[f] },
  ];
  return { sets, chains, hooks };
}

const SHAPES: Want = { 4: shapes(4), 6: shapes(6) };

async function apply(text: string): Promise<void> {
  const err = await applyNft(text, WRAP);
  if (err !== undefined) throw new Error(`nft -f failed: ${err}\n${text}`);
}

describe.skipIf(!(ROOT && NFT))('nftables text round trip in a namespace', () => {
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', NS]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', NS], { reject: false });
  });

  it('nft is there and new enough', async () => {
    expect(await nftAvailable(WRAP)).toBe(true);
  });

  it('every rule shape, both families, reads back exactly as printedStep renders it', async () => {
    await apply(replaceTableText(TABLE, SHAPES));
    const got = (await listTable(TABLE, WRAP));
    const want = printedTable(SHAPES);
    // Chain by chain first: a difference names its rule.
    for (const [name, c] of want.chains) expect({ name, ...got?.chains.get(name) }).toEqual({ name, ...c });
    for (const [name, s] of want.sets) expect({ name, ...got?.sets.get(name) }).toEqual({ name, ...s });
    expect(got).toEqual(want);
    // The appliers' comparison: one deep equality.
    expect(isDeepStrictEqual(got, want)).toBe(true);
    // A second replace of the same table gives the same listing.
    await apply(replaceTableText(TABLE, SHAPES));
    expect((await listTable(TABLE, WRAP))).toEqual(want);
  });

  it('any comment and log prefix the renderer accepts reads back byte for byte', async () => {
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', ' ', '\\', "'", '#', ';', '{', '}', ',', '@', '*', '%', '!', '=', 'é', '😀', '\u2028', 'include ', 'define ', '"', '$'), maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    const samples = fc.sample(fc.tuple(text, text), { seed: 17_2026, numRuns: 300 });
    const rules: Rule[] = [];
    for (const [comment, prefix] of samples) {
      const r: Rule = { comment, action: { kind: 'log', prefix: prefix || 'p', group: 1, snaplen: 64 } };
      try {
        printedRule(r, 4);
        rules.push(r);
      } catch (e) {
        if (!(e instanceof RefusedNftText)) throw e;
      }
    }
    expect(rules.length).toBeGreaterThan(100);
    const want: Want = { 4: { sets: [], chains: [{ name: 'GH-TEST-TEXT', rules }], hooks: [] }, 6: { sets: [], chains: [], hooks: [] } };
    await apply(replaceTableText(TABLE, want));
    expect((await listTable(TABLE, WRAP))?.chains.get('GH-TEST-TEXT-4')?.rules).toEqual(rules.map((r) => printedRule(r, 4)));
  });

  it('a document whose last line fails applies nothing', async () => {
    await apply(replaceTableText(TABLE, SHAPES));
    const smaller: Want = { 4: { sets: [], chains: [{ name: 'GH-TEST-ONE', rules: [{ action: { kind: 'drop' } }] }], hooks: [] }, 6: { sets: [], chains: [], hooks: [] } };
    // In the kernel (an absent element), and at parse time (an IPv6 address in an IPv4 set).
    for (const bad of ['delete element inet gingham-test gh-none-4 { 198.18.9.9 }\n', 'add set inet gingham-test gh-x-4 { type ipv4_addr; }\nadd element inet gingham-test gh-x-4 { fd42::1 }\n']) {
      expect(await applyNft(replaceTableText(TABLE, smaller) + bad, WRAP)).toBeDefined();
      expect((await listTable(TABLE, WRAP))).toEqual(printedTable(SHAPES));
    }
  });

  it('deletes the table whether it exists or not', async () => {
    await apply(deleteTableText(TABLE));
    expect(await listTable(TABLE, WRAP)).toBeUndefined();
    await apply(deleteTableText(TABLE));
    expect(await listTable(TABLE, WRAP)).toBeUndefined();
  });

  it('event pieces: sets, elements, chains, refills and dispatch entries, one transaction', async () => {
    const base = shapes(4);
    const start: Want = { 4: base, 6: { sets: [], chains: [], hooks: [] } };
    await apply(replaceTableText(TABLE, start));
    const newSet: AddrSet = { name: 'gh-test4-new', family: 4, kind: 'nets', entries: ['198.18.8.0/24'], except: ['198.18.8.128/25'] };
    const newPod: Chain = { name: 'GH-TEST-POD2', rules: [{ proto: 'tcp', sets: [{ set: 'gh-test4-new', dir: 'src' }], action: { kind: 'return' } }] };
    const pol: Chain = { name: 'GH-TEST-POL', rules: [{ action: { kind: 'mark', value: 0x20000, mask: 0x20000 } }] };
    const aSet = base.sets[0]!;
    const text = joinNft(
      addSetLines(TABLE, newSet),
      setElementLines(TABLE, 'add', aSet, ['198.18.0.14']),
      setElementLines(TABLE, 'delete', aSet, ['198.18.0.11']),
      addChainLines(TABLE, newPod, 4),
      dispatchElementLines(TABLE, 'add', 'GH-TEST-EGRESS', 4, [{ addr: '198.18.0.20', chain: 'GH-TEST-POD2' }]),
      dispatchElementLines(TABLE, 'delete', 'GH-TEST-INGRESS', 4, [{ addr: '198.18.0.11', chain: 'GH-TEST-POD' }]),
      refillChainLines(TABLE, pol, 4),
      deleteSetLines(TABLE, 'gh-test4-e'),
    );
    await apply(text);
    const got = (await listTable(TABLE, WRAP))!;
    expect(got.sets.get('gh-test4-new')!.elements).toEqual(setElements(newSet));
    expect(got.sets.get('gh-test4-a')!.elements).toEqual(['198.18.0.12', '198.18.0.13', '198.18.0.14']);
    expect(got.sets.has('gh-test4-e')).toBe(false);
    expect(got.chains.get('GH-TEST-POD2-4')!.rules).toEqual(newPod.rules.map((r) => printedStep(r, 4)));
    expect(got.chains.get('GH-TEST-POL-4')!.rules).toEqual(['meta mark set meta mark | 0x00020000']);
    expect(got.sets.get('GH-TEST-EGRESS-4')!.elements).toEqual(['198.18.0.11 : jump GH-TEST-POD-4', '198.18.0.12 : jump GH-TEST-POD-4', '198.18.0.20 : jump GH-TEST-POD2-4']);
    expect(got.sets.get('GH-TEST-INGRESS-4')!.elements).toEqual(['198.18.0.12 : jump GH-TEST-POD-4']);
    // A released pod: its map element, then its chain, in one transaction.
    await apply(joinNft(dispatchElementLines(TABLE, 'delete', 'GH-TEST-EGRESS', 4, [{ addr: '198.18.0.20', chain: 'GH-TEST-POD2' }]), deleteChainLines(TABLE, 'GH-TEST-POD2', 4)));
    expect((await listTable(TABLE, WRAP))!.chains.has('GH-TEST-POD2-4')).toBe(false);
    await apply(deleteTableText(TABLE));
  });

  it('timings of a policy-sized table (logged)', async () => {
    // 110 pod chains of 8 rules behind a verdict map, 500 policy chains of 10 rules, 200 sets of 20 addresses.
    const sets: AddrSet[] = Array.from({ length: 200 }, (_, i) => ({ name: `gh-peer4-${i}`, family: 4, kind: 'addrs', entries: Array.from({ length: 20 }, (_, j) => `198.18.${(i * 20 + j) >> 8}.${(i * 20 + j) & 255}`) }));
    const pols: Chain[] = Array.from({ length: 500 }, (_, i) => ({
      name: `GH-NPP-${i}`,
      rules: Array.from({ length: 10 }, (_, j) => ({ proto: 'tcp', comment: `ns/p${i} ingress rule ${j}`, sets: [{ set: `gh-peer4-${(i + j) % 200}`, dir: 'src' }], dport: { from: 80 + j, to: 80 + j }, action: { kind: 'mark', value: 0x20000, mask: 0x20000 } }) as const),
    }));
    const pods: Chain[] = Array.from({ length: 110 }, (_, i) => ({
      name: `GH-NPI-${i}`,
      rules: [
        { action: { kind: 'mark', value: 0, mask: 0x20000 } },
        ...[0, 1, 2].map((k) => ({ action: { kind: 'jump', chain: `GH-NPP-${(i * 3 + k) % 500}` } }) as const),
        { mark: { value: 0x20000, mask: 0x20000 }, action: { kind: 'return' } },
        { limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix: `gingham deny ingress GH-NPI-${i}`, group: 9917, snaplen: 128 } },
        { proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } },
        { action: { kind: 'reject', with: 'port-unreachable' } },
      ] as Rule[],
    }));
    const entries = pods.map((p, i) => ({ addr: `198.18.100.${i + 1}`, chain: p.name }));
    const want: Want = {
      4: { sets, chains: [...pols, ...pods, { name: 'GH-NP-INGRESS', rules: [{ dispatch: { by: 'dst', map: 'GH-NP-INGRESS-MAP', entries } }] }], hooks: [{ at: 'forward', chain: 'GH-NP-INGRESS' }] },
      6: { sets: [], chains: [], hooks: [] },
    };
    const time = async (f: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await f();
      return Math.round(performance.now() - t0);
    };
    let render = 0;
    let text = '';
    render = await time(async () => {
      text = replaceTableText(TABLE, want);
    });
    const create = await time(() => apply(text));
    const replace = await time(() => apply(text));
    let listed: ParsedTable | undefined;
    const read = await time(async () => {
      listed = await listTable(TABLE, WRAP);
    });
    let printed = '';
    const list = await time(async () => {
      printed = (await execa('ip', ['netns', 'exec', NS, 'nft', '-s', 'list', 'table', 'inet', TABLE])).stdout;
    });
    const parse = await time(async () => {
      parseNftList(printed);
    });
    let same = false;
    const compare = await time(async () => {
      same = isDeepStrictEqual(listed, printedTable(want));
    });
    expect(same).toBe(true);
    const event = await time(() => apply(joinNft(setElementLines(TABLE, 'add', sets[0]!, ['198.18.200.1']), setElementLines(TABLE, 'delete', sets[1]!, [sets[1]!.entries[0]!]), refillChainLines(TABLE, pols[0]!, 4))));
    console.log(`nft timings (${sets.length * 20 + 110} elements, ${pols.length * 10 + pods.length * 8} rules, ${text.length} bytes): render ${render} ms, create ${create} ms, replace ${replace} ms, listTable ${read} ms (nft list ${list} ms, parse ${parse} ms), printedTable+compare ${compare} ms, event ${event} ms`);
    await apply(deleteTableText(TABLE));
  });
});
