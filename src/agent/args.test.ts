import { describe, expect, it } from 'vitest';
import { UsageError, parseAgentArgs, parseDuration } from './args.js';

describe('parseAgentArgs', () => {
  it('takes defaults: node name from NODE_NAME, resync 30 s, the standard conflist path', () => {
    expect(parseAgentArgs([], { NODE_NAME: 'w1' })).toEqual({ kind: 'run', configPath: '/etc/gingham/config.json', configRequired: false, nodeName: 'w1', resyncMs: 30_000, cniConfPath: '/etc/cni/net.d/10-gingham.conflist', clusterCIDRs: [], healthPort: 9917, healthAddress: '127.0.0.1' });
  });

  it('reads every flag, in both spellings; a flag beats the environment', () => {
    const argv = ['--config=/c.json', '--kubeconfig', '/k', '--node-name=w2', '--resync', '1m30s', '--cni-conf-path=', '--cluster-cidr', '198.18.128.0/17,fd42:18:8000::/56', '--health-port=0', '--health-address', '::', '--stuck-after', '5s'];
    expect(parseAgentArgs(argv, { NODE_NAME: 'w1', CLUSTER_CIDR: '198.19.0.0/16' })).toEqual({
      kind: 'run',
      configPath: '/c.json',
      configRequired: true,
      kubeconfig: '/k',
      nodeName: 'w2',
      resyncMs: 90_000,
      cniConfPath: '',
      clusterCIDRs: ['198.18.128.0/17', 'fd42:18:8000::/56'],
      healthPort: 0,
      healthAddress: '::',
      stuckAfterMs: 5000,
    });
  });

  it('takes the cluster CIDR from CLUSTER_CIDR, and refuses one that is not a CIDR', () => {
    expect(parseAgentArgs([], { NODE_NAME: 'w1', CLUSTER_CIDR: '198.18.128.0/17' })).toMatchObject({ clusterCIDRs: ['198.18.128.0/17'] });
    expect(() => parseAgentArgs(['--cluster-cidr', '198.18.128.0'], { NODE_NAME: 'w1' })).toThrow(/is not a CIDR/);
  });

  it('--cleanup, alone', () => {
    expect(parseAgentArgs(['--cleanup'], {})).toEqual({ kind: 'cleanup' });
    expect(() => parseAgentArgs(['--cleanup', '--node-name', 'n1'], {})).toThrow(/--cleanup takes no other flag/);
  });

  it('install-cni with and without --cni-bin-dir', () => {
    expect(parseAgentArgs(['install-cni'], {})).toEqual({ kind: 'install-cni', cniBinDir: '/opt/cni/bin' });
    expect(parseAgentArgs(['install-cni', '--cni-bin-dir', '/host/opt/cni/bin'], {})).toEqual({ kind: 'install-cni', cniBinDir: '/host/opt/cni/bin' });
  });

  it('help wins over everything', () => {
    expect(parseAgentArgs(['--node-name', 'x', '--help'], {})).toEqual({ kind: 'help' });
    expect(parseAgentArgs(['install-cni', '-h'], {})).toEqual({ kind: 'help' });
  });

  it.each([
    [[], {}, /no node name/],
    [['--node-name'], {}, /--node-name needs a value/],
    [['--bogus', 'x'], { NODE_NAME: 'a' }, /unknown flag --bogus/],
    [['extra'], { NODE_NAME: 'a' }, /unexpected argument "extra"/],
    [['--resync', '30'], { NODE_NAME: 'a' }, /--resync "30"/],
    [['--resync', '10ms'], { NODE_NAME: 'a' }, /at least 1s/],
    [['--kubeconfig='], { NODE_NAME: 'a' }, /--kubeconfig must not be empty/],
    [['install-cni', '--node-name', 'a'], {}, /unknown flag --node-name/],
    [['--health-port', '65536'], { NODE_NAME: 'a' }, /--health-port "65536" must be a port number/],
    [['--health-port', '-1'], { NODE_NAME: 'a' }, /--health-port "-1"/],
    [['--health-port', '0x10'], { NODE_NAME: 'a' }, /--health-port "0x10"/],
    [['--health-address', 'localhost'], { NODE_NAME: 'a' }, /--health-address "localhost" must be an IP address/],
    [['--stuck-after', '10ms'], { NODE_NAME: 'a' }, /--stuck-after "10ms" must be a duration of at least 1s/],
    [['install-cni', '--cni-bin-dir='], {}, /must not be empty/],
  ] as const)('refuses %j', (argv, env, msg) => {
    expect(() => parseAgentArgs([...argv], { ...env })).toThrow(UsageError);
    expect(() => parseAgentArgs([...argv], { ...env })).toThrow(msg);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
  ])('%s is %d ms', (s, ms) => expect(parseDuration(s)).toBe(ms));

  it.each(['', '30', 's', '-1s', '1d', '1s '])('%j is not a duration', (s) => expect(parseDuration(s)).toBeUndefined());
});
