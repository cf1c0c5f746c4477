import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUT, timeoutSeconds } from './deadline.js';
import { Code } from './errors.js';
import { decodeStdin, parseNetConf, versionOf } from './netconf.js';
import type { Obj } from './validate.js';

const cniError = (code: number, msg?: RegExp): unknown => expect.objectContaining({ name: 'CniError', code, ...(msg ? { message: expect.stringMatching(msg) } : {}) });

const base = (extra: Obj = {}): Obj => ({ cniVersion: '1.1.0', name: 'pods', type: 'gingham', ...extra });

describe('decodeStdin', () => {
  it('returns the object', () => {
    expect(decodeStdin('{"cniVersion":"1.0.0","name":"n"}')).toEqual({ cniVersion: '1.0.0', name: 'n' });
  });

  it.each(['', '{', 'not json', '{"a":1,}'])('rejects %j as not JSON (code 6)', (text) => {
    expect(() => decodeStdin(text)).toThrow(cniError(Code.DecodingFailure, /not JSON/));
  });

  it.each(['[]', 'null', '"x"', '42', 'true'])('rejects %s as not an object (code 6)', (text) => {
    expect(() => decodeStdin(text)).toThrow(cniError(Code.DecodingFailure, /not a JSON object/));
  });
});

describe('versionOf', () => {
  it.each(['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'])('accepts %s', (v) => {
    expect(versionOf({ cniVersion: v })).toBe(v);
  });

  it.each(['0.2.0', '0.1.0', '9.9.9', '1.2.0', '1.0'])('rejects %s with code 1', (v) => {
    expect(() => versionOf({ cniVersion: v })).toThrow(cniError(Code.IncompatibleVersion, new RegExp(`CNI version ${v.replace(/\./g, '\\.')} is not supported`)));
  });

  it.each([{}, { cniVersion: '' }, { cniVersion: 1 }])('rejects a missing or non-string version %j with code 7', (raw) => {
    expect(() => versionOf(raw)).toThrow(cniError(Code.InvalidConfig, /cniVersion/));
  });
});

