import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { stopServing } from '../health.js';
import { metrics, registry } from './registry.js';
import { metricsRoute, serveOnAllAddresses } from './serve.js';

describe('/metrics', () => {
  let server: Server | undefined;
  afterEach(() => {
    if (server) stopServing(server);
    server = undefined;
  });

  it('answers the exposition text of our registry with its content type, after refreshing', async () => {
    registry.resetMetrics();
    let refreshed = 0;
    const served = await serveOnAllAddresses({ '/metrics': metricsRoute(() => void refreshed++) }, 0);
    server = served.server;
    metrics.cniCalls.inc({ verb: 'ADD', result: 'ok', code: '' });
    const port = (server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    const text = await res.text();
    expect(refreshed).toBe(1);
    expect(text).toContain('# HELP gingham_cni_calls_total ');
    expect(text).toContain('# TYPE gingham_cni_calls_total counter');
    expect(text).toContain('gingham_cni_calls_total{verb="ADD",result="ok",code=""} 1');
    // Only ours: nothing from prom-client's global registry.
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE '))) expect(line).toMatch(/^# TYPE gingham_/);
  });

  it('listens on "::", or on 0.0.0.0 where the node has no IPv6; other errors are the caller\'s', async () => {
    const hosts: string[] = [];
    const fake = (code: string) => async (_r: unknown, _p: number, host: string): Promise<Server> => {
      hosts.push(host);
      if (host === '::') throw Object.assign(new Error(code), { code });
      return {} as Server;
    };
    expect((await serveOnAllAddresses({}, 1, fake('EAFNOSUPPORT'))).host).toBe('0.0.0.0');
    expect(hosts).toEqual(['::', '0.0.0.0']);
    await expect(serveOnAllAddresses({}, 1, fake('EADDRINUSE'))).rejects.toThrow('EADDRINUSE');
  });
});
