// `gingham inspect`: what the agent wants on this node (its last plan, which it leaves in
// /run/gingham/agent/network.json) beside what the kernel has, and whether they match. The
// comparison is the agent's own (changesFor): "matches" means the agent would change nothing.
import { readFileSync } from 'node:fs';
import { type Changes, changesFor, isEmpty } from '../agent/network/changes.js';
import { nodeKernel, readSnapshot } from '../agent/network/kernel.js';
import type { NetworkPlan } from '../agent/network/plan.js';
import { NODE_TABLE, RULE_PREF } from '../agent/network/routes.js';
import { AGENT_STATE_PATH } from '../agent/state.js';
import { MASQ_CHAIN } from '../agent/network/masquerade.js';
import { GUARD_CHAIN } from '../agent/network/service-guard.js';
import { chainsBackend } from '../kernel/packet-filter/index.js';

interface SavedState {
  node: string;
  config: { backend: string; vni: number; port: number; directRouting: boolean; mtu: number };
  plan: NetworkPlan;
}

export const INSPECT_USAGE = `usage: gingham inspect [--json] [--state PATH] [--netns NAME]
  The agent's plan for this node (peers, VTEPs, routes, neighbour and FDB entries, masquerade)
  and whether the kernel matches it; exit 0 when it does, 1 when not, 2 on error.
  --state   the agent's state file (default ${AGENT_STATE_PATH})
  --netns   compare with that network namespace instead of this one
`;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}`);
}

/** The text for people: plan first, then the difference as the lines the agent would run. */
export function renderInspect(s: SavedState, ch: Changes): string {
  const p = s.plan;
  const out = [`node ${s.node}: backend ${p.backend}${p.backend === 'vxlan' ? ` (vni ${s.config.vni}, port ${s.config.port}${s.config.directRouting ? ', directRouting' : ''})` : ''}, pod MTU ${p.mtu ?? 'kernel default'}`];
  out.push('', 'devices:');
  if (p.devices.length === 0) out.push('  none');
  else out.push(...table([['NAME', 'VNI', 'LOCAL', 'UNDERLAY', 'PORT', 'MTU', 'MAC', 'VTEP'], ...p.devices.map((d) => [d.name, String(d.vni), d.local, d.underlay, String(d.port), String(d.mtu), d.mac, d.vtep])]));
  out.push('', 'peers:');
  if (p.peers.length === 0) out.push('  none');
  else out.push(...table([['NODE', 'POD CIDR', 'NODE IP', 'VIA', 'VTEP', 'VTEP MAC'], ...p.peers.map((x) => [x.node, x.podCIDR, x.nodeIP, x.via, x.vtep ?? '-', x.vtepMac ?? '-'])]));
  out.push('', 'routes (proto 199):', ...p.routes.map((r) => `  ${r.dst} via ${r.via}${r.dev ? ` dev ${r.dev} onlink` : ''}`));
  if (p.nodeRoutes.length > 0) {
    out.push('', `pod -> node traffic through the overlay (rule pref ${RULE_PREF}, table ${NODE_TABLE}):`);
    out.push(...p.rules.map((r) => `  from ${r.from} lookup ${NODE_TABLE}`), ...p.nodeRoutes.map((r) => `  ${r.dst} via ${r.via} dev ${r.dev ?? '-'} onlink`));
  }
  if (p.neighbours.length > 0) out.push('', 'neighbours (permanent):', ...p.neighbours.map((n) => `  ${n.ip} lladdr ${n.mac} dev ${n.dev}`));
  if (p.fdb.length > 0) out.push('', 'fdb (permanent):', ...p.fdb.map((e) => `  ${e.mac} dst ${e.dst} dev ${e.dev}`));
  // As the chosen dataplane prints them back.
  const filter = chainsBackend(p.dataplane);
  for (const f of [4, 6] as const) {
    const masq = p.masquerade[f];
    if (masq) out.push('', `masquerade (IPv${f}, ${p.dataplane}, at postrouting):`, ...masq.map((r) => `  ${filter.printed(MASQ_CHAIN, r, f)}`));
    const guard = p.serviceGuard[f];
    if (guard) out.push('', `service guard (IPv${f}, ${p.dataplane}, at forward and output):`, ...guard.map((r) => `  ${filter.printed(GUARD_CHAIN, r, f)}`));
  }
  if (p.skipped.length > 0) out.push('', 'skipped:', ...p.skipped.map((x) => `  ${x.node}: ${x.reason}`));
  out.push('');
  if (isEmpty(ch)) out.push('kernel: matches the plan');
  else {
    out.push('kernel: DIFFERS from the plan; the agent\'s next pass would run:');
    for (const l of [...ch.ipFirst, ...ch.ipLast]) out.push(`  ip ${l}`);
    for (const f of [4, 6] as const) for (const l of ch.rules[f]) out.push(`  ip -${f} ${l}`);
    for (const l of ch.fdb) out.push(`  bridge ${l}`);
    for (const c of ch.filter) out.push(`  ${c.command} <<EOF`, ...c.text.trimEnd().split('\n').map((l) => `    ${l}`), '  EOF');
  }
  return `${out.join('\n')}\n`;
}

export async function runInspect(argv: string[]): Promise<number> {
  let statePath = AGENT_STATE_PATH;
  let netns: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if ((a === '--state' || a === '--netns') && argv[i + 1] !== undefined) {
      if (a === '--state') statePath = argv[++i]!;
      else netns = argv[++i]!;
    } else {
      process.stderr.write(a === '--help' || a === '-h' ? INSPECT_USAGE : `gingham inspect: unexpected "${a}"\n${INSPECT_USAGE}`);
      return a === '--help' || a === '-h' ? 0 : 2;
    }
  }
  let saved: SavedState;
  try {
    saved = JSON.parse(readFileSync(statePath, 'utf8')) as SavedState;
  } catch (e) {
    process.stderr.write(`gingham inspect: no agent state at ${statePath} (${(e as Error).message}); is the agent running on this node?\n`);
    return 2;
  }
  const ch = changesFor(saved.plan, await readSnapshot(nodeKernel(netns)));
  process.stdout.write(json ? `${JSON.stringify({ ...saved, matches: isEmpty(ch), changes: ch }, null, 2)}\n` : renderInspect(saved, ch));
  return isEmpty(ch) ? 0 : 1;
}
