// fast-check generators for the CNI fuzz (fuzz-cni.test.ts): network configs as mutations of a
// working bridge config or IPAM-mode config (wrong types, huge numbers, odd CIDRs, hostile paths and
// strings), and CNI_* environments (odd verbs, names, netns paths, CNI_ARGS). Every path a config
// can name lies under the fuzz's own directories, or is a harmless special file: the binary runs as
// root on the VM's filesystem.
import fc from 'fast-check';

/** Where the generated paths point; made by the test before the first case. */
export interface FuzzPaths {
  /** Absolute dataDirs live under here. */
  data: string;
  /** Log files (logFile) live under here; the fuzz does not compare it. */
  logs: string;
  /** Read-only fixtures: resolv.conf, a FIFO, a directory. */
  fix: string;
  /** The call's working directory (relative paths land here). */
  cwd: string;
  /** Directory of the gingham binary, for CNI_PATH. */
  bin: string;
  /** Bind mounts of the pod's netns: plain, and at odd names. */
  netns: { plain: string; named: string; odd: string[]; injection: string };
  /** The network name of the base configs (dataDir "" falls back to the default dir + this). */
  network: string;
  containerId: string;
}

export type Conf = Record<string, unknown>;

export interface FuzzCase {
  mode: 'bridge' | 'ipam';
  /** stdin: an object, or raw text (not JSON at all). */
  conf: Conf | string;
  env: Record<string, string>;
  /** The case names the plugin's own netns as the pod's (needs a PID namespace, see plugin-run.ts). */
  ownNetns: boolean;
}

export const DELETE = Symbol('delete');
type Mutation = { path: (string | number)[]; value: unknown };

// ---- values ----

const NASTY_STRINGS = [
  '',
  ' ',
  'a b',
  'a\nb',
  'a\rb',
  'a\tb',
  '#',
  'a#b',
  "'ab'",
  '"ab"',
  '\\',
  'a\\nb',
  '-',
  '--',
  '.',
  '..',
  '../../x',
  'a/b',
  'a:b',
  'a;b',
  'a=b',
  '$(id)',
  '`id`',
  'a\u0000b',
  '\u0000',
  'ünï',
  '漢字',
  '🦆',
  '\u202e',
  '\ud800',
  'x'.repeat(16),
  'x'.repeat(300),
  'ü'.repeat(2000),
  'a\nlink add evil type dummy',
  '198.18.16.0/24\n-A INPUT -j ACCEPT',
];

export const nastyString = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  );

const WRONG_TYPES: unknown[] = [0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 4294967296, true, false, null, [], {}, ['x'], { a: 1 }, '', 'true', '1500'];
export const wrongType = (): fc.Arbitrary<unknown> => fc.constantFrom(...WRONG_TYPES);

const odd = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: wrongType() }, { weight: 1, arbitrary: nastyString() });

const octet = fc.integer({ min: 0, max: 255 });
const ip4 = fc.oneof(
  fc.tuple(octet, octet).map(([a, b]) => `198.18.${a}.${b}`),
  fc.constantFrom('0.0.0.0', '255.255.255.255', '198.18.16.1', '198.18.16.255', '198.18.16.50', '198.18.016.5', '198.18.16', '198.18.16.5 ', '::ffff:198.18.16.5'),
);
const ip6 = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((h) => `fd42:18:16::${h.toString(16)}`),
  fc.constantFrom('::', '::1', 'fd42:18:16::', 'fd42:18:16:0:0:0:0:0:1', 'fd42:18:16::1%eth0', 'FD42:18:16::5'),
);
export const ipText = (): fc.Arbitrary<string> => fc.oneof({ weight: 3, arbitrary: ip4 }, { weight: 1, arbitrary: ip6 });

export const cidrText = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 16, max: 31 }), fc.integer({ min: 0, max: 255 })).map(([p, b]) => `198.18.${b}.0/${p}`) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '0.0.0.0/0',
        '128.0.0.0/1',
        '0.0.0.0/1',
        '198.18.16.0/29',
        '198.18.16.0/30',
        '198.18.16.0/31',
        '198.18.16.0/32',
        '198.18.16.0/33',
        '198.18.16.0/-1',
        '198.18.16.0/024',
        '198.18.16.5/24',
        '198.18.16.0',
        '/24',
        '198.18.16.0/24 ',
        '198.18.16.0/24\n',
        '::/0',
        '8000::/1',
        'fd42:18:16::/64',
        'fd42:18:16::/120',
        'fd42:18:16::/127',
        'fd42:18:16::/129',
      ),
    },
    { weight: 1, arbitrary: nastyString() },
  );

