import { describe, expect, it } from 'vitest';
import { MASQ_JUMP, masqueradeRestore, masqueradeRules, parseMasquerade } from './masquerade.js';

const want = masqueradeRules({ family: 4, podCIDR: '198.18.128.0/24', keepTo: ['198.18.128.0/17'], nodeIPs: ['198.19.1.3', '198.19.1.2'] });

describe('masquerade', () => {
  it('keeps the source to the cluster and to every node, masquerades the rest (not multicast)', () => {
    expect(want).toEqual([
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.18.128.0/17 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.19.1.2/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 -d 198.19.1.3/32 -j RETURN',
      '-A GINGHAM-MASQ -s 198.18.128.0/24 ! -d 224.0.0.0/4 -j MASQUERADE',
    ]);
    expect(masqueradeRules({ family: 6, podCIDR: 'fd42:18:8000::/64', keepTo: [], nodeIPs: ['fd42:19:1::2'] })).toEqual([
      '-A GINGHAM-MASQ -s fd42:18:8000::/64 -d fd42:19:1::2/128 -j RETURN',
      '-A GINGHAM-MASQ -s fd42:18:8000::/64 ! -d ff00::/8 -j MASQUERADE',
    ]);
  });

  it('writes the chain and the jump when absent, nothing when they match, the chain alone when it differs', () => {
    const absent = parseMasquerade(['-P POSTROUTING ACCEPT', '-N KUBE-POSTROUTING']);
    expect(masqueradeRestore(want, absent)).toBe(`*nat\n:GINGHAM-MASQ - [0:0]\n${want.join('\n')}\n${MASQ_JUMP}\nCOMMIT\n`);
    const present = parseMasquerade(['-N GINGHAM-MASQ', MASQ_JUMP, ...want]);
    expect(masqueradeRestore(want, present)).toBe('');
    const stale = parseMasquerade(['-N GINGHAM-MASQ', MASQ_JUMP, ...want.slice(1)]);
    expect(masqueradeRestore(want, stale)).toBe(`*nat\n:GINGHAM-MASQ - [0:0]\n${want.join('\n')}\nCOMMIT\n`);
  });

  it('removal: the jump and the chain go together, and only if there', () => {
    expect(masqueradeRestore(undefined, parseMasquerade(['-N GINGHAM-MASQ', MASQ_JUMP]))).toBe(
      '*nat\n-D POSTROUTING -m comment --comment gingham-masquerade -j GINGHAM-MASQ\n:GINGHAM-MASQ - [0:0]\n-X GINGHAM-MASQ\nCOMMIT\n',
    );
    expect(masqueradeRestore(undefined, parseMasquerade([]))).toBe('');
  });
});
