import { describe, expect, it } from 'vitest';
import { parseCniArgs, readCommand, readEnv } from './env.js';
import { Code } from './errors.js';

const invalidEnv = (msg?: RegExp): unknown => expect.objectContaining({ name: 'CniError', code: Code.InvalidEnvironment, ...(msg ? { message: expect.stringMatching(msg) } : {}) });

const add = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/pod', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/libexec/cni' };

describe('readEnv', () => {
  it('reads a complete ADD', () => {
    expect(readEnv({ ...add, CNI_ARGS: 'K8S_POD_NAME=web' })).toEqual({
      command: 'ADD',
      containerId: 'abc123',
      netns: '/var/run/netns/pod',
      ifName: 'eth0',
      args: { ignoreUnknown: false, ips: [], podName: 'web' },
      rawArgs: 'K8S_POD_NAME=web',
      path: ['/opt/cni/bin', '/usr/libexec/cni'],
    });
  });

  it.each(['ADD', 'DEL', 'CHECK'])('%s needs CNI_CONTAINERID and CNI_IFNAME', (command) => {
    expect(() => readEnv({ ...add, CNI_COMMAND: command, CNI_CONTAINERID: undefined })).toThrow(invalidEnv(/CNI_CONTAINERID is required/));
    expect(() => readEnv({ ...add, CNI_COMMAND: command, CNI_IFNAME: '' })).toThrow(invalidEnv(/CNI_IFNAME is required/));
  });

  it.each(['ADD', 'CHECK'])('%s needs CNI_NETNS', (command) => {
    expect(() => readEnv({ ...add, CNI_COMMAND: command, CNI_NETNS: undefined })).toThrow(invalidEnv(/CNI_NETNS is required/));
  });

  it('DEL does not need CNI_NETNS (the netns may be gone)', () => {
    expect(readEnv({ ...add, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }).netns).toBe('');
  });

  it.each(['VERSION', 'STATUS', 'GC'])('%s needs none of the per-container variables', (command) => {
    const env = readEnv({ CNI_COMMAND: command });
    expect(env).toMatchObject({ command, containerId: '', ifName: '', netns: '', path: [] });
  });

  it.each(['', 'add', 'DELETE', undefined])('rejects CNI_COMMAND %j', (command) => {
    expect(() => readEnv({ ...add, CNI_COMMAND: command })).toThrow(invalidEnv(/CNI_COMMAND/));
  });

  it.each(['-abc', 'a/b', 'a b', 'a:b', '.x'])('rejects container ID %j', (id) => {
    expect(() => readEnv({ ...add, CNI_CONTAINERID: id })).toThrow(invalidEnv(/CNI_CONTAINERID/));
  });

  it('accepts a container ID with _ . and -', () => {
    expect(readEnv({ ...add, CNI_CONTAINERID: 'a_b.c-D9' }).containerId).toBe('a_b.c-D9');
  });

  it.each(['a/b', 'eth 0', 'eth:0', '.', '..', 'a234567890123456'])('rejects interface name %j', (name) => {
    expect(() => readEnv({ ...add, CNI_IFNAME: name })).toThrow(invalidEnv(/CNI_IFNAME/));
  });

  it('accepts a 15-byte interface name', () => {
    expect(readEnv({ ...add, CNI_IFNAME: 'a23456789012345' }).ifName).toBe('a23456789012345');
  });

  it('drops empty CNI_PATH entries', () => {
    expect(readEnv({ ...add, CNI_PATH: ':/a::/b:' }).path).toEqual(['/a', '/b']);
  });

  it('fails on bad CNI_ARGS with code 4', () => {
    expect(() => readEnv({ ...add, CNI_ARGS: 'FOO=1' })).toThrow(invalidEnv(/unknown key "FOO"/));
  });
});

describe('readCommand', () => {
  it.each(['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'])('%s', (c) => {
    expect(readCommand({ CNI_COMMAND: c })).toBe(c);
  });
});

describe('parseCniArgs', () => {
  it('is empty for an empty string', () => {
    expect(parseCniArgs('')).toEqual({ ignoreUnknown: false, ips: [] });
  });

  it('reads the Kubernetes keys', () => {
    expect(parseCniArgs('K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=1234-5678;K8S_POD_INFRA_CONTAINER_ID=abc')).toEqual({
      ignoreUnknown: false,
      ips: [],
      podNamespace: 'default',
      podName: 'web-0',
      podUid: '1234-5678',
      infraContainerId: 'abc',
    });
  });

  it('splits IP=a,b and trims the parts', () => {
    expect(parseCniArgs('IP=198.18.0.5, fd42:18::5').ips).toEqual(['198.18.0.5', 'fd42:18::5']);
    expect(parseCniArgs('IP=198.18.0.5/24').ips).toEqual(['198.18.0.5/24']);
    expect(parseCniArgs('IP=,198.18.0.5,').ips).toEqual(['198.18.0.5']);
  });

  it('rejects unknown keys', () => {
    expect(() => parseCniArgs('K8S_POD_NAME=a;FOO=bar')).toThrow(invalidEnv(/unknown key "FOO"/));
  });

  it.each(['IgnoreUnknown=1', 'IgnoreUnknown=true', 'IgnoreUnknown=TRUE'])('%s allows unknown keys', (flag) => {
    const args = parseCniArgs(`FOO=bar;${flag};K8S_POD_NAME=web`);
    expect(args).toEqual({ ignoreUnknown: true, ips: [], podName: 'web' });
  });

  it.each(['IgnoreUnknown=0', 'IgnoreUnknown=false', 'IgnoreUnknown=FALSE'])('%s does not', (flag) => {
    expect(() => parseCniArgs(`${flag};FOO=bar`)).toThrow(invalidEnv(/unknown key/));
  });

  it.each(['IgnoreUnknown=', 'IgnoreUnknown=yes'])('%s is an error, as in libcni', (flag) => {
    expect(() => parseCniArgs(flag)).toThrow(invalidEnv(/IgnoreUnknown must be true or false/));
  });

  it.each(['FOO', '=bar', 'K8S_POD_NAME=a;junk', 'K8S_POD_NAME=a=b'])('rejects the malformed pair in %j', (raw) => {
    expect(() => parseCniArgs(raw)).toThrow(invalidEnv(/is not KEY=VALUE/));
  });

  it('allows an empty value', () => {
    expect(parseCniArgs('K8S_POD_NAME=web;K8S_POD_NAMESPACE=')).toMatchObject({ podName: 'web', podNamespace: '' });
  });

  it('ignores empty pairs', () => {
    expect(parseCniArgs(';K8S_POD_NAME=web;;').podName).toBe('web');
  });
});
