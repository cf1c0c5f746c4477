// Options and protocol details that need the kernel to prove: MTU, hairpin, VLAN, runtimeConfig
// capabilities, static addresses, version conversion, delegated IPAM, the binary without Node.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, GINGHAM, REF_CNI, ROOT, requirePrivileges } from './cluster.js';
import { addressesOf, bridgeConf } from './confs.js';

requirePrivileges();

describe('options and protocol details', () => {
  const c = new Cluster();
  const node = 'node';

  beforeAll(async () => {
    await c.start();
    await c.addNode(node);
    for (const p of ['o1', 'o2', 'm1', 's1', 's2', 'v1', 'h1', 'h2']) await c.addNamespace(p);
  });
  afterAll(() => c.destroy());

  it('vlan: applied where the kernel filters VLANs on bridges, else a clear error and nothing left', async () => {
    const conf = bridgeConf(c, node, { name: 'vlan', bridge: 'gvlan0', vlan: 42 }, { ranges: [[{ subnet: '198.18.27.0/24' }]] });
    const probe = await c.sh(['ip', 'netns', 'exec', c.ns(node), 'ip', 'link', 'add', 'gvprobe', 'type', 'bridge', 'vlan_filtering', '1']);
    if (probe.exitCode !== 0) {
      const r = await c.cni(node, conf, { command: 'ADD', containerId: `${c.prefix}-o2`, ifName: 'eth0', netns: c.netnsPath('o2') });
      expect(r.json?.['code']).toBe(101);
      expect(r.json?.['msg']).toMatch(/no bridge VLAN filtering/);
      expect((await c.links(node)).filter((l) => l.startsWith('gh-') || l === 'gvlan0')).toEqual([]);
      expect(await c.links('o2')).toEqual(['lo']);
      return;
    }
    await c.exec(node, ['ip', 'link', 'del', 'gvprobe']);
    const r = await c.add(node, conf, 'o2');
    const veth = (r['interfaces'] as { name: string }[])[1]!.name;
    const vlans = await c.exec(node, ['bridge', '-j', 'vlan', 'show', 'dev', veth]);
    expect(vlans).toMatch(/"vlan":42,"flags":\["PVID","Egress Untagged"\]/);
    expect(vlans).not.toMatch(/"vlan":1,/);
    // The gateway sits in the VLAN too, so the pod still reaches it.
    expect(await c.ping('o2', '198.18.27.1')).toBe(true);
    expect((await c.del(node, conf, 'o2')).exitCode).toBe(0);
  });

  it('mtu, hairpinMode and promiscMode reach the kernel', async () => {
    const conf = bridgeConf(c, node, { name: 'opts', bridge: 'gopt0', mtu: 1400, hairpinMode: true, promiscMode: true }, { ranges: [[{ subnet: '198.18.24.0/24' }]] });
    const r = await c.add(node, conf, 'o1');
    const veth = (r['interfaces'] as { name: string }[])[1]!.name;
    const [pod] = JSON.parse(await c.exec('o1', ['ip', '-j', '-d', 'link', 'show', 'eth0'])) as { mtu: number }[];
    expect(pod!.mtu).toBe(1400);
    const [host] = JSON.parse(await c.exec(node, ['ip', '-j', '-d', 'link', 'show', veth])) as { mtu: number; linkinfo: { info_slave_data: { hairpin: boolean } } }[];
    expect(host!.mtu).toBe(1400);
    expect(host!.linkinfo.info_slave_data.hairpin).toBe(true);
    const [br] = JSON.parse(await c.exec(node, ['ip', '-j', '-d', 'link', 'show', 'gopt0'])) as { mtu: number; promiscuity: number }[];
    expect(br!.mtu).toBe(1400);
    expect(br!.promiscuity).toBeGreaterThan(0);
    expect(await c.ping('o1', '198.18.24.1')).toBe(true);
    expect((await c.del(node, conf, 'o1')).exitCode).toBe(0);
  });

  it('runtimeConfig mac and ips, and CNI_ARGS IP=, choose the MAC and the addresses', async () => {
    const conf = { ...bridgeConf(c, node), runtimeConfig: { mac: '02:42:c0:ff:ee:01', ips: ['198.18.16.77/24'] } };
    const r = await c.add(node, conf, 'm1');
    expect(addressesOf(r)).toEqual(['198.18.16.77/24']);
    expect((r['interfaces'] as { mac: string }[])[2]!.mac).toBe('02:42:c0:ff:ee:01');
    expect(await c.exec('m1', ['cat', '/sys/class/net/eth0/address'])).toBe('02:42:c0:ff:ee:01');
    const s = await c.add(node, bridgeConf(c, node), 's1', 'eth0', { args: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=198.18.16.88' });
    expect(addressesOf(s)).toEqual(['198.18.16.88/24']);
    // Taken already: a clear error naming the holder, nothing created.
    const taken = await c.cni(node, bridgeConf(c, node), { command: 'ADD', containerId: `${c.prefix}-s2`, ifName: 'eth0', netns: c.netnsPath('s2'), args: 'IP=198.18.16.88' });
    expect(taken.json?.['code']).toBe(100);
    expect(taken.json?.['msg']).toContain(`held by ${c.prefix}-s1/eth0`);
    expect(await c.links('s2')).toEqual(['lo']);
    const list = await execa(GINGHAM, ['ipam', '--data-dir', join(c.tmp, `ipam-${node}`)]);
    expect(list.stdout).toMatch(/testnet\s+198\.18\.16\.88\/24\s+\S+s1\s+eth0\s+\/web/);
    for (const p of ['m1', 's1']) expect((await c.del(node, bridgeConf(c, node), p)).exitCode).toBe(0);
  });

  it('results are converted to the version asked for', async () => {
    const conf = { ...bridgeConf(c, node), cniVersion: '0.3.1' };
    const r = await c.add(node, conf, 'v1');
    expect(r['cniVersion']).toBe('0.3.1');
    expect(r['ips']).toEqual([{ version: '4', address: expect.stringMatching(/^198\.18\.16\./), gateway: '198.18.16.1', interface: 2 }]);
    expect((await c.del(node, conf, 'v1')).exitCode).toBe(0);
    const v = await c.cni(node, '', { command: 'VERSION' });
    expect(v.json).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('delegates to host-local and static IPAM by exec through CNI_PATH', async () => {
    // Debian's reference plugins speak CNI up to 1.0.0.
    const hl = bridgeConf(c, node, { name: 'hlnet', bridge: 'ghl0', cniVersion: '1.0.0' });
    hl['ipam'] = { type: 'host-local', dataDir: join(c.tmp, 'hl'), ranges: [[{ subnet: '198.18.25.0/24' }]] };
    const a = await c.add(node, hl, 'h1', 'eth0', { path: `${join(ROOT, 'bin')}:${REF_CNI}` });
    expect(addressesOf(a)).toEqual(['198.18.25.2/24']);
    expect(await c.ping('h1', '198.18.25.1')).toBe(true);
    const st = bridgeConf(c, node, { name: 'stnet', bridge: 'gst0', cniVersion: '1.0.0' });
    st['ipam'] = { type: 'static', addresses: [{ address: '198.18.26.9/24', gateway: '198.18.26.1' }] };
    const b = await c.add(node, st, 'h2', 'eth0', { path: `${join(ROOT, 'bin')}:${REF_CNI}` });
    expect(addressesOf(b)).toEqual(['198.18.26.9/24']);
    expect(await c.ping('h2', '198.18.26.1')).toBe(true);
    for (const [conf, pod] of [[hl, 'h1'], [st, 'h2']] as const) {
      const d = await c.cni(node, conf, { command: 'DEL', containerId: `${c.prefix}-${pod}`, ifName: 'eth0', netns: c.netnsPath(pod), path: `${join(ROOT, 'bin')}:${REF_CNI}` });
      expect(d.exitCode, d.stdout).toBe(0);
    }
    expect(await c.rules(node)).not.toMatch(/GH-/);
  });

  it('the binary runs where no Node is installed', async () => {
    const dir = mkdtempSync(join(tmpdir(), `${c.prefix}-bin-`));
    try {
      copyFileSync(GINGHAM, join(dir, 'gingham'));
      await execa('chmod', ['755', join(dir, 'gingham')]);
      const env = { PATH: dir, HOME: dir };
      await expect(execa('/bin/sh', ['-c', 'command -v node'], { env, extendEnv: false, reject: false })).resolves.toMatchObject({ exitCode: 127 });
      const v = await execa(join(dir, 'gingham'), ['version'], { env, extendEnv: false });
      expect(v.stdout).toMatch(/^gingham \d+\.\d+\.\d+ .*\nCNI spec 1\.1\.0/);
      const cni = await execa(join(dir, 'gingham'), [], { env: { ...env, CNI_COMMAND: 'VERSION' }, extendEnv: false, input: '{"cniVersion":"1.1.0"}' });
      expect(JSON.parse(cni.stdout)).toMatchObject({ supportedVersions: expect.arrayContaining(['1.1.0']) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
