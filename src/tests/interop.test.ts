// gingham among the real ones: the reference plugins from Debian side by side and chained,
// the reference bridge and macvlan using gingham's IPAM, and libcni's own runner, cnitool.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, GINGHAM, REF_CNI, ROOT, requirePrivileges } from './cluster.js';
import { type Conf, bare } from './confs.js';

requirePrivileges();
const CNITOOL = join(ROOT, '.cache', 'bin', 'cnitool');
if (!existsSync(CNITOOL)) throw new Error(`${CNITOOL} missing: run make deps`);

interface Addr {
  ifname: string;
  mtu: number;
  operstate: string;
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}
interface Route {
  dst: string;
  gateway?: string;
  scope?: string;
  protocol?: string;
}

/** The pod's interface and routes, with what differs by nature (MACs, indexes) left out. */
async function podState(c: Cluster, pod: string): Promise<unknown> {
  const [link] = JSON.parse(await c.exec(pod, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])) as Addr[];
  const routes = JSON.parse(await c.exec(pod, ['ip', '-j', 'route', 'show'])) as Route[];
  return {
    mtu: link!.mtu,
    operstate: link!.operstate,
    addrs: link!.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
    routes: routes.map((r) => ({ dst: r.dst, gateway: r.gateway, scope: r.scope, protocol: r.protocol })),
  };
}

/** The result's shape: which interfaces, which has a sandbox, where each IP points. */
function shape(r: Conf): unknown {
  const ifs = r['interfaces'] as { name: string; sandbox?: string; mac?: string }[];
  return {
    cniVersion: r['cniVersion'],
    interfaces: ifs.map((i) => ({ sandbox: i.sandbox !== undefined, mac: typeof i.mac === 'string' })),
    ips: r['ips'],
    routes: r['routes'],
  };
}

