// /api/explain's query: hostile values refused with a reason; good ones answered with exactly
// what `gingham policy explain` prints.
import { describe, expect, it } from 'vitest';
import { explainConnection } from '../agent/policy/explain-cli.js';
import { ns, pod, policy, sel } from '../agent/policy/testing.js';
import { explainAnswer, parseExplainQuery } from './explain-query.js';

const q = (s: string): URLSearchParams => new URLSearchParams(s);

describe('the explain query', () => {
  it('takes NS/POD, node/NAME or an address, a port and a protocol (TCP by default, any case)', () => {
    expect(parseExplainQuery(q('from=x/a&to=x/b&port=80'))).toEqual({ from: 'x/a', to: 'x/b', port: 80, protocol: 'TCP' });
    expect(parseExplainQuery(q('from=node/n1&to=198.18.0.5&port=53&protocol=udp'))).toEqual({ from: 'node/n1', to: '198.18.0.5', port: 53, protocol: 'UDP' });
    expect(parseExplainQuery(q('from=fd42:18::5&to=x/b.c&port=65535&protocol=SCTP'))).toMatchObject({ from: 'fd42:18::5', protocol: 'SCTP' });
  });

  it.each([
    ['to=x/b&port=80', /from is missing/],
    ['from=x&to=x/b&port=80', /not NS\/POD or an IP address/],
    ['from=x/a/b&to=x/b&port=80', /not NS\/POD or an IP address/],
    ['from=X/a&to=x/b&port=80', /not a DNS-1123 label/],
    ['from=x/a&to=x/<script>&port=80', /not a DNS-1123 subdomain/],
    ['from=x/a&to=x/b&port=0', /want 1-65535/],
    ['from=x/a&to=x/b&port=80.5', /want 1-65535/],
    ['from=x/a&to=x/b&port=80&protocol=ICMP', /want TCP, UDP or SCTP/],
  ])('%s is refused', (query, msg) => {
    const r = parseExplainQuery(q(query));
    expect('error' in r && r.error).toMatch(msg);
  });

  const a = pod('x', 'a', ['198.18.129.2'], { labels: { pod: 'a' } });
  const b = pod('x', 'b', ['198.18.129.3'], { labels: { pod: 'b' } });
  const inputs = { policies: [policy('x', 'deny', { select: sel({ pod: 'b' }), ingress: [] })], pods: [a, b], namespaces: [ns('x')] };
  const read = () => ({ inputs, problems: [], nodes: [] });

  it('answers as the CLI does; 400 for an end that is not there, 503 before the cluster is read', () => {
    const answer = explainAnswer(q('from=x/a&to=x/b&port=80'), read);
    const cli = explainConnection({ from: 'x/a', to: 'x/b', port: 80, protocol: 'TCP' }, { inputs, problems: [] }, []);
    expect(answer).toEqual({ status: 200, body: { allowed: false, text: cli.text, json: cli.json } });
    expect(explainAnswer(q('from=x/a&to=x/gone&port=80'), read)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/no pod x\/gone/) } });
    expect(explainAnswer(q('from=x/a&to=x/b&port=x'), read).status).toBe(400);
    expect(explainAnswer(q('from=x/a&to=x/b&port=80'), () => undefined).status).toBe(503);
  });
});
