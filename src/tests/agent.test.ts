// The agent's host-gw routes for real: node namespaces on one L2 (198.18.0.0/24, fd42:18::/64).
// First the reconciler in-process against a node's kernel, then the built binary's `gingham agent`
// watching a fake API server that runs next to it in the same namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInfo } from '../agent/network/nodes.js';
import { DEFAULT_CONFIG } from '../agent/config.js';
import { nodeKernel } from '../agent/network/kernel.js';
import { Reconciler } from '../agent/reconcile.js';
import { type FakeApiServer, node, startFakeApiServer, until, v1Node } from '../agent/testing.js';
import { EVENTS_OFF } from '../agent/verdicts/index.js';
import type { AgentState } from '../ui/model.js';
import { Cluster, GINGHAM, requirePrivileges } from './cluster.js';

requirePrivileges();

const quiet = (): void => undefined;

describe('agent routes in namespaces', () => {
  const c = new Cluster();
  const v6 = (n: number): string => `fd42:18::${n}`;

  /** `ip route show proto 199` of both families in a node, one "dst via gw" per route, sorted. */
  const ourRoutes = async (name: string): Promise<string[]> => {
    const out: string[] = [];
    for (const fam of ['-4', '-6']) {
      const json = JSON.parse(await c.exec(name, ['ip', '-j', fam, 'route', 'show', 'proto', '199'])) as { dst: string; gateway?: string }[];
      out.push(...json.map((r) => `${r.dst} via ${r.gateway ?? '-'}`));
    }
    return out.sort();
  };

  beforeAll(async () => {
    await c.start();
    for (const [i, n] of ['node1', 'node2', 'node3', 'node4'].entries()) {
      await c.addNode(n);
      await c.exec(n, ['ip', 'addr', 'add', `${v6(i + 1)}/64`, 'dev', 'uplink', 'nodad']);
    }
    // Each node's first pod address, on its loopback: reached from another node only through a route.
    await c.exec('node2', ['ip', 'addr', 'add', '198.18.129.1/32', 'dev', 'lo']);
    await c.exec('node3', ['ip', 'addr', 'add', '198.18.130.1/32', 'dev', 'lo']);
    await c.exec('node3', ['ip', 'addr', 'add', 'fd42:18:130::1/128', 'dev', 'lo']);
  });
  afterAll(() => c.destroy());

  describe('reconciler against a node kernel', () => {
    let nodes: NodeInfo[] = [];
    const self = node('node1', ['198.18.128.0/24', 'fd42:18:128::/64'], ['198.18.0.1', v6(1)]);
    const n2 = node('node2', ['198.18.129.0/24'], ['198.18.0.2']);
    const n3 = node('node3', ['198.18.130.0/24', 'fd42:18:130::/64'], ['198.18.0.3', v6(3)]);
    const config = { ...DEFAULT_CONFIG, backend: 'host-gw' as const };
    const rec = (): Reconciler => new Reconciler({ nodeName: 'node1', nodes: () => nodes, config, kernel: nodeKernel(c.ns('node1')), cniConfPath: '', statePath: '', log: quiet });

    it('routes to each other node\'s pod CIDRs of both families, and pods there answer', async () => {
      nodes = [self, n2, n3];
      const r = await rec().pass();
      expect(r.failed).toEqual([]);
      expect(await ourRoutes('node1')).toEqual(['198.18.129.0/24 via 198.18.0.2', '198.18.130.0/24 via 198.18.0.3', 'fd42:18:130::/64 via fd42:18::3']);
      expect(await c.ping('node1', '198.18.129.1')).toBe(true);
      expect(await c.ping('node1', '198.18.130.1')).toBe(true);
      expect(await c.ping('node1', 'fd42:18:130::1')).toBe(true);
      // A second pass finds nothing to do.
      const again = await rec().pass();
      expect(again.replaced.length + again.removed.length).toBe(0);
    });

    it('a node that leaves takes its routes along; routes not ours stay', async () => {
      await c.exec('node1', ['ip', 'route', 'add', '198.18.150.0/24', 'via', '198.18.0.3', 'proto', 'static']);
      nodes = [self, n2];
      const r = await rec().pass();
      expect(r.removed.map((x) => x.dst).sort()).toEqual(['198.18.130.0/24', 'fd42:18:130::/64']);
      expect(await ourRoutes('node1')).toEqual(['198.18.129.0/24 via 198.18.0.2']);
      expect(await c.ping('node1', '198.18.130.1')).toBe(false);
      expect(await c.exec('node1', ['ip', 'route', 'show', '198.18.150.0/24'])).toContain('via 198.18.0.3');
    });

    it('an InternalIP change moves the route; a gateway off our link is refused and the rest applied', async () => {
      nodes = [self, node('node2', ['198.18.129.0/24'], ['198.18.0.4']), node('far', ['198.18.131.0/24'], ['198.19.9.9'])];
      const r = await rec().pass();
      expect(r.failed).toHaveLength(1);
      expect(r.failed[0]!.line).toContain('198.18.131.0/24 via 198.19.9.9');
      expect(r.failed[0]!.error).toMatch(/gateway|unreachable/i);
      expect(await ourRoutes('node1')).toEqual(['198.18.129.0/24 via 198.18.0.4']);
    });

    it('a route of ours deleted by hand comes back on the next pass', async () => {
      nodes = [self, n2];
      await rec().pass();
      await c.exec('node1', ['ip', 'route', 'del', '198.18.129.0/24']);
      expect(await ourRoutes('node1')).toEqual([]);
      await rec().pass();
      expect(await ourRoutes('node1')).toEqual(['198.18.129.0/24 via 198.18.0.2']);
    });
  });

  describe('gingham agent (the binary) with a fake API server', () => {
    let api: FakeApiServer;
    let agent: ChildProcess | undefined;
    let agentLog = '';
    let agentStderr = '';
    const conf = (): string => join(c.tmp, 'net.d', '10-gingham.conflist');

    beforeAll(async () => {
      api = await startFakeApiServer(['ip', 'netns', 'exec', c.ns('node4')]);
      api.send('ADDED', v1Node('node4', ['198.18.132.0/24', 'fd42:18:132::/64'], ['198.18.0.4', v6(4)]));
      api.send('ADDED', v1Node('node2', ['198.18.129.0/24'], ['198.18.0.2']));
      api.send('ADDED', v1Node('node3', ['198.18.130.0/24', 'fd42:18:130::/64'], ['198.18.0.3', v6(3)]));
      const kubeconfig = api.kubeconfig(join(c.tmp, 'kubeconfig'));
      const config = join(c.tmp, 'agent-config.json');
      writeFileSync(config, JSON.stringify({ backend: 'host-gw' }));
      agent = spawn('ip', ['netns', 'exec', c.ns('node4'), GINGHAM, 'agent', '--config', config, '--kubeconfig', kubeconfig, '--node-name', 'node4', '--resync', '1s', '--cni-conf-path', conf()], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GINGHAM_RUN_DIR: join(c.tmp, 'run') },
      });
      agent.stdout!.on('data', (b: Buffer) => (agentLog += b.toString()));
      agent.stderr!.on('data', (b: Buffer) => (agentStderr += b.toString()));
    });
    afterAll(async () => {
      if (agent && agent.exitCode === null) agent.kill('SIGKILL');
      await api.stop();
    });

    it('routes to the other nodes and writes this node\'s dual-stack conflist', async () => {
      const want = ['198.18.129.0/24 via 198.18.0.2', '198.18.130.0/24 via 198.18.0.3', 'fd42:18:130::/64 via fd42:18::3'];
      await until(`routes in node4 (agent log: ${agentLog})`, async () => ((await ourRoutes('node4')).join() === want.join() ? true : undefined));
      await until('the conflist', () => (existsSync(conf()) ? true : undefined));
      const written = JSON.parse(readFileSync(conf(), 'utf8')) as { plugins: { ipam: unknown }[] };
      expect(written.plugins[0]!.ipam).toEqual({ type: 'gingham', ranges: [[{ subnet: '198.18.132.0/24' }], [{ subnet: 'fd42:18:132::/64' }]] });
      expect(await c.ping('node4', '198.18.130.1')).toBe(true);
    });

    it('follows watch events: a node leaving, a node arriving', async () => {
      api.send('DELETED', v1Node('node3', [], []));
      await until('node3 routes gone', async () => ((await ourRoutes('node4')).join() === '198.18.129.0/24 via 198.18.0.2' ? true : undefined));
      api.send('ADDED', v1Node('node1', ['198.18.128.0/24'], ['198.18.0.1']));
      await until('node1 route', async () => ((await ourRoutes('node4')).includes('198.18.128.0/24 via 198.18.0.1') ? true : undefined));
      expect(agentLog).toMatch(/"msg":"network changed"/);
      // Every log line (stdout) is one JSON object, and no stray runtime warning lands in between
      // (kubelet interleaves stderr with it).
      for (const line of agentLog.trim().split('\n')) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      expect(agentStderr).toBe('');
    });

    it('serves /metrics on the node\'s addresses of both families (metricsPort 20917 by default)', async () => {
      const scrape = async (host: string): Promise<string> => (await c.sh(['ip', 'netns', 'exec', c.ns('node4'), 'curl', '-sf', '-m', '5', `http://${host}:20917/metrics`])).stdout;
      const text = await until('network passes counted', async () => {
        const t = await scrape('198.18.0.4');
        return /^gingham_network_passes_total\{outcome="ok"\} [1-9]/m.test(t) ? t : undefined;
      });
      expect(text).toMatch(/^gingham_build_info\{version="[^"]+",commit="[^"]*",backend="host-gw"\} 1$/m);
      expect(text).toMatch(/^gingham_network_peers\{via="direct"\} 2$/m);
      expect(text).toMatch(/^gingham_policy_syncs_total\{outcome="ok"\} [1-9]/m);
      for (const family of ['gingham_cni_calls_total', 'gingham_ipam_addresses', 'gingham_api_watch_restarts_total', 'gingham_policy_denied_packets_total', 'process_cpu_seconds_total']) expect(text).toContain(`# TYPE ${family} `);
      expect(await scrape(`[${v6(4)}]`)).toContain('# TYPE gingham_build_info gauge');
    });

    it('serves /state and /events for `gingham ui` beside /metrics', async () => {
      const get = async (path: string): Promise<string> => (await c.sh(['ip', 'netns', 'exec', c.ns('node4'), 'curl', '-s', '-m', '5', `http://198.18.0.4:20917${path}`])).stdout;
      const state = await until('/state with the kernel matching', async () => {
        const s = JSON.parse(await get('/state')) as AgentState;
        return s.kernel.matches ? s : undefined;
      });
      expect(state).toMatchObject({ node: 'node4', backend: 'host-gw', dataplane: 'iptables', bridge: 'gingham0', devices: [], events: false, kernel: { differences: 0 } });
      expect(state.peers.map((p) => `${p.podCIDR} via ${p.via}`).sort()).toEqual(['198.18.128.0/24 via 198.18.0.1', '198.18.129.0/24 via 198.18.0.2']);
      expect(Array.isArray(state.pods)).toBe(true);
      expect(JSON.parse(await get('/events'))).toEqual({ error: EVENTS_OFF });
    });

    it('exits 0 on SIGTERM and leaves the routes for the pods', async () => {
      const exited = new Promise<number | null>((resolve) => agent!.once('exit', (code) => resolve(code)));
      agent!.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 8000))]);
      expect(code).toBe(0);
      expect(await ourRoutes('node4')).toEqual(['198.18.128.0/24 via 198.18.0.1', '198.18.129.0/24 via 198.18.0.2']);
    });
  });
  // kubelet restarts an agent whose /healthz fails (the DaemonSet's liveness probe). Here its
  // kernel calls stop returning: every child the agent starts (ip, iptables) is stopped with
  // SIGSTOP as soon as it appears, so the network loop's pass never ends, /healthz turns 503
  // naming that loop, and once the children continue the agent is live again.
  describe('a wedged agent fails its liveness probe', () => {
    let api: FakeApiServer;
    let agent: ChildProcess | undefined;
    let agentLog = '';
    let freezer: ChildProcess | undefined;
    const get = async (path: string): Promise<{ status: number; body: { loops?: Record<string, { live: boolean; runningForMs?: number }> } }> => {
      const r = await c.sh(['ip', 'netns', 'exec', c.ns('node3'), 'curl', '-s', '-m', '5', '-w', '\\n%{http_code}', `http://127.0.0.1:9917${path}`]);
      const [body = '', code = '0'] = r.stdout.split(/\n(?=\d+$)/);
      return { status: Number(code), body: body ? (JSON.parse(body) as { loops?: Record<string, { live: boolean }> }) : {} };
    };

    beforeAll(async () => {
      api = await startFakeApiServer(['ip', 'netns', 'exec', c.ns('node3')]);
      api.send('ADDED', v1Node('node3', ['198.18.130.0/24'], ['198.18.0.3']));
      api.send('ADDED', v1Node('node2', ['198.18.129.0/24'], ['198.18.0.2']));
      const config = join(c.tmp, 'wedge-config.json');
      writeFileSync(config, JSON.stringify({ backend: 'host-gw', networkPolicy: false, metricsPort: 0 }));
      agent = spawn('ip', ['netns', 'exec', c.ns('node3'), GINGHAM, 'agent', '--config', config, '--kubeconfig', api.kubeconfig(join(c.tmp, 'wedge-kubeconfig')), '--node-name', 'node3', '--resync', '1s', '--stuck-after', '3s', '--cni-conf-path', ''], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GINGHAM_RUN_DIR: join(c.tmp, 'wedge-run') },
      });
      agent.stdout!.on('data', (b: Buffer) => (agentLog += b.toString()));
    });
    const thaw = async (): Promise<void> => {
      freezer?.kill('SIGKILL');
      freezer = undefined;
      if (agent?.pid) await execa('pkill', ['-CONT', '-P', String(agent.pid)], { reject: false });
    };
    afterAll(async () => {
      await thaw();
      if (agent && agent.exitCode === null) agent.kill('SIGKILL');
      await api.stop();
    });

    it('/healthz answers 503 while the network loop is stuck in a kernel call, 200 again once it returns', async () => {
      await until(`ready (agent log: ${agentLog})`, async () => ((await get('/readyz')).status === 200 ? true : undefined));
      expect(await get('/healthz')).toMatchObject({ status: 200, body: { loops: { network: { live: true } } } });
      freezer = spawn('sh', ['-c', `while :; do pkill -STOP -P ${agent!.pid}; done`], { stdio: 'ignore' });
      const stuck = await until(`healthz fails (agent log: ${agentLog.slice(-1500)})`, async () => {
        const r = await get('/healthz');
        return r.status === 503 ? r : undefined;
      }, 15_000);
      expect(stuck.body.loops!['network']).toMatchObject({ live: false });
      // Its pass is the one in progress, not a loop that stopped starting passes.
      expect(stuck.body.loops!['network']!.runningForMs).toBeGreaterThan(0);
      await thaw();
      await until('healthz recovers', async () => ((await get('/healthz')).status === 200 ? true : undefined), 10_000);
    });
  });
});
