// The iproute2 batch renderer against a model of iproute2's own reader (lib/utils.c getcmdline and
// makeargs, written here from the source): whatever the words, a line is refused or reads back as
// exactly its words, and a batch of N lines as exactly N commands. The model reads bytes, as the C
// code does, in both parser generations (quote-aware makeargs, and the older strtok one).
// Property-based (fast-check, fixed seed; a failure prints the seed and the shrunk case).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TOKENS, RefusedToken, batchLine, batchText, refusal } from './ip-batch.js';

const runs = { seed: 14_2026, numRuns: 500 };

type Parsed = { commands: string[][]; stop?: string };

const NL = 0x0a;
const WS = new Set([0x20, 0x09, 0x0d, 0x0a]);

/** A C string: everything from the first NUL on is invisible to strchr, strstr and strcat. */
const cString = (b: Buffer): Buffer => {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
};
/** getcmdline: `#` anywhere cuts the rest of the line. */
const uncomment = (b: Buffer): Buffer => {
  const hash = b.indexOf(0x23);
  return hash < 0 ? b : b.subarray(0, hash);
};

/** makeargs: words at " \t\r\n"; with `quotes`, a word that starts with ' or " runs to the next same quote. */
function makeargs(line: Buffer, quotes: boolean): string[] | string {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && WS.has(line[i]!)) i++;
    if (i >= line.length) break;
    if (words.length >= 511) return 'Too many arguments to command';
    const c = line[i]!;
    if (quotes && (c === 0x27 || c === 0x22)) {
      const end = line.indexOf(c, i + 1);
      if (end < 0) return 'Unterminated quoted string';
      words.push(line.subarray(i + 1, end).toString('utf8'));
      i = end + 1;
    } else {
      let end = i;
      while (end < line.length && !WS.has(line[end]!)) end++;
      words.push(line.subarray(i, end).toString('utf8'));
      i = end + 1;
    }
  }
  return words;
}

/** do_batch over getcmdline and makeargs: the commands run, and why reading stopped early if it did. */
function readBatch(input: Buffer, quotes: boolean): Parsed {
  // getline: each line with its '\n'; a last one without it still counts.
  const physical: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const nl = input.indexOf(NL, at);
    const end = nl < 0 ? input.length : nl + 1;
    physical.push(input.subarray(at, end));
    at = end;
  }
  const commands: string[][] = [];
  for (let n = 0; n < physical.length; ) {
    let line = uncomment(cString(physical[n++]!));
    for (let join = line.indexOf('\\\n'); join >= 0; join = line.indexOf('\\\n')) {
      if (n >= physical.length) return { commands, stop: 'Missing continuation line' };
      line = Buffer.concat([line.subarray(0, join), uncomment(cString(physical[n++]!))]);
    }
    const words = makeargs(line, quotes);
    if (typeof words === 'string') return { commands, stop: words };
    if (words.length > 0) commands.push(words);
  }
  return { commands };
}

/** Both parser generations must read the same commands. */
function read(text: string): Parsed {
  const bytes = Buffer.from(text, 'utf8');
  const modern = readBatch(bytes, true);
  expect(readBatch(bytes, false)).toEqual(modern);
  return modern;
}

/** A rendered line, or undefined when refused (anything else thrown fails the test). */
function attempt(tokens: readonly (string | number)[]): string | undefined {
  try {
    return batchLine(...tokens);
  } catch (e) {
    if (e instanceof RefusedToken) return undefined;
    throw e;
  }
}

/** Words that hit the parser's special bytes often; long, unicode and unpaired-surrogate ones too. */
const nasty = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'Z', '0', '/', ':', '.', '-', ' ', '\t', '\n', '\r', '\0', '"', "'", '\\', '#', '\x7f', '\x85', '\u00a0', '\u2028', 'é', '😀', '\ud800', '\udc00'), maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ minLength: 1000, maxLength: 3000 }),
  fc.constantFrom('/x/a\nlink add evil type bridge', 'e#x', "'ab'", '"ab"', 'a\\', '-', '', 'x'.repeat(5000), 'é'.repeat(300)),
);
const token = fc.oneof({ weight: 4, arbitrary: nasty }, { weight: 1, arbitrary: fc.oneof(fc.nat(), fc.integer(), fc.double()) });

