// The iptables dataplane's text, pinned: what the compiler and the kernel layer's renderers hand to
// `ipset restore` and `iptables-restore` for a rich corpus (the bench's synthetic cluster, made
// dual-stack; its ClusterNetworkPolicy scenario; hand-written ipBlocks with excepts in both
// families, named ports, a pod of another node and a hostNetwork one; verdict events on and off;
// SCTP ports on and off), from an empty kernel and for two events after it (a pod added, a pod
// relabelled: the in-place edits the event path makes). Taken before the ruleset became the
// backend-neutral model (issue 17), so the iptables backend provably writes what it always wrote.
import { describe, expect, it } from 'vitest';
import { syntheticClusterPolicies } from '../../scripts/cluster-policy-scenario.js';
import { PolicyCompiler } from './compile.js';
import type { PodInfo, PolicyInputs, Ruleset } from './model.js';
import { normalizeRuleset, renderChains, renderSets, setsAfter, tableAfter } from './render.js';
import type { RulesetOptions } from './ruleset.js';
import { cnp, cnpRule, inNs, ns, pod, policy, rule, sel, syntheticCluster } from './testing.js';

/** The synthetic cluster with an IPv6 address beside each pod's IPv4 one (every fifth stays single-stack). */
function dualStack(pods: readonly PodInfo[]): PodInfo[] {
  return pods.map((p, i) => (i % 5 === 4 ? p : { ...p, ips: [...p.ips, `fd42:18:${160 + (i >> 8)}::${(i & 255).toString(16)}`] }));
}

function corpus(): PolicyInputs {
  const base = syntheticCluster(80, 40);
  const { clusterPolicies, nodes } = syntheticClusterPolicies(6);
  const extraPods = [
    pod('ns0', 'far', ['198.18.200.9', 'fd42:18:200::9'], { node: 'n2', labels: { app: 'app0', tier: 'front' } }),
    pod('ns1', 'host', ['198.18.224.1'], { hostNetwork: true, labels: { app: 'app1', tier: 'back' } }),
    pod('ns2', 'dns', ['198.18.201.2', 'fd42:18:201::2'], { labels: { app: 'dns', tier: 'db' }, namedPorts: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'diameter', protocol: 'SCTP', port: 3868 }] }),
  ];
  const extraPolicies = [
    policy('ns2', 'blocks', {
      select: sel({ app: 'dns' }),
      ingress: [
        rule([{ ipBlock: { cidr: 'fd42:19::/48', except: ['fd42:19:0:8::/64', 'fd42:19:0:9::/64'] } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.4.0/24', '198.19.5.128/25'] } }], [{ protocol: 'UDP', port: 'dns' }, { protocol: 'SCTP', port: 'diameter' }]),
        rule([{ ipBlock: { cidr: '0.0.0.0/0', except: ['198.18.0.0/15'] } }], [{ protocol: 'SCTP', port: 3868 }, { protocol: 'TCP', port: 9000, endPort: 9010 }]),
      ],
      egress: [rule([{ namespaceSelector: sel({ team: 't1' }) }], [{ protocol: 'TCP', port: 'http' }, { protocol: 'UDP' }])],
    }),
    policy('ns2', 'closed', { select: sel({ tier: 'db' }), ingress: [], egress: [] }),
  ];
  const extraCluster = [
    cnp('dns-from-everyone', 'Admin', 3, inNs(sel({ ns: 'ns2' })), { ingress: [cnpRule('Accept', [inNs(sel())], [{ kind: 'named', name: 'dns' }], 'dns for all')] }),
    cnp('v6-nets', 'Baseline', 7, inNs(sel({ ns: 'ns2' })), { egress: [cnpRule('Deny', [{ kind: 'networks', cidrs: ['fd42:19::/48', '198.19.0.0/16'] }], [{ kind: 'port', protocol: 'SCTP', port: 3868 }])] }),
  ];
  return {
    policies: [...base.policies, ...extraPolicies],
    pods: [...dualStack(base.pods), ...extraPods],
    namespaces: [...base.namespaces, ns('empty')],
    clusterPolicies: [...clusterPolicies, ...extraCluster],
    nodes,
  };
}

/** What the kernel layer writes for `want`, from nothing or (have) after the sync that made `last`. */
function texts(want: Ruleset, last?: Ruleset): string {
  const w = normalizeRuleset(want);
  const before = last && normalizeRuleset(last);
  const sets = renderSets([...w[4].sets, ...w[6].sets], before ? setsAfter([...before[4].sets, ...before[6].sets], new Map()) : new Map());
  const out = ['# ipset restore', sets.update, `# destroyed: ${sets.destroy.join(' ')}`];
  for (const f of [4, 6] as const) {
    const plan = renderChains(w[f].chains, before ? tableAfter(before[f].chains) : { chains: new Map(), refs: [] });
    out.push(`# iptables-restore IPv${f}`, ...plan.prepare, plan.text);
  }
  return out.join('\n');
}

// Every option changes the text: events of both kinds with SCTP ports; drops alone without them.
const OPTIONS: [string, RulesetOptions][] = [
  ['events', { node: 'n1', sctpPorts: true, logDrops: true, logAccepts: true }],
  ['drops, no SCTP ports', { node: 'n1', sctpPorts: false, logDrops: true, logAccepts: false }],
];

describe('the iptables text of the policy ruleset', () => {
  it('is what it was before the backend-neutral model', async () => {
    const inputs = corpus();
    const parts: string[] = [];
    for (const [label, opts] of OPTIONS) {
      const compiler = new PolicyCompiler();
      const full = compiler.compile(inputs, opts).ruleset;
      parts.push(`######## ${label}: full sync`, texts(full));
      const added = { ...inputs, pods: [...inputs.pods, pod('ns3', 'new', ['198.18.202.7', 'fd42:18:202::7'], { labels: { app: 'app0', tier: 'back' }, namedPorts: [{ name: 'http', protocol: 'TCP', port: 8081 }] })] };
      const afterAdd = compiler.compile(added, opts).ruleset;
      parts.push(`######## ${label}: a pod added`, texts(afterAdd, full));
      const relabelled = { ...added, pods: added.pods.map((p) => (p.name === 'pod3' ? { ...p, labels: { app: 'app1', tier: 'front' } } : p)) };
      parts.push(`######## ${label}: a pod relabelled`, texts(compiler.compile(relabelled, opts).ruleset, afterAdd));
    }
    await expect(`${parts.join('\n')}\n`).toMatchFileSnapshot('./__snapshots__/golden.iptables.txt');
  });
});
