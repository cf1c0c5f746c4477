// The nft renderer against a model of nft's scanner (parser-models.ts nftCommands): whatever the
// names, comments, log prefixes and interface names, a document is refused or splits back into
// exactly the intended commands, strings byte-equal, with nothing outside quotes that nft would
// read as a comment, a variable, an include or a definition. Property-based (fast-check, fixed
// seed; a failure prints the seed and the shrunk case).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIp } from '../net/ip.js';
import { NFT_LIMITS, type NftLine, RefusedNftText, nftAddr, nftCidr, nftCommand, nftDocument, nftFreeText, nftMark, nftName, nftPorts, nftString } from './nft-text.js';
import { replaceTableText } from './packet-filter/nft-render.js';
import type { Rule } from './packet-filter/model.js';
import { type NftToken, nftCommands } from './parser-models.js';

const SEED = 17_2026;
const runs = { seed: SEED, numRuns: 400 };

/** Strings that hit the scanner's special characters often, and long and unicode ones. */
const nasty = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '-', ' ', '\t', '\n', '\r', '\0', '"', "'", '\\', '#', ';', '{', '}', '$', ',', '@', 'é', '😀', '\u2028', '\u0085', 'include ', 'define '), maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 300 }),
  fc.constantFrom('a\nadd rule inet t c accept\n#', 'x"; flush ruleset; "', 'p$q', '$x', 'include "/etc/passwd"', 'define x = 1', '\ud800', 'x'.repeat(129), 'é'.repeat(64), 'a-b'),
);

/** Names from our alphabet, and near misses. */
const names = fc.oneof(nasty, fc.constant('gingham'), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,8}(-[A-Za-z0-9_.]{1,8}){1,3}$/), fc.constant('x'.repeat(250) + '-abcdef'));

/** Render, or undefined when refused (anything else thrown fails the test). */
function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof RefusedNftText) return undefined;
    throw e;
  }
}

