// `gingham ui` end to end in one process: the fake API server (its own process) and a fake agent
// (an HTTP server answering /state and following /events) for node n1; node n2's agent does not
// answer. The view shows both nodes and their pods, the stream delivers a view and the agent's
// verdict, and /api/explain answers what `gingham policy explain` computes from the same cluster.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainConnection } from '../agent/policy/explain-cli.js';
import { loadKubeConfig } from '../agent/sources/kubernetes.js';
import { toNodeInfo } from '../agent/sources/node-info.js';
import { listPolicyInputs } from '../agent/sources/policy-source.js';
import { type FakeApiServer, startFakeApiServer, until, v1Node } from '../agent/testing.js';
import { type RunningUi, startUi } from './main.js';
import type { ClusterView, ExplainAnswer } from './model.js';
import { agentState } from './testing.js';

const v1Pod = (ns: string, name: string, node: string, ip: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name, labels: { pod: name } },
  spec: { nodeName: node, containers: [{ name: 'c' }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

const EVENT = { time: new Date().toISOString(), verdict: 'denied', direction: 'ingress', tier: 'NetworkPolicy', namespace: 'x', pod: 'b', src: { ip: '198.18.1.2', port: 40000, pod: 'x/a' }, dst: { ip: '198.18.2.2', port: 80, pod: 'x/b' }, protocol: 'TCP', policies: ['x/deny'], reason: 'isolated by x/deny, no rule allows' };

describe('gingham ui', () => {
  let api: FakeApiServer;
  let agent: Server;
  let ui: RunningUi;
  let dir: string;
  let kubeconfig: string;
  /** The since= of each /events request the fake agent had. */
  const asked: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gingham-ui-'));
    api = await startFakeApiServer();
    kubeconfig = api.kubeconfig(join(dir, 'kubeconfig'));
    api.send('ADDED', v1Node('n1', ['198.18.1.0/24'], ['127.0.0.1']));
    // Nothing listens on 127.0.0.2: its agent is refused.
    api.send('ADDED', v1Node('n2', ['198.18.2.0/24'], ['127.0.0.2']));
    api.send('ADDED', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { 'kubernetes.io/metadata.name': 'x' } } });
    api.send('ADDED', v1Pod('x', 'a', 'n1', '198.18.1.2'));
    api.send('ADDED', v1Pod('x', 'b', 'n2', '198.18.2.2'));
    api.send('ADDED', { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'x', name: 'deny' }, spec: { podSelector: { matchLabels: { pod: 'b' } }, policyTypes: ['Ingress'] } });
    const state = agentState('n1', {
      peers: [{ node: 'n2', podCIDR: '198.18.2.0/24', nodeIP: '127.0.0.2', via: '198.18.255.2', dev: 'gingham.1', vtep: '198.18.255.2', vtepMac: '02:00:00:00:00:02' }],
      pods: [{ namespace: 'x', name: 'a', ips: ['198.18.1.2'], veth: 'vethabc' }],
      isolation: [{ pod: 'x/a', ingress: [], egress: [], cluster: [] }],
    });
    agent = createServer((req, res) => {
      if (req.url === '/state') return void res.end(JSON.stringify(state));
      const url = new URL(req.url ?? '/', 'http://agent');
      if (url.pathname === '/events' && url.searchParams.get('follow') === '1') {
        // The ui asks for the last minutes on its first connection.
        asked.push(url.searchParams.get('since') ?? '');
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        return void res.write(`${JSON.stringify(EVENT)}\nnot json\n`);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    const agentPort = (agent.address() as AddressInfo).port;
    ui = await startUi({ host: '127.0.0.1', port: 0, agentPort, kubeconfig, help: false }, {}, () => {});
  });

  afterAll(async () => {
    await ui?.stop();
    agent?.closeAllConnections();
    agent?.close();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string): Promise<Response> => fetch(new URL(path, ui.url));

  it('/api/view shows the nodes, their agents, the link and the pods', async () => {
    const view = await until('the view with both pods and both agents asked', async () => {
      const v = (await (await get('api/view')).json()) as ClusterView;
      return v.pods.length === 2 && v.nodes.length === 2 && v.nodes.every((n) => n.agent.ok || n.agent.error !== 'not asked yet') && v.nodes[0]!.agent.ok ? v : undefined;
    });
    expect(view.nodes.map((n) => [n.name, n.internalIPs, n.podCIDRs])).toEqual([
      ['n1', ['127.0.0.1'], ['198.18.1.0/24']],
      ['n2', ['127.0.0.2'], ['198.18.2.0/24']],
    ]);
    expect(view.nodes[1]!.agent).toMatchObject({ ok: false, error: expect.stringMatching(/127\.0\.0\.2/) });
    expect(view.links).toEqual([{ from: 'n1', to: 'n2', kind: 'vxlan', family: 4, podCIDR: '198.18.2.0/24', via: '198.18.255.2', dev: 'gingham.1', vtepMac: '02:00:00:00:00:02', mtu: 1450 }]);
    expect(view.pods.map((p) => [`${p.namespace}/${p.name}`, p.node, p.ips, p.veth])).toEqual([
      ['x/a', 'n1', ['198.18.1.2'], 'vethabc'],
      ['x/b', 'n2', ['198.18.2.2'], undefined],
    ]);
  });

  it('/api/stream sends the view and the verdicts kept, as Server-Sent Events', async () => {
    await until('the verdict taken', async () => ((await (await get('api/view')).json()) as ClusterView).pods.length === 2 || undefined);
    const res = await get('api/stream');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    await until('a view and a verdict', async () => {
      const { value } = await reader.read();
      text += decoder.decode(value, { stream: true });
      return /event: view\n/.test(text) && /event: verdict\n/.test(text) ? true : undefined;
    });
    void reader.cancel();
    const data = (event: string): unknown => JSON.parse(new RegExp(`event: ${event}\\ndata: (.*)\\n\\n`).exec(text)![1]!);
    expect((data('view') as ClusterView).nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(data('verdict')).toEqual({ node: 'n1', event: EVENT });
    // The first connection asks for the last ten minutes.
    expect(Date.now() - Date.parse(asked[0]!)).toBeGreaterThanOrEqual(10 * 60_000);
  });

  it('/api/explain answers what gingham policy explain prints; a hostile query is refused', async () => {
    const kc = loadKubeConfig(kubeconfig);
    const listed = await listPolicyInputs(kc);
    const nodes = (await kc.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api).listNode()).items.flatMap((n) => toNodeInfo(n) ?? []);
    const cli = explainConnection({ from: 'x/a', to: 'x/b', port: 80, protocol: 'TCP' }, listed, nodes);
    const res = await get('api/explain?from=x/a&to=x/b&port=80&protocol=TCP');
    expect(res.status).toBe(200);
    const answer = (await res.json()) as ExplainAnswer;
    expect(answer).toEqual({ allowed: false, text: cli.text, json: cli.json });
    expect(answer.text).toMatch(/DENIED/);
    const bad = await get('api/explain?from=x/a&to=x/%3Cscript%3E&port=80');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/DNS-1123/);
  });

  it('refuses a Host name that is not its own (a page that rebound its name to this address)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const url = new URL('api/view', ui.url);
      request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: `evil.example:${url.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(403);
  });

  it('serves the page and its script', async () => {
    const page = await get('/');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<html|<!doctype/i);
    // Outside the executable the bundle is read from beside the running script, vitest's here, where
    // there is none: the route says what is missing (e2e/12-ui loads the real one in chromium).
    const script = await get('app.js');
    expect(script.status).toBe(500);
    expect(await script.text()).toMatch(/the page bundle .*ui\.js is missing \(make build writes it\)/);
    expect((await get('api/nope')).status).toBe(404);
  });
});