/** Words the parser keeps as they are: these must always pass. */
const plain = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcxyzABC0129-_./:@%+=,~[]{}()!$&*;<>?^`|'), minLength: 1, maxLength: 20 }).filter((s) => s !== '-'),
  fc.constantFrom('link', 'add', 'dev', 'eth0', 'gh-0123456789ab', '198.18.0.1/24', 'fd42:18::1/64', '0e:67:c6:12:00:01', '/var/run/netns/cni-1', '/proc/42/ns/net', 'réseau', '网络', '😀'),
  fc.nat(),
);

describe('batchLine', () => {
  it('any words: refused, or the line reads back as exactly those words, one command', () => {
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 8 }), (tokens) => {
        const line = attempt(tokens);
        if (line === undefined) return;
        expect(read(`${line}\n`)).toEqual({ commands: [tokens.map(String)] });
      }),
      runs,
    );
  });

  it('never refuses a word the parser keeps as it is', () => {
    fc.assert(
      fc.property(fc.array(plain, { minLength: 1, maxLength: 12 }), (tokens) => {
        expect(read(batchText([batchLine(...tokens)]))).toEqual({ commands: [tokens.map(String)] });
      }),
      runs,
    );
  });

  it('a batch of N lines is N commands, each exactly its words, whatever the refused lines held', () => {
    fc.assert(
      fc.property(fc.array(fc.array(token, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }), (lines) => {
        const kept = lines.filter((t) => attempt(t) !== undefined);
        expect(read(batchText(kept.map((t) => batchLine(...t))))).toEqual({ commands: kept.map((t) => t.map(String)) });
      }),
      runs,
    );
  });

  it.each([
    ['/x/a\nlink add evil type bridge', /control character U\+000a/],
    ['e#x', /comment/],
    ["'ab'", /quotes/],
    ['a"b', /quotes/],
    ['a\\', /backslash/],
    ['a b', /space/],
    ['a\tb', /control character U\+0009/],
    ['a\0b', /control character U\+0000/],
    ['\x85', /control character U\+0085/],
    ['\ud800x', /well-formed/],
    ['', /empty/],
    ['-', /standard input/],
  ])('refuses %j', (t, why) => {
    expect(refusal(t)).toMatch(why);
    expect(() => batchLine('link', 'set', 'dev', t, 'up')).toThrow(RefusedToken);
  });

  it('takes numbers as words and refuses what is no count', () => {
    expect(batchLine('link', 'set', 'dev', 'x', 'mtu', 1450)).toBe('link set dev x mtu 1450');
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(() => batchLine('vid', n)).toThrow(/non-negative integer/);
  });

  it('refuses a line the parser would stop the whole batch for (512 words or more), and an empty one', () => {
    const words = Array.from({ length: MAX_TOKENS }, () => 'x');
    expect(read(`${batchLine(...words)}\n`).commands[0]).toHaveLength(MAX_TOKENS);
    expect(read(`${[...words, 'x'].join(' ')}\n`).stop).toBe('Too many arguments to command');
    expect(() => batchLine(...words, 'x')).toThrow(/more than 511 words/);
    expect(() => batchLine()).toThrow(RefusedToken);
  });

  it('the model reads what iproute2 does with the tricks the renderer refuses', () => {
    // Each was tried on iproute2 6.1 (`ip -force -batch -` with `link show dev ...`).
    expect(read('link show dev lo#x\n').commands).toEqual([['link', 'show', 'dev', 'lo']]);
    // Quotes: the generations differ, which is why no line may hold one.
    expect(readBatch(Buffer.from("link show dev 'l'o\n"), true).commands).toEqual([['link', 'show', 'dev', 'l', 'o']]);
    expect(readBatch(Buffer.from("link show dev 'l'o\n"), false).commands).toEqual([['link', 'show', 'dev', "'l'o"]]);
    expect(read('link show dev lo\0 garbage\n').commands).toEqual([['link', 'show', 'dev', 'lo']]);
    expect(read('link show dev \\\nlo\n').commands).toEqual([['link', 'show', 'dev', 'lo']]);
    expect(read('link show dev lo\\\n').stop).toBe('Missing continuation line');
    expect(readBatch(Buffer.from("link show dev 'lo\n"), true).stop).toBe('Unterminated quoted string');
    expect(read('/x/a\nlink add evil type bridge\n').commands).toEqual([['/x/a'], ['link', 'add', 'evil', 'type', 'bridge']]);
  });
});
