// Helpers shared by the agent's tests (never imported by the agent itself).
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeInfo } from './network/nodes.js';

export const node = (name: string, podCIDRs: string[], internalIPs: string[]): NodeInfo => ({ name, podCIDRs, internalIPs });

/** A Node object as the API serves it (the parts the agent reads, and a few it must ignore). */
export function v1Node(name: string, podCIDRs: string[], internalIPs: string[]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { ...(podCIDRs[0] ? { podCIDR: podCIDRs[0] } : {}), ...(podCIDRs.length ? { podCIDRs } : {}) },
    status: {
      addresses: [...internalIPs.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export const FAKE_APISERVER = join(import.meta.dirname, 'sources', 'fake-apiserver.mjs');

export interface FakeApiServer {
  readonly port: number;
  readonly url: string;
  /** A watch event: ADDED, MODIFIED or DELETED with a Node object, or CLOSE-WATCHES. */
  send(type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'CLOSE-WATCHES', object?: Record<string, unknown>): void;
  /** Writes a kubeconfig for this server to path; returns path. */
  kubeconfig(path: string): string;
  stop(): Promise<void>;
}

/** Runs fake-apiserver.mjs; `wrap` runs it inside something, e.g. ['ip', 'netns', 'exec', NS]. */
export async function startFakeApiServer(wrap: string[] = [], host = '127.0.0.1'): Promise<FakeApiServer> {
  const argv = [...wrap, process.execPath, FAKE_APISERVER, host];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`fake API server exited with ${code}`)));
  });
  const url = `http://${host}:${port}`;
  return {
    port,
    url,
    send: (type, object) => child.stdin!.write(`${JSON.stringify({ type, object })}\n`),
    kubeconfig(path) {
      const kc = {
        apiVersion: 'v1',
        kind: 'Config',
        // client-node refuses plain http unless TLS verification is (pointlessly) switched off.
        clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: {} }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
        'current-context': 'fake',
      };
      writeFileSync(path, JSON.stringify(kc));
      return path;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Polls until check() gives a value (not undefined), or fails after timeoutMs. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
