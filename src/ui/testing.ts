// Test data for the ui server's tests: an agent's /state as H1's agents answer it.
import type { AgentState } from './model.js';

/** Node NAME's state on vxlan with one IPv4 device, a peer per entry of `peers`, and these local pods. */
export function agentState(name: string, o: Partial<AgentState> = {}): AgentState {
  return {
    node: name,
    version: 'test',
    backend: 'vxlan',
    dataplane: 'iptables',
    bridge: 'gingham0',
    devices: [{ name: 'gingham.1', family: 4, vni: 1, mac: '02:00:00:00:00:01', vtep: '198.18.255.1', local: '198.19.0.1', port: 8472, mtu: 1450 }],
    peers: [],
    skipped: [],
    pods: [],
    kernel: { matches: true, differences: 0, checkedAt: '2025-01-01T00:00:00.000Z' },
    events: true,
    ...o,
  };
}
