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

  // Each of these either is refused by the kernel or is not taken literally by `ip -batch`
  // ('e#x' made a peer "e" in the node; "'ab'" was reported as 'ab' but named ab).
  it.each(['e#x', "'ab'", '"ab"', 'a\\b', '-', 'eth0\nlink', 'a\tb', 'é0', 'a\x00b', 'a\x7fb'])('rejects interface name %j that the batch parser would not take literally', (name) => {
    expect(() => readEnv({ ...add, CNI_IFNAME: name })).toThrow(invalidEnv(/CNI_IFNAME/));
  });

  it.each(['net1', 'eth0.100', 'a-b_c@d', '-x', 'x-'])('accepts interface name %j', (name) => {
    expect(readEnv({ ...add, CNI_IFNAME: name }).ifName).toBe(name);
  });

  it.each(['/x/a\nlink add evil type bridge', 'relative/ns', '/x/a b', '/x/a#b', '/x/"a"', "/x/'a'", '/x/a\\b', '/x/\ta', '/x/\x00'])(
    'ADD and CHECK refuse CNI_NETNS %j with code 4 (it is pasted into ip -batch and nsenter)',
    (netns) => {
      for (const command of ['ADD', 'CHECK']) expect(() => readEnv({ ...add, CNI_COMMAND: command, CNI_NETNS: netns })).toThrow(invalidEnv(/CNI_NETNS/));
    },
  );

  it('DEL goes on without a CNI_NETNS it could not use', () => {
    expect(readEnv({ ...add, CNI_COMMAND: 'DEL', CNI_NETNS: '/x/a\nb' }).netns).toBe('');
  });

  it.each(['/var/run/netns/cni-1234', '/proc/42/ns/net', '/run/user/1000/netns/ünï'])('accepts CNI_NETNS %j', (netns) => {
    expect(readEnv({ ...add, CNI_NETNS: netns }).netns).toBe(netns);
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
  it.each(['IP=198.18.0.5;IP=198.18.0.6', 'K8S_POD_NAME=a;K8S_POD_NAME=b', 'IgnoreUnknown=1;FOO=a;FOO=b'])('refuses a key given twice: %j', (raw) => {
    expect(() => parseCniArgs(raw)).toThrow(invalidEnv(/more than once/));
  });

  it.each([
    ['K8S_POD_NAMESPACE', 'Default'],
    ['K8S_POD_NAMESPACE', 'a.b'],
    ['K8S_POD_NAMESPACE', 'a\n-I INPUT'],
    ['K8S_POD_NAMESPACE', 'x'.repeat(64)],
    ['K8S_POD_NAME', 'p"q'],
    ['K8S_POD_NAME', 'web_0'],
    ['K8S_POD_NAME', '-web'],
    ['K8S_POD_NAME', 'a..b'],
  ])('ADD refuses %s=%j (not a Kubernetes name)', (key, value) => {
    expect(() => parseCniArgs(`${key}=${value}`)).toThrow(invalidEnv(new RegExp(key)));
    expect(() => readEnv({ ...add, CNI_ARGS: `${key}=${value}` })).toThrow(invalidEnv(new RegExp(key)));
  });

  it('other verbs drop a bad pod name instead of failing a teardown', () => {
    expect(readEnv({ ...add, CNI_COMMAND: 'DEL', CNI_ARGS: 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"q' }).args).toEqual({ ignoreUnknown: false, ips: [], podNamespace: 'ns' });
  });

  it('accepts the names the API server accepts', () => {
    expect(parseCniArgs('K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c9869d-abcde.x')).toMatchObject({ podNamespace: 'kube-system', podName: 'coredns-5d78c9869d-abcde.x' });
  });

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
