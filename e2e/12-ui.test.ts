// The live class view (`gingham ui`) in a real browser, against the cluster as the API has it:
// `bin/gingham ui` runs on this machine with the suite's kubeconfig (reading each agent's /state
// and /events over the nodes' InternalIPs), Debian's chromium opens the page through
// playwright-core, and the tests read the page by its DOM contract (data-* attributes of the side
// panels; the graph itself is a canvas). Every node and pod with the API's addresses; a new pod
// within 2 s of its address; a NetworkPolicy turning its pod isolated; a node whose kernel drifted
// from its agent's plan marked, then unmarked; a denied probe as a verdict event; the "why?" pair
// answering as `gingham policy explain` does; and the in-cluster Deployment
// (conf/kube/gingham-ui.yaml) reached with kubectl port-forward. The page's screenshot goes to
// .e2e/ui.png for the README.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { NetworkingV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, GINGHAM_HOST, GINGHAM_IN_IMAGE, IMAGE, KUBECONFIG, KUBECTL, PRIMARY, REPO, TCP_PORT } from './lib/env.js';
import { type Fixture, fixture } from './lib/fixtures.js';
import { hostPort } from './lib/ip.js';
import { dockerExec } from './lib/node.js';
import { SUITE_LABEL, core, createPod, deletePods, kubeConfig, listNodes, namespace, probePod, waitPods, watchRunning } from './lib/kube.js';
import { type Run, kubectl, podExec } from './lib/probe.js';
import { log, phase, record, sleep, waitFor } from './lib/timing.js';
import { type PodRow, type UiServer, openBrowser, readEvents, readNodes, readPods, startUi } from './lib/ui.js';

const POLICY = 'e2e-ui-deny-b1';
const NEW_POD = 'u1';
const SCREENSHOT = `${REPO}/.e2e/ui.png`;
/** The Deployment's manifest with the image the suite loaded into the nodes. */
const DEPLOYMENT = readFileSync(`${REPO}/conf/kube/gingham-ui.yaml`, 'utf8').replaceAll('image: gingham-e2e/gingham:dev', `image: ${IMAGE}`);

let f: Fixture;
let ui: UiServer | undefined;
let browser: Browser | undefined;
let page: Page;
let screenshotTaken = false;
/** `kubectl apply` of the Deployment, started with the file so its pod starts while the browser tests run. */
let applied: Promise<Run>;

const net = (): NetworkingV1Api => kubeConfig().makeApiClient(NetworkingV1Api);
const key = (name: string): string => `${namespace()}/${name}`;
const list = (xs: readonly string[] | undefined): string => (xs ?? []).join(',');

