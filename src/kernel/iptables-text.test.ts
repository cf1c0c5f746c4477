// The iptables-restore renderer against a model of the real parser (parser-models.ts): whatever
// the values, the text is refused or splits back into exactly the intended lines and tokens, in
// the form iptables-save prints. Property-based (fast-check, fixed seed; a failure prints the seed
// and the shrunk case).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS, RefusedIptablesText, canonicalRule, chainName, command, comment, declareChain, freeText, nflog, quoted, restoreText, word } from './iptables-text.js';
import { parseIptablesRestore } from './parser-models.js';

const SEED = 14_2026;
const runs = { seed: SEED, numRuns: 400 };

/** Strings that hit the parser's special characters often, and long and unicode ones. */
const nasty = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', ' ', '\t', '\n', '\r', '\0', '"', "'", '\\', '#', '*', ':', '-', '[', 'é', '😀', '\u2028', '\u0085', 'COMMIT'), maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 1500 }),
  fc.constantFrom('a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#', 'p"q', 'x\\"y', '\ud800', 'x'.repeat(256), 'é'.repeat(128)),
);

/** Render, or undefined when refused (anything else thrown fails the test). */
function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof RefusedIptablesText) return undefined;
    throw e;
  }
}

/** What xtables_save_string prints for a value (the kernel's side of the comparison). */
const saveString = (v: string): string => (/^[A-Za-z0-9_-]+$/.test(v) ? v : `"${v.replace(/["\\']/g, '\\$&')}"`);

describe('iptables-restore text', () => {
  it('a rule with any comment, NFLOG prefix and chain name is refused or parses back to exactly its tokens', () => {
    fc.assert(
      fc.property(nasty, nasty, nasty, fc.integer({ min: -2, max: 70_000 }), (chain, note, prefix, group) => {
        const text = attempt(() => restoreText([{ table: 'filter', lines: [declareChain(chain), command('-A', chain, `${comment(note)} ${nflog(prefix, group, 128)}`)] }]));
        if (text === undefined) return;
        expect(group >= 1 && group <= 65535 && prefix !== '' && Buffer.byteLength(prefix) <= LIMITS.nflogPrefix).toBe(true);
        expect(parseIptablesRestore(text)).toEqual([
          { kind: 'table', name: 'filter' },
          { kind: 'chain', args: [chain, '-', '[0:0]'] },
          { kind: 'command', args: ['-A', chain, '-m', 'comment', '--comment', note, '-j', 'NFLOG', '--nflog-prefix', prefix, '--nflog-group', String(group), '--nflog-size', '128'] },
          { kind: 'commit' },
        ]);
        // In the form iptables -S prints, so the policy layer's comparison holds.
        expect(text).toContain(`--comment ${saveString(note)} -j NFLOG --nflog-prefix ${saveString(prefix)} --nflog-group ${group} --nflog-size 128\n`);
      }),
      runs,
    );
  });

  it('refuses exactly what the kernel would not keep as given', () => {
    fc.assert(
      fc.property(nasty, (v) => {
        const ok = attempt(() => quoted(v, 'x', LIMITS.comment)) !== undefined;
        const fits = !/[\u0000-\u001f\u007f-\u009f]/.test(v) && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v) && Buffer.byteLength(v) <= LIMITS.comment;
        expect(ok).toBe(fits);
        if (attempt(() => chainName(v)) !== undefined) expect(v.length <= 28 && /^[!-~]+$/.test(v) && !/["'\\]/.test(v) && !/^[-!]/.test(v)).toBe(true);
        if (attempt(() => word(v, 'x')) !== undefined) expect(parseIptablesRestore(`*t\n-A C ${v}\nCOMMIT\n`)[1]).toEqual({ kind: 'command', args: ['-A', 'C', v] });
      }),
      runs,
    );
  });

  it('a document is refused or has one intended command a line, whatever the lines hold', () => {
    fc.assert(
      fc.property(fc.array(nasty, { maxLength: 6 }), (rules) => {
        const lines = rules.map((r) => `-A C ${r}`);
        const text = attempt(() => restoreText([{ table: 'filter', lines }]));
        if (text === undefined) return;
        const items = parseIptablesRestore(text);
        expect(items.filter((i) => i.kind === 'command')).toHaveLength(lines.length);
        expect(items.filter((i) => i.kind !== 'command')).toEqual([{ kind: 'table', name: 'filter' }, { kind: 'commit' }]);
      }),
      runs,
    );
  });

  it('refuses a line the parser would cut in two, and lines that are no command', () => {
    expect(() => restoreText([{ table: 'filter', lines: [`-A C -m comment --comment ${'x'.repeat(LIMITS.line)}`] }])).toThrow(RefusedIptablesText);
    for (const l of ['COMMIT', '*nat', '# x', '[0:0] -A C', '-A C\n-I INPUT 1 -j ACCEPT', 'x', '-A C \0x']) {
      expect(() => restoreText([{ table: 'filter', lines: [l] }])).toThrow(RefusedIptablesText);
    }
  });

  it('free text becomes renderable: control characters replaced, cut on a character boundary', () => {
    fc.assert(
      fc.property(nasty, fc.integer({ min: 1, max: 300 }), (v, max) => {
        const t = freeText(v, max);
        expect(Buffer.byteLength(t)).toBeLessThanOrEqual(max);
        expect(attempt(() => quoted(t, 'x', max))).toBeDefined();
      }),
      runs,
    );
  });

  it('writes comments and prefixes as iptables 1.8.9 prints them back', () => {
    expect(comment('gingham-masquerade')).toBe('-m comment --comment gingham-masquerade');
    expect(comment('gingham:pods')).toBe('-m comment --comment "gingham:pods"');
    expect(comment('ns/p ingress')).toBe('-m comment --comment "ns/p ingress"');
    expect(comment("it's")).toBe('-m comment --comment "it\\\'s"');
    expect(comment('a\\b')).toBe('-m comment --comment "a\\\\b"');
    expect(comment('')).toBe('-m comment --comment ""');
    expect(nflog('gingham deny ingress GINGHAM-NPI-0123456789ab', 9917, 128)).toBe('-j NFLOG --nflog-prefix "gingham deny ingress GINGHAM-NPI-0123456789ab" --nflog-group 9917 --nflog-size 128');
    expect(nflog('p"q', 1, 64)).toBe('-j NFLOG --nflog-prefix "p\\"q" --nflog-group 1 --nflog-size 64');
    expect(() => nflog('', 1, 64)).toThrow(RefusedIptablesText);
    expect(() => nflog('x'.repeat(64), 1, 64)).toThrow(RefusedIptablesText);
    // Group 0 is not printed back (the default), so it is refused: the comparison would never hold.
    expect(() => nflog('x', 0, 64)).toThrow(RefusedIptablesText);
    expect(() => chainName('x'.repeat(29))).toThrow(RefusedIptablesText);
    expect(canonicalRule(comment('gingham:pods'))).toBe('-m comment --comment gingham:pods');
  });
});
