import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code } from '../cni/errors.js';
import type { Obj } from '../cni/validate.js';
import { type IpamConfig, parseIpamConfig } from './config.js';
import { type IpamRequest, ipamAdd, ipamCheck, ipamDel, ipamGc, ipamStatus, readResolvConf } from './ipam.js';
import { Store } from './store.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'gingham-ipam-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const NET = 'pods';
const cfgOf = (ipam: Obj): IpamConfig => parseIpamConfig({ ...ipam, dataDir });
const v4 = (): IpamConfig => cfgOf({ subnet: '198.18.0.0/24', routes: [{ dst: '0.0.0.0/0' }] });
/** 198.18.0.2 - 198.18.0.6: five addresses. */
const tiny = (): IpamConfig => cfgOf({ subnet: '198.18.0.0/29' });
const req = (containerId: string, extra: Partial<IpamRequest> = {}): IpamRequest => ({ network: NET, containerId, ifName: 'eth0', requested: [], ...extra });
const addrOf = async (cfg: IpamConfig, r: IpamRequest): Promise<string[]> => (await ipamAdd(cfg, r)).ips.map((i) => i.address);
const store = (): Store => new Store(dataDir, NET);
const cniError = (code: number, msg?: RegExp): unknown => expect.objectContaining({ name: 'CniError', code, ...(msg ? { message: expect.stringMatching(msg) } : {}) });

