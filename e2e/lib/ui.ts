// The live class view from outside, as a student sees it: `gingham ui` run on this machine with the
// suite's kubeconfig (the VM reaches the nodes' InternalIPs, so it reads the agents directly), and
// Debian's chromium driven by playwright-core (no browser download). The readers turn the page's
// side panels into plain rows by the DOM contract of the design note (data-* attributes), so the
// tests compare them with the API.
import { type ChildProcess, spawn } from 'node:child_process';
import { type Browser, type Page, chromium } from 'playwright-core';
import { GINGHAM_HOST, KUBECONFIG } from './env.js';
import { log, waitFor } from './timing.js';

export const CHROMIUM = process.env['GINGHAM_E2E_CHROMIUM'] ?? '/usr/bin/chromium';

export interface UiServer {
  url: string;
  /** What the server wrote, for a failure's message. */
  output: () => string;
  stop: () => void;
}

/** `bin/gingham ui` on 127.0.0.1 at a port the kernel picks (its log line names it), once /api/view answers. */
export async function startUi(): Promise<UiServer> {
  const proc: ChildProcess = spawn(GINGHAM_HOST, ['ui', '--listen', '127.0.0.1:0', '--kubeconfig', KUBECONFIG], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let exited: string | undefined;
  proc.on('exit', (code, signal) => (exited = `exited (${code ?? signal})`));
  const stop = (): void => void proc.kill('SIGTERM');
  let url: string;
  try {
    url = await waitFor('gingham ui to answer /api/view', 30_000, async (why) => {
      if (exited) throw new Error(`gingham ui ${exited}: ${out}`);
      // {"level":"info","msg":"gingham ui serving","url":"http://127.0.0.1:PORT/",...}
      const base = /"msg":"gingham ui serving","url":"(http:\/\/127\.0\.0\.1:\d+)\/"/.exec(out)?.[1];
      if (base === undefined) return void why('no "gingham ui serving" line yet');
      const r = await fetch(`${base}/api/view`, { signal: AbortSignal.timeout(2000) }).catch((e: Error) => e);
      why(r instanceof Error ? r.message : `HTTP ${r.status}`);
      return !(r instanceof Error) && r.ok ? base : undefined;
    }, 200);
  } catch (e) {
    stop();
    throw e;
  }
  const server = { url, output: () => out, stop };
  log(`gingham ui serving ${url}`);
  return server;
}

/** Headless chromium with one page of the given size. */
export async function openBrowser(viewport = { width: 1400, height: 900 }): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport });
  return { browser, page };
}

/** A row of #nodes, by the DOM contract. */
export interface NodeRow {
  name: string;
  internalIPs: string;
  podCIDRs: string;
  backend: string;
  drift: string;
  agent: string;
}

/** A row of #pods. */
export interface PodRow {
  pod: string;
  node: string;
  ips: string;
  veth: string;
  isolated: string;
  policies: string;
}

/** A row of #events. */
export interface EventRow {
  verdict: string;
  src: string;
  dst: string;
  node: string;
  text: string;
  visible: boolean;
}

/**
 * What the readers use of a DOM element inside the page (the suite compiles without the DOM
 * library): its data-* attributes, its text, and whether it is rendered (checkVisibility).
 */
interface Shown {
  dataset: Record<string, string | undefined>;
  innerText: string;
  checkVisibility: () => boolean;
}

export const readNodes = (page: Page): Promise<NodeRow[]> =>
  page.$$eval('#nodes [data-node]', (els) =>
    els.map((e) => {
      const d = (e as unknown as Shown).dataset;
      return { name: d['node'] ?? '', internalIPs: d['internalIps'] ?? '', podCIDRs: d['podCidrs'] ?? '', backend: d['backend'] ?? '', drift: d['drift'] ?? '', agent: d['agent'] ?? '' };
    }),
  );

export const readPods = (page: Page): Promise<PodRow[]> =>
  page.$$eval('#pods [data-pod]', (els) =>
    els.map((e) => {
      const d = (e as unknown as Shown).dataset;
      return { pod: d['pod'] ?? '', node: d['node'] ?? '', ips: d['ips'] ?? '', veth: d['veth'] ?? '', isolated: d['isolated'] ?? '', policies: d['policies'] ?? '' };
    }),
  );

export const readEvents = (page: Page): Promise<EventRow[]> =>
  page.$$eval('#events [data-event]', (els) =>
    els.map((e) => {
      const h = e as unknown as Shown;
      const d = h.dataset;
      return { verdict: d['verdict'] ?? '', src: d['src'] ?? '', dst: d['dst'] ?? '', node: d['node'] ?? '', text: h.innerText, visible: h.checkVisibility() };
    }),
  );