async function screenshot(): Promise<void> {
  mkdirSync(`${REPO}/.e2e`, { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  screenshotTaken = true;
  log(`screenshot: ${SCREENSHOT}`);
}

beforeAll(async () => {
  applied = kubectl(['apply', '-f', '-'], { input: Buffer.from(DEPLOYMENT) });
  // All three at once; each kept as soon as it is there, so afterAll stops what started even when another failed.
  const started = await Promise.allSettled([
    phase('ui: probe pods a1 a2 b1 c1 Ready', fixture).then((v) => (f = v)),
    phase('ui: gingham ui answers', startUi).then((v) => (ui = v)),
    phase('ui: chromium started', () => openBrowser()).then((v) => ({ browser, page } = v)),
  ]);
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  await phase('ui: page loaded and connected', async () => {
    await page.goto(ui!.url);
    await page.waitForSelector('#status[data-connected="true"]', { timeout: 15_000 });
  });
});

afterAll(async () => {
  if (browser && !screenshotTaken) await screenshot().catch((e: Error) => log(`screenshot failed: ${e.message}`));
  await browser?.close().catch(() => undefined);
  ui?.stop();
  await Promise.all([
    net()
      .deleteNamespacedNetworkPolicy({ name: POLICY, namespace: namespace() })
      .catch(() => undefined),
    deletePods([NEW_POD]).catch((e: Error) => log(`deleting ${NEW_POD}: ${e.message}`)),
    applied?.then(() => kubectl(['delete', '-f', '-', '--ignore-not-found'], { input: Buffer.from(DEPLOYMENT) })),
  ]);
});

/** The page's pods by NS/NAME. */
const podRows = async (): Promise<Map<string, PodRow>> => new Map((await readPods(page)).map((r) => [r.pod, r]));

describe('the page', () => {
  it('shows every node (InternalIPs, pod CIDRs, its agent) and every pod of the cluster with its addresses', async () => {
    await waitFor('the page to show the API\'s nodes and pods', 20_000, async (why) => {
      const [nodes, pods, shownNodes, shownPods] = await Promise.all([listNodes(), core().listPodForAllNamespaces(), readNodes(page), podRows()]);
      const bad: string[] = [];
      for (const n of nodes) {
        const row = shownNodes.find((r) => r.name === n.name);
        if (!row) bad.push(`node ${n.name} missing`);
        else if (row.internalIPs !== list(n.internalIPs) || row.podCIDRs !== list(n.podCIDRs) || row.agent !== 'ok' || row.backend !== BACKEND || row.drift !== 'false')
          bad.push(`node ${n.name}: ${JSON.stringify(row)}, API ${list(n.internalIPs)} ${list(n.podCIDRs)}`);
      }
      if (shownNodes.length !== nodes.length) bad.push(`${shownNodes.length} node rows for ${nodes.length} nodes`);
      const api = new Set<string>();
      // The page has the pods the policy sources keep: scheduled, neither Succeeded nor Failed.
      for (const p of pods.items.filter((x) => x.spec?.nodeName && x.status?.phase !== 'Succeeded' && x.status?.phase !== 'Failed')) {
        const k = `${p.metadata?.namespace}/${p.metadata?.name}`;
        api.add(k);
        const row = shownPods.get(k);
        const ips = list((p.status?.podIPs ?? []).map((a) => a.ip));
        if (!row) bad.push(`pod ${k} missing`);
        else if (row.ips !== ips || row.node !== (p.spec?.nodeName ?? '')) bad.push(`pod ${k}: ips "${row.ips}" on ${row.node}, API "${ips}" on ${p.spec?.nodeName}`);
      }
      for (const k of shownPods.keys()) if (!api.has(k)) bad.push(`pod ${k} on the page, not in the API`);
      // The agents name each of their pods' veth (the host end, on the bridge).
      for (const name of ['a1', 'a2', 'b1', 'c1']) if (!shownPods.get(key(name))?.veth) bad.push(`pod ${key(name)}: no veth`);
      why(bad.slice(0, 6).join('; ') + (bad.length > 6 ? ` (+${bad.length - 6} more)` : ''));
      if (bad.length > 0) return undefined;
      log(`page: ${shownNodes.length} nodes, ${shownPods.size} pods, as the API has them`);
      return true;
    }, 250);
  });

  it('shows a new pod within 2 s of the API showing its address', async () => {
    const watch = await watchRunning(`probe=${NEW_POD}`);
    try {
      const createdAt = Date.now();
      await createPod(probePod(NEW_POD, f.w2.name, { labels: { probe: NEW_POD } }));
      // Polled from here every 50 ms: when the page first shows the pod with an address.
      const shownAt = await waitFor(`${key(NEW_POD)} with an address on the page`, 60_000, async (why) => {
        const row = (await podRows()).get(key(NEW_POD));
        why(row ? `row without addresses: ${JSON.stringify(row)}` : 'no row');
        return row?.ips ? Date.now() : undefined;
      }, 50);
      const running = (await waitPods([NEW_POD], { ready: false })).get(NEW_POD)!;
      const addressedAt = await waitFor('the watch to see its address', 10_000, async () => watch.addressedAt.get(NEW_POD), 50);
      const row = (await podRows()).get(key(NEW_POD));
      expect(row?.ips).toBe(list((running.status?.podIPs ?? []).map((a) => a.ip)));
      expect(row?.node).toBe(f.w2.name);
      const late = shownAt - addressedAt;
      record('ui: new pod on the page after the API showed its address', late / 1000, `${late} ms; ${shownAt - createdAt} ms after its creation`);
      expect(late, 'ms from its address in the API (a watch) to the page').toBeLessThanOrEqual(2000);
    } finally {
      watch.stop();
    }
  });

  it('turns a pod isolated when a NetworkPolicy selects it', async () => {
    const t0 = Date.now();
    await net().createNamespacedNetworkPolicy({
      namespace: namespace(),
      body: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: POLICY, labels: SUITE_LABEL }, spec: { podSelector: { matchLabels: { probe: 'b1' } }, policyTypes: ['Ingress'] } },
    });
    const row = await waitFor(`${key('b1')} isolated by ${POLICY} on the page`, 15_000, async (why) => {
      const r = (await podRows()).get(key('b1'));
      why(JSON.stringify(r));
      return r && r.isolated.split(',').includes('ingress') && r.policies.split(',').some((p) => p === POLICY || p.endsWith(`/${POLICY}`)) ? r : undefined;
    }, 100);
    record('ui: pod isolated on the page after the policy was created', (Date.now() - t0) / 1000, `data-isolated "${row.isolated}", data-policies "${row.policies}"`);
    expect(row.isolated).not.toContain('egress');
    // a1 is not selected by it.
    expect((await podRows()).get(key('a1'))?.isolated).toBe('');
  });

  it("marks a node whose kernel no longer matches its agent's plan, and unmarks it when it matches again", async () => {
    // A stray route of the agent's protocol (199) into a part of the pod range no node has: nothing
    // is sent there, and the agent's comparison (gingham inspect's) counts it as a difference.
    const node = f.w1.name;
    const stray = PRIMARY === 4 ? '198.18.250.0/24' : 'fd42:18:80ff::/64';
    const via = f.controlPlane.internalIP;
    const drift = async (): Promise<string | undefined> => (await readNodes(page)).find((r) => r.name === node)?.drift;
    const t0 = Date.now();
    try {
      // The agent heals the route at its next resync (30 s), which can come before the page's
      // check (at most every 5 s): then the route is put back and looked for again.
      await waitFor(`${node} marked drifted`, 60_000, async (why) => {
        const routes = await dockerExec(node, ['ip', `-${PRIMARY}`, 'route', 'show', 'proto', '199']);
        if (!routes.includes(stray.replace(/\/.*$/, ''))) await dockerExec(node, ['ip', `-${PRIMARY}`, 'route', 'add', stray, 'via', via, 'proto', '199']);
        const d = await drift();
        why(`data-drift ${d}`);
        return d === 'true' ? true : undefined;
      }, 250);
      record('ui: drifted kernel marked on the page', (Date.now() - t0) / 1000, `${node}, a stray route ${stray}`);
    } finally {
      await dockerExec(node, ['ip', `-${PRIMARY}`, 'route', 'del', stray, 'proto', '199']).catch(() => undefined);
    }
    await waitFor(`${node} matching again`, 15_000, async (why) => {
      const d = await drift();
      why(`data-drift ${d}`);
      return d === 'false' ? true : undefined;
    }, 250);
  });

  it('shows a denied probe as a verdict event from a1 to b1; the filters hide it', async () => {
    const { a1, b1 } = f.pods;
    const deniedAt = await waitFor('a1 -> b1 refused', 30_000, async (why) => {
      const r = await podExec(a1.name, [GINGHAM_IN_IMAGE, 'probe', 'connect', `${hostPort(b1.ip, TCP_PORT)}/tcp`, '--timeout', '2000']);
      why(`exit ${r.exitCode}: ${(r.stdout + r.stderr).trim()}`);
      return r.exitCode !== 0 ? Date.now() : undefined;
    }, 200);
    // By this file's policy: 10-observability denied a1 -> b1 too, and the page replays recent events.
    const isOurs = (e: { verdict: string; src: string; dst: string; text: string }): boolean => e.verdict === 'denied' && e.src === key('a1') && e.dst === key('b1') && e.text.includes(POLICY);
    const event = await waitFor('the denied event on the page', 10_000, async (why) => {
      const events = await readEvents(page);
      why(`${events.length} events: ${JSON.stringify(events.slice(0, 3))}`);
      return events.find(isOurs);
    }, 50);
    record('ui: denied event on the page after the refusal', (Date.now() - deniedAt) / 1000, event.text.replace(/\s+/g, ' '));
    expect(event.node).toBe(b1.node.name);
    // The namespace filter: another namespace hides the row, this one shows it again.
    await page.fill('#filter-namespace', 'no-such-namespace');
    await waitFor('the filter to hide the event', 5000, async () => ((await readEvents(page)).filter(isOurs).every((e) => !e.visible) ? true : undefined), 50);
    await page.fill('#filter-namespace', namespace());
    await waitFor('the filter to show it again', 5000, async () => ((await readEvents(page)).some((e) => isOurs(e) && e.visible) ? true : undefined), 50);
    await page.fill('#filter-namespace', '');
  });

  /** `gingham policy explain` on this machine with the suite's kubeconfig: its text and its verdict (--json). */
  async function cliExplain(from: string, to: string, port: number, protocol: string): Promise<{ text: string; allowed: boolean }> {
    const args = ['policy', 'explain', '--from', from, '--to', to, '--port', `${port}/${protocol}`, '--kubeconfig', KUBECONFIG];
    const [text, json] = await Promise.all([execa(GINGHAM_HOST, args), execa(GINGHAM_HOST, [...args, '--json'])]);
    return { text: text.stdout, allowed: (JSON.parse(json.stdout) as { allowed: boolean }).allowed };
  }

  /** The page's "why?" answer once its text is `want` (or the last one after 10 s). */
  async function pageExplain(want: string): Promise<{ text: string; allowed: string | null }> {
    let last = { text: '', allowed: null as string | null };
    try {
      return await waitFor('the page\'s "why?" answer', 10_000, async (why) => {
        const result = page.locator('#explain-result');
        last = { text: ((await result.locator('pre').first().textContent({ timeout: 1000 })) ?? '').trimEnd(), allowed: await result.getAttribute('data-allowed', { timeout: 1000 }) };
        why(JSON.stringify(last));
        return last.text === want ? last : undefined;
      }, 100);
    } catch {
      return last;
    }
  }

  it('"why?": two pods (typed, then clicked) and a port give the verdict and text of `gingham policy explain`', async () => {
    const port = TCP_PORT;
    // b1 -> a1 over UDP: nothing isolates a1, allowed; typed into the inputs.
    await page.fill('#explain-from', key('b1'));
    await page.fill('#explain-to', key('a1'));
    await page.fill('#explain-port', String(port));
    await page.selectOption('#explain-protocol', 'UDP');
    const allowed = await cliExplain(key('b1'), key('a1'), port, 'UDP');
    await page.click('#explain-go');
    const shown = await pageExplain(allowed.text.trimEnd());
    expect(allowed.allowed).toBe(true);
    expect(shown.allowed).toBe('true');
    expect(shown.text).toBe(allowed.text.trimEnd());

    // a1 -> b1 over TCP: denied by the policy. The rows are clicked as a student would: a click
    // with both ends filled starts a new pair, so first the source, then the destination.
    await page.locator(`#pods [data-pod="${key('a1')}"]`).click();
    await page.locator(`#pods [data-pod="${key('b1')}"]`).click();
    expect(await page.inputValue('#explain-from')).toBe(key('a1'));
    expect(await page.inputValue('#explain-to')).toBe(key('b1'));
    await page.selectOption('#explain-protocol', 'TCP');
    const denied = await cliExplain(key('a1'), key('b1'), port, 'TCP');
    await page.click('#explain-go');
    const shown2 = await pageExplain(denied.text.trimEnd());
    expect(denied.allowed).toBe(false);
    expect(shown2.allowed).toBe('false');
    expect(shown2.text).toBe(denied.text.trimEnd());
    expect(shown2.text).toContain(POLICY);

    // The screenshot for the README: a fresh denial, so its red arrow is still on the graph.
    const before = (await readEvents(page)).length;
    await podExec(f.pods.a1.name, [GINGHAM_IN_IMAGE, 'probe', 'connect', `${hostPort(f.pods.b1.ip, TCP_PORT)}/tcp`, '--timeout', '2000']);
    await waitFor('the new denial on the page', 10_000, async () => ((await readEvents(page)).length > before ? true : undefined), 50).catch(() => undefined);
    await sleep(300);
    await screenshot();
  });
});

