// /metrics on the node's addresses, for Prometheus: a server of its own beside the health one
// (which stays on loopback for kubelet), so the probes never depend on what a scraper does. The
// read-only /state and /events for `gingham ui` are served here too (main.ts, state-view.ts).
import type { Server } from 'node:http';
import { type Answer, type Routes, type ServeOptions, serveRoutes } from '../health.js';
import { registry } from './registry.js';

/** The exposition text, after `refresh` has brought the values read at scrape time up to date. */
export function metricsRoute(refresh: () => void): () => Promise<Answer> {
  return async () => {
    refresh();
    return { status: 200, text: await registry.metrics(), contentType: registry.contentType };
  };
}

/** Errors that mean "no IPv6 on this node": listen on every IPv4 address instead. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/**
 * Serves `routes` on every address of the node: "::" (both families on a dual-stack socket), or
 * "0.0.0.0" where the kernel has no IPv6. Rejects when the port cannot be had.
 */
export async function serveOnAllAddresses(routes: Routes, port: number, serve = serveRoutes, opts: ServeOptions = {}): Promise<{ server: Server; host: string }> {
  try {
    return { server: await serve(routes, port, '::', opts), host: '::' };
  } catch (e) {
    if (!NO_IPV6.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    return { server: await serve(routes, port, '0.0.0.0', opts), host: '0.0.0.0' };
  }
}
