import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeIfChanged } from './files.js';
import { installCni } from './install.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gh-agent-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeIfChanged', () => {
  it('writes a new file, then only when the content changes, leaving no temp file', () => {
    const p = join(dir, 'net.d', '10-gingham.conflist');
    expect(writeIfChanged(p, 'a\n')).toBe(true);
    const first = statSync(p).ino;
    expect(writeIfChanged(p, 'a\n')).toBe(false);
    expect(statSync(p).ino).toBe(first);
    expect(writeIfChanged(p, 'b\n')).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe('b\n');
    // Replaced by rename: a new inode, so a reader holding the old file never sees a mix.
    expect(statSync(p).ino).not.toBe(first);
    expect(readdirSync(join(dir, 'net.d'))).toEqual(['10-gingham.conflist']);
    expect(statSync(p).mode & 0o777).toBe(0o644);
  });

  it('fails without leaving a temp file when the target is a directory', () => {
    const p = join(dir, 'conf');
    writeFileAtomic(join(p, 'x'), 'x');
    expect(() => writeFileAtomic(p, 'y')).toThrow();
    expect(readdirSync(dir)).toEqual(['conf']);
  });
});

describe('installCni', () => {
  it('copies the binary to DIR/gingham with mode 0755, replacing an old one', () => {
    const self = join(dir, 'self');
    writeFileSync(self, 'new binary', { mode: 0o600 });
    const bin = join(dir, 'opt', 'cni', 'bin');
    writeIfChanged(join(bin, 'gingham'), 'old binary');
    expect(installCni(bin, self)).toBe(join(bin, 'gingham'));
    expect(readFileSync(join(bin, 'gingham'), 'utf8')).toBe('new binary');
    expect(statSync(join(bin, 'gingham')).mode & 0o777).toBe(0o755);
    expect(readdirSync(bin)).toEqual(['gingham']);
  });

  it('fails when the source is missing', () => {
    expect(() => installCni(join(dir, 'bin'), join(dir, 'nope'))).toThrow(/ENOENT/);
    expect(readdirSync(join(dir, 'bin'))).toEqual([]);
  });
});