describe('interop with the reference plugins and libcni', () => {
  const c = new Cluster();
  let node1 = '';
  const probes: ReturnType<typeof execa>[] = [];

  beforeAll(async () => {
    await c.start();
    node1 = await c.addNode('n1');
    await c.addNode('n2');
    await c.addNode('n3');
    await c.addOutsideHost();
    for (const p of ['ref', 'ours', 'chain', 'rb', 'mv', 't1', 't2']) await c.addNamespace(p);
  });
  afterAll(async () => {
    for (const p of probes) p.kill();
    await Promise.all(probes);
    await c.destroy();
  });

  const common = { cniVersion: '1.0.0', name: 'side', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipMasq: true };
  const subnet = [[{ subnet: '198.18.16.0/24' }]];

  it('the same network through reference bridge + host-local and through gingham: same pod state and result shape', async () => {
    const ref = { ...common, type: 'bridge', ipam: { type: 'host-local', dataDir: join(c.tmp, 'hl'), ranges: subnet } };
    const ours = { ...common, type: 'gingham', ipam: { type: 'gingham', dataDir: join(c.tmp, 'gh'), ranges: subnet } };
    const refResult = await c.add('n1', ref, 'ref', 'eth0', { path: REF_CNI }, `${REF_CNI}/bridge`);
    const ourResult = await c.add('n2', ours, 'ours');
    expect(shape(ourResult)).toEqual(shape(refResult));
    expect(await podState(c, 'ours')).toEqual(await podState(c, 'ref'));
    const refDel = { command: 'DEL', containerId: `${c.prefix}-ref`, ifName: 'eth0', netns: c.netnsPath('ref'), path: REF_CNI };
    expect((await c.cni('n1', ref, refDel, `${REF_CNI}/bridge`)).exitCode).toBe(0);
    expect((await c.del('n2', ours, 'ours')).exitCode).toBe(0);
  });

  it('the chain [gingham, portmap, bandwidth, tuning] from /usr/lib/cni works: a host port reaches the pod', async () => {
    const netdir = join(c.tmp, 'net.d');
    mkdirSync(netdir, { recursive: true });
    writeFileSync(
      join(netdir, '10-chain.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'chain',
        plugins: [
          { type: 'gingham', bridge: 'gchain0', isGateway: true, isDefaultGateway: true, ipMasq: true, ipam: { type: 'gingham', dataDir: join(c.tmp, 'chain-ipam'), ranges: [[{ subnet: '198.18.19.0/24' }]] } },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'bandwidth', ingressRate: 100_000_000, ingressBurst: 1_000_000 },
          { type: 'tuning', sysctl: { 'net.core.somaxconn': '512' } },
        ],
      }),
    );
    const env = {
      NETCONFPATH: netdir,
      CNI_PATH: `${join(ROOT, 'bin')}:${REF_CNI}`,
      CAP_ARGS: JSON.stringify({ portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp' }] }),
      GINGHAM_LOG: join(c.tmp, 'chain.log'),
      GINGHAM_RUN_DIR: join(c.tmp, 'run'),
    };
    const tool = (...args: string[]) => execa('ip', ['netns', 'exec', c.ns('n3'), CNITOOL, ...args], { env, reject: false });
    const add = await tool('add', 'chain', c.netnsPath('chain'));
    expect(add.exitCode, add.stderr + add.stdout).toBe(0);
    probes.push(execa('ip', ['netns', 'exec', c.ns('chain'), GINGHAM, 'probe', 'serve', '--port', '8080'], { reject: false }));
    await new Promise((r) => setTimeout(r, 300));
    // From the outside host to the node's port: DNAT by portmap, no masquerade on the way in.
    const seen = await c.exec('outside', [GINGHAM, 'probe', 'connect', '198.18.0.3', '18080']);
    expect(seen.trim()).toBe('from 198.18.0.254');
    expect(await c.exec('chain', ['cat', '/proc/sys/net/core/somaxconn'])).toBe('512');
    const hostVeth = (await c.links('n3')).find((l) => l.startsWith('gh-'))!;
    expect(await c.exec('n3', ['tc', 'qdisc', 'show', 'dev', hostVeth])).toMatch(/tbf/);
    // No CHECK here: Debian's portmap 1.1.1 fails its own CHECK on an IPv4-only pod ("could not
    // check ipv6 dnat: chain CNI-DN-… not found"). gingham's CHECK is driven by cnitool below.
    const del = await tool('del', 'chain', c.netnsPath('chain'));
    expect(del.exitCode, del.stderr).toBe(0);
    expect((await c.links('n3')).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.rules('n3')).not.toMatch(/GH-|CNI-DN|CNI-HOSTPORT-DNAT -.*18080/);
  });

  it('the reference bridge and macvlan use gingham as their IPAM', async () => {
    const ipam = { type: 'gingham', dataDir: join(c.tmp, 'ipam-as-plugin'), ranges: [[{ subnet: '198.18.21.0/24' }]] };
    const rb = { cniVersion: '1.0.0', name: 'refbr', type: 'bridge', bridge: 'rbr0', isGateway: true, ipam };
    const both = { path: `${join(ROOT, 'bin')}:${REF_CNI}` };
    const r = await c.add('n1', rb, 'rb', 'eth0', both, `${REF_CNI}/bridge`);
    expect((r['ips'] as { address: string }[])[0]!.address).toBe('198.18.21.2/24');
    expect(await c.ping('rb', '198.18.21.1')).toBe(true);
    expect(readdirSync(join(c.tmp, 'ipam-as-plugin', 'refbr', 'attachments'))).toEqual([`${c.prefix}-rb@eth0`]);
    const mv = { cniVersion: '1.0.0', name: 'mvnet', type: 'macvlan', master: 'uplink', mode: 'bridge', ipam: { ...ipam, ranges: [[{ subnet: '198.18.22.0/24' }]] } };
    const m = await c.add('n1', mv, 'mv', 'eth0', both, `${REF_CNI}/macvlan`);
    expect((m['ips'] as { address: string }[])[0]!.address).toBe('198.18.22.2/24');
    for (const [conf, pod] of [[rb, 'rb'], [mv, 'mv']] as const) {
      const d = await c.cni('n1', conf, { command: 'DEL', containerId: `${c.prefix}-${pod}`, ifName: 'eth0', netns: c.netnsPath(pod), ...both }, `${REF_CNI}/${conf.type}`);
      expect(d.exitCode, d.stdout).toBe(0);
    }
    expect(readdirSync(join(c.tmp, 'ipam-as-plugin', 'refbr', 'attachments'))).toEqual([]);
    expect(readdirSync(join(c.tmp, 'ipam-as-plugin', 'mvnet', 'attachments'))).toEqual([]);
  });

  it('cnitool drives ADD, CHECK, STATUS, DEL and GC through a 1.1.0 conflist with its result cache', async () => {
    const netdir = join(c.tmp, 'net11.d');
    mkdirSync(netdir, { recursive: true });
    const dataDir = join(c.tmp, 'tool-ipam');
    writeFileSync(
      join(netdir, '10-gingham.conflist'),
      JSON.stringify({ cniVersion: '1.1.0', name: 'toolnet', plugins: [{ type: 'gingham', bridge: 'gtool0', isGateway: true, ipMasq: true, ipam: { type: 'gingham', dataDir, ranges: [[{ subnet: '198.18.23.0/24' }]] } }] }),
    );
    const env = { NETCONFPATH: netdir, CNI_PATH: join(ROOT, 'bin'), GINGHAM_LOG: join(c.tmp, 'tool.log'), GINGHAM_RUN_DIR: join(c.tmp, 'run') };
    const tool = async (...args: string[]) => {
      const r = await execa('ip', ['netns', 'exec', c.ns('n2'), CNITOOL, ...args], { env, reject: false });
      expect(r.exitCode, `cnitool ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
      return r.stdout;
    };
    const added = JSON.parse(await tool('add', 'toolnet', c.netnsPath('t1'))) as Conf;
    await tool('add', 'toolnet', c.netnsPath('t2'));
    expect(added['cniVersion']).toBe('1.1.0');
    expect(await c.ping('t2', bare((added['ips'] as { address: string }[])[0]!.address))).toBe(true);
    await tool('check', 'toolnet', c.netnsPath('t1'));
    await tool('status', 'toolnet', c.netnsPath('t1'));
    await tool('del', 'toolnet', c.netnsPath('t1'));
    expect(readdirSync(join(dataDir, 'toolnet', 'attachments'))).toHaveLength(1);
    // GC without arguments: libcni DELs every cached attachment, then GCs with none valid.
    await tool('gc', 'toolnet', c.netnsPath('t2'));
    expect(readdirSync(join(dataDir, 'toolnet', 'attachments'))).toEqual([]);
    expect((await c.links('n2')).filter((l) => l.startsWith('gh-'))).toEqual([]);
    expect(await c.rules('n2')).not.toMatch(/GH-/);
    void node1;
  });
});
