// `gingham policy drops` against a stand-in agent: arguments, the query it asks, the lines it
// prints, and how it ends (the agent closes the stream; no agent; the agent says events are off).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { VerdictEvent } from './enrich.js';
import { DropsUsageError, eventsPath, parseDropsArgs, runDrops, showEvent } from './drops-cli.js';

const EVENT: VerdictEvent = {
  time: '2026-12-06T10:28:03.019Z',
  verdict: 'denied',
  direction: 'ingress',
  tier: 'NetworkPolicy',
  namespace: 'x',
  pod: 'a',
  src: { ip: '198.18.2.2', port: 40000, pod: 'y/c' },
  dst: { ip: '198.18.1.2', port: 81, pod: 'x/a' },
  protocol: 'TCP',
  policies: ['x/deny'],
  reason: 'isolated by x/deny, no rule allows',
};

describe('gingham policy drops arguments', () => {
  it('parses flags; the query asks for denied events unless --accepts', () => {
    const a = parseDropsArgs(['--follow', '--pod', 'x/a', '--namespace=x', '--json']);
    expect(a).toEqual({ follow: true, json: true, accepts: false, pod: 'x/a', namespace: 'x', agent: 'http://127.0.0.1:9917' });
    expect(eventsPath(a)).toBe('/events?follow=1&namespace=x&pod=x%2Fa&verdict=denied');
    expect(eventsPath(parseDropsArgs(['--accepts']))).toBe('/events');
    expect(parseDropsArgs(['--health-port', '9000']).agent).toBe('http://127.0.0.1:9000');
    expect(parseDropsArgs(['--agent', 'http://198.18.0.1:9917/']).agent).toBe('http://198.18.0.1:9917');
  });

  it.each([[['--pod', 'a']], [['--health-port', '0']], [['--agent', 'ftp://x']], [['--nope']], [['--namespace']]])('%j is refused', (argv) => {
    expect(() => parseDropsArgs(argv)).toThrow(DropsUsageError);
  });

  it('prints one line per event for people', () => {
    expect(showEvent(EVENT)).toBe('10:28:03.019 DENIED ingress y/c (198.18.2.2:40000) -> x/a (198.18.1.2:81) TCP: isolated by x/deny, no rule allows');
    expect(showEvent({ ...EVENT, src: { ip: 'fd42:99::7' }, protocol: 'ICMPv6', dst: { ip: 'fd42:18:1::2', pod: 'x/a' } })).toContain('[fd42:99::7] -> x/a ([fd42:18:1::2]) ICMPv6');
  });
});

describe('gingham policy drops against an agent', () => {
  const withAgent = async (answer: (path: string, res: import('node:http').ServerResponse) => void, run: (url: string) => Promise<void>): Promise<void> => {
    const server = createServer((req, res) => answer(req.url ?? '', res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  };

  it('prints the events and exits 0 when the agent ends the stream', async () => {
    await withAgent(
      (path, res) => {
        expect(path).toBe('/events?follow=1&verdict=denied');
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(`${JSON.stringify(EVENT)}\n`);
        setTimeout(() => res.end(`${JSON.stringify({ ...EVENT, pod: 'b' })}\n`), 50);
      },
      async (agent) => {
        const out: string[] = [];
        expect(await runDrops({ ...parseDropsArgs(['--follow', '--json']), agent }, (s) => out.push(s))).toBe(0);
        expect(out.map((l) => (JSON.parse(l) as VerdictEvent).pod)).toEqual(['a', 'b']);
      },
    );
  });

  it('says what the agent says when events are off, and when no agent answers', async () => {
    await withAgent(
      (_, res) => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'verdict events are off on this node' }));
      },
      async (agent) => {
        const err: string[] = [];
        expect(await runDrops({ ...parseDropsArgs([]), agent }, () => undefined, (s) => err.push(s))).toBe(1);
        expect(err.join('')).toContain('answered 503: verdict events are off on this node');
      },
    );
    const err: string[] = [];
    // A port nothing listens on (the kernel gives ports from the ephemeral range; 1 is privileged and unused here).
    expect(await runDrops({ ...parseDropsArgs([]), agent: 'http://127.0.0.1:1' }, () => undefined, (s) => err.push(s))).toBe(1);
    expect(err.join('')).toMatch(/no agent answers at http:\/\/127.0.0.1:1 \(ECONNREFUSED\)/);
  });
});
