import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../backends/bridge/config.js';
import { ConflistError, buildConflist, renderConflist } from './conflist.js';

const mainPlugin = (conf: Record<string, unknown>): Record<string, unknown> => (conf['plugins'] as Record<string, unknown>[])[0]!;

describe('buildConflist', () => {
  it('single-stack: gingham on gingham0 as gateway without masquerade (the agent does it), IPAM over the podCIDR, portmap chained', () => {
    expect(buildConflist({ podCIDRs: ['198.18.129.0/24'] })).toEqual({
      cniVersion: '1.0.0',
      name: 'gingham',
      plugins: [
        {
          type: 'gingham',
          bridge: 'gingham0',
          isGateway: true,
          isDefaultGateway: true,
          hairpinMode: true,
          logFile: '/var/log/gingham/cni.log',
          ipam: { type: 'gingham', ranges: [[{ subnet: '198.18.129.0/24' }]] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  });

  it('carries the MTU, and the result passes the bridge backend own validation', () => {
    const conf = buildConflist({ podCIDRs: ['198.18.129.0/24'], mtu: 1450 });
    expect(mainPlugin(conf)['mtu']).toBe(1450);
    const parsed = parseBridgeConfig(mainPlugin(conf));
    expect([parsed.mtu, parsed.ipMasq]).toEqual([1450, false]);
  });

  it("carries the agent's dataplane, which the bridge backend takes", () => {
    const conf = buildConflist({ podCIDRs: ['198.18.129.0/24'], dataplane: 'nftables' });
    expect(mainPlugin(conf)['dataplane']).toBe('nftables');
    expect(parseBridgeConfig(mainPlugin(conf)).dataplane).toBe('nftables');
    expect(parseBridgeConfig(mainPlugin(buildConflist({ podCIDRs: ['198.18.129.0/24'] }))).dataplane).toBe('iptables');
  });

  it('dual-stack: one range set per family, in the order of podCIDRs', () => {
    const conf = buildConflist({ podCIDRs: ['fd42:18:129::/64', '198.18.129.0/24'] });
    expect(mainPlugin(conf)['ipam']).toEqual({ type: 'gingham', ranges: [[{ subnet: 'fd42:18:129::/64' }], [{ subnet: '198.18.129.0/24' }]] });
  });

  it('gives IPAM canonical subnets (it refuses host bits)', () => {
    const conf = buildConflist({ podCIDRs: ['198.18.129.9/24', 'fd42:0018:0129::1/64'] });
    expect(mainPlugin(conf)['ipam']).toEqual({ type: 'gingham', ranges: [[{ subnet: '198.18.129.0/24' }], [{ subnet: 'fd42:18:129::/64' }]] });
  });

  it('refuses a node without podCIDR, a non-CIDR, and two CIDRs of one family', () => {
    expect(() => buildConflist({ podCIDRs: [] })).toThrow(new ConflistError('the node has no podCIDR yet'));
    expect(() => buildConflist({ podCIDRs: ['198.18.129.0'] })).toThrow(/is not a CIDR/);
    expect(() => buildConflist({ podCIDRs: ['198.18.129.0/24', '198.18.130.0/24'] })).toThrow(/more than one IPv4 podCIDR/);
  });

  it('renders the same text for the same node, ending in a newline', () => {
    const a = renderConflist(buildConflist({ podCIDRs: ['198.18.129.0/24'] }));
    expect(a).toBe(renderConflist(buildConflist({ podCIDRs: ['198.18.129.0/24'] })));
    expect(a.endsWith('}\n')).toBe(true);
    expect(JSON.parse(a)).toEqual(buildConflist({ podCIDRs: ['198.18.129.0/24'] }));
  });
});