describe('in the cluster', () => {
  it('the Deployment of conf/kube/gingham-ui.yaml becomes Ready and serves the nodes through kubectl port-forward', async () => {
    const a = await applied;
    expect(a.exitCode, `kubectl apply: ${a.stderr}`).toBe(0);
    const rollout = await phase('ui: Deployment Ready', () => kubectl(['-n', 'kube-system', 'rollout', 'status', 'deployment/gingham-ui', '--timeout=120s'], { timeoutMs: 130_000 }));
    if (rollout.exitCode !== 0) {
      const pods = await kubectl(['-n', 'kube-system', 'describe', 'pods', '-l', 'app=gingham-ui']);
      const logs = await kubectl(['-n', 'kube-system', 'logs', 'deployment/gingham-ui', '--tail=30']);
      throw new Error(`gingham-ui not Ready: ${rollout.stderr}\n${pods.stdout.slice(-3000)}\n${logs.stdout}${logs.stderr}`);
    }
    const pf: ChildProcess = spawn(KUBECTL, ['--kubeconfig', KUBECONFIG, '-n', 'kube-system', 'port-forward', 'deployment/gingham-ui', ':20918'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      pf.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      pf.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const local = await waitFor('kubectl port-forward to listen', 15_000, async (why) => {
        why(out);
        return /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      }, 100);
      const want = (await listNodes()).map((n) => n.name).sort();
      await waitFor('/api/view through port-forward with every node and its agent', 20_000, async (why) => {
        const r = await fetch(`http://127.0.0.1:${local}/api/view`, { signal: AbortSignal.timeout(3000) });
        const view = (await r.json()) as { nodes: { name: string; agent: { ok: boolean; error?: string } }[] };
        why(`HTTP ${r.status}: ${JSON.stringify(view.nodes.map((n) => [n.name, n.agent.ok || n.agent.error]))}`);
        const names = view.nodes.map((n) => n.name).sort();
        return JSON.stringify(names) === JSON.stringify(want) && view.nodes.every((n) => n.agent.ok) ? true : undefined;
      }, 250);
    } finally {
      pf.kill('SIGTERM');
    }
  });
});
