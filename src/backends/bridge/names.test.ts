import { describe, expect, it } from 'vitest';
import { VETH_PREFIX, chainId, hostVethName, macFrom } from './names.js';

describe('hostVethName', () => {
  it('fits a Linux interface name (<= 15 bytes) and starts with the prefix', () => {
    for (const [cid, ifName] of [
      ['a', 'eth0'],
      ['0123456789abcdef'.repeat(4), 'net1'],
      ['ünïcödé', 'eth0'],
    ] as const) {
      const name = hostVethName(cid, ifName);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(15);
      expect(name).toMatch(/^gh-[0-9a-f]{12}$/);
      expect(name.startsWith(VETH_PREFIX)).toBe(true);
    }
  });

  it('is stable: the first 12 hex digits of FNV-1a 64 of "<cid>/<ifname>"', () => {
    // Pinned (computed independently): a change in the hash would orphan every existing pod's host veth.
    expect(hostVethName('abc', 'eth0')).toBe('gh-561a69de51a6');
  });

  it('differs between attachments', () => {
    const names = new Set<string>();
    for (let i = 0; i < 500; i++) names.add(hostVethName(`container-${i}`, 'eth0'));
    names.add(hostVethName('container-0', 'net1'));
    expect(names.size).toBe(501);
  });
});

describe('macFrom', () => {
  it('is a locally administered unicast MAC', () => {
    for (let i = 0; i < 200; i++) {
      const mac = macFrom(`seed-${i}`);
      expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(mac.slice(0, 2), 16);
      expect(first & 0x01).toBe(0); // unicast
      expect(first & 0x02).toBe(2); // locally administered
    }
  });

  it('is stable and depends on the seed', () => {
    expect(macFrom('pod/abc/eth0')).toBe('02:39:82:e5:99:a6');
    expect(macFrom('pod/abc/eth0')).not.toBe(macFrom('host/abc/eth0'));
  });
});

describe('chainId', () => {
  it('is 8 upper-case hex digits, stable, and differs between networks', () => {
    expect(chainId('pods')).toMatch(/^[0-9A-F]{8}$/);
    expect(chainId('pods')).toBe('8BFCEE0D');
    expect(chainId('pods')).not.toBe(chainId('pods2'));
  });
});
