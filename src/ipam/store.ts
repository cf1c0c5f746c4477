// Reservations on disk, one directory per network:
//   <ip>                      a claim: a hard link to the reservation record that holds the address
//   attachments/<cid>@<if>    the reservation record (JSON), keyed by container ID and interface
//   last_reserved_ip.<set>    where the next search of each range set starts
//   .tmp-<pid>-<n>            a record being written by process <pid>
//   .tmp-<pid>-rel-<n>        a record being released by process <pid>
// ADD and DEL take no lock. A record is written to a temporary file, each address is claimed with
// link() (atomic: it fails if the address is held, so two processes never share one), the file is
// fsync'd and renamed into place. A claim is therefore always a complete file or an orphan: one whose
// inode is neither a record nor the temporary file of a live process (a crash in between). repair()
// removes orphans; it runs before a range is declared full, in STATUS and in GC, always under the
// network's lock (proper-lockfile), so that two repairs never interleave. DEL first renames the
// record aside (atomic: of two DELs of one attachment only one goes on), then removes the claims
// that are its own. Claims are removed by name, so both take care that the name still holds the
// inode they mean; see release() and repair().
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors.js';
import { withLock } from '../lock.js';
import type { Attachment } from '../cni/netconf.js';
import { makeDirs } from '../cni/paths.js';
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

/** A reservation lost a race: another process holds this address. */
export class AddressHeld extends CniError {
  constructor(readonly address: string) {
    super(Code.AddressUnavailable, `address ${address} is already reserved`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !isCode(e, 'ESRCH');
  }
}

/** The writer of a temporary file, from its name (.tmp-<pid>-…). */
const tmpOwner = (name: string): number => Number(/^\.tmp-(?:last-)?(\d+)/.exec(name)?.[1] ?? 0);

let tmpCounter = 0;

export class Store {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  /** Run fn holding the network's lock (GC: one collection at a time). */
  locked<T>(fn: () => T | Promise<T>): Promise<T> {
    this.ensureDirs();
    return withLock(this.dir, fn);
  }

  ensureDirs(): void {
    makeDirs(join(this.dir, ATTACHMENTS));
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

  /**
   * Claim every address of r and put its record in place, or change nothing and throw AddressHeld
   * naming the first address another reservation holds.
   */
  reserve(r: Reservation): void {
    const tmp = this.path(`${TMP_PREFIX}${process.pid}-${++tmpCounter}`);
    const fd = openSync(tmp, 'wx', 0o600);
    const made: string[] = [];
    try {
      writeSync(fd, `${JSON.stringify(r)}\n`);
      for (const cidr of r.ips) {
        const claim = this.path(claimName(cidr));
        try {
          linkSync(tmp, claim);
        } catch (e) {
          if (isCode(e, 'EEXIST')) throw new AddressHeld(claimName(cidr));
          throw e;
        }
        made.push(claim);
      }
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, join(this.dir, ATTACHMENTS, attachmentKey(r)));
    } catch (e) {
      for (const m of made) rmSync(m, { force: true });
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
      rmSync(tmp, { force: true });
      throw e;
    }
    fsyncDir(join(this.dir, ATTACHMENTS));
    fsyncDir(this.dir);
  }

  /**
   * Remove a reservation and the claims that are its own (same inode). Idempotent, also when two
   * DELs of one attachment race: the record is renamed aside first, and only the DEL whose rename
   * succeeded goes on. Aside, it is the temporary file of a live process, so repair() leaves its
   * claims alone; after a crash it is a dead process's, and repair() removes it and them.
   */
  release(a: Attachment): Reservation | undefined {
    const aside = this.path(`${TMP_PREFIX}${process.pid}-rel-${++tmpCounter}`);
    try {
      renameSync(join(this.dir, ATTACHMENTS, attachmentKey(a)), aside);
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return undefined;
      throw e;
    }
    const ino = statSync(aside).ino;
    const r = parseReservation(readFileSync(aside, 'utf8'));
    for (const cidr of r?.ips ?? []) {
      const claim = this.path(claimName(cidr));
      try {
        if (statSync(claim).ino === ino) unlinkSync(claim);
      } catch {
        // already gone
      }
    }
    unlinkSync(aside);
    fsyncDir(join(this.dir, ATTACHMENTS));
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
   * Drop what a crash can leave: temporary files of dead processes, claims that are neither a record
   * nor the temporary file of a live writer (empty or torn files included), unreadable records.
   * Call it holding the lock (locked()): two repairs must not interleave.
   * Safe while other processes reserve and release: the names are read in the order claims,
   * temporary files, records, temporary files again, so a file that moves between the two places
   * meanwhile (reserve: temporary to record; release: record to temporary) is seen at least once.
   * A claim whose inode was seen nowhere is removed only if its name still holds that inode right
   * before the unlink: a DEL then ADD of the address in between gave it a new holder. No window is
   * left: while the name holds the orphan's inode nobody else removes or replaces it (reserve's
   * link() fails on it, release() removes only its own inode, and no other repair runs).
   * Returns the names removed.
   */
  repair(): string[] {
    const removed: string[] = [];
    const remove = (name: string): void => {
      rmSync(this.path(name), { force: true, recursive: true });
      removed.push(name);
    };
    const inode = (name: string): number | undefined => {
      try {
        return statSync(this.path(name)).ino;
      } catch {
        return undefined;
      }
    };
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return removed;
    }
    const isClaim = (n: string): boolean => n !== 'lock' && n !== ATTACHMENTS && !n.startsWith('last_reserved_ip.') && !n.startsWith(TMP_PREFIX);
    const claims = names.filter(isClaim).map((n) => ({ n, ino: inode(n) }));
    const live = new Set<number>();
    const scanTemporary = (): void => {
      for (const n of readdirSync(this.dir).filter((x) => x.startsWith(TMP_PREFIX))) {
        if (pidAlive(tmpOwner(n))) {
          const ino = inode(n);
          if (ino !== undefined) live.add(ino);
        } else {
          remove(n);
        }
      }
    };
    scanTemporary();
    const records = new Set<number>();
    for (const n of readdirSync(join(this.dir, ATTACHMENTS))) {
      const p = join(this.dir, ATTACHMENTS, n);
      let r: Reservation | undefined;
      try {
        r = parseReservation(readFileSync(p, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (r) {
        const ino = inode(join(ATTACHMENTS, n));
        if (ino !== undefined) records.add(ino);
      } else {
        remove(join(ATTACHMENTS, n));
      }
    }
    scanTemporary();
    for (const { n, ino } of claims) if (ino !== undefined && !records.has(ino) && !live.has(ino) && inode(n) === ino) remove(n);
    if (removed.length > 0) fsyncDir(this.dir);
    return removed;
  }
}
