// The iptables backend's renderer: seam-model rules (packet-filter/model.ts) as the text
// `iptables -S` prints after "-A CHAIN ", so what the appliers write compares equal with what they
// read back. Matches come in iptables' print order (addresses, interfaces, protocol, then the
// modules in the order the model lists them); every token goes through iptables-text.ts.
import { chainName, comment, nflog, word } from '../iptables-text.js';
import { type Action, type AddrMatch, type Family, type Rule, type Step, isDispatch } from './model.js';

const hex = (n: number): string => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`mark ${n}: not a 32-bit value`);
  return `0x${n.toString(16)}`;
};

const HOST: Record<Family, number> = { 4: 32, 6: 128 };
const PROTO: Record<NonNullable<Rule['proto']>, string> = { tcp: 'tcp', udp: 'udp', sctp: 'sctp', icmpv6: 'ipv6-icmp' };
const CT: Record<NonNullable<Rule['ct']>, string> = { new: 'NEW', 'established-related': 'RELATED,ESTABLISHED' };
const UNREACHABLE: Record<Family, string> = { 4: 'icmp-port-unreachable', 6: 'icmp6-port-unreachable' };

function port(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`port ${n}: not a port number`);
  return String(n);
}

function target(a: Action, family: Family): string {
  switch (a.kind) {
    case 'accept':
      return '-j ACCEPT';
    case 'drop':
      return '-j DROP';
    case 'return':
      return '-j RETURN';
    case 'masquerade':
      return '-j MASQUERADE';
    case 'reject':
      return `-j REJECT --reject-with ${a.with === 'tcp-reset' ? 'tcp-reset' : UNREACHABLE[family]}`;
    case 'jump':
      return `-j ${chainName(a.chain)}`;
    case 'goto':
      return `-g ${chainName(a.chain)}`;
    case 'mark':
      return `-j MARK --set-xmark ${hex(a.value)}/${hex(a.mask)}`;
    case 'log':
      return nflog(a.prefix, a.group, a.snaplen);
  }
}

function render(r: Rule, family: Family): string {
  const out: string[] = [];
  const not = (m: { readonly not?: boolean } | undefined): string => (m?.not ? '! ' : '');
  // iptables prints a host address with its prefix length.
  const cidr = (m: AddrMatch, what: string): string => word(m.cidr.includes('/') ? m.cidr : `${m.cidr}/${HOST[family]}`, what);
  if (r.src) out.push(`${not(r.src)}-s ${cidr(r.src, 'source')}`);
  if (r.dst) out.push(`${not(r.dst)}-d ${cidr(r.dst, 'destination')}`);
  if (r.iif) out.push(`${not(r.iif)}-i ${word(r.iif.name, 'interface')}`);
  if (r.oif) out.push(`${not(r.oif)}-o ${word(r.oif.name, 'interface')}`);
  if (r.proto) out.push(`-p ${PROTO[r.proto]}`);
  if (r.comment !== undefined) out.push(comment(r.comment));
  for (const s of r.sets ?? []) out.push(`-m set --match-set ${word(s.set, 'set', 31)} ${s.dir}`);
  if (r.dport) {
    if (r.proto !== 'tcp' && r.proto !== 'udp' && r.proto !== 'sctp') throw new RangeError('a port match needs tcp, udp or sctp');
    out.push(`-m ${r.proto} --dport ${port(r.dport.from)}${r.dport.to !== r.dport.from ? `:${port(r.dport.to)}` : ''}`);
  }
  if (r.icmpv6Type !== undefined) out.push(`-m icmp6 --icmpv6-type ${port(r.icmpv6Type)}`);
  if (r.ct) out.push(`-m conntrack --ctstate ${CT[r.ct]}`);
  if (r.mark) out.push(`-m mark --mark ${hex(r.mark.value)}/${hex(r.mark.mask)}`);
  if (r.limit) out.push(`-m limit --limit ${port(r.limit.perSecond)}/sec --limit-burst ${port(r.limit.burst)}`);
  out.push(target(r.action, family));
  return out.join(' ');
}

/** Rendered rules by object: builders hand out the same objects pass after pass. */
const cache: Record<Family, WeakMap<Step, readonly string[]>> = { 4: new WeakMap(), 6: new WeakMap() };

/** One rule as `iptables -S` prints it after "-A CHAIN ". */
export function iptablesRule(r: Rule, family: Family): string {
  return iptablesStep(r, family)[0]!;
}

/** A step's rules: one for a rule; one `-s/-d ADDR -j CHAIN` per entry for a dispatch. */
export function iptablesStep(s: Step, family: Family): readonly string[] {
  let lines = cache[family].get(s);
  if (lines) return lines;
  if (isDispatch(s)) {
    const { by, entries } = s.dispatch;
    lines = entries.map((e) =>
      render({ [by]: { cidr: e.addr }, ...(e.comment !== undefined ? { comment: e.comment } : {}), action: { kind: 'jump', chain: e.chain } }, family),
    );
  } else lines = [render(s, family)];
  cache[family].set(s, lines);
  return lines;
}

/** A chain's rules, in order. */
export const iptablesRules = (steps: readonly Step[], family: Family): string[] => steps.flatMap((s) => iptablesStep(s, family));
