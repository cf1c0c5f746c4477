// Bad input and failures half way: a CNI error on stdout with the right code, a non-zero exit,
// and nothing left behind (no veth, address, route, rule or reservation).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, requirePrivileges } from './cluster.js';
import { type Conf, bridgeConf } from './confs.js';

requirePrivileges();

describe('failures are clean', () => {
  const c = new Cluster();
  const node = 'node';

  beforeAll(async () => {
    await c.start();
    await c.addNode(node);
    await c.addNamespace('pod');
    await c.addNamespace('busy');
  });
  afterAll(() => c.destroy());

  const reservations = (): string[] => {
    const dir = join(c.tmp, `ipam-${node}`, 'testnet', 'attachments');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  /** Nothing of ours in the node or the pod after a failed call. */
  async function expectNoTrace(): Promise<void> {
    expect((await c.links(node)).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.links('pod')).toEqual(['lo']);
    expect(await c.rules(node)).not.toMatch(/GH-/);
    expect(reservations()).toEqual([]);
  }

  interface Case {
    name: string;
    code: number;
    conf?: Conf | string;
    env?: { containerId?: string; ifName?: string; netns?: string; args?: string; command?: string };
    msg?: RegExp;
  }
  const ok = (): Conf => bridgeConf(c, node);
  const withIpam = (ipam: Conf): Conf => bridgeConf(c, node, {}, ipam);
  const withoutVersion = (): Conf => Object.fromEntries(Object.entries(ok()).filter(([k]) => k !== 'cniVersion'));
  const cases: Case[] = [
    { name: 'stdin is not JSON', code: 6, conf: '{"cniVersion": "1.1.0",' },
    { name: 'cniVersion missing', code: 7, conf: withoutVersion(), msg: /cniVersion/ },
    { name: 'cniVersion too old', code: 1, conf: { ...ok(), cniVersion: '0.2.0' } },
    { name: 'CNI_CONTAINERID missing', code: 4, env: { containerId: '' } },
    { name: 'CNI_IFNAME longer than 15 bytes', code: 4, env: { ifName: 'eth0123456789012' } },
    { name: 'CNI_NETNS does not exist', code: 3, env: { netns: '/var/run/netns/no-such-netns' } },
    { name: 'unknown CNI_ARGS key without IgnoreUnknown', code: 4, env: { args: 'FOO=bar' } },
    { name: 'CNI_COMMAND unknown', code: 4, env: { command: 'ATTACH' } },
    { name: 'subnet with host bits set', code: 7, conf: withIpam({ ranges: [[{ subnet: '198.18.16.5/24' }]] }) },
    { name: 'rangeStart outside the subnet', code: 7, conf: withIpam({ ranges: [[{ subnet: '198.18.16.0/24', rangeStart: '198.18.99.1' }]] }) },
    { name: 'ipMasq on an internal network', code: 7, conf: bridgeConf(c, node, { internal: true, isDefaultGateway: false }) },
    { name: 'bridge name too long', code: 7, conf: bridgeConf(c, node, { bridge: 'a-very-long-bridge-name' }) },
    { name: 'requested IP outside every range', code: 100, env: { args: 'IP=198.18.99.9' } },
    { name: 'CHECK with a 0.3.1 config', code: 1, conf: { ...ok(), cniVersion: '0.3.1' }, env: { command: 'CHECK' } },
    { name: 'delegated IPAM type not on CNI_PATH', code: 7, conf: withIpam({ type: 'no-such-ipam' }) },
    // Kernel failures half way: the address is reserved and links exist when they happen.
    { name: 'pod route through an unreachable gateway (pod side fails)', code: 101, conf: withIpam({ routes: [{ dst: '198.18.200.0/24', gw: '198.18.99.1' }] }) },
  ];

  it.each(cases)('$name -> code $code, nothing left', async ({ conf, code, env, msg }) => {
    const r = await c.cni(node, conf ?? ok(), {
      command: env?.command ?? 'ADD',
      containerId: env?.containerId ?? `${c.prefix}-pod`,
      ifName: env?.ifName ?? 'eth0',
      netns: env?.netns ?? c.netnsPath('pod'),
      ...(env?.args !== undefined ? { args: env.args } : {}),
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.json, `stdout: ${r.stdout}`).toBeDefined();
    expect(r.json?.['code']).toBe(code);
    expect(typeof r.json?.['msg']).toBe('string');
    if (msg) expect(r.json?.['msg']).toMatch(msg);
    // One JSON document and nothing else on stdout.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    await expectNoTrace();
  });

  it('the pod interface name is already taken in the netns (host side fails): nothing left', async () => {
    await c.exec('busy', ['ip', 'link', 'add', 'eth0', 'type', 'bridge']);
    const r = await c.cni(node, ok(), { command: 'ADD', containerId: `${c.prefix}-busy`, ifName: 'eth0', netns: c.netnsPath('busy') });
    expect(r.json?.['code']).toBe(101);
    expect(await c.links('busy')).toEqual(['lo', 'eth0']);
    await expectNoTrace();
  });

  it('an exhausted range fails with code 100 and leaves no veth (the reference leaves one)', async () => {
    // A /30 holds one allocatable address: .1 is the gateway, .3 the broadcast.
    const conf = bridgeConf(c, node, {}, { ranges: [[{ subnet: '198.18.16.0/30' }]] });
    await c.addNamespace('first');
    const first = await c.add(node, conf, 'first');
    expect(first['ips']).toEqual([expect.objectContaining({ address: '198.18.16.2/30' })]);
    const r = await c.cni(node, conf, { command: 'ADD', containerId: `${c.prefix}-pod`, ifName: 'eth0', netns: c.netnsPath('pod') });
    expect(r.json?.['code']).toBe(100);
    expect(await c.links('pod')).toEqual(['lo']);
    expect((await c.links(node)).filter((l) => l.startsWith('gh-'))).toHaveLength(1);
    expect((await c.del(node, conf, 'first')).exitCode).toBe(0);
    await expectNoTrace();
  });
});
