import { describe, expect, it } from 'vitest';
import { CniError, Code } from './errors.js';
import { LATEST, type Result, SUPPORTED_VERSIONS, isSupported, parseResult, renderResult, versionAtLeast } from './result.js';
import type { Obj } from './validate.js';

const full: Result = {
  interfaces: [
    { name: 'cni0', mac: '02:00:00:00:00:01', mtu: 1400 },
    { name: 'eth0', mac: '02:00:00:00:00:02', mtu: 1400, sandbox: '/var/run/netns/pod' },
  ],
  ips: [
    { address: '198.18.16.5/24', gateway: '198.18.16.1', interface: 1 },
    { address: 'fd42:18::5/64', gateway: 'fd42:18::1', interface: 1 },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '198.18.16.1', mtu: 1300, advmss: 1260, priority: 10, table: 100, scope: 0 },
    { dst: '::/0' },
  ],
  dns: { nameservers: ['198.18.0.10'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
};

const list = (o: Obj, key: string): Obj[] => o[key] as Obj[];

describe('renderResult', () => {
  it.each(['0.3.0', '0.3.1', '0.4.0'])('%s names the family of each address', (v) => {
    const out = renderResult(full, v);
    expect(out['cniVersion']).toBe(v);
    expect(out['ips']).toEqual([
      { version: '4', address: '198.18.16.5/24', gateway: '198.18.16.1', interface: 1 },
      { version: '6', address: 'fd42:18::5/64', gateway: 'fd42:18::1', interface: 1 },
    ]);
  });

  it.each(['0.3.0', '0.3.1', '0.4.0', '1.0.0'])('%s leaves out the 1.1.0 route and interface fields', (v) => {
    const out = renderResult(full, v);
    expect(out['interfaces']).toEqual([
      { name: 'cni0', mac: '02:00:00:00:00:01' },
      { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/var/run/netns/pod' },
    ]);
    expect(out['routes']).toEqual([{ dst: '0.0.0.0/0', gw: '198.18.16.1' }, { dst: '::/0' }]);
  });

  it('1.0.0 drops the version field', () => {
    for (const ipOut of list(renderResult(full, '1.0.0'), 'ips')) expect(ipOut).not.toHaveProperty('version');
  });

  it('1.1.0 carries route mtu/advmss/priority/table/scope and interface mtu', () => {
    const out = renderResult(full, '1.1.0');
    expect(out['routes']).toEqual([{ dst: '0.0.0.0/0', gw: '198.18.16.1', mtu: 1300, advmss: 1260, priority: 10, table: 100, scope: 0 }, { dst: '::/0' }]);
    expect(list(out, 'interfaces').map((i) => i['mtu'])).toEqual([1400, 1400]);
    expect(list(out, 'ips')[0]).toEqual({ address: '198.18.16.5/24', gateway: '198.18.16.1', interface: 1 });
  });

  it('keeps dns and gives an empty one when there is none', () => {
    expect(renderResult(full, '1.1.0')['dns']).toEqual(full.dns);
    expect(renderResult({ ips: [] }, '1.1.0')['dns']).toEqual({});
  });

  it('leaves out what the result does not have', () => {
    const out = renderResult({ ips: [{ address: '198.18.0.2/24' }] }, '1.0.0');
    expect(out).toEqual({ cniVersion: '1.0.0', ips: [{ address: '198.18.0.2/24' }], dns: {} });
  });

  it.each(SUPPORTED_VERSIONS)('%s round-trips through parseResult', (v) => {
    const back = parseResult(renderResult(full, v), 'x');
    expect(back.ips).toEqual(full.ips);
    expect(back.dns).toEqual(full.dns);
    if (v === '1.1.0') expect(back).toEqual(full);
  });
});

describe('parseResult', () => {
  it('reads a 0.3.1 result (version fields ignored)', () => {
    const r = parseResult(
      {
        cniVersion: '0.3.1',
        interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/proc/1/ns/net' }],
        ips: [{ version: '4', address: '198.18.0.2/24', gateway: '198.18.0.1', interface: 0 }],
        routes: [{ dst: '0.0.0.0/0' }],
        dns: { nameservers: ['198.18.0.10'] },
      },
      'prevResult',
    );
    expect(r).toEqual({
      interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/proc/1/ns/net' }],
      ips: [{ address: '198.18.0.2/24', gateway: '198.18.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['198.18.0.10'] },
    });
  });

  it('reads a 1.1.0 result with route and interface extras', () => {
    const r = parseResult(
      { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mtu: 9000 }], ips: [], routes: [{ dst: '198.18.0.0/16', gw: '198.18.0.1', table: 5, scope: 253 }] },
      'x',
    );
    expect(r.interfaces).toEqual([{ name: 'eth0', mtu: 9000 }]);
    expect(r.routes).toEqual([{ dst: '198.18.0.0/16', gw: '198.18.0.1', table: 5, scope: 253 }]);
  });

  it('treats a missing ips as none and leaves out absent lists', () => {
    expect(parseResult({ cniVersion: '1.0.0' }, 'x')).toEqual({ ips: [] });
  });

  it('drops fields of the wrong type', () => {
    const r = parseResult({ ips: [{ address: '198.18.0.2/24', gateway: 7, interface: '0' }], dns: { nameservers: [1], domain: 2, search: 'a', options: ['x'] } }, 'x');
    expect(r).toEqual({ ips: [{ address: '198.18.0.2/24' }], dns: { options: ['x'] } });
  });

  const cases: [string, unknown, string][] = [
    ['not an object', [1], 'prev: not an object'],
    ['null', null, 'prev: not an object'],
    ['ips not a list', { ips: {} }, 'prev: ips is not a list'],
    ['ip without address', { ips: [{ gateway: '198.18.0.1' }] }, 'prev: ips[0] has no address'],
    ['ip not an object', { ips: [{ address: '198.18.0.2/24' }, 'x'] }, 'prev: ips[1] has no address'],
    ['interface without name', { interfaces: [{ mac: '02:00:00:00:00:01' }] }, 'prev: interfaces[0] has no name'],
    ['route without dst', { routes: [{ gw: '198.18.0.1' }] }, 'prev: routes[0] has no dst'],
  ];
  it.each(cases)('rejects %s with code 6', (_name, input, msg) => {
    let err: unknown;
    try {
      parseResult(input, 'prev');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(Code.DecodingFailure);
    expect((err as CniError).message).toBe(msg);
  });
});

describe('versionAtLeast', () => {
  it.each([
    ['1.1.0', '1.0.0', true],
    ['1.0.0', '1.0.0', true],
    ['0.4.0', '1.0.0', false],
    ['0.3.1', '0.3.0', true],
    ['0.3.0', '0.3.1', false],
    // Numeric, not lexicographic.
    ['0.10.0', '0.9.0', true],
    ['0.9.0', '0.10.0', false],
    // Missing parts count as 0.
    ['1.0', '1.0.0', true],
    ['1', '1.0.1', false],
  ])('%s >= %s: %s', (v, min, want) => {
    expect(versionAtLeast(v, min)).toBe(want);
  });
});

describe('isSupported', () => {
  it('knows the five versions and LATEST is one of them', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) expect(isSupported(v)).toBe(true);
    expect(isSupported(LATEST)).toBe(true);
    for (const v of ['0.1.0', '0.2.0', '1.2.0', '9.9.9', '', '1.0']) expect(isSupported(v)).toBe(false);
  });
});
