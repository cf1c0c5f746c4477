import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogTail } from './log-tail.js';

describe('LogTail', () => {
  let dir: string;
  let path: string;
  let lines: string[];
  const tail = (fromEnd = true): LogTail => new LogTail(path, (l) => lines.push(l), fromEnd);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gingham-tail-'));
    path = join(dir, 'cni.log');
    lines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes a file already there from its end, then each new line once', () => {
    writeFileSync(path, 'old 1\nold 2\n');
    const t = tail();
    t.read();
    expect(lines).toEqual([]);
    appendFileSync(path, 'a\nb\n');
    t.read();
    t.read();
    expect(lines).toEqual(['a', 'b']);
  });

  it('a missing file is no error; once it appears it is read from its start', () => {
    const t = tail();
    t.read();
    writeFileSync(path, 'first\n');
    t.read();
    expect(lines).toEqual(['first']);
  });

  it('keeps a partial last line until its newline comes, also across a multi-byte character', () => {
    const t = tail(false);
    writeFileSync(path, 'one\ntw');
    t.read();
    expect(lines).toEqual(['one']);
    appendFileSync(path, Buffer.from('o é', 'utf8').subarray(0, 3));
    t.read();
    appendFileSync(path, Buffer.concat([Buffer.from('o é', 'utf8').subarray(3), Buffer.from('\nthree\n')]));
    t.read();
    expect(lines).toEqual(['one', 'two é', 'three']);
  });

  it('on rotation finishes the old file through <file>.1, then reads the new one from 0', () => {
    const t = tail(false);
    writeFileSync(path, 'a\n');
    t.read();
    appendFileSync(path, 'b\nc');
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, '\n');
    writeFileSync(path, 'd\ne\n');
    t.read();
    expect(lines).toEqual(['a', 'b', 'c', 'd', 'e']);
    appendFileSync(path, 'f\n');
    t.read();
    expect(lines).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('when <file>.1 is not the old file any more (rotated twice, or removed), goes on with the new one', () => {
    const t = tail(false);
    writeFileSync(path, 'a\n');
    t.read();
    appendFileSync(path, 'lost\n');
    rmSync(path);
    writeFileSync(`${path}.1`, 'someone else\n');
    writeFileSync(path, 'b\n');
    t.read();
    expect(lines).toEqual(['a', 'b']);
  });

  it('a file gone without a successor: nothing, and the next one is read from 0', () => {
    const t = tail(false);
    writeFileSync(path, 'a\n');
    t.read();
    rmSync(path);
    t.read();
    writeFileSync(path, 'b\n');
    t.read();
    expect(lines).toEqual(['a', 'b']);
  });

  it('a file removed and made again (its inode reused) is read from 0', () => {
    const t = tail(false);
    writeFileSync(path, 'a\n');
    t.read();
    rmSync(path);
    writeFileSync(path, 'bb\ncc\n');
    t.read();
    expect(lines).toEqual(['a', 'bb', 'cc']);
  });

  it('a file truncated in place is read again from 0', () => {
    const t = tail(false);
    writeFileSync(path, 'a long first line\n');
    t.read();
    truncateSync(path, 0);
    appendFileSync(path, 'b\n');
    t.read();
    expect(lines).toEqual(['a long first line', 'b']);
  });

  it('reads a backlog larger than one chunk whole', () => {
    const t = tail(false);
    const many = Array.from({ length: 50_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
    writeFileSync(path, `${many.join('\n')}\n`);
    t.read();
    expect(lines).toEqual(many);
  });
});