describe('parseNetConf', () => {
  it('reads the common keys', () => {
    const raw = base({ ipam: { type: 'gingham' }, dns: { nameservers: ['198.18.0.10'], domain: 'cluster.local', search: ['a'], options: ['ndots:5'] }, logFile: '/tmp/x.log' });
    const conf = parseNetConf(raw);
    expect(conf).toEqual({
      cniVersion: '1.1.0',
      name: 'pods',
      type: 'gingham',
      raw,
      ipam: { type: 'gingham' },
      dns: { nameservers: ['198.18.0.10'], domain: 'cluster.local', search: ['a'], options: ['ndots:5'] },
      requestedIps: [],
      logFile: '/tmp/x.log',
    });
  });

  it('fails on an unsupported version with code 1', () => {
    expect(() => parseNetConf(base({ cniVersion: '0.2.0' }))).toThrow(cniError(Code.IncompatibleVersion));
  });

  it.each(['my-net', 'net.1', 'A_b', '9net'])('accepts the name %j', (name) => {
    expect(parseNetConf(base({ name })).name).toBe(name);
  });

  it.each(['my net', 'a/b', '-net', '.net', 'net:1'])('rejects the name %j with code 7', (name) => {
    expect(() => parseNetConf(base({ name }))).toThrow(cniError(Code.InvalidConfig, /name/));
  });

  it.each([{ name: '' }, { name: 5 }, { name: undefined }, { type: '' }, { type: undefined }])('requires name and type: %j', (extra) => {
    expect(() => parseNetConf(base(extra))).toThrow(cniError(Code.InvalidConfig, /must be a non-empty string/));
  });

  it('rejects a non-object ipam and bad dns lists', () => {
    expect(() => parseNetConf(base({ ipam: 'x' }))).toThrow(cniError(Code.InvalidConfig, /ipam must be an object/));
    expect(() => parseNetConf(base({ dns: { nameservers: '198.18.0.10' } }))).toThrow(cniError(Code.InvalidConfig, /dns.nameservers/));
  });

  it('reads prevResult and fails on a broken one with code 6', () => {
    const conf = parseNetConf(base({ prevResult: { cniVersion: '1.1.0', ips: [{ address: '198.18.0.2/24' }] } }));
    expect(conf.prevResult).toEqual({ ips: [{ address: '198.18.0.2/24' }] });
    expect(parseNetConf(base({ prevResult: null })).prevResult).toBeUndefined();
    expect(() => parseNetConf(base({ prevResult: { ips: [{}] } }))).toThrow(cniError(Code.DecodingFailure, /prevResult: ips\[0\]/));
  });

  describe('runtimeConfig', () => {
    it('collects ips', () => {
      expect(parseNetConf(base({ runtimeConfig: { ips: ['198.18.0.5/24', 'fd42:18::5/64'] } })).requestedIps).toEqual(['198.18.0.5/24', 'fd42:18::5/64']);
    });

    it('rejects ips that are not a list of strings', () => {
      expect(() => parseNetConf(base({ runtimeConfig: { ips: '198.18.0.5' } }))).toThrow(cniError(Code.InvalidConfig, /runtimeConfig.ips/));
      expect(() => parseNetConf(base({ runtimeConfig: { ips: [5] } }))).toThrow(cniError(Code.InvalidConfig, /runtimeConfig.ips/));
    });

    it('reads mac in lower case', () => {
      expect(parseNetConf(base({ runtimeConfig: { mac: '0A:58:0A:F4:00:05' } })).mac).toBe('0a:58:0a:f4:00:05');
    });

    it('treats an empty mac as none', () => {
      expect(parseNetConf(base({ runtimeConfig: { mac: '' } }))).not.toHaveProperty('mac');
    });

    it.each(['0a:58:0a:f4:00', '0a-58-0a-f4-00-05', 'zz:58:0a:f4:00:05', 5])('rejects mac %j', (mac) => {
      expect(() => parseNetConf(base({ runtimeConfig: { mac } }))).toThrow(cniError(Code.InvalidConfig, /runtimeConfig.mac is not a MAC/));
    });
  });

  it('collects args.cni.ips after runtimeConfig.ips', () => {
    const conf = parseNetConf(base({ runtimeConfig: { ips: ['198.18.0.5'] }, args: { cni: { ips: ['fd42:18::5'] } } }));
    expect(conf.requestedIps).toEqual(['198.18.0.5', 'fd42:18::5']);
  });

  it('rejects args.cni.ips that are not strings', () => {
    expect(() => parseNetConf(base({ args: { cni: { ips: [1] } } }))).toThrow(cniError(Code.InvalidConfig, /args.cni.ips/));
    expect(() => parseNetConf(base({ args: { cni: 'x' } }))).toThrow(cniError(Code.InvalidConfig, /args.cni must be an object/));
  });

  describe('cni.dev/valid-attachments', () => {
    it('reads the list', () => {
      const conf = parseNetConf(
        base({
          'cni.dev/valid-attachments': [
            { containerID: 'a', ifname: 'eth0' },
            { containerID: 'b', ifname: 'net1' },
          ],
        }),
      );
      expect(conf.validAttachments).toEqual([
        { containerId: 'a', ifName: 'eth0' },
        { containerId: 'b', ifName: 'net1' },
      ]);
    });

    it('is absent when not given or null, and empty when empty', () => {
      expect(parseNetConf(base()).validAttachments).toBeUndefined();
      expect(parseNetConf(base({ 'cni.dev/valid-attachments': null })).validAttachments).toBeUndefined();
      expect(parseNetConf(base({ 'cni.dev/valid-attachments': [] })).validAttachments).toEqual([]);
    });

    it('also reads libcni\'s older "cni.dev/attachments", the newer name winning', () => {
      expect(parseNetConf(base({ 'cni.dev/attachments': [{ containerID: 'a', ifname: 'eth0' }] })).validAttachments).toEqual([{ containerId: 'a', ifName: 'eth0' }]);
      const both = base({ 'cni.dev/valid-attachments': [{ containerID: 'new', ifname: 'eth0' }], 'cni.dev/attachments': [{ containerID: 'old', ifname: 'eth0' }] });
      expect(parseNetConf(both).validAttachments).toEqual([{ containerId: 'new', ifName: 'eth0' }]);
      expect(() => parseNetConf(base({ 'cni.dev/attachments': [{ ifname: 'eth0' }] }))).toThrow(cniError(Code.InvalidConfig, /cni\.dev\/attachments\[0\]\.containerID/));
    });

    it.each([
      ['not a list', { containerID: 'a', ifname: 'eth0' }, /must be a list/],
      ['an entry not an object', ['a'], /valid-attachments\[0\] must be an object/],
      ['no containerID', [{ ifname: 'eth0' }], /valid-attachments\[0\]\.containerID/],
      ['no ifname', [{ containerID: 'a', ifName: 'eth0' }], /valid-attachments\[0\]\.ifname/],
    ])('rejects %s', (_what, valid, msg) => {
      expect(() => parseNetConf(base({ 'cni.dev/valid-attachments': valid }))).toThrow(cniError(Code.InvalidConfig, msg));
    });
  });
});

describe('limits: logFile, logMaxBytes, logKeep, cniTimeout (issue 14)', () => {
  const code7 = (msg: RegExp): unknown => expect.objectContaining({ code: Code.InvalidConfig, message: expect.stringMatching(msg) });

  it('reads them, "" turning the log off', () => {
    expect(parseNetConf(base({ logFile: '', logMaxBytes: 4096, logKeep: 0, cniTimeout: 5 }))).toMatchObject({ logFile: '', logMaxBytes: 4096, logKeep: 0, timeout: 5 });
  });

  it.each<[Obj, RegExp]>([
    [{ logFile: 'gingham.log' }, /logFile "gingham.log" must be an absolute path/],
    [{ logFile: '/proc/1/fd/1' }, /logFile .* pseudo file system/],
    [{ logFile: 7 }, /logFile must be a non-empty absolute path/],
    [{ logMaxBytes: 100 }, /logMaxBytes must be an integer from 1024/],
    [{ logKeep: -1 }, /logKeep must be an integer from 0 to 100/],
    [{ cniTimeout: 0 }, /cniTimeout must be an integer from 1 to 3600/],
    [{ cniTimeout: '30' }, /cniTimeout/],
  ])('refuses %j', (extra, msg) => {
    expect(() => parseNetConf(base(extra))).toThrow(code7(msg));
  });
});

describe('timeoutSeconds', () => {
  it('config, else GINGHAM_CNI_TIMEOUT, else the default', () => {
    expect(timeoutSeconds(5, { GINGHAM_CNI_TIMEOUT: '9' })).toBe(5);
    expect(timeoutSeconds(undefined, { GINGHAM_CNI_TIMEOUT: '9' })).toBe(9);
    expect(timeoutSeconds(undefined, {})).toBe(DEFAULT_TIMEOUT);
    expect(() => timeoutSeconds(undefined, { GINGHAM_CNI_TIMEOUT: '1.5' })).toThrow(expect.objectContaining({ code: Code.InvalidEnvironment }));
  });
});
