import { describe, expect, it } from 'vitest';
import { type OverlayPlan, type OverlayState, type VxlanDevice, type VxlanLink, diffOverlay, parseFdb, parseNeighbours, parseVxlanLinks, vtepMac } from './vxlan.js';

const dev: VxlanDevice = { name: 'gingham-vx4', family: 4, vni: 1, port: 8472, local: '198.18.0.1', underlay: 'eth0', mac: '0e:67:c6:12:00:01', mtu: 1450, vtep: '198.18.128.0' };
const link: VxlanLink = { name: 'gingham-vx4', vni: 1, port: 8472, local: '198.18.0.1', underlay: 'eth0', learning: false, mac: dev.mac, mtu: 1450, up: true, addrs: ['198.18.128.0/32'] };
const peer = { neighbours: [{ dev: 'gingham-vx4', ip: '198.18.129.0', mac: '0e:67:c6:12:00:02' }], fdb: [{ dev: 'gingham-vx4', mac: '0e:67:c6:12:00:02', dst: '198.18.0.2' }] };
const plan: OverlayPlan = { devices: [dev], ...peer };
const state = (s: Partial<OverlayState> = {}): OverlayState => ({ links: [link], ...peer, ...s });

describe('vtepMac', () => {
  it('IPv4: 0e:67 and the address itself; IPv6: 0e:66 and a hash; always locally administered unicast', () => {
    expect(vtepMac('198.19.1.3')).toBe('0e:67:c6:13:01:03');
    const v6 = vtepMac('fd42:19:1::3');
    expect(v6).toMatch(/^0e:66(:[0-9a-f]{2}){4}$/);
    expect(v6).not.toBe(vtepMac('fd42:19:1::4'));
    expect(vtepMac('fd42:19:1:0::3')).toBe(v6);
    expect(() => vtepMac('nope')).toThrow(/not an IP/);
  });
});

describe('diffOverlay', () => {
  it('creates a missing device bound to the underlay, learning off, then its entries', () => {
    const d = diffOverlay(plan, { links: [], neighbours: [], fdb: [] });
    expect(d.ipLines).toEqual([
      'link add name gingham-vx4 address 0e:67:c6:12:00:01 mtu 1450 type vxlan id 1 local 198.18.0.1 dstport 8472 dev eth0 nolearning',
      'link set dev gingham-vx4 up',
      'addr replace 198.18.128.0/32 dev gingham-vx4',
      'neigh replace 198.18.129.0 lladdr 0e:67:c6:12:00:02 dev gingham-vx4 nud permanent',
    ]);
    expect(d.fdbLines).toEqual(['fdb replace 0e:67:c6:12:00:02 dev gingham-vx4 dst 198.18.0.2 self permanent']);
  });

  it('changes nothing when the kernel matches', () => {
    expect(diffOverlay(plan, state())).toEqual({ ipLines: [], fdbLines: [], recreated: [], removed: [] });
  });

  it('puts back an entry deleted by hand, and only it', () => {
    expect(diffOverlay(plan, state({ fdb: [] })).fdbLines).toEqual(['fdb replace 0e:67:c6:12:00:02 dev gingham-vx4 dst 198.18.0.2 self permanent']);
    expect(diffOverlay(plan, state({ neighbours: [] })).ipLines).toEqual(['neigh replace 198.18.129.0 lladdr 0e:67:c6:12:00:02 dev gingham-vx4 nud permanent']);
  });

  it('a peer that left loses its entries; a peer that moved gets its entry replaced in place', () => {
    const gone = diffOverlay({ devices: [dev], neighbours: [], fdb: [] }, state());
    expect(gone.ipLines).toEqual(['neigh del 198.18.129.0 dev gingham-vx4']);
    expect(gone.fdbLines).toEqual(['fdb del 0e:67:c6:12:00:02 dev gingham-vx4 dst 198.18.0.2 self']);
    const moved = diffOverlay({ ...plan, fdb: [{ dev: 'gingham-vx4', mac: '0e:67:c6:12:00:02', dst: '198.18.0.22' }] }, state());
    expect(moved.fdbLines).toEqual(['fdb replace 0e:67:c6:12:00:02 dev gingham-vx4 dst 198.18.0.22 self permanent']);
  });

  it('fixes MTU, MAC, state and addresses in place; recreates on a new VNI, port, local address or learning', () => {
    const d = diffOverlay(plan, state({ links: [{ ...link, mtu: 1500, mac: '0e:00:00:00:00:01', up: false, addrs: ['198.18.200.0/32'] }] }));
    expect(d.ipLines).toEqual([
      'link set dev gingham-vx4 address 0e:67:c6:12:00:01',
      'link set dev gingham-vx4 mtu 1450',
      'link set dev gingham-vx4 up',
      'addr del 198.18.200.0/32 dev gingham-vx4',
      'addr replace 198.18.128.0/32 dev gingham-vx4',
    ]);
    for (const change of [{ vni: 2 }, { port: 4789 }, { local: '198.18.0.9' }, { learning: true }]) {
      const r = diffOverlay(plan, state({ links: [{ ...link, ...change }] }));
      expect(r.recreated).toEqual(['gingham-vx4']);
      expect(r.ipLines[0]).toBe('link del dev gingham-vx4');
      // The entries went with the old device: all of them are added again.
      expect(r.ipLines.at(-1)).toMatch(/^neigh replace/);
      expect(r.fdbLines).toHaveLength(1);
    }
  });

  it('removes a device of ours the plan no longer has (backend switched to host-gw), and nothing on it', () => {
    expect(diffOverlay({ devices: [], neighbours: [], fdb: [] }, state())).toEqual({ ipLines: ['link del dev gingham-vx4'], fdbLines: [], recreated: [], removed: ['gingham-vx4'] });
  });
});

describe('parsing the kernel', () => {
  it('reads our vxlan devices with their addresses, and ignores others', () => {
    const links = JSON.parse('[{"ifname":"gingham-vx4","flags":["BROADCAST","UP"],"mtu":1450,"address":"0e:67:c6:12:00:01","linkinfo":{"info_kind":"vxlan","info_data":{"id":1,"local":"198.18.0.1","link":"eth0","port":8472,"learning":false}}},{"ifname":"flannel.1","mtu":1450,"flags":[]}]') as unknown[];
    const addrs = JSON.parse('[{"ifname":"gingham-vx4","addr_info":[{"family":"inet","local":"198.18.128.0","prefixlen":32,"scope":"global"},{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]') as unknown[];
    expect(parseVxlanLinks(links, addrs)).toEqual([link]);
  });

  it('keeps permanent neighbours on our devices only, and FDB entries with a remote', () => {
    expect(parseNeighbours([
      { dst: '198.18.129.0', dev: 'gingham-vx4', lladdr: '0e:67:c6:12:00:02', state: ['PERMANENT'] },
      { dst: '198.18.0.7', dev: 'eth0', lladdr: '02:00:00:00:00:07', state: ['PERMANENT'] },
      { dst: '198.18.130.0', dev: 'gingham-vx4', lladdr: '0e:67:c6:12:00:03', state: ['REACHABLE'] },
    ])).toEqual(peer.neighbours);
    expect(parseFdb('gingham-vx4', [{ mac: '0e:67:c6:12:00:02', dst: '198.18.0.2', flags: ['self'], state: 'permanent' }, { mac: '33:33:00:00:00:01', flags: ['self'], state: 'permanent' }])).toEqual(peer.fdb);
  });
});
