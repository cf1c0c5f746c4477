// vxlan: pod -> other node traffic must cross the overlay too. Without it, a pod's packet to a
// peer's InternalIP leaves unencapsulated on the underlay (a pod address an underlay may filter),
// and the peer, whose route back to our pods points into its VXLAN device, drops it on the
// reverse-path check. So a rule sends traffic from this node's pod CIDR to table NODE_TABLE, which
// holds one route per vxlan peer address, through the device; everything else falls through to
// the main table. Pure: parse `ip -j rule show`, diff, lines (one list per family: a batch cannot
// infer a rule's family).
import { type BatchLine, batchLine } from '../../kernel/ip-batch.js';
import type { Family } from '../../net/ip.js';
import { NODE_TABLE, RULE_PREF, normalizeDst } from './routes.js';

export interface Rule {
  readonly family: Family;
  /** The source CIDR (this node's pod CIDR of the family). */
  readonly from: string;
}

/** Our rules (priority RULE_PREF, table NODE_TABLE) from `ip -j -4|-6 rule show`. */
export function parseRules(family: Family, json: readonly unknown[]): Rule[] {
  const out: Rule[] = [];
  for (const e of json) {
    if (typeof e !== 'object' || e === null) continue;
    const o = e as Record<string, unknown>;
    if (o['priority'] !== RULE_PREF || o['table'] !== String(NODE_TABLE) || typeof o['src'] !== 'string') continue;
    const from = normalizeDst(typeof o['srclen'] === 'number' ? `${o['src']}/${o['srclen']}` : o['src']);
    if (from) out.push({ family, from });
  }
  return out;
}

const line = (verb: 'add' | 'del', r: Rule): BatchLine => batchLine('rule', verb, 'from', r.from, 'lookup', NODE_TABLE, 'pref', RULE_PREF);

/** Lines per family that turn `have` into `want`. */
export function ruleLines(want: readonly Rule[], have: readonly Rule[]): Record<Family, BatchLine[]> {
  const key = (r: Rule): string => `${r.family} ${r.from}`;
  const w = new Set(want.map(key));
  const h = new Set(have.map(key));
  const out: Record<Family, BatchLine[]> = { 4: [], 6: [] };
  for (const r of have) if (!w.has(key(r))) out[r.family].push(line('del', r));
  for (const r of want) if (!h.has(key(r))) out[r.family].push(line('add', r));
  return out;
}
