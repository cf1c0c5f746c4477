// Verdict events for real, for each policy dataplane: a node namespace with two pods on its bridge
// (wired by the built binary, so our IPAM records their names), the agent's policy pass in-process
// with drop events on (iptables NFLOG rules, or nft `log group` rules, in the node's own tables),
// and startVerdictEvents with Debian's ulogd running in the node namespace. A denied connection must give exactly one event naming the pod, direction
// and policy, read through `gingham policy drops --json` and /events; an allowed one none.
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveRoutes, stopServing } from '../agent/health.js';
import type { Level } from '../agent/log.js';
import { DATAPLANES, policyDataplane } from '../agent/policy/dataplane.js';
import type { PodInfo } from '../agent/policy/model.js';
import { PolicyReconciler } from '../agent/policy/reconcile.js';
import { NFLOG_GROUP } from '../agent/policy/ruleset.js';
import { ns, policy, rule, sel } from '../agent/policy/testing.js';
import { until } from '../agent/testing.js';
import { type VerdictEvent, type VerdictEvents, startVerdictEvents } from '../agent/verdicts/index.js';
import { ULOGD, findPluginDir } from '../agent/verdicts/ulogd.js';
import { Cluster, GINGHAM, requirePrivileges } from './cluster.js';

requirePrivileges();
const ULOGD_READY = existsSync(ULOGD) && findPluginDir() !== undefined;
// On CI a test that cannot run fails: verdict events would otherwise go untested.
if (!ULOGD_READY && process.env['CI'] === 'true') throw new Error('verdict event tests need ulogd2 and ulogd2-json (make deps)');

const POD_CIDR = '198.18.40.0/24';

