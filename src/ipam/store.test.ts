import { existsSync, linkSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code } from '../cni/errors.js';
import { type Reservation, Store, attachmentKey } from './store.js';

let dataDir: string;
let store: Store;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gingham-store-'));
  store = new Store(dataDir, 'pods');
  await store.locked(() => undefined); // creates the directories, as every caller does
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const rec = (containerId: string, ...ips: string[]): Reservation => ({ containerId, ifName: 'eth0', ips, created: '2024-01-01T00:00:00.000Z' });
const att = (containerId: string): { containerId: string; ifName: string } => ({ containerId, ifName: 'eth0' });
/** The store's entries, but the lock directory (there only while locked). */
const files = (): string[] => readdirSync(store.dir).filter((f) => f !== 'lock').sort();
const recordPath = (containerId: string): string => join(store.dir, 'attachments', attachmentKey(att(containerId)));

describe('Store', () => {
  it('keeps one directory per network', () => {
    expect(store.dir).toBe(join(dataDir, 'pods'));
    expect(new Store(dataDir, 'other').dir).not.toBe(store.dir);
  });

  it('names attachments <cid>@<ifname>', () => {
    expect(attachmentKey({ containerId: 'abc', ifName: 'net1' })).toBe('abc@net1');
  });

  describe('reserve / get / list', () => {
    it('stores the record and one claim per address, hard links of it', () => {
      const r = rec('a', '198.18.0.2/24', 'fd42:18::2/64');
      store.reserve(r);
      expect(store.get(att('a'))).toEqual(r);
      expect(files()).toEqual(['198.18.0.2', 'attachments', 'fd42:18::2']);
      const ino = statSync(recordPath('a')).ino;
      expect(statSync(join(store.dir, '198.18.0.2')).ino).toBe(ino);
      expect(statSync(join(store.dir, 'fd42:18::2')).ino).toBe(ino);
      expect(store.isClaimed('198.18.0.2')).toBe(true);
      expect(store.isClaimed('198.18.0.3')).toBe(false);
      expect(store.holder('fd42:18::2')).toEqual(r);
    });

    it('lists every reservation', () => {
      store.reserve(rec('a', '198.18.0.2/24'));
      store.reserve(rec('b', '198.18.0.3/24'));
      expect(store.list().map((r) => r.containerId).sort()).toEqual(['a', 'b']);
    });

    it('refuses an address someone holds (code 100) and leaves nothing behind', () => {
      store.reserve(rec('a', '198.18.0.3/24'));
      expect(() => store.reserve(rec('b', '198.18.0.2/24', '198.18.0.3/24'))).toThrow(
        expect.objectContaining({ code: Code.AddressUnavailable, message: 'address 198.18.0.3 is already reserved' }),
      );
      // The claim on 198.18.0.2 made before the failure is undone, and no temporary file is left.
      expect(files()).toEqual(['198.18.0.3', 'attachments']);
      expect(store.get(att('b'))).toBeUndefined();
      expect(store.holder('198.18.0.3')?.containerId).toBe('a');
    });

    it('is undefined for an unknown attachment, or a broken record', () => {
      expect(store.get(att('nobody'))).toBeUndefined();
      writeFileSync(recordPath('torn'), '{"containerId":"torn",');
      expect(store.get(att('torn'))).toBeUndefined();
      expect(store.list()).toEqual([]);
    });

    it('get and list are empty before the network exists', () => {
      const fresh = new Store(dataDir, 'never');
      expect(fresh.get(att('a'))).toBeUndefined();
      expect(fresh.list()).toEqual([]);
    });
  });

  describe('release', () => {
    it('removes the record and its claims and returns it', () => {
      const r = rec('a', '198.18.0.2/24', 'fd42:18::2/64');
      store.reserve(r);
      store.reserve(rec('b', '198.18.0.3/24'));
      expect(store.release(att('a'))).toEqual(r);
      expect(files()).toEqual(['198.18.0.3', 'attachments']);
      expect(store.get(att('a'))).toBeUndefined();
      expect(store.isClaimed('198.18.0.2')).toBe(false);
    });

    it('returns undefined for an attachment with no reservation', () => {
      expect(store.release(att('nobody'))).toBeUndefined();
    });

    it('leaves a claim on its address that belongs to another record', () => {
      store.reserve(rec('a', '198.18.0.2/24'));
      rmSync(join(store.dir, '198.18.0.2'));
      store.reserve(rec('b', '198.18.0.2/24'));
      store.release(att('a'));
      expect(store.holder('198.18.0.2')?.containerId).toBe('b');
    });
  });

  describe('last reserved', () => {
    it('is kept per range set', () => {
      expect(store.lastReserved(0)).toBeUndefined();
      store.setLastReserved(0, '198.18.0.7');
      store.setLastReserved(1, 'fd42:18::7');
      store.setLastReserved(0, '198.18.0.8');
      expect(store.lastReserved(0)).toBe('198.18.0.8');
      expect(store.lastReserved(1)).toBe('fd42:18::7');
      expect(files().filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    });
  });

  describe('repair', () => {
    it('removes empty and orphan claims, temporary files and broken records', () => {
      store.reserve(rec('a', '198.18.0.2/24'));
      store.setLastReserved(0, '198.18.0.2');
      writeFileSync(join(store.dir, '198.18.0.3'), ''); // a torn claim
      writeFileSync(join(store.dir, '198.18.0.4'), JSON.stringify(rec('ghost', '198.18.0.4/24'))); // its record never landed
      writeFileSync(join(store.dir, '.tmp-99999999-456'), JSON.stringify(rec('c', '198.18.0.9/24')));
      writeFileSync(recordPath('broken'), 'not json');
      const removed = store.repair();
      expect(removed.sort()).toEqual(['.tmp-99999999-456', '198.18.0.3', '198.18.0.4', 'attachments/broken@eth0']);
      expect(files()).toEqual(['198.18.0.2', 'attachments', 'last_reserved_ip.0']);
      expect(store.get(att('a'))?.ips).toEqual(['198.18.0.2/24']);
      expect(store.lastReserved(0)).toBe('198.18.0.2');
    });

    it('frees the address of a claim whose record was broken', () => {
      store.reserve(rec('a', '198.18.0.2/24'));
      writeFileSync(recordPath('a'), 'garbage'); // same inode as the claim: both are now unreadable
      expect(store.repair().sort()).toEqual(['198.18.0.2', 'attachments/a@eth0']);
      expect(() => store.reserve(rec('b', '198.18.0.2/24'))).not.toThrow();
    });

    it('lets an address be reserved again after repair', () => {
      writeFileSync(join(store.dir, '198.18.0.3'), '');
      expect(() => store.reserve(rec('a', '198.18.0.3/24'))).toThrow(expect.objectContaining({ code: Code.AddressUnavailable }));
      store.repair();
      store.reserve(rec('a', '198.18.0.3/24'));
      expect(store.holder('198.18.0.3')?.containerId).toBe('a');
    });

    it('keeps the claims of a reservation a live process is still writing', () => {
      // What reserve() has made just before its rename: a temporary record and a claim linked to it.
      const tmp = join(store.dir, `.tmp-${process.pid}-77`);
      writeFileSync(tmp, JSON.stringify(rec('busy', '198.18.0.5/24')));
      linkSync(tmp, join(store.dir, '198.18.0.5'));
      expect(store.repair()).toEqual([]);
      expect(existsSync(join(store.dir, '198.18.0.5'))).toBe(true);
    });

    it('removes nothing from a sound store', () => {
      store.reserve(rec('a', '198.18.0.2/24', 'fd42:18::2/64'));
      expect(store.repair()).toEqual([]);
      expect(files()).toEqual(['198.18.0.2', 'attachments', 'fd42:18::2']);
    });

    it('keeps the lock it runs under', async () => {
      writeFileSync(join(store.dir, '198.18.0.3'), '');
      const removed = await store.locked(() => {
        const r = store.repair();
        expect(existsSync(join(store.dir, 'lock'))).toBe(true);
        return r;
      });
      expect(removed).toEqual(['198.18.0.3']);
    });

    it('does nothing when the network does not exist', () => {
      expect(new Store(dataDir, 'never').repair()).toEqual([]);
      expect(existsSync(join(dataDir, 'never'))).toBe(false);
    });
  });

  describe('locked', () => {
    it('runs one holder at a time', async () => {
      const order: string[] = [];
      const job = (name: string) => async (): Promise<void> => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${name}-`);
      };
      await Promise.all([store.locked(job('a')), store.locked(job('b')), store.locked(job('c'))]);
      for (let i = 0; i < order.length; i += 2) expect(order[i + 1]).toBe(order[i]!.replace('+', '-'));
      expect(order).toHaveLength(6);
    });

    it('returns the value and releases the lock after a failure', async () => {
      await expect(store.locked(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      await expect(store.locked(() => 42)).resolves.toBe(42);
    });
  });
});