const MACS = ['0a:58:c6:12:10:05', '0A:58:C6:12:10:05', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '00:00:00:00:00:00', '0a:58:c6:12:10', '0a-58-c6-12-10-05'];

// ---- paths ----

/** dataDir values: fresh directories, odd names, a FIFO, a file, "", relative, procfs, /dev. */
export const dataDir = (p: FuzzPaths): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(`${p.data}/d`, `${p.data}/d2`) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        `${p.data}/d 2`,
        `${p.data}/d#3`,
        `${p.data}/d\n4`,
        `${p.data}/"q'`,
        `${p.data}/ü/漢`,
        `${p.data}/${'x'.repeat(255)}`,
        `${p.data}/${'x'.repeat(256)}`,
        `${p.data}/${'deep/'.repeat(900)}d`,
        `${p.data}/fifo`,
        `${p.data}/file`,
        `${p.data}/d\u0000x`,
        '',
        'rel-data',
        './rel-data',
        '/proc/gingham-fuzz',
        '/proc/self/gingham-fuzz',
        '/proc/self/fd/gingham-fuzz',
        '/dev/null',
        '/dev/null/x',
      ),
    },
    { weight: 1, arbitrary: wrongType() },
  );

export const logFile = (p: FuzzPaths): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(
      `${p.logs}/l.log`,
      `${p.logs}/fifo`,
      `${p.logs}/dir`,
      `${p.logs}/new\nline.log`,
      `${p.logs}/a/b/c.log`,
      `${p.logs}/${'x'.repeat(256)}`,
      `${p.logs}/l\u0000.log`,
      '',
      '../logs/rel.log',
      '/dev/null',
      '/proc/self/gingham.log',
    ),
    wrongType(),
  );

export const readPath = (p: FuzzPaths): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(`${p.fix}/resolv.conf`, `${p.fix}/fifo`, `${p.fix}/dir`, `${p.fix}/missing`, `${p.fix}/resolv\u0000.conf`, '/proc/self/status', '/proc/self/ns/net', '/dev/null', '', 'resolv.conf'),
    wrongType(),
  );

// ---- configs ----

export function baseConf(p: FuzzPaths, mode: 'bridge' | 'ipam'): Conf {
  const ipam = { type: 'gingham', dataDir: `${p.data}/d`, ranges: [[{ subnet: '198.18.16.0/24' }]] };
  if (mode === 'ipam') return { cniVersion: '1.1.0', name: p.network, type: 'bridge', ipam };
  return { cniVersion: '1.1.0', name: p.network, type: 'gingham', bridge: 'gbr0', isGateway: true, ipMasq: true, ipam };
}

const at = (path: (string | number)[], value: fc.Arbitrary<unknown>): fc.Arbitrary<Mutation> => value.map((v) => ({ path, value: v }));
const drop = (path: (string | number)[]): fc.Arbitrary<Mutation> => fc.constant({ path, value: DELETE });
const bool = (): fc.Arbitrary<unknown> => odd(fc.boolean());
const list = <T>(item: fc.Arbitrary<T>): fc.Arbitrary<unknown> => odd(fc.array(item, { maxLength: 3 }));