describe.skipIf(!ULOGD_READY).each(DATAPLANES)('verdict events in a node namespace (%s)', (dataplane) => {
  const c = new Cluster();
  const applier = policyDataplane(dataplane, c.ns('node1'));
  const pods: PodInfo[] = [];
  const servers: ResultPromise[] = [];
  const logged: { level: Level; msg: string; fields: Record<string, unknown> }[] = [];
  let events: VerdictEvents;
  let server: Server;
  let agent = '';
  const reconciler = new PolicyReconciler({
    nodeName: 'node1',
    inputs: () => ({
      // x/a takes TCP 80 from x/b, nothing else.
      policies: [policy('x', 'a-in', { select: sel({ app: 'a' }), ingress: [rule([{ podSelector: sel({ app: 'b' }) }], [{ protocol: 'TCP', port: 80 }])] })],
      pods,
      namespaces: [ns('x')],
    }),
    sync: async (want, read) => {
      const r = await applier.sync(want, { read });
      return { changes: [], failures: r.failures.map((f) => f.error) };
    },
    readEveryMs: 0,
    sctpPorts: true,
    logDrops: true,
    ipamDataDir: '',
    log: () => undefined,
  });
  const connects = (from: string, ip: string, port: number): Promise<boolean> => c.tryExec(from, [GINGHAM, 'probe', 'connect', `${ip}:${port}/tcp`, '--timeout', '1500']);
  const fromEvents = async (query = ''): Promise<VerdictEvent[]> => {
    const text = await (await fetch(`${agent}/events${query}`)).text();
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as VerdictEvent);
  };

  beforeAll(async () => {
    await c.start();
    await c.addNode('node1');
    for (const name of ['a', 'b']) {
      await c.addNamespace(`x-${name}`);
      const conf = { cniVersion: '1.0.0', name: 'podnet', type: 'gingham', bridge: 'gvd0', isGateway: true, ipam: { type: 'gingham', dataDir: `${c.tmp}/ipam`, ranges: [[{ subnet: POD_CIDR }]] } };
      const result = await c.add('node1', conf, `x-${name}`, 'eth0', { args: `K8S_POD_NAMESPACE=x;K8S_POD_NAME=${name}` });
      const ip = (result['ips'] as { address: string }[])[0]!.address.split('/')[0]!;
      pods.push({ namespace: 'x', name, labels: { app: name }, ips: [ip], node: 'node1', hostNetwork: false, namedPorts: [] });
    }
    servers.push(execa('ip', ['netns', 'exec', c.ns('x-a'), GINGHAM, 'probe', 'serve', '--tcp', '80,81'], { reject: false }));
    // Pods on one bridge: br_netfilter shows their traffic to FORWARD.
    await c.exec('node1', ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1']);
    await until('the probe server in x-a', async () => ((await connects('x-b', pods[0]!.ips[0]!, 81)) ? true : undefined));
    await reconciler.pass();
    events = startVerdictEvents({
      enabled: true,
      view: () => reconciler.latest(),
      dir: join(c.tmp, 'verdicts'),
      log: (level, msg, fields = {}) => logged.push({ level, msg, fields }),
      wrap: ['ip', 'netns', 'exec', c.ns('node1')],
    });
    server = await serveRoutes(events.routes, 0, '127.0.0.1');
    agent = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // ulogd has bound our group in the node's namespace (the kernel lists its log instances).
    await until(`ulogd bound to NFLOG group ${NFLOG_GROUP} (log: ${JSON.stringify(logged)})`, async () => {
      const instances = await c.exec('node1', ['cat', '/proc/net/netfilter/nfnetlink_log']);
      return instances.split('\n').some((l) => l.trim().split(/\s+/)[0] === String(NFLOG_GROUP)) ? true : undefined;
    });
  });
  afterAll(async () => {
    await events?.stop();
    if (server) stopServing(server);
    for (const s of servers) s.kill();
    await Promise.allSettled(servers);
    await c.destroy();
  });

  it('a denied connection gives exactly one event with the pod, direction and policy', async () => {
    const [a, b] = pods;
    expect(await connects('x-b', a!.ips[0]!, 81)).toBe(false);
    const t0 = performance.now();
    const [e] = await until('the event', async () => {
      const got = await fromEvents();
      return got.length > 0 ? got : undefined;
    });
    const latencyMs = performance.now() - t0;
    expect(latencyMs).toBeLessThan(1000);
    expect(e).toMatchObject({
      verdict: 'denied',
      direction: 'ingress',
      namespace: 'x',
      pod: 'a',
      src: { ip: b!.ips[0]!, pod: 'x/b' },
      dst: { ip: a!.ips[0]!, port: 81, pod: 'x/a' },
      protocol: 'TCP',
      policies: ['x/a-in'],
      reason: 'isolated by x/a-in, no rule allows',
    });
    // Exactly one: the SYN was rejected at once, so nothing was retried.
    await new Promise((r) => setTimeout(r, 500));
    expect(await fromEvents()).toHaveLength(1);
    // The same event as a log line on stdout, at the kernel's time.
    expect(logged.filter((l) => l.msg === 'policy verdict').map((l) => l.fields)).toEqual([e]);
    // And through the command.
    const drops = await execa(GINGHAM, ['policy', 'drops', '--json', '--agent', agent]);
    expect(drops.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([e]);
    const readable = await execa(GINGHAM, ['policy', 'drops', '--pod', 'x/a', '--agent', agent]);
    expect(readable.stdout).toMatch(/ DENIED ingress x\/b \(198\.18\.40\.\d+:\d+\) -> x\/a \(198\.18\.40\.\d+:81\) TCP: isolated by x\/a-in, no rule allows$/);
  });

  it('an allowed connection gives none (accept events are off)', async () => {
    expect(await connects('x-b', pods[0]!.ips[0]!, 80)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await fromEvents()).toHaveLength(1);
    expect(events.stats()).toMatchObject({ events: 1, dropped: 0, unreadable: 0 });
  });

  it('--follow shows a new drop as it happens and ends when the agent closes the stream', async () => {
    const follow = execa(GINGHAM, ['policy', 'drops', '--follow', '--json', '--namespace', 'x', '--agent', agent], { reject: false });
    let out = '';
    follow.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await until('the kept event', () => (out.split('\n').length > 1 ? true : undefined));
    expect(await connects('x-b', pods[0]!.ips[0]!, 81)).toBe(false);
    await until('the new event', () => (out.trim().split('\n').length === 2 ? true : undefined), 2000);
    stopServing(server);
    expect((await follow).exitCode).toBe(0);
  });

  it('a burst of denied connections: each refused at once (a reset), events held to the per-pod limit', async () => {
    // The follow test stopped serving /events: count what the agent took.
    const before = events.stats().events;
    const t0 = performance.now();
    const burst = await c.sh(['ip', 'netns', 'exec', c.ns('x-b'), 'bash', '-c', `for i in $(seq 100); do (echo > /dev/tcp/${pods[0]!.ips[0]!}/81) 2>&1; done | grep -c 'connect: Connection refused'`]);
    const seconds = (performance.now() - t0) / 1000;
    expect(burst.stdout.trim()).toBe('100');
    // Refused, not left to SYN retries: with ICMP alone (rate-limited by the kernel) this took 100 s.
    expect(seconds).toBeLessThan(5);
    await new Promise((r) => setTimeout(r, 300));
    const logged = events.stats().events - before;
    // At most 20 at once (the last test took one of them), then 10 a second (and one for rounding).
    expect(logged).toBeGreaterThanOrEqual(10);
    expect(logged).toBeLessThanOrEqual(20 + Math.ceil(10 * (seconds + 0.3)) + 1);
  });
});