describe('ipamAdd', () => {
  it('gives the first free address with gateway, prefix and the routes', async () => {
    const result = await ipamAdd(v4(), req('a'));
    expect(result).toEqual({ ips: [{ address: '198.18.0.2/24', gateway: '198.18.0.1' }], routes: [{ dst: '0.0.0.0/0' }] });
  });

  it('records the reservation with the pod names', async () => {
    await ipamAdd(v4(), req('a', { podNamespace: 'default', podName: 'web' }));
    expect(store().get({ containerId: 'a', ifName: 'eth0' })).toMatchObject({ containerId: 'a', ifName: 'eth0', ips: ['198.18.0.2/24'], podNamespace: 'default', podName: 'web' });
  });

  it('gives one address per range set (dual stack)', async () => {
    const cfg = cfgOf({ ranges: [[{ subnet: '198.18.0.0/24' }], [{ subnet: 'fd42:18::/64' }]] });
    expect((await ipamAdd(cfg, req('a'))).ips).toEqual([
      { address: '198.18.0.2/24', gateway: '198.18.0.1' },
      { address: 'fd42:18::2/64', gateway: 'fd42:18::1' },
    ]);
  });

  it('hands out distinct addresses to 30 concurrent ADDs', async () => {
    const cfg = v4();
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => addrOf(cfg, req(`c${i}`))));
    const flat = all.flat();
    expect(flat).toHaveLength(30);
    expect(new Set(flat).size).toBe(30);
    expect(store().list()).toHaveLength(30);
  });

  it('gives a repeated ADD of the same attachment the same addresses', async () => {
    const cfg = cfgOf({ ranges: [[{ subnet: '198.18.0.0/24' }], [{ subnet: 'fd42:18::/64' }]] });
    const first = await addrOf(cfg, req('a'));
    const again = await addrOf(cfg, req('a'));
    expect(again).toEqual(first);
    expect(store().list()).toHaveLength(1);
    // Another interface of the same container is another attachment.
    expect(await addrOf(cfg, req('a', { ifName: 'net1' }))).not.toEqual(first);
  });

  it('does not hand a released address out again straight away', async () => {
    const cfg = v4();
    expect(await addrOf(cfg, req('a'))).toEqual(['198.18.0.2/24']);
    await ipamDel(cfg, NET, { containerId: 'a', ifName: 'eth0' });
    expect(await addrOf(cfg, req('b'))).toEqual(['198.18.0.3/24']);
  });

  describe('static requests', () => {
    it('gives the requested address, with or without prefix', async () => {
      const cfg = v4();
      expect(await addrOf(cfg, req('a', { requested: ['198.18.0.50'] }))).toEqual(['198.18.0.50/24']);
      expect(await addrOf(cfg, req('b', { requested: ['198.18.0.51/24'] }))).toEqual(['198.18.0.51/24']);
    });

    it('does not move the search hint', async () => {
      const cfg = v4();
      await ipamAdd(cfg, req('a', { requested: ['198.18.0.50'] }));
      expect(await addrOf(cfg, req('b'))).toEqual(['198.18.0.2/24']);
    });

    it('fails with code 100 when someone else holds it', async () => {
      const cfg = v4();
      await ipamAdd(cfg, req('a', { requested: ['198.18.0.50'] }));
      await expect(ipamAdd(cfg, req('b', { requested: ['198.18.0.50'] }))).rejects.toThrow(cniError(Code.AddressUnavailable, /198\.18\.0\.50 is held by a\/eth0/));
      expect(store().get({ containerId: 'b', ifName: 'eth0' })).toBeUndefined();
    });

    it('repairs a torn claim that blocks the requested address', async () => {
      const cfg = v4();
      await ipamAdd(cfg, req('a')); // creates the store
      writeFileSync(join(store().dir, '198.18.0.50'), '');
      expect(await addrOf(cfg, req('b', { requested: ['198.18.0.50'] }))).toEqual(['198.18.0.50/24']);
    });

    it.each([
      ['outside every range', '198.19.0.5'],
      ['the gateway', '198.18.0.1'],
      ['the network address', '198.18.0.0'],
      ['the broadcast address', '198.18.0.255'],
      ['of a family with no range', 'fd42:18::5'],
    ])('fails with code 100 for an address %s', async (_what, addr) => {
      await expect(ipamAdd(v4(), req('a', { requested: [addr] }))).rejects.toThrow(cniError(Code.AddressUnavailable, /not an allocatable address/));
    });

    it('fails with code 100 for an excluded address', async () => {
      const cfg = cfgOf({ subnet: '198.18.0.0/24', exclude: ['198.18.0.50'] });
      await expect(ipamAdd(cfg, req('a', { requested: ['198.18.0.50'] }))).rejects.toThrow(cniError(Code.AddressUnavailable));
    });

    it('rejects a request that is not an address, or two in one set, with code 7', async () => {
      await expect(ipamAdd(v4(), req('a', { requested: ['ten'] }))).rejects.toThrow(cniError(Code.InvalidConfig, /"ten" is not an IP address/));
      await expect(ipamAdd(v4(), req('a', { requested: ['198.18.0.5', '198.18.0.6'] }))).rejects.toThrow(cniError(Code.InvalidConfig, /two requested addresses/));
    });

    it('takes a static address in one set and allocates in the other', async () => {
      const cfg = cfgOf({ ranges: [[{ subnet: '198.18.0.0/24' }], [{ subnet: 'fd42:18::/64' }]] });
      expect(await addrOf(cfg, req('a', { requested: ['fd42:18::99'] }))).toEqual(['198.18.0.2/24', 'fd42:18::99/64']);
    });

    it('replaces the reservation when a repeated ADD asks for other addresses', async () => {
      const cfg = v4();
      await ipamAdd(cfg, req('a'));
      expect(await addrOf(cfg, req('a', { requested: ['198.18.0.60'] }))).toEqual(['198.18.0.60/24']);
      expect(store().isClaimed('198.18.0.2')).toBe(false);
      expect(store().list()).toHaveLength(1);
      // Asking again for what it holds keeps it.
      expect(await addrOf(cfg, req('a', { requested: ['198.18.0.60'] }))).toEqual(['198.18.0.60/24']);
    });
  });

  it('fails with code 100 when the range is full', async () => {
    const cfg = tiny();
    for (let i = 0; i < 5; i++) await ipamAdd(cfg, req(`c${i}`));
    await expect(ipamAdd(cfg, req('more'))).rejects.toThrow(cniError(Code.AddressUnavailable, /no free address in range set 0 \(198\.18\.0\.1-198\.18\.0\.6\)/));
  });

  it('repairs a range that only looks full', async () => {
    const cfg = tiny();
    for (let i = 0; i < 4; i++) await ipamAdd(cfg, req(`c${i}`));
    const dir = store().dir;
    writeFileSync(join(dir, '198.18.0.6'), ''); // a torn claim left by a crash
    writeFileSync(join(dir, '.tmp-99999999-2'), '{}'); // pid beyond pid_max: its writer is dead
    expect(await addrOf(cfg, req('more'))).toEqual(['198.18.0.6/29']);
    expect(readdirSync(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('reads dns from resolvConf', async () => {
    const resolv = join(dataDir, 'resolv.conf');
    writeFileSync(resolv, 'nameserver 198.18.64.10\nsearch a.svc b.svc\noptions ndots:5\n');
    const result = await ipamAdd(cfgOf({ subnet: '198.18.0.0/24', resolvConf: resolv }), req('a'));
    expect(result.dns).toEqual({ nameservers: ['198.18.64.10'], search: ['a.svc', 'b.svc'], options: ['ndots:5'] });
  });
});

describe('a failed ADD leaks nothing (issue 14)', () => {
  it('an unreadable resolvConf fails the ADD (code 5) and leaves no reservation', async () => {
    const cfg = cfgOf({ subnet: '198.18.0.0/24', resolvConf: join(dataDir, 'no-such-resolv.conf') });
    for (let i = 0; i < 3; i++) await expect(ipamAdd(cfg, req(`c${i}`))).rejects.toThrow(cniError(Code.IoFailure, /resolvConf/));
    expect(store().list()).toEqual([]);
    expect(existsSync(store().dir) ? readdirSync(store().dir).filter((n) => /^\d/.test(n)) : []).toEqual([]);
  });

  it('a resolvConf that is a FIFO fails at once instead of blocking', async () => {
    const fifo = join(dataDir, 'resolv.fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    await expect(ipamAdd(cfgOf({ subnet: '198.18.0.0/24', resolvConf: fifo }), req('a'))).rejects.toThrow(cniError(Code.IoFailure, /not a regular file/));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(store().list()).toEqual([]);
  });

  it('a call that times out releases what it reserved', async () => {
    const { withDeadline } = await import('../cni/deadline.js');
    const cfg = v4();
    const hung = (): Promise<never> => ipamAdd(cfg, req('a')).then(() => new Promise<never>(() => undefined));
    await expect(withDeadline(0.05, hung)).rejects.toThrow(cniError(Code.TryAgainLater, /did not finish within/));
    expect(store().list()).toEqual([]);
  });
});

describe('ipamDel', () => {
  it('releases the reservation, and is fine when there is none', async () => {
    const cfg = v4();
    await ipamAdd(cfg, req('a'));
    await ipamDel(cfg, NET, { containerId: 'a', ifName: 'eth0' });
    expect(store().list()).toEqual([]);
    expect(store().isClaimed('198.18.0.2')).toBe(false);
    await expect(ipamDel(cfg, NET, { containerId: 'a', ifName: 'eth0' })).resolves.toBeUndefined();
  });
});

describe('ipamCheck', () => {
  it('passes when the reservation holds the prevResult addresses', async () => {
    const cfg = v4();
    const result = await ipamAdd(cfg, req('a'));
    await expect(ipamCheck(cfg, NET, { containerId: 'a', ifName: 'eth0' }, result)).resolves.toBeUndefined();
    await expect(ipamCheck(cfg, NET, { containerId: 'a', ifName: 'eth0' })).resolves.toBeUndefined();
  });

  it('fails with code 5 without a reservation', async () => {
    await expect(ipamCheck(v4(), NET, { containerId: 'a', ifName: 'eth0' })).rejects.toThrow(cniError(Code.IoFailure, /no IPAM reservation for a\/eth0/));
  });

  it('fails with code 5 when a prevResult address of our ranges is not reserved', async () => {
    const cfg = v4();
    await ipamAdd(cfg, req('a'));
    const prev = { ips: [{ address: '198.18.0.9/24' }] };
    await expect(ipamCheck(cfg, NET, { containerId: 'a', ifName: 'eth0' }, prev)).rejects.toThrow(cniError(Code.IoFailure, /198\.18\.0\.9\/24 is not reserved/));
  });

  it('ignores prevResult addresses outside our ranges (another plugin gave them)', async () => {
    const cfg = v4();
    await ipamAdd(cfg, req('a'));
    await expect(ipamCheck(cfg, NET, { containerId: 'a', ifName: 'eth0' }, { ips: [{ address: '198.19.9.9/24' }] })).resolves.toBeUndefined();
  });
});

describe('ipamGc', () => {
  it('releases every reservation but the valid attachments', async () => {
    const cfg = v4();
    for (const c of ['a', 'b', 'c']) await ipamAdd(cfg, req(c));
    const gone = await ipamGc(cfg, NET, [{ containerId: 'b', ifName: 'eth0' }]);
    expect(gone.map((r) => r.containerId).sort()).toEqual(['a', 'c']);
    expect(store().list().map((r) => r.containerId)).toEqual(['b']);
    expect(store().isClaimed('198.18.0.2')).toBe(false);
    expect(store().isClaimed('198.18.0.3')).toBe(true);
    expect(store().isClaimed('198.18.0.4')).toBe(false);
  });

  it('matches on container ID and interface together', async () => {
    const cfg = v4();
    await ipamAdd(cfg, req('a'));
    const gone = await ipamGc(cfg, NET, [{ containerId: 'a', ifName: 'net1' }]);
    expect(gone.map((r) => r.containerId)).toEqual(['a']);
  });

  it('also removes claims left by a crash', async () => {
    const cfg = v4();
    await ipamAdd(cfg, req('a'));
    writeFileSync(join(store().dir, '198.18.0.77'), '');
    await ipamGc(cfg, NET, [{ containerId: 'a', ifName: 'eth0' }]);
    expect(store().isClaimed('198.18.0.77')).toBe(false);
    expect(store().isClaimed('198.18.0.2')).toBe(true);
  });
});

describe('ipamStatus', () => {
  it('passes while an address is free', async () => {
    const cfg = tiny();
    for (let i = 0; i < 4; i++) await ipamAdd(cfg, req(`c${i}`));
    await expect(ipamStatus(cfg, NET)).resolves.toBeUndefined();
  });

  it('fails with code 50 when a range set is full', async () => {
    const cfg = tiny();
    for (let i = 0; i < 5; i++) await ipamAdd(cfg, req(`c${i}`));
    await expect(ipamStatus(cfg, NET)).rejects.toThrow(cniError(Code.NotAvailable, /network pods: no free address in range set 0/));
  });

  it('counts excluded addresses as unavailable', async () => {
    const cfg = cfgOf({ subnet: '198.18.0.0/29', exclude: ['198.18.0.0/29'] });
    await expect(ipamStatus(cfg, NET)).rejects.toThrow(cniError(Code.NotAvailable));
  });
});

describe('readResolvConf', () => {
  it('reads nameserver, domain, search and options lines', () => {
    const path = join(dataDir, 'resolv.conf');
    writeFileSync(path, '# comment\nnameserver 1.1.1.1\nnameserver  fd42:18::53 \ndomain example.com\nsearch a b\nsearch c\noptions ndots:2\noptions edns0\n');
    expect(readResolvConf(path)).toEqual({ nameservers: ['1.1.1.1', 'fd42:18::53'], domain: 'example.com', search: ['c'], options: ['ndots:2', 'edns0'] });
  });

  it('fails with code 5 for a missing file', () => {
    expect(() => readResolvConf(join(dataDir, 'nope'))).toThrow(cniError(Code.IoFailure, /ipam.resolvConf: cannot read/));
  });
});