function mutation(p: FuzzPaths): fc.Arbitrary<Mutation> {
  const R = ['ipam', 'ranges', 0, 0];
  return fc.oneof(
    // A valid name picks the directory under the default dataDir: it always starts with the fuzz's prefix.
    at(['name'], odd(fc.constantFrom(`${p.network}.b`, `${p.network}_c`, `${p.network}-${'n'.repeat(300)}`)).map((n) => (typeof n === 'string' && /^[A-Za-z0-9]/.test(n) && !n.startsWith(p.network) ? `${p.network}${n}` : n))),
    at(['cniVersion'], odd(fc.constantFrom('1.1.0', '1.0.0', '0.4.0', '0.3.1', '0.3.0', '0.2.0', '1.1.0\n', '2.0.0'))),
    drop(['cniVersion']),
    at(['type'], odd(fc.constantFrom('gingham', 'bridge', 'macvlan'))),
    at(['bridge'], odd(fc.constantFrom('gbr1', 'lo', 'x'.repeat(15), 'brü', 'e#x', "'ab'", 'b-', '-'))),
    at(['unknownKey'], nastyString()),
    ...['isGateway', 'isDefaultGateway', 'forceAddress', 'ipMasq', 'hairpinMode', 'promiscMode', 'isolation', 'internal'].map((k) => at([k], bool())),
    at(['ipMasqExclude'], list(cidrText())),
    at(['mtu'], odd(fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.constantFrom(68, 1280, 9000, 65535, 65536)))),
    at(['vlan'], odd(fc.oneof(fc.integer({ min: -1, max: 5000 }), fc.constantFrom(1, 4094, 4095)))),
    at(['logFile'], logFile(p)),
    at(['dns'], odd(fc.record({ nameservers: list(ipText()), domain: odd(fc.constant('cluster.local')), search: list(nastyString()) }, { requiredKeys: [] }))),
    at(['runtimeConfig'], odd(fc.record({ ips: list(ipText()), mac: odd(fc.constantFrom(...MACS)) }, { requiredKeys: [] }))),
    at(['args'], odd(fc.record({ cni: odd(fc.record({ ips: list(ipText()) })) }))),
    at(['prevResult'], odd(fc.record({ cniVersion: fc.constant('1.1.0'), ips: list(fc.record({ address: cidrText() })) }))),
    at(['cni.dev/valid-attachments'], list(fc.record({ containerID: odd(fc.constant(p.containerId)), ifname: odd(fc.constant('eth0')) }))),
    at(['ipam'], wrongType()),
    at(['ipam', 'type'], odd(fc.constantFrom('gingham', 'host-local', 'no-such-ipam', 'Gingham'))),
    at(['ipam', 'ranges'], odd(fc.constantFrom([], [[]], [[{}]], [[{ subnet: '198.18.16.0/24' }], [{ subnet: 'fd42:18:16::/64' }]], [[{ subnet: '198.18.16.0/24' }, { subnet: '198.18.16.0/25' }]], [[{ subnet: '198.18.16.0/24' }, { subnet: 'fd42:18:16::/64' }]]))),
    at(['ipam', 'subnet'], cidrText()),
    at([...R, 'subnet'], cidrText()),
    at([...R, 'rangeStart'], odd(ipText())),
    at([...R, 'rangeEnd'], odd(ipText())),
    at([...R, 'gateway'], odd(ipText())),
    at(['ipam', 'routes'], list(fc.record({ dst: cidrText(), gw: odd(ipText()) }, { requiredKeys: ['dst'] }))),
    at(['ipam', 'exclude'], list(fc.oneof(ipText(), cidrText()))),
    at(['ipam', 'dataDir'], dataDir(p)),
    at(['ipam', 'resolvConf'], readPath(p)),
  );
}

function apply(conf: Conf, m: Mutation): void {
  let o: unknown = conf;
  for (const k of m.path.slice(0, -1)) {
    if (typeof o !== 'object' || o === null) return;
    o = (o as Record<string | number, unknown>)[k];
  }
  if (typeof o !== 'object' || o === null) return;
  const last = m.path[m.path.length - 1]!;
  if (m.value === DELETE) delete (o as Record<string | number, unknown>)[last];
  else (o as Record<string | number, unknown>)[last] = m.value;
}

export const confArb = (p: FuzzPaths, mode: 'bridge' | 'ipam'): fc.Arbitrary<Conf | string> =>
  fc.oneof(
    {
      weight: 20,
      // Mostly zero or one mutation, so that many ADDs succeed and their DEL is tried too.
      arbitrary: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 4, arbitrary: fc.array(mutation(p), { minLength: 1, maxLength: 1 }) }, { weight: 2, arbitrary: fc.array(mutation(p), { minLength: 2, maxLength: 3 }) }).map((ms) => {
        const conf = structuredClone(baseConf(p, mode));
        for (const m of ms) apply(conf, m);
        return conf;
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '"x"', '{"cniVersion":"1.1.0"}{"a":1}', '\u0000', '{"cniVersion":"1.1.0","name":"a\u0000b","type":"gingham"}') },
  );