const w = (text: string): NftToken[] => text.split(' ').map((word) => (['{', '}', ',', ';'].includes(word) ? { punct: word as '{' } : { word }));
const fits = (v: string, max: number, min = 0): boolean =>
  !/["$\u0000-\u001f\u007f-\u009f]/.test(v) && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v) && Buffer.byteLength(v) <= max && Buffer.byteLength(v) >= min;

describe('nft -f text', () => {
  it('a table with any names, comment, log prefix and interface is refused or scans back to exactly its commands', () => {
    let accepted = 0;
    fc.assert(
      fc.property(names, names, nasty, nasty, fc.oneof(nasty, fc.stringMatching(/^[A-Za-z0-9_.-]{1,15}$/)), (chain, set, note, prefix, ifname) => {
        const rule: Rule = { iif: { name: ifname }, comment: note, sets: [{ set, dir: 'src' }], limit: { perSecond: 10, burst: 20 }, action: { kind: 'log', prefix, group: 9917, snaplen: 128 } };
        const text = attempt(() =>
          replaceTableText('gingham-policy', {
            4: { sets: [{ name: set, family: 4, kind: 'addrs', entries: ['198.18.0.1'] }], chains: [{ name: chain, rules: [rule] }], hooks: [] },
            6: { sets: [], chains: [], hooks: [] },
          }),
        );
        if (text === undefined) return;
        accepted++;
        // A comment is free text, made sayable (nftFreeText), never a reason to refuse.
        expect(fits(prefix, NFT_LIMITS.logPrefix, 1) && /^[A-Za-z0-9_.-]{1,15}$/.test(ifname)).toBe(true);
        const T = 'add table inet gingham-policy';
        expect(nftCommands(text)).toEqual([
          w(T),
          w('delete table inet gingham-policy'),
          w(T),
          [...w(`add set inet gingham-policy ${set} { type ipv4_addr`), { punct: ';' }, { punct: '}' }],
          w(`add element inet gingham-policy ${set} { 198.18.0.1 }`),
          w(`add chain inet gingham-policy ${chain}-4`),
          [
            ...w(`add rule inet gingham-policy ${chain}-4 iifname`),
            { str: ifname },
            ...w(`ip saddr @${set} limit rate 10/second burst 20 packets log prefix`),
            { str: prefix },
            ...w('group 9917 snaplen 128 comment'),
            { str: nftFreeText(note, NFT_LIMITS.comment) },
          ],
        ]);
      }),
      { ...runs, numRuns: 2000 },
    );
    // Not vacuous: a good share of the cases are rendered, not refused.
    expect(accepted).toBeGreaterThan(20);
  });

  it('nftString refuses exactly what nft could not read back as given', () => {
    fc.assert(
      fc.property(nasty, (v) => {
        const got = attempt(() => nftString(v, 'x', NFT_LIMITS.comment));
        expect(got !== undefined).toBe(fits(v, NFT_LIMITS.comment));
        if (got !== undefined) expect(nftCommands(`add rule inet t c-4 comment ${got}`)).toEqual([[...w('add rule inet t c-4 comment'), { str: v }]]);
      }),
      runs,
    );
  });

  it('nftName takes only our alphabet, and an accepted name is one word', () => {
    fc.assert(
      fc.property(names, (v) => {
        if (attempt(() => nftName(v)) === undefined) return;
        expect(v === 'gingham' || (/^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_.]+)+$/.test(v) && v.length <= NFT_LIMITS.name)).toBe(true);
        expect(nftCommands(`add chain inet t ${v}`)).toEqual([w(`add chain inet t ${v}`)]);
      }),
      runs,
    );
  });

  it('a document is refused or has one command a line, with nothing outside quotes that is a comment or variable', () => {
    fc.assert(
      fc.property(fc.array(nasty, { maxLength: 6 }), (bodies) => {
        const lines = bodies.map((b) => `add rule inet t c-4 ${b}` as NftLine);
        let commands: NftToken[][];
        try {
          const text = attempt(() => nftDocument(lines));
          if (text === undefined) return;
          commands = nftCommands(text);
        } catch {
          throw new Error(`accepted a document the scanner cannot read: ${JSON.stringify(lines)}`);
        }
        expect(commands).toHaveLength(lines.filter((l) => l.trim() !== '').length);
        for (const c of commands) {
          expect(c.slice(0, 3)).toEqual(w('add rule inet'));
          expect(c.some((t) => 'comment' in t || 'variable' in t)).toBe(false);
        }
      }),
      runs,
    );
  });

  it('refuses what is no command, and lines that would split', () => {
    for (const l of ['include "/etc/passwd"', 'define x = 1', 'flush ruleset', 'add rule inet t c-4 accept; flush ruleset', 'add rule inet t c-4 accept\nflush ruleset', 'add rule inet t c-4 accept # x', 'add rule inet t c-4 log prefix $x', 'add rule inet t c-4 comment "x', 'add rule inet t c-4 }', 'add rule inet t c-4 {']) {
      expect(() => nftDocument([l as NftLine])).toThrow(RefusedNftText);
    }
    expect(nftDocument([])).toBe('');
    expect(nftDocument([nftCommand('add', 'set', 'gingham', 'gh-s', '{ type ipv4_addr; }')])).toBe('add set inet gingham gh-s { type ipv4_addr; }\n');
  });

  it('prints numbers, marks, ports and addresses as nft does', () => {
    expect(nftMark(0x20000)).toBe('0x00020000');
    expect(nftMark(0xffffffff)).toBe('0xffffffff');
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) expect(() => nftMark(bad)).toThrow(RefusedNftText);
    expect(nftPorts(80, 80)).toBe('80');
    expect(nftPorts(80, 90)).toBe('80-90');
    expect(() => nftPorts(90, 80)).toThrow(RefusedNftText);
    expect(() => nftPorts(0, 65536)).toThrow(RefusedNftText);
    expect(nftAddr(parseIp('fd42:18:0:0::11')!)).toBe('fd42:18::11');
    expect(() => nftAddr(parseIp('198.18.0.1')!, 6)).toThrow(RefusedNftText);
    // glibc inet_ntop, as nft prints: IPv4-mapped and -compatible addresses end in dotted IPv4.
    expect(nftAddr(parseIp('::ffff:c612:1')!)).toBe('::ffff:198.18.0.1');
    expect(nftAddr(parseIp('::c612:2')!)).toBe('::198.18.0.2');
    expect(nftAddr(parseIp('::1')!)).toBe('::1');
    expect(nftAddr(parseIp('::')!)).toBe('::');
    expect(nftCidr(parseCidr('::ffff:0:0/96')!)).toBe('::ffff:0.0.0.0/96');
    expect(nftCidr(parseCidr('198.18.0.7/32')!)).toBe('198.18.0.7');
    expect(nftCidr(parseCidr('198.18.0.7/24')!)).toBe('198.18.0.0/24');
    expect(() => nftName('accept')).toThrow(RefusedNftText);
    expect(() => nftName('x'.repeat(254) + '-a')).toThrow(RefusedNftText);
    expect(nftName('x'.repeat(253) + '-a')).toHaveLength(255);
  });
});
