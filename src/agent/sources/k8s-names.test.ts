// The API's formats as the agent checks them: examples at the edges of each rule, and a property
// that whatever a check accepts is made only of characters no text protocol treats specially.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dnsLabelProblem, dnsSubdomainProblem, hostIpText, labelKeyProblem, labelValueProblem, labelsProblem, portNameProblem, readPodCidr, shown } from './k8s-names.js';

const ok = (p: string | undefined): boolean => p === undefined;

describe('names', () => {
  it('a DNS-1123 label: 1-63 of a-z, 0-9, -, alphanumeric at both ends', () => {
    for (const v of ['a', 'kube-system', '0', 'a'.repeat(63), 'x-1']) expect(dnsLabelProblem(v), v).toBeUndefined();
    for (const v of ['', 'A', 'a.b', '-a', 'a-', 'a_b', 'a'.repeat(64), 'é', 'a\n', 'a b', 'p"q', undefined, 7]) expect(dnsLabelProblem(v), String(v)).toBeDefined();
    expect(dnsLabelProblem(undefined)).toBe('missing');
  });

  it('a DNS-1123 subdomain: dot-separated labels, 1-253 characters', () => {
    for (const v of ['a', 'a.b-c.d', 'node-1.example', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`]) expect(dnsSubdomainProblem(v), v).toBeUndefined();
    for (const v of ['', '.a', 'a.', 'a..b', 'a.-b', 'A.b', 'a'.repeat(254), 'a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#', 'p"q', 'a#b', 'a\0']) expect(dnsSubdomainProblem(v), v).toBeDefined();
  });

  it('label keys: [DNS-1123 subdomain/]name, the name 1-63 of A-Za-z0-9._- with alphanumeric ends', () => {
    for (const v of ['app', 'App.Name_1', 'kubernetes.io/metadata.name', 'a/B', `${'p'.repeat(253)}/${'n'.repeat(63)}`]) expect(labelKeyProblem(v), v).toBeUndefined();
    for (const v of ['', '/a', 'a/', 'a/b/c', 'A.io/x', '_a', 'a_', 'a b', 'n'.repeat(64), 'x/y\n', '__proto__', 'a"b', 7]) expect(labelKeyProblem(v), String(v)).toBeDefined();
  });

  it('label values: empty, or 1-63 of A-Za-z0-9._- with alphanumeric ends', () => {
    for (const v of ['', 'a', 'V1.2_3-x', 'v'.repeat(63)]) expect(labelValueProblem(v), v).toBeUndefined();
    for (const v of ['-a', 'a.', 'v'.repeat(64), 'a b', 'a/b', 'a\n', null, 1]) expect(labelValueProblem(v), String(v)).toBeDefined();
    expect(labelsProblem({ app: 'web', 'x.io/t': '' })).toBeUndefined();
    expect(labelsProblem(undefined)).toBeUndefined();
    expect(labelsProblem({ app: 'web', 'a b': 'c' })).toMatch(/label key "a b"/);
    expect(labelsProblem({ app: 5 })).toMatch(/label value 5 is not a string/);
    expect(labelsProblem('app=web')).toMatch(/not a map/);
  });

  it('port names (IANA_SVC_NAME)', () => {
    for (const v of ['http', 'serve-80', 'a1', 'x'.repeat(15)]) expect(portNameProblem(v), v).toBeUndefined();
    for (const v of ['', '80', 'HTTP', '-a', 'a-', 'a--b', 'x'.repeat(16), 'a b', 'a\n']) expect(portNameProblem(v), v).toBeDefined();
  });
});

describe('addresses', () => {
  it('host addresses: IPv4 or IPv6, canonical, never the unspecified address', () => {
    expect(hostIpText('FD42:18:0::2')).toEqual({ text: 'fd42:18::2' });
    expect(hostIpText('198.18.0.2')).toEqual({ text: '198.18.0.2' });
    for (const v of ['0.0.0.0', '::', '198.18.0.2 ', '198.18.0.2/32', '01.2.3.4', '1.2.3.256', 'x', '', 7, undefined]) expect(hostIpText(v), String(v)).toHaveProperty('problem');
  });

  it('pod CIDRs: networks in canonical text, never /0, no host bits', () => {
    expect(readPodCidr('FD42:18:129:0::/64')).toMatchObject({ text: 'fd42:18:129::/64' });
    for (const v of ['0.0.0.0/0', '::/0', '198.18.129.1/24', '198.18.129.0/33', '198.18.129.0', '198.18.129.0/24\n', 5]) expect(readPodCidr(v), String(v)).toHaveProperty('problem');
  });
});

describe('problem lines', () => {
  it('quote a refused value, escaped and cut short, so a problem is one short line', () => {
    expect(shown('p"q')).toBe('"p\\"q"');
    expect(shown('a\nb\0')).toBe('"a\\nb\\u0000"');
    expect(shown('x'.repeat(10_000))).toBe(`"${'x'.repeat(64)}"…(10000 characters)`);
    expect(shown(undefined)).toBe('nothing');
    expect(shown([1])).toBe('a list');
    expect(shown(80)).toBe('80');
    expect(shown('é\u2028')).toBe('"\\u00e9\\u2028"');
  });
});

describe('property: whatever is accepted is plain', () => {
  const SEED = 14_2026;
  const anyString = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '.', '_', '/', ' ', '\n', '\0', '"', '#', 'é'), maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ maxLength: 300 }),
  );
  it('names and labels accepted hold only [A-Za-z0-9._/-] and keep within their lengths', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        if (ok(dnsLabelProblem(s))) expect(s).toMatch(/^[a-z0-9-]{1,63}$/);
        if (ok(dnsSubdomainProblem(s))) expect(s).toMatch(/^[a-z0-9.-]{1,253}$/);
        if (ok(labelKeyProblem(s))) expect(s).toMatch(/^[A-Za-z0-9._/-]{1,317}$/);
        if (ok(labelValueProblem(s))) expect(s).toMatch(/^[A-Za-z0-9._-]{0,63}$/);
        if (ok(portNameProblem(s))) expect(s).toMatch(/^[a-z0-9-]{1,15}$/);
        const ip = hostIpText(s);
        if ('text' in ip) expect(ip.text).toMatch(/^[0-9a-f.:]+$/);
        const c = readPodCidr(s);
        if ('text' in c) expect(c.text).toMatch(/^[0-9a-f.:]+\/[0-9]+$/);
        expect(shown(s)).toMatch(/^[\x20-\x7e]+$/);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