// ---- environment ----

/** What execve can carry: no NUL, and UTF-8 (a lone surrogate would arrive as U+FFFD anyway). */
const noNul = (s: string): string => Buffer.from(s.replace(/\u0000/g, ''), 'utf8').toString('utf8');

export function envArb(p: FuzzPaths): fc.Arbitrary<{ env: Record<string, string>; ownNetns: boolean }> {
  const command = fc.oneof(
    { weight: 10, arbitrary: fc.constant('ADD') },
    { weight: 3, arbitrary: fc.constant('DEL') },
    { weight: 2, arbitrary: fc.constantFrom('CHECK', 'GC', 'STATUS') },
    { weight: 1, arbitrary: fc.constantFrom('VERSION', 'add', '', 'ADD ', 'ATTACH') },
  );
  const containerId = fc.oneof({ weight: 10, arbitrary: fc.constant(p.containerId) }, { weight: 1, arbitrary: nastyString() });
  const ifName = fc.oneof(
    { weight: 12, arbitrary: fc.constant('eth0') },
    { weight: 3, arbitrary: fc.constantFrom('e#x', "'ab'", '"ab"', 'a b', '-', '--', 'a\nb', 'ab\\', 'x'.repeat(15), 'x'.repeat(16), 'ünï', '.', '..', 'a/b', 'a:b', 'lo', 'net1', 'eth0 ', '\t') },
    { weight: 1, arbitrary: nastyString() },
  );
  const netns = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(p.netns.plain, p.netns.named) },
    { weight: 3, arbitrary: fc.constantFrom(...p.netns.odd, p.netns.injection) },
    { weight: 2, arbitrary: fc.constantFrom('/proc/self/ns/net', '/proc/1/ns/net', '/proc/self/ns/mnt', '/proc/self/ns/user', '/dev/null', `${p.fix}/missing`, `${p.fix}/dir`, `${p.fix}/resolv.conf`, '', '../ns/plain', '/var/run/netns/') },
  );
  const cniArgs = fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'IgnoreUnknown=1',
        'IP=198.18.16.50',
        'IP=198.18.16.50;IP=198.18.16.51',
        'IP=198.18.16.50,fd42:18:16::5',
        'IP=198.18.16.50,198.18.16.51',
        'IP=',
        'IP=;',
        'IP=0.0.0.0',
        'IP=198.18.16.255',
        'IP=198.18.16.1',
        'IP=198.18.99.9',
        '=x',
        ';;;',
        'K8S_POD_NAME=a;K8S_POD_NAME=b',
        'K8S_POD_NAMESPACE=x"y;K8S_POD_NAME=p#q',
        'IgnoreUnknown=1;FOO=bar\nbaz',
        'IgnoreUnknown=yes',
        'IgnoreUnknown=1;IgnoreUnknown=0;FOO=1',
        'FOO=bar',
        'a=b=c',
        `K8S_POD_NAME=${'p'.repeat(5000)}`,
      ),
    },
    { weight: 1, arbitrary: nastyString() },
  );
  const cniPath = fc.oneof({ weight: 12, arbitrary: fc.constant(p.bin) }, { weight: 1, arbitrary: fc.constantFrom('', '::', `${p.fix}/dir`, `/nonexistent:${p.bin}`, `${p.bin}\n/x`) });
  return fc.record({ command, containerId, ifName, netns, cniArgs, cniPath }).map((e) => {
    const env: Record<string, string> = { CNI_COMMAND: e.command, CNI_CONTAINERID: noNul(e.containerId), CNI_IFNAME: noNul(e.ifName), CNI_NETNS: e.netns, CNI_PATH: noNul(e.cniPath) };
    if (e.cniArgs !== undefined) env['CNI_ARGS'] = noNul(e.cniArgs);
    return { env, ownNetns: e.netns === '/proc/self/ns/net' || e.netns === '/proc/1/ns/net' };
  });
}

export const caseArb = (p: FuzzPaths): fc.Arbitrary<FuzzCase> =>
  fc
    .constantFrom<'bridge' | 'ipam'>('bridge', 'bridge', 'ipam')
    .chain((mode) => fc.record({ conf: confArb(p, mode), e: envArb(p) }).map(({ conf, e }) => ({ mode, conf, env: e.env, ownNetns: e.ownNetns })));
