import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig, parseConfig } from './config.js';

describe('parseConfig', () => {
  it('fills defaults: vxlan, VNI 1, port 8472, MTU from the underlay', () => {
    expect(parseConfig({})).toEqual({ backend: 'vxlan', vni: 1, port: 8472, directRouting: false, mtu: 0, clusterCIDRs: [], serviceCIDRs: [], networkPolicy: true, policyLogDrops: false, policyLogAccepts: false, metricsPort: 20917, dataplane: 'iptables' });
  });

  it('takes every key', () => {
    const c = { backend: 'host-gw', vni: 7, port: 4789, directRouting: true, mtu: 1400, clusterCIDRs: ['198.18.128.0/17', 'fd42:18:8000::/56'], serviceCIDRs: ['198.18.64.0/20'], networkPolicy: false, policyLogDrops: true, policyLogAccepts: true, metricsPort: 0, dataplane: 'nftables' };
    expect(parseConfig(c)).toEqual(c);
  });

  it('gives CIDRs back as networks in canonical text', () => {
    expect(parseConfig({ clusterCIDRs: ['198.18.128.7/17', 'FD42:18:8000:0::/56'] }).clusterCIDRs).toEqual(['198.18.128.0/17', 'fd42:18:8000::/56']);
  });

  it.each([
    [[], /JSON object/],
    [{ backend: 'udp' }, /"backend" must be one of vxlan, host-gw/],
    [{ vni: 0 }, /"vni" must be an integer from 1 to 16777215/],
    [{ port: 70000 }, /"port"/],
    [{ mtu: 576 }, /"mtu" must be an integer from 1280/],
    [{ directRouting: 'yes' }, /"directRouting" must be true or false/],
    [{ networkPolicy: 1 }, /"networkPolicy" must be true or false/],
    [{ policyLogDrops: 'on' }, /"policyLogDrops" must be true or false/],
    [{ metricsPort: 65536 }, /"metricsPort" must be an integer from 0 to 65535/],
    [{ clusterCIDRs: ['198.18.128.0'] }, /"clusterCIDRs" must be a list of CIDRs/],
    [{ serviceCIDRs: '198.18.64.0/20' }, /"serviceCIDRs" must be a list of CIDRs/],
    [{ serviceCIDRs: ['198.18.64.0/20\n-j ACCEPT'] }, /"serviceCIDRs" must be a list of CIDRs/],
    [{ clusterCIDRs: ['0.0.0.0/0'] }, /"clusterCIDRs" may not hold a \/0/],
    [{ serviceCIDRs: ['::/0'] }, /"serviceCIDRs" may not hold a \/0/],
    [{ backnd: 'vxlan' }, /unknown key "backnd"/],
    [{ dataplane: 'ebpf' }, /"dataplane" must be one of iptables, nftables/],
  ])('refuses %j', (raw, why) => {
    expect(() => parseConfig(raw)).toThrow(why);
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-agent-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the defaults when the default file is absent; an error when a named file is', () => {
    expect(loadConfig(join(dir, 'none.json'), false)).toEqual(DEFAULT_CONFIG);
    expect(() => loadConfig(join(dir, 'none.json'), true)).toThrow(ConfigError);
  });

  it('names the file in every error', () => {
    writeFileSync(join(dir, 'bad.json'), '{"backend": ');
    expect(() => loadConfig(join(dir, 'bad.json'), false)).toThrow(/bad\.json is not JSON/);
    writeFileSync(join(dir, 'wrong.json'), '{"vni": "one"}');
    expect(() => loadConfig(join(dir, 'wrong.json'), false)).toThrow(/wrong\.json: "vni"/);
    writeFileSync(join(dir, 'ok.json'), '{"backend": "host-gw"}');
    expect(loadConfig(join(dir, 'ok.json'), true).backend).toBe('host-gw');
  });
});
