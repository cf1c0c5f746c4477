import { describe, expect, it } from 'vitest';
import { ExplainUsageError, connectionFamily, endpointOf, explainConnection, parseExplainArgs } from './explain-cli.js';
import { ns, pod, policy, sel } from './testing.js';

describe('gingham policy explain arguments', () => {
  it('parses both flag styles; the protocol defaults to TCP, the family to none asked; --ipv4, --ipv6 and --json', () => {
    expect(parseExplainArgs(['explain', '--from', 'x/a', '--to=y/b', '--port', '80'])).toEqual({ from: 'x/a', to: 'y/b', port: 80, protocol: 'TCP', json: false });
    expect(parseExplainArgs(['explain', '--from', 'x/a', '--to=y/b', '--port', '80', '--ipv4'])).toMatchObject({ family: 4 });
    expect(parseExplainArgs(['explain', '--from', 'x/a', '--to', '198.19.1.5', '--port', '53/udp', '--ipv6', '--json', '--kubeconfig', '/k'])).toEqual({ from: 'x/a', to: '198.19.1.5', port: 53, protocol: 'UDP', family: 6, json: true, kubeconfig: '/k' });
  });

  it.each([
    [['show'], /unknown command "show"/],
    [['explain', '--from', 'x/a', '--to', 'y/b'], /--from, --to and --port are required/],
    [['explain', '--from', 'x/a', '--to', 'y/b', '--port', '70000'], /--port 70000/],
    [['explain', '--from', 'x/a', '--to', 'y/b', '--port', '80/ICMP'], /--port 80\/ICMP/],
    [['explain', '--from', 'x/a', '--to', 'y/b', '--port', '80', '--nope'], /unknown argument "--nope"/],
    [['explain', '--from', 'x/a', '--to', 'y/b', '--port', '80', '--ipv4', '--ipv6'], /exclude each other/],
  ])('%j is refused', (argv, msg) => expect(() => parseExplainArgs(argv)).toThrow(msg));
});

describe('endpoints', () => {
  const a = pod('x', 'a', ['198.18.129.2', 'fd42:18:8001::2']);
  const h = pod('kube-system', 'agent', ['198.19.1.2'], { hostNetwork: true, node: 'n1' });
  const inputs = { policies: [], pods: [a, h], namespaces: [ns('x')] };
  const nodes = [{ name: 'n1', podCIDRs: [], internalIPs: ['198.19.1.2', 'fd42:19:1::2'] }];

  it('NS/POD and a pod address are the pod, in the family asked for', () => {
    expect(endpointOf('x/a', 4, inputs, nodes)).toEqual({ kind: 'pod', pod: a, ip: '198.18.129.2' });
    expect(endpointOf('x/a', 6, inputs, nodes)).toEqual({ kind: 'pod', pod: a, ip: 'fd42:18:8001::2' });
    expect(endpointOf('198.18.129.2', 4, inputs, nodes)).toMatchObject({ kind: 'pod', pod: a });
  });

  it('node/NAME, a node address and a hostNetwork pod are that node; any other address is just an address', () => {
    expect(endpointOf('node/n1', 6, inputs, nodes)).toEqual({ kind: 'ip', ip: 'fd42:19:1::2', node: 'n1' });
    expect(endpointOf('198.19.1.2', 4, inputs, nodes)).toEqual({ kind: 'ip', ip: '198.19.1.2', node: 'n1' });
    expect(endpointOf('kube-system/agent', 4, inputs, nodes)).toEqual({ kind: 'ip', ip: '198.19.1.2', node: 'n1' });
    expect(endpointOf('198.19.7.7', 4, inputs, nodes)).toEqual({ kind: 'ip', ip: '198.19.7.7' });
  });

  it('takes the family both ends have, IPv4 first, unless one is asked for', () => {
    const v6 = pod('y', 'v6', ['fd42:18:8002::5']);
    const more = { ...inputs, pods: [a, h, v6] };
    const family = (from: string, to: string, asked?: 4 | 6): number => connectionFamily({ from, to, ...(asked ? { family: asked } : {}) }, more, nodes);
    expect(family('x/a', 'node/n1')).toBe(4);
    expect(family('x/a', 'node/n1', 6)).toBe(6);
    // An IPv6-only cluster's pods, and an address, which names its own family.
    expect(family('x/a', 'y/v6')).toBe(6);
    expect(family('x/a', 'fd42:19:1::2')).toBe(6);
    expect(() => family('kube-system/agent', 'y/v6')).toThrow(/kube-system\/agent has IPv4, y\/v6 has IPv6: no family in common/);
  });

  it('says what is missing', () => {
    expect(() => endpointOf('x/nope', 4, inputs, nodes)).toThrow(ExplainUsageError);
    expect(() => endpointOf('node/n9', 4, inputs, nodes)).toThrow(/no node "n9"/);
    expect(() => endpointOf('kube-system/agent', 6, inputs, nodes)).toThrow(/no IPv6 address/);
    expect(() => endpointOf('nonsense', 4, inputs, nodes)).toThrow(/not NS\/POD, node\/NAME or an IP address/);
  });
});

describe('explainConnection (the CLI and gingham ui both)', () => {
  const a = pod('x', 'a', ['198.18.129.2'], { labels: { pod: 'a' } });
  const b = pod('x', 'b', ['198.18.129.3'], { labels: { pod: 'b' } });
  const deny = policy('x', 'deny', { select: sel({ pod: 'b' }), ingress: [] });
  const inputs = { policies: [deny], pods: [a, b], namespaces: [ns('x')] };
  const nodes = [{ name: 'n1', podCIDRs: [], internalIPs: ['198.19.1.2'] }];
  const args = { from: 'x/a', to: 'x/b', port: 80, protocol: 'TCP' as const };

  it('gives the verdict, the text the CLI prints (with a note per problem) and the --json object', () => {
    const r = explainConnection(args, { inputs, problems: ['x/odd: bad'] }, nodes);
    expect(r.allowed).toBe(false);
    expect(r.text).toMatch(/^x\/a \(198\.18\.129\.2\) -> x\/b \(198\.18\.129\.3\) 80\/TCP: DENIED\n/);
    expect(r.text).toMatch(/x\/deny/);
    expect(r.text.endsWith('\n  note: not used as written: x/odd: bad\n')).toBe(true);
    expect(r.json).toMatchObject({ from: 'x/a', to: 'x/b', fromIP: '198.18.129.2', toIP: '198.18.129.3', port: 80, protocol: 'TCP', allowed: false, problems: ['x/odd: bad'] });
    expect(explainConnection({ ...args, to: 'x/a', from: 'x/b' }, { inputs, problems: [] }, nodes).allowed).toBe(true);
  });

  it('refuses an end that is not there', () => {
    expect(() => explainConnection({ ...args, to: 'x/gone' }, { inputs, problems: [] }, nodes)).toThrow(ExplainUsageError);
  });
});
