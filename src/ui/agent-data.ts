// What the server accepts from an agent: /state and /events answers come over the network from
// every node, so each is checked for the shape the view and the page rely on before it is used.
// A wrong shape is an error shown for that node (or a verdict line dropped), never a crash.
import type { VerdictEvent } from './model.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const strings = (v: unknown): boolean => Array.isArray(v) && v.every(isStr);
const all = (v: unknown, ok: (o: Obj) => boolean): boolean => Array.isArray(v) && v.every((x) => isObj(x) && ok(x));
const optStr = (v: unknown): boolean => v === undefined || isStr(v);

const device = (d: Obj): boolean => isStr(d['name']) && (d['family'] === 4 || d['family'] === 6) && isNum(d['vni']) && isStr(d['mac']) && isStr(d['vtep']) && isStr(d['local']) && isNum(d['port']) && isNum(d['mtu']);
const peer = (p: Obj): boolean => isStr(p['node']) && isStr(p['podCIDR']) && isStr(p['nodeIP']) && isStr(p['via']) && optStr(p['dev']) && optStr(p['vtep']) && optStr(p['vtepMac']);
const localPod = (p: Obj): boolean => isStr(p['namespace']) && isStr(p['name']) && strings(p['ips']) && isStr(p['veth']);
const isolation = (i: Obj): boolean => isStr(i['pod']) && strings(i['ingress']) && strings(i['egress']) && strings(i['cluster']);
const kernel = (k: unknown): boolean => isObj(k) && typeof k['matches'] === 'boolean' && isNum(k['differences']) && isStr(k['checkedAt']) && optStr(k['error']);

/** Why an agent's /state answer is not an AgentState, or undefined when it is. */
export function agentStateProblem(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object';
  if (!isStr(v['node']) || !isStr(v['version']) || !isStr(v['bridge'])) return 'node, version or bridge missing';
  if (v['backend'] !== 'vxlan' && v['backend'] !== 'host-gw') return 'backend is neither vxlan nor host-gw';
  if (v['dataplane'] !== 'iptables' && v['dataplane'] !== 'nftables') return 'dataplane is neither iptables nor nftables';
  if (v['mtu'] !== undefined && !isNum(v['mtu'])) return 'mtu is not a number';
  if (!all(v['devices'], device)) return 'devices malformed';
  if (!all(v['peers'], peer)) return 'peers malformed';
  if (!all(v['skipped'], (s) => isStr(s['node']) && isStr(s['reason']))) return 'skipped malformed';
  if (!all(v['pods'], localPod)) return 'pods malformed';
  if (v['isolation'] !== undefined && !all(v['isolation'], isolation)) return 'isolation malformed';
  if (!kernel(v['kernel'])) return 'kernel malformed';
  if (typeof v['events'] !== 'boolean') return 'events is not a boolean';
  return undefined;
}

const end = (e: unknown): boolean => isObj(e) && isStr(e['ip']) && (e['port'] === undefined || isNum(e['port'])) && optStr(e['pod']);

/** A verdict event as /events sends it (the fields the page shows). */
export function isVerdictEvent(v: unknown): v is VerdictEvent {
  return (
    isObj(v) &&
    isStr(v['time']) &&
    (v['verdict'] === 'denied' || v['verdict'] === 'accepted') &&
    (v['direction'] === 'ingress' || v['direction'] === 'egress') &&
    isStr(v['tier']) &&
    end(v['src']) &&
    end(v['dst']) &&
    isStr(v['protocol']) &&
    strings(v['policies']) &&
    optStr(v['policy']) &&
    (v['rule'] === undefined || isNum(v['rule'])) &&
    optStr(v['namespace']) &&
    optStr(v['pod']) &&
    isStr(v['reason'])
  );
}
