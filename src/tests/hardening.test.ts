// The CNI edge against an attacker's and a careless operator's input (issue 14), on the real binary
// in a test node: nothing untrusted reaches the node, a failed call leaves nothing, no call hangs.
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type CniCall, REF_CNI, requirePrivileges } from './cluster.js';
import { type Conf, bridgeConf } from './confs.js';

requirePrivileges();

describe('hardening at the CNI edge', () => {
  const c = new Cluster();
  const node = 'node';
  const mounts: string[] = [];

  beforeAll(async () => {
    await c.start();
    await c.addNode(node);
    await c.addNamespace('pod');
  });
  afterAll(async () => {
    for (const m of mounts.reverse()) await execa('umount', [m], { reject: false });
    await c.destroy();
  });

  const ipamDir = (): string => join(c.tmp, `ipam-${node}`);
  const reservations = (network = 'testnet'): string[] => {
    const dir = join(ipamDir(), network, 'attachments');
    return existsSync(dir) ? readdirSync(dir) : [];
  };
  const call = (conf: Conf, over: Partial<CniCall> = {}): ReturnType<Cluster['cni']> =>
    c.cni(node, conf, { command: 'ADD', containerId: `${c.prefix}-pod`, ifName: 'eth0', netns: c.netnsPath('pod'), ...over });

  /** A failed call: one error JSON with this code, nothing of ours in node or pod, no reservation. */
  async function expectCleanFailure(r: Awaited<ReturnType<Cluster['cni']>>, code: number): Promise<void> {
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout.trim().split('\n'), r.stdout).toHaveLength(1);
    expect(r.json?.['code'], r.stdout).toBe(code);
    expect((await c.links(node)).filter((l) => l !== 'lo' && l !== 'uplink' && l !== 'gbr0')).toEqual([]);
    expect(await c.links('pod')).toEqual(['lo']);
    expect(reservations()).toEqual([]);
  }

  it('defect 1: a CNI_NETNS with a newline (both paths a real netns) is refused, no "evil" in the node', async () => {
    const dir = join(c.tmp, 'ns');
    mkdirSync(dir);
    const short = join(dir, 'a');
    const evil = `${short}\nlink add evil type bridge`;
    for (const p of [short, evil]) {
      writeFileSync(p, '');
      await execa('mount', ['--bind', c.netnsPath('pod'), p]);
      mounts.push(p);
    }
    const r = await call(bridgeConf(c, node), { netns: evil });
    await expectCleanFailure(r, 4);
    expect(r.json?.['msg']).toMatch(/CNI_NETNS/);
    expect(await c.links(node)).not.toContain('evil');
  });

  it('defect 2: the plugin\'s own netns (/proc/self/ns/net) is refused, no address or route on the node', async () => {
    const before = await c.exec(node, ['ip', '-j', 'addr', 'show']);
    const routes = await c.exec(node, ['ip', 'route', 'show', 'table', 'all']);
    const r = await call(bridgeConf(c, node), { netns: '/proc/self/ns/net' });
    await expectCleanFailure(r, 4);
    expect(r.json?.['msg']).toMatch(/own network namespace/);
    expect(await c.exec(node, ['ip', '-j', 'addr', 'show'])).toBe(before);
    expect(await c.exec(node, ['ip', 'route', 'show', 'table', 'all'])).toBe(routes);
    expect(await c.exec(node, ['ip', 'route', 'show', 'table', 'all'])).not.toMatch(/198\.18\.16\./);
  });

  it('defect 3: an unreadable resolvConf leaks no reservation, with gingham as the main plugin', async () => {
    for (let i = 0; i < 3; i++) await expectCleanFailure(await call(bridgeConf(c, node, {}, { resolvConf: join(c.tmp, 'no-such-resolv.conf') })), 5);
  });

  it.each(['/proc/self/ns/net', '/no/such/resolv.conf'])('defect 3: … nor in IPAM mode under the reference bridge (resolvConf %s)', async (resolvConf) => {
    const conf = { cniVersion: '1.0.0', name: 'refnet', type: 'bridge', bridge: 'grb0', ipam: { type: 'gingham', dataDir: ipamDir(), ranges: [[{ subnet: '198.18.17.0/24' }]], resolvConf } };
    const ref = (command: string): ReturnType<Cluster['cni']> =>
      c.cni(node, conf, { command, containerId: `${c.prefix}-pod`, ifName: 'eth0', netns: c.netnsPath('pod') }, join(REF_CNI, 'bridge'));
    for (let i = 0; i < 3; i++) {
      const r = await ref('ADD');
      expect(r.exitCode, r.stdout).not.toBe(0);
      expect(r.json?.['msg'], r.stdout).toMatch(/resolvConf/);
      expect(reservations('refnet')).toEqual([]);
      // The reference bridge leaves its veth after a failed IPAM ADD; its DEL removes it.
      expect((await ref('DEL')).exitCode).toBe(0);
    }
    await c.exec(node, ['ip', 'link', 'del', 'grb0']);
  });

  it.each(['e#x', "'ab'", '"ab"', '-', 'a\\b'])('defect 4: CNI_IFNAME %j is refused (code 4) and no peer appears in the node', async (ifName) => {
    const r = await call(bridgeConf(c, node), { ifName });
    await expectCleanFailure(r, 4);
    expect(r.json?.['msg']).toMatch(/CNI_IFNAME/);
    expect(await c.links(node)).not.toContain('e');
  });

  it('defect 4: the name in the result is the kernel\'s', async () => {
    const conf = bridgeConf(c, node);
    const res = await c.add(node, conf, 'pod', 'net-1_x.y');
    expect((res['interfaces'] as { name: string; sandbox?: string }[]).filter((i) => i.sandbox).map((i) => i.name)).toEqual(['net-1_x.y']);
    expect(await c.links('pod')).toContain('net-1_x.y');
    expect((await c.del(node, conf, 'pod', 'net-1_x.y')).exitCode).toBe(0);
    expect(reservations()).toEqual([]);
  });

  it('defect 8: CNI_ARGS with IP= twice is refused with code 4', async () => {
    await expectCleanFailure(await call(bridgeConf(c, node), { args: 'IP=198.18.16.50;IP=198.18.16.51' }), 4);
  });

  it.each<[string, Conf]>([
    ['a /0 subnet', { ranges: [[{ subnet: '0.0.0.0/0' }]] }],
    ['dataDir ""', { dataDir: '' }],
    ['a relative dataDir', { dataDir: 'ipam' }],
  ])('defect 8: %s is refused with code 7', async (_what, ipam) => {
    await expectCleanFailure(await call(bridgeConf(c, node, {}, ipam)), 7);
    expect(existsSync(join(c.tmp, 'ipam'))).toBe(false);
  });

  /** The call must end with its JSON well within `ms`. */
  async function bounded(ms: number, conf: Conf, over: Partial<CniCall> = {}): ReturnType<Cluster['cni']> {
    const t0 = performance.now();
    const r = await call(conf, over);
    expect(performance.now() - t0).toBeLessThan(ms);
    expect(r.stdout.trim().split('\n'), r.stdout).toHaveLength(1);
    return r;
  }

  it('defect 6: a dataDir under /proc is refused at once', async () => {
    const r = await bounded(5000, bridgeConf(c, node, {}, { dataDir: '/proc/gingham-test/ipam' }));
    expect(r.json?.['code']).toBe(7);
  });

  it('defect 6: a dataDir that reaches /proc through a symlink fails at once instead of spinning', async () => {
    const link = join(c.tmp, 'to-proc');
    symlinkSync('/proc', link);
    const r = await bounded(5000, bridgeConf(c, node, {}, { dataDir: join(link, 'a', 'b') }));
    expect(r.exitCode).not.toBe(0);
    expect(await c.links('pod')).toEqual(['lo']);
  });

  it('defect 6: a logFile that is a FIFO never blocks a call (no reader, and a reader that does not read)', async () => {
    const fifo = join(c.tmp, 'log.fifo');
    await execa('mkfifo', [fifo]);
    const conf = bridgeConf(c, node, { logFile: fifo });
    expect((await bounded(5000, conf, { command: 'STATUS' })).exitCode).toBe(0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      expect((await bounded(5000, conf, { command: 'STATUS' })).exitCode).toBe(0);
    } finally {
      closeSync(reader);
    }
  });

  it('defect 6: a hung delegated IPAM is cut off at GINGHAM_CNI_TIMEOUT with code 11, nothing left', async () => {
    const bin = join(c.tmp, 'slowbin');
    mkdirSync(bin);
    const pidFile = join(c.tmp, 'slow-ipam.pid');
    writeFileSync(join(bin, 'slow-ipam'), `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 8\n`);
    chmodSync(join(bin, 'slow-ipam'), 0o755);
    const conf = { ...bridgeConf(c, node), ipam: { type: 'slow-ipam' } };
    const r = await bounded(4000, conf, { path: bin, env: { GINGHAM_CNI_TIMEOUT: '1' } });
    await expectCleanFailure(r, 11);
    expect(r.json?.['msg']).toMatch(/did not finish within 1 s/);
    // The hung delegate was killed with the call, not left running (gone, or a zombie that the
    // reaper of this machine has not collected yet).
    const stat = `/proc/${Number(readFileSync(pidFile, 'utf8'))}/stat`;
    await new Promise((ok) => setTimeout(ok, 100));
    if (existsSync(stat)) expect(readFileSync(stat, 'utf8').replace(/^.*\) /s, '')[0]).toBe('Z');
  });

  it('the log rotates at logMaxBytes, keeps logKeep files, and 40 processes at once corrupt no line', async () => {
    const dir = join(c.tmp, 'logs');
    const logFile = join(dir, 'cni.log');
    const conf = bridgeConf(c, node, { logFile, logMaxBytes: 2048, logKeep: 2 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => call(conf, { ifName: `bad#${i}` })));
    expect(results.map((r) => r.json?.['code'])).toEqual(Array(40).fill(4));
    const files = readdirSync(dir).sort();
    expect(files.every((f) => ['cni.log', 'cni.log.1', 'cni.log.2'].includes(f)), files.join(' ')).toBe(true);
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l)) expect(() => JSON.parse(line), line).not.toThrow();
    }
  });
});
