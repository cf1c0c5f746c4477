// One node's agent as the ui follows it: a reconnect asks only for what it lacks (since= the
// newest event taken) and takes nothing twice, though the agent sends its kept events again; a
// /state that differs only in its kernel check time is no change.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentFleet, stateKey } from './agents.js';
import type { VerdictEvent } from './model.js';
import { agentState } from './testing.js';

const event = (time: string, port: number): VerdictEvent => ({ time, verdict: 'denied', direction: 'ingress', tier: 'NetworkPolicy', namespace: 'x', pod: 'b', src: { ip: '198.18.1.2', port: 40000, pod: 'x/a' }, dst: { ip: '198.18.2.2', port, pod: 'x/b' }, protocol: 'TCP', policies: ['x/deny'], reason: 'r' });

let server: Server | undefined;
let fleet: AgentFleet | undefined;
afterEach(() => {
  fleet?.stop();
  server?.closeAllConnections();
  server?.close();
});

describe('the agents as the ui follows them', () => {
  it('reconnects asking since the newest event, and takes each event once', async () => {
    const now = Date.now();
    const kept = [event(new Date(now - 2000).toISOString(), 80), event(new Date(now - 1000).toISOString(), 81), event(new Date(now - 1000).toISOString(), 82)];
    const asked: string[] = [];
    // Each connection: every kept event of that time or later (as the agent's since= does), then the end.
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://agent');
      if (url.pathname !== '/events') return void res.writeHead(404).end();
      const since = url.searchParams.get('since') ?? '';
      asked.push(since);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end(kept.filter((e) => e.time >= since).map((e) => `${JSON.stringify(e)}\n`).join(''));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const taken: number[] = [];
    fleet = new AgentFleet({ agentPort: 0, baseUrl: () => base, pollMs: 60_000, onChange: () => undefined, onVerdict: (_n, e) => taken.push(e.dst.port!) });
    fleet.update([{ name: 'n1', podCIDRs: [], internalIPs: ['127.0.0.1'] }]);
    // The follower reconnects a second after each end.
    await expect.poll(() => asked.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(Date.now() - Date.parse(asked[0]!)).toBeGreaterThanOrEqual(10 * 60_000);
    expect(asked[1]).toBe(kept[2]!.time);
    expect(taken).toEqual([80, 81, 82]);
  });

  it('a state that differs only in when its kernel was checked compares equal', () => {
    const a = agentState('n1');
    expect(stateKey({ ...a, kernel: { ...a.kernel, checkedAt: '2030-01-01T00:00:00.000Z' } })).toBe(stateKey(a));
    expect(stateKey({ ...a, kernel: { ...a.kernel, matches: false, differences: 1 } })).not.toBe(stateKey(a));
  });
});
