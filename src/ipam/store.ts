// Reservations on disk, one directory per network:
//   <ip>                      a claim: a hard link to the reservation record that holds the address
//   attachments/<cid>@<if>    the reservation record (JSON), keyed by container ID and interface
//   last_reserved_ip.<set>    where the next search of each range set starts
//   lock                      proper-lockfile's lock directory
// A record is written whole to a temporary file and fsync'd, then each claim is made with link(),
// which fails if the address is held, and the record is renamed into place. So a claim is never a
// half-written file; a claim whose record never landed (a crash in between) is an orphan that the
// repair pass and GC remove.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors.js';
import { withLock } from '../lock.js';
import type { Attachment } from '../cni/netconf.js';
import { isObj } from '../cni/validate.js';

export interface Reservation extends Attachment {
  /** Addresses with prefix, e.g. "198.18.16.2/24". */
  ips: string[];
  created: string;
  podNamespace?: string;
  podName?: string;
}

const ATTACHMENTS = 'attachments';
const TMP_PREFIX = '.tmp-';

export const attachmentKey = (a: Attachment): string => `${a.containerId}@${a.ifName}`;
const claimName = (cidr: string): string => cidr.slice(0, cidr.indexOf('/'));

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeDurable(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function parseReservation(text: string): Reservation | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (!isObj(v) || typeof v['containerId'] !== 'string' || typeof v['ifName'] !== 'string' || !Array.isArray(v['ips'])) return undefined;
    return v as unknown as Reservation;
  } catch {
    return undefined;
  }
}

const isCode = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException).code === code;

export class Store {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  /** Run fn holding the network's lock. */
  locked<T>(fn: () => T | Promise<T>): Promise<T> {
    mkdirSync(join(this.dir, ATTACHMENTS), { recursive: true });
    return withLock(this.dir, fn);
  }

  get(a: Attachment): Reservation | undefined {
    try {
      return parseReservation(readFileSync(join(this.dir, ATTACHMENTS, attachmentKey(a)), 'utf8'));
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  /** Is the address claimed? Only asked while holding the lock. */
  isClaimed(ip: string): boolean {
    try {
      statSync(this.path(ip));
      return true;
    } catch {
      return false;
    }
  }

  /** Holder of an address, if its claim is a complete record. */
  holder(ip: string): Reservation | undefined {
    try {
      return parseReservation(readFileSync(this.path(ip), 'utf8'));
    } catch {
      return undefined;
    }
  }

  reserve(r: Reservation): void {
    const tmp = this.path(`${TMP_PREFIX}${process.pid}-${Date.now()}`);
    writeDurable(tmp, `${JSON.stringify(r)}\n`);
    const made: string[] = [];
    try {
      for (const cidr of r.ips) {
        const claim = this.path(claimName(cidr));
        try {
          linkSync(tmp, claim);
        } catch (e) {
          if (isCode(e, 'EEXIST')) throw new CniError(Code.AddressUnavailable, `address ${claimName(cidr)} is already reserved`);
          throw e;
        }
        made.push(claim);
      }
      renameSync(tmp, join(this.dir, ATTACHMENTS, attachmentKey(r)));
    } catch (e) {
      for (const m of made) rmSync(m, { force: true });
      rmSync(tmp, { force: true });
      throw e;
    }
    fsyncDir(this.dir);
  }

  /** Remove a reservation and the claims that are its own (same inode). */
  release(a: Attachment): Reservation | undefined {
    const recordPath = join(this.dir, ATTACHMENTS, attachmentKey(a));
    let ino: number;
    try {
      ino = statSync(recordPath).ino;
    } catch {
      return undefined;
    }
    const r = parseReservation(readFileSync(recordPath, 'utf8'));
    for (const cidr of r?.ips ?? []) {
      const claim = this.path(claimName(cidr));
      try {
        if (statSync(claim).ino === ino) unlinkSync(claim);
      } catch {
        // already gone
      }
    }
    unlinkSync(recordPath);
    fsyncDir(this.dir);
    return r;
  }

  lastReserved(set: number): string | undefined {
    try {
      return readFileSync(this.path(`last_reserved_ip.${set}`), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** A hint only, so no fsync: after a crash the search merely starts elsewhere. */
  setLastReserved(set: number, ip: string): void {
    const tmp = this.path(`${TMP_PREFIX}last-${process.pid}`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, ip);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path(`last_reserved_ip.${set}`));
  }

  list(): Reservation[] {
    let names: string[];
    try {
      names = readdirSync(join(this.dir, ATTACHMENTS));
    } catch {
      return [];
    }
    const out: Reservation[] = [];
    for (const n of names) {
      try {
        const r = parseReservation(readFileSync(join(this.dir, ATTACHMENTS, n), 'utf8'));
        if (r) out.push(r);
      } catch {
        // raced with a release
      }
    }
    return out;
  }

  /**
   * Drop what a crash can leave: temporary files, claims with no complete record behind them
   * (empty or torn files, or a record that never got renamed into place), and unreadable records.
   * Returns the names removed. Call it holding the lock.
   */
  repair(): string[] {
    const removed: string[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return removed;
    }
    const records = new Map<number, Reservation>();
    for (const n of readdirSync(join(this.dir, ATTACHMENTS))) {
      const p = join(this.dir, ATTACHMENTS, n);
      const r = parseReservation(readFileSync(p, 'utf8'));
      if (r) records.set(statSync(p).ino, r);
      else {
        unlinkSync(p);
        removed.push(`${ATTACHMENTS}/${n}`);
      }
    }
    for (const n of names) {
      if (n === 'lock' || n === ATTACHMENTS || n.startsWith('last_reserved_ip.')) continue;
      const p = this.path(n);
      if (n.startsWith(TMP_PREFIX) || !records.has(statSync(p).ino)) {
        rmSync(p, { force: true, recursive: true });
        removed.push(n);
      }
    }
    if (removed.length > 0) fsyncDir(this.dir);
    return removed;
  }
}
