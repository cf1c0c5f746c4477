// Races in the store made deterministic: node:fs is wrapped so that a test can run another process's
// step (a DEL, an ADD) at the exact moment between two system calls of repair() or release().
import * as realFs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Reservation, Store } from './store.js';

/** Called after each wrapped fs call, with its name and first argument; may run another step. */
let hook: ((call: string, path: string) => void) | undefined;

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const wrap =
    <A extends unknown[], R>(name: string, f: (...a: A) => R) =>
    (...a: A): R => {
      const r = f(...a);
      const h = hook;
      if (h) h(name, String(a[0]));
      return r;
    };
  return { ...fs, readdirSync: wrap('readdirSync', fs.readdirSync), readFileSync: wrap('readFileSync', fs.readFileSync) };
});

let dataDir: string;
let store: Store;
beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gingham-race-'));
  store = new Store(dataDir, 'pods');
  await store.locked(() => undefined);
});
afterEach(() => {
  hook = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

const rec = (containerId: string, ...ips: string[]): Reservation => ({ containerId, ifName: 'eth0', ips, created: '2024-01-01T00:00:00.000Z' });
const att = (containerId: string): { containerId: string; ifName: string } => ({ containerId, ifName: 'eth0' });

describe('repair() against a DEL then ADD of the same address', () => {
  it('never removes the claim of the new holder: a third ADD cannot get the address', () => {
    store.reserve(rec('a', '198.18.200.2/24'));
    // repair() reads the claims (and their inodes), then the temporary files: there, "a" is
    // deleted and "b" takes the address, with a new inode under the same name.
    let dirReads = 0;
    hook = (call, path) => {
      if (call !== 'readdirSync' || path !== store.dir || ++dirReads !== 2) return;
      hook = undefined;
      store.release(att('a'));
      store.reserve(rec('b', '198.18.200.2/24'));
    };
    expect(store.repair()).toEqual([]);
    expect(store.holder('198.18.200.2')?.containerId).toBe('b');
    // Two containers must never hold one address.
    expect(() => store.reserve(rec('c', '198.18.200.2/24'))).toThrow(expect.objectContaining({ code: 100 }));
    expect(store.list().map((r) => r.containerId)).toEqual(['b']);
  });

  it('still removes a claim that nobody holds (a crash between link and rename)', () => {
    realFs.writeFileSync(join(store.dir, '198.18.200.9'), '');
    expect(store.repair()).toEqual(['198.18.200.9']);
  });

  it('keeps the claims of a record that is being released while it reads', () => {
    store.reserve(rec('a', '198.18.200.2/24'));
    // Between the reads of the temporary files and of the records, a DEL renames a's record
    // aside (a temporary file of a live process) and has not yet removed the claim.
    let dirReads = 0;
    let aside = '';
    hook = (call, path) => {
      if (call !== 'readdirSync' || path !== store.dir || ++dirReads !== 2) return;
      hook = undefined;
      aside = join(store.dir, `.tmp-${process.pid}-rel-test`);
      realFs.renameSync(join(store.dir, 'attachments', 'a@eth0'), aside);
    };
    expect(store.repair()).toEqual([]);
    expect(realFs.statSync(join(store.dir, '198.18.200.2')).ino).toBe(realFs.statSync(aside).ino);
  });
});

describe('release() is idempotent under concurrency', () => {
  it('two DELs of one attachment at once: both succeed, the address is free once', () => {
    store.reserve(rec('a', '198.18.200.2/24'));
    const second: unknown[] = [];
    // The second DEL runs whole while the first is half way (after its first file read).
    hook = (call) => {
      if (call !== 'readFileSync') return;
      hook = undefined;
      second.push(store.release(att('a')));
    };
    const first = store.release(att('a'));
    expect([first, ...second].filter((r) => r !== undefined)).toHaveLength(1);
    expect(store.isClaimed('198.18.200.2')).toBe(false);
    expect(store.list()).toEqual([]);
  });

  it('a DEL of an attachment that is not there succeeds', () => {
    expect(store.release(att('nope'))).toBeUndefined();
  });
});
