// Reservation files read back by the agent: the pod names in them came from the runtime's CNI_ARGS,
// so a reservation whose names or addresses are not what the API would hold is ignored and reported.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reservedPodIps, withReservedIps } from './local-pods.js';
import type { PodInfo } from './model.js';

describe('reservedPodIps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-local-pods-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  const reserve = (network: string, fields: Record<string, unknown>): void => {
    const at = join(dir, network, 'attachments');
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, `r${n++}`), JSON.stringify({ containerId: `c${n}`, ifName: 'eth0', created: '', ...fields }));
  };

  it('maps each valid reservation to its pod, canonical, and ignores the rest with one line each', () => {
    reserve('net', { ips: ['198.18.128.5/24', 'FD42:18:128:0::5/64'], podNamespace: 'x', podName: 'a' });
    reserve('net', { ips: ['198.18.128.6/24'] }); // made outside Kubernetes: no pod, nothing to say
    reserve('net', { ips: ['198.18.128.7/24'], podNamespace: 'x', podName: 'p"q' });
    reserve('net', { ips: ['198.18.128.8/24'], podNamespace: 'x\n-I INPUT 1 -j ACCEPT', podName: 'b' });
    reserve('net', { ips: ['198.18.128.9'], podNamespace: 'x', podName: 'c' });
    reserve('net', { ips: ['0.0.0.0/24'], podNamespace: 'x', podName: 'd' });
    reserve('net', { ips: [7], podNamespace: 'x', podName: 'e' });
    reserve('net', { ips: ['198.18.128.10/24'], podNamespace: 'x' });
    const skipped: string[] = [];
    expect(reservedPodIps(dir, (p) => skipped.push(p))).toEqual(new Map([['x/a', ['198.18.128.5', 'fd42:18:128::5']]]));
    expect(skipped.map((s) => s.replace(/^reservation of container "c\d+" in network "net": /, '')).sort()).toEqual([
      '"0.0.0.0" is the unspecified address (ignored)',
      '"198.18.128.9" is not an address with a prefix length (ignored)',
      '7 is not an address with a prefix length (ignored)',
      'podName "p\\"q" is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .) (ignored)',
      'podName missing (ignored)',
      'podNamespace "x\\n-I INPUT 1 -j ACCEPT" is not a DNS-1123 label (1-63 of a-z, 0-9, -) (ignored)',
    ]);
  });

  it('fills in only valid pods of this node that the API lists without an address', () => {
    const pod: PodInfo = { namespace: 'x', name: 'a', labels: {}, ips: [], node: 'n1', hostNetwork: false, namedPorts: [] };
    const filled = withReservedIps([pod], 'n1', reservedPodIps(dir));
    expect(filled[0]!.ips).toEqual(['198.18.128.5', 'fd42:18:128::5']);
  });
});
