// Many processes at once, and processes killed half way: the store and the kernel stay consistent.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, GINGHAM, ROOT, requirePrivileges } from './cluster.js';
import { addressesOf, bare, bridgeConf } from './confs.js';

requirePrivileges();

const N = 100;

describe('concurrency and crashes', () => {
  const c = new Cluster();
  const node = 'node';

  beforeAll(async () => {
    await c.start();
    await c.addNode(node);
    for (let i = 0; i < N; i++) await c.addNamespace(`p${i}`);
  });
  afterAll(() => c.destroy());

  const ipamDir = (): string => join(c.tmp, `ipam-${node}`, 'testnet');
  const listDir = (d: string): string[] => (existsSync(d) ? readdirSync(d) : []);

  it(`${N} ADDs at once get ${N} distinct addresses, and ${N} DELs at once free them all`, async () => {
    const conf = bridgeConf(c, node, {}, { ranges: [[{ subnet: '198.18.16.0/24' }]] });
    const results = await Promise.all(Array.from({ length: N }, (_, i) => c.add(node, conf, `p${i}`)));
    const ips = results.map((r) => addressesOf(r)[0]);
    expect(new Set(ips).size).toBe(N);
    expect(listDir(join(ipamDir(), 'attachments'))).toHaveLength(N);
    expect((await c.links(node)).filter((l) => l.startsWith('gh-'))).toHaveLength(N);
    // Spot-check the data path at both ends of the allocation.
    expect(await c.ping('p0', bare(ips[N - 1]!))).toBe(true);
    const dels = await Promise.all(Array.from({ length: N }, (_, i) => c.del(node, conf, `p${i}`)));
    expect(dels.map((d) => d.exitCode)).toEqual(Array(N).fill(0));
    expect(listDir(join(ipamDir(), 'attachments'))).toEqual([]);
    expect((await c.links(node)).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.rules(node)).not.toMatch(/GH-/);
  });

  it('kill -9 in the middle of ADD leaves nothing that GC does not clean', async () => {
    const conf = bridgeConf(c, node);
    const env = { CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0', CNI_PATH: join(ROOT, 'bin'), GINGHAM_LOG: join(c.tmp, 'kill.log'), GINGHAM_RUN_DIR: join(c.tmp, 'run') };
    // Kill at spread-out moments of the call: during start-up, IPAM, the host side, the pod side.
    // One at a time, so each kill lands at its own moment of a call that has the machine to itself.
    // Before each, a DEL of an unknown pod takes both locks, waiting out a lock the last victim held.
    const delays = Array.from({ length: 16 }, (_, i) => 28 + 4 * i);
    for (const [i, ms] of delays.entries()) {
      {
        expect((await c.del(node, conf, 'nobody')).exitCode).toBe(0);
        const p = execa('ip', ['netns', 'exec', c.ns(node), GINGHAM], {
          input: JSON.stringify(conf),
          env: { ...env, CNI_CONTAINERID: `${c.prefix}-kill${i}`, CNI_NETNS: c.netnsPath(`p${i}`) },
          extendEnv: false,
          reject: false,
        });
        await new Promise((r) => setTimeout(r, ms));
        // ip netns exec runs gingham as its own process image: signalling the child kills gingham.
        p.kill('SIGKILL');
        await p;
      }
    }
    // Some kills must have struck half way, or this test proves nothing.
    const leftovers = listDir(ipamDir()).length + (await c.links(node)).filter((l) => l.startsWith('gh-')).length;
    expect(leftovers).toBeGreaterThan(0);
    // One pod that must survive GC.
    const keep = await c.add(node, conf, 'p50');
    const gc = await c.cni(node, { ...conf, 'cni.dev/valid-attachments': [{ containerID: `${c.prefix}-p50`, ifname: 'eth0' }] }, { command: 'GC' });
    expect(gc.exitCode, gc.stdout).toBe(0);
    expect(listDir(join(ipamDir(), 'attachments'))).toEqual([`${c.prefix}-p50@eth0`]);
    // Only the kept pod's claim, the lock-free state files and the attachments dir remain.
    const claims = listDir(ipamDir()).filter((n) => !n.startsWith('last_reserved_ip.') && n !== 'attachments');
    expect(claims).toEqual([bare(addressesOf(keep)[0]!)]);
    expect((await c.links(node)).filter((l) => l.startsWith('gh-'))).toHaveLength(1);
    for (let i = 0; i < delays.length; i++) expect(await c.links(`p${i}`)).toEqual(['lo']);
    // GC with nothing valid removes the rest, masquerade chains included.
    const gc2 = await c.cni(node, { ...conf, 'cni.dev/valid-attachments': [] }, { command: 'GC' });
    expect(gc2.exitCode, gc2.stdout).toBe(0);
    expect(listDir(join(ipamDir(), 'attachments'))).toEqual([]);
    expect((await c.links(node)).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.rules(node)).not.toMatch(/GH-/);
  });
});
