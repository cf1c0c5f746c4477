// Follows a log file that other processes append to and rotate by renaming it to <file>.1 (as the
// plugin does, src/log.ts): each read() hands over the complete lines appended since the last one.
// It remembers the file and the offset; when the name holds another file (rotated), the rest of the
// old file is read through <file>.1 if that is still the same file, then the new one from its
// start. A freed inode is soon reused, so a file is known by its inode, its birth time where the
// file system keeps one, and the last bytes read, which must still be there. A line without its
// newline yet is kept until it is complete. A missing file is no error: lines are read once it
// appears. Synchronous and bounded per call (the agent reads on each scrape and on a timer, so a
// rotation between two reads loses nothing unless two happen).
import { type BigIntStats, closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** Read at most this much per file per read(): a huge backlog is taken over several reads. */
const MAX_READ = 16 * 1024 * 1024;
const CHUNK = 256 * 1024;
const MAX_LINE = 1024 * 1024;
const MARK = 64;

export class LogTail {
  /** The file being read: "inode birth-time" (birth time where the file system has one). */
  private id: string | undefined;
  private offset = 0;
  /** The last bytes read (up to MARK): a file at the same inode must still hold them to be the same file. */
  private mark: Buffer = Buffer.alloc(0);
  /** The start of a line whose end has not been written yet. */
  private partial: Buffer = Buffer.alloc(0);

  /**
   * fromEnd: a file already there at the first read is taken from its end (what was logged before
   * the agent started is not counted again after a restart); one that appears later, from 0.
   */
  constructor(
    readonly path: string,
    private readonly onLine: (line: string) => void,
    private fromEnd = true,
  ) {}

  read(): void {
    const st = statOf(this.path);
    if (this.id !== undefined && !(st?.id === this.id && st.size >= this.offset && this.holdsMark(this.path))) {
      const old = statOf(`${this.path}.1`);
      if (old?.id === this.id && this.holdsMark(`${this.path}.1`)) this.readFile(`${this.path}.1`, this.id);
      // A line torn at the old file's end stays torn: the plugin writes whole lines.
      this.partial = Buffer.alloc(0);
      this.mark = Buffer.alloc(0);
      this.id = undefined;
      this.offset = 0;
    }
    if (st === undefined) {
      this.fromEnd = false;
      return;
    }
    if (this.id === undefined) {
      this.id = st.id;
      this.offset = this.fromEnd ? st.size : 0;
    }
    this.fromEnd = false;
    this.readFile(this.path, st.id);
  }

  /** Does the file at `path` hold, right before the offset, the bytes last read? (A reused inode does not.) */
  private holdsMark(path: string): boolean {
    if (this.mark.length === 0) return true;
    try {
      const fd = openSync(path, 'r');
      try {
        const got = Buffer.alloc(this.mark.length);
        return readSync(fd, got, 0, got.length, this.offset - got.length) === got.length && got.equals(this.mark);
      } finally {
        closeSync(fd);
      }
    } catch {
      return false;
    }
  }

  /** Reads from the offset to the end of the file at `path`, if it still is file `id`. */
  private readFile(path: string, id: string): void {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      if (idOf(fstatSync(fd, { bigint: true })) !== id) return;
      const buf = Buffer.allocUnsafe(CHUNK);
      let budget = MAX_READ;
      while (budget > 0) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, budget), this.offset);
        if (n === 0) break;
        this.offset += n;
        budget -= n;
        const data = buf.subarray(0, n);
        this.mark = Buffer.from(n >= MARK ? data.subarray(n - MARK) : Buffer.concat([this.mark, data]).subarray(-MARK));
        this.take(data);
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(data: Buffer): void {
    let start = 0;
    let nl = data.indexOf(0x0a);
    if (nl >= 0 && this.partial.length > 0) {
      this.emit(Buffer.concat([this.partial, data.subarray(0, nl)]));
      this.partial = Buffer.alloc(0);
      start = nl + 1;
      nl = data.indexOf(0x0a, start);
    }
    for (; nl >= 0; nl = data.indexOf(0x0a, start)) {
      this.emit(data.subarray(start, nl));
      start = nl + 1;
    }
    // Copied: the read buffer is reused. A "line" past MAX_LINE is no line of the plugin's: dropped.
    if (start < data.length) this.partial = Buffer.concat([this.partial, data.subarray(start)]);
    if (this.partial.length > MAX_LINE) this.partial = Buffer.alloc(0);
  }

  private emit(line: Buffer): void {
    if (line.length > 0) this.onLine(line.toString('utf8'));
  }
}

const idOf = (st: BigIntStats): string => `${st.ino} ${st.birthtimeNs}`;

function statOf(path: string): { id: string; size: number } | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.isFile() ? { id: idOf(st), size: Number(st.size) } : undefined;
  } catch {
    return undefined;
  }
}
