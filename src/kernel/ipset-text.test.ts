// The `ipset restore` renderer against a model of ipset's own line parser (parser-models.ts):
// whatever the names and entries, the text is refused or splits back into exactly the intended
// commands and tokens, none taken for an option. Property-based, fixed seed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IPSET_LIMITS, RefusedIpsetText, ipsetLine, ipsetRestoreText, setName, token } from './ipset-text.js';
import { parseIpsetRestore } from './parser-models.js';

const runs = { seed: 14_2026, numRuns: 400 };

const nasty = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '1', '.', '/', ':', ' ', '\t', '\n', '\r', '\0', '"', '\\', '#', '-', '!', 'é', 'exist', 'COMMIT'), maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.string({ maxLength: 1100 }),
  fc.constantFrom('-exist', '-!', '--file', '198.18.0.1\ndestroy', '#x', '198.18.0.0/24', 'fd42:18::1', 'gingham-np4-0123456789ab'),
);

function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof RefusedIpsetText) return undefined;
    throw e;
  }
}

describe('ipset restore text', () => {
  it('commands with any set names and entries are refused or parse back to exactly their tokens', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('add', 'del', 'create', 'swap') as fc.Arbitrary<'add' | 'del' | 'create' | 'swap'>, nasty, fc.array(nasty, { maxLength: 4 })), { maxLength: 5 }), (cmds) => {
        const text = attempt(() => ipsetRestoreText(cmds.map(([verb, set, rest]) => ipsetLine(verb, set, ...rest))));
        if (text === undefined) return;
        expect(parseIpsetRestore(text)).toEqual(cmds.map(([verb, set, rest]) => [verb, set, ...rest]));
      }),
      runs,
    );
  });

  it('a document is refused or has one command a line, whatever the lines hold', () => {
    fc.assert(
      fc.property(fc.array(nasty, { maxLength: 6 }), (entries) => {
        const lines = entries.map((e) => `add s ${e}`);
        const text = attempt(() => ipsetRestoreText(lines));
        if (text === undefined) return;
        expect(parseIpsetRestore(text)).toHaveLength(lines.length);
      }),
      runs,
    );
  });

  it('refuses options, comments, quotes, long names and lines', () => {
    for (const t of ['-exist', '-!', '#x', 'a"b', 'a b', '', 'a\nb', 'é']) expect(() => token(t)).toThrow(RefusedIpsetText);
    expect(setName('gingham-np4-0123456789ab')).toBe('gingham-np4-0123456789ab');
    expect(() => setName('x'.repeat(IPSET_LIMITS.name + 1))).toThrow(RefusedIpsetText);
    expect(() => ipsetLine('add', 's', 'x'.repeat(IPSET_LIMITS.line))).toThrow(RefusedIpsetText);
    expect(() => ipsetRestoreText(['add s 1\ndestroy'])).toThrow(RefusedIpsetText);
    expect(() => ipsetRestoreText(['# add s 1'])).toThrow(RefusedIpsetText);
  });
});
