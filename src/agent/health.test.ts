import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Health, type Routes, STREAM_BACKLOG_BYTES, serveRoutes } from './health.js';

/** A pass that ends when told to. */
function gate<T>(): { pass: () => Promise<T>; finish: (v: T) => void; fail: (e: Error) => void } {
  let finish: (v: T) => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  return {
    pass: () =>
      new Promise<T>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      }),
    finish: (v) => finish(v),
    fail: (e) => fail(e),
  };
}

describe('Health', () => {
  let t = 0;
  const health = (): Health => new Health(1000, () => t);

  it('a loop is live from its announcement until staleMs pass without a finished pass', async () => {
    t = 0;
    const h = health();
    const g = gate<boolean>();
    const net = h.track('network')(g, (ok) => ok);
    expect(h.report()).toEqual({ network: { live: true, ready: false } });
    t = 500;
    const p = net.pass();
    t = 900;
    expect(h.report()['network']).toEqual({ live: true, ready: false, runningForMs: 400 });
    // Stuck: the pass started at 500 has not ended at 1001 (1001 ms after the announcement).
    t = 1001;
    expect(h.report()['network']!.live).toBe(false);
    g.finish(false);
    await p;
    // It ended (unsuccessfully): live again, not ready.
    expect(h.report()['network']).toEqual({ live: true, ready: false, lastPassMsAgo: 0 });
    t = 2001;
    expect(h.report()['network']!.live).toBe(true);
    t = 2002;
    expect(h.report()['network']!.live).toBe(false);
  });

  it('ready from the first pass that succeeded, and it stays so; a pass that throws counts as ended', async () => {
    t = 0;
    const h = health();
    const g = gate<boolean>();
    const net = h.track('network')(g, (ok) => ok);
    let p = net.pass();
    g.fail(new Error('no node list'));
    await expect(p).rejects.toThrow('no node list');
    expect(h.report()['network']).toMatchObject({ live: true, ready: false });
    p = net.pass();
    g.finish(true);
    await p;
    p = net.pass();
    g.finish(false);
    await p;
    expect(h.report()['network']).toMatchObject({ live: true, ready: true });
  });

  it('/healthz and /readyz: 200 only when every loop is live (ready); a loop announced but never wrapped counts', async () => {
    t = 0;
    const h = health();
    const g = gate<boolean>();
    const net = h.track('network')(g, (ok) => ok);
    h.track('policy');
    const routes = h.routes();
    expect(routes['/healthz']!()).toEqual({ status: 200, body: { live: true, loops: { network: { live: true, ready: false }, policy: { live: true, ready: false } } } });
    expect(routes['/readyz']!().status).toBe(503);
    const p = net.pass();
    g.finish(true);
    await p;
    // The policy loop is not ready: neither is the agent.
    expect(routes['/readyz']!()).toMatchObject({ status: 503, body: { ready: false, loops: { network: { ready: true }, policy: { ready: false } } } });
    // The policy loop's start-up hangs: not live after staleMs.
    t = 1001;
    expect(routes['/healthz']!()).toMatchObject({ status: 503, body: { live: false, loops: { policy: { live: false } } } });
  });
});

describe('serveRoutes', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
  });

  const start = async (routes: Routes): Promise<string> => {
    server = await serveRoutes(routes, 0, '127.0.0.1');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it('answers each route with its status and JSON body, ignores the query, and lists the paths on a 404', async () => {
    const base = await start({ '/healthz': () => ({ status: 200, body: { live: true } }), '/readyz': () => ({ status: 503, body: { ready: false } }) });
    let r = await fetch(`${base}/healthz?verbose`);
    expect([r.status, r.headers.get('content-type'), await r.json()]).toEqual([200, 'application/json', { live: true }]);
    r = await fetch(`${base}/readyz`);
    expect([r.status, await r.json()]).toEqual([503, { ready: false }]);
    r = await fetch(`${base}/metrics`);
    expect([r.status, await r.json()]).toEqual([404, { error: 'not found', paths: ['/healthz', '/readyz'] }]);
    // Not a route: what the prototype of an object holds.
    expect((await fetch(`${base}/constructor`)).status).toBe(404);
  });

  it('passes the query to the route, answers text in its content type, and a route that throws with 500', async () => {
    const base = await start({
      '/metrics': async (q) => ({ status: 200, text: `n ${q.get('n') ?? '-'}\n`, contentType: 'text/plain; version=0.0.4' }),
      '/broken': () => {
        throw new Error('no registry');
      },
    });
    let r = await fetch(`${base}/metrics?n=3`);
    expect([r.status, r.headers.get('content-type'), await r.text()]).toEqual([200, 'text/plain; version=0.0.4', 'n 3\n']);
    r = await fetch(`${base}/broken`);
    expect([r.status, await r.json()]).toEqual([500, { error: 'no registry' }]);
  });

  /** A stream route at /events that tells how to write to its follower and whether it left. */
  async function streamed(first?: string): Promise<{ base: string; write: () => ((chunk: string) => void) | undefined; left: () => boolean }> {
    let left = false;
    let write: ((chunk: string) => void) | undefined;
    const base = await start({
      '/events': () => ({
        status: 200,
        contentType: 'application/x-ndjson',
        stream: (w, closed) => {
          write = w;
          if (first !== undefined) w(first);
          void closed.then(() => (left = true));
        },
      }),
    });
    return { base, write: () => write, left: () => left };
  }

  it('streams: chunks reach the client as written, and the route learns when the client leaves', async () => {
    const s = await streamed('first\n');
    const ac = new AbortController();
    const r = await fetch(`${s.base}/events`, { signal: ac.signal });
    const reader = r.body!.getReader();
    const text = async (): Promise<string> => new TextDecoder().decode((await reader.read()).value);
    expect(await text()).toBe('first\n');
    s.write()!('second\n');
    expect(await text()).toBe('second\n');
    ac.abort();
    await expect.poll(s.left).toBe(true);
  });

  it('lets a stream reader go once more than STREAM_BACKLOG_BYTES waits unread for it', async () => {
    const s = await streamed();
    const url = new URL(`${s.base}/events`);
    // A client that connects and never reads: the socket's buffers fill, then the server's backlog.
    const sock = connect(Number(url.port), url.hostname, () => sock.write(`GET /events HTTP/1.1\r\nHost: x\r\n\r\n`));
    sock.pause();
    try {
      await expect.poll(() => s.write() !== undefined).toBe(true);
      const chunk = 'x'.repeat(64 * 1024);
      // Loopback buffers hold several MiB before the server's own backlog grows.
      for (let i = 0; i < (64 * STREAM_BACKLOG_BYTES) / chunk.length && !s.left(); i++) {
        s.write()!(chunk);
        await new Promise((r) => setImmediate(r));
      }
      await expect.poll(s.left).toBe(true);
    } finally {
      sock.destroy();
    }
  });

  it('is read-only: HEAD answers without a body, anything else is 405', async () => {
    const base = await start({ '/healthz': () => ({ status: 200, body: { live: true } }) });
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    for (const method of ['POST', 'PUT', 'DELETE']) expect((await fetch(`${base}/healthz`, { method })).status).toBe(405);
  });

  it('rejects when the port is taken', async () => {
    await start({});
    const port = (server!.address() as AddressInfo).port;
    await expect(serveRoutes({}, port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
  });
});
