// conf/kube/gingham.yaml keeps what a security review accepted (README: security): every container
// drops all capabilities and adds back only its own list, cannot escalate, has a read-only root and
// the runtime's seccomp filter; host directories are mounted read-only except the few listed here
// with their reason; the agent's probes ask the port and address its command serves them on; the
// ClusterRole only reads. Parsed as the API server would (client-node's typed objects), so a
// misspelt field reads as missing and fails here. The ClusterNetworkPolicy CRD beside it is
// upstream's file unchanged below its first line.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type V1ClusterRole, type V1Container, type V1DaemonSet, type V1Deployment, loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from './agent/args.js';
import { parseUiArgs } from './ui/args.js';

const MANIFEST = join(import.meta.dirname, '..', 'conf', 'kube', 'gingham.yaml');
const objects = loadAllYaml(readFileSync(MANIFEST, 'utf8')) as { kind?: string }[];
const daemonSet = objects.find((o) => o.kind === 'DaemonSet') as V1DaemonSet;
const pod = daemonSet.spec!.template.spec!;
const containers: V1Container[] = [...(pod.initContainers ?? []), ...pod.containers];

/** The capabilities each container may add, and why (the manifest says the same beside them). */
const CAPABILITIES: Record<string, string[]> = {
  // Copies files into /opt/cni/bin, which root owns.
  'install-cni': [],
  // Routes, VXLAN devices, neighbours, FDB, iptables, ipset; iptables' set match needs a raw socket.
  agent: ['NET_ADMIN', 'NET_RAW'],
};

/** Host directories a container may write, by "container volume", and why. Everything else is read-only. */
const WRITABLE_HOST_MOUNTS: Record<string, string> = {
  'install-cni cni-bin': 'installs the plugin binaries',
  'agent cni-conf': "writes this node's conflist (atomically: a file beside it, renamed over it)",
  'agent run': 'leaves its last plan for `gingham inspect` (only /run/gingham/agent)',
};

describe('conf/kube/gingham.yaml', () => {
  it('has the DaemonSet, with an init container and the agent', () => {
    expect(containers.map((c) => c.name)).toEqual(['install-cni', 'agent']);
  });

  it.each(containers.map((c) => [c.name, c] as const))('%s: drops ALL capabilities and adds back only its list', (name, c) => {
    const caps = c.securityContext?.capabilities;
    expect(caps?.drop).toEqual(['ALL']);
    expect([...(caps?.add ?? [])].sort()).toEqual(CAPABILITIES[name]);
  });

  it.each(containers.map((c) => [c.name, c] as const))('%s: no privilege, no escalation, read-only root, RuntimeDefault seccomp', (_name, c) => {
    const sc = c.securityContext!;
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    // The container's own profile wins over the pod's.
    expect((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
  });

  it('shares no host namespace but the network', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(pod.hostPID ?? false).toBe(false);
    expect(pod.hostIPC ?? false).toBe(false);
  });

  it('mounts host paths read-only except the listed writable ones', () => {
    const hostVolumes = new Set(pod.volumes!.filter((v) => v.hostPath).map((v) => v.name));
    const writable: string[] = [];
    for (const c of containers) {
      for (const m of c.volumeMounts ?? []) if (hostVolumes.has(m.name) && !m.readOnly) writable.push(`${c.name} ${m.name}`);
    }
    // Equal, not a subset: a mount made read-only is taken off the list too.
    expect(writable.sort()).toEqual(Object.keys(WRITABLE_HOST_MOUNTS).sort());
  });

  it("probes the agent where its command serves /healthz and /readyz", () => {
    const agent = containers.find((c) => c.name === 'agent')!;
    const [binary, sub, ...argv] = agent.command!;
    expect([binary, sub]).toEqual(['/usr/local/bin/gingham', 'agent']);
    const run = parseAgentArgs(argv, { NODE_NAME: 'n' });
    if (run.kind !== 'run') throw new Error(`the agent's command is not a run: ${run.kind}`);
    expect(run.healthPort).not.toBe(0);
    // A server on a specific address is reached only there; one on 0.0.0.0 or :: through the pod's IP.
    const host = ['0.0.0.0', '::'].includes(run.healthAddress) ? undefined : run.healthAddress;
    expect(agent.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: run.healthPort, host });
    expect(agent.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: run.healthPort, host });
  });

  it('lets the agent read the API, never write it', () => {
    const role = objects.find((o) => o.kind === 'ClusterRole') as V1ClusterRole;
    for (const rule of role.rules ?? []) expect([...(rule.verbs ?? [])].sort()).toEqual(['get', 'list', 'watch']);
  });

  it('reads ClusterNetworkPolicies (their group, not PodDisruptionBudget\'s "policy"), and nothing else of that group', () => {
    const role = objects.find((o) => o.kind === 'ClusterRole') as V1ClusterRole;
    const rules = (role.rules ?? []).filter((r) => r.apiGroups?.includes('policy.networking.k8s.io'));
    expect(rules.map((r) => ({ apiGroups: r.apiGroups, resources: r.resources }))).toEqual([{ apiGroups: ['policy.networking.k8s.io'], resources: ['clusternetworkpolicies'] }]);
  });
});

// The live class view's Deployment: an ordinary pod that only reads.
describe('conf/kube/gingham-ui.yaml', () => {
  const ui = loadAllYaml(readFileSync(join(import.meta.dirname, '..', 'conf', 'kube', 'gingham-ui.yaml'), 'utf8')) as { kind?: string }[];
  const spec = (ui.find((o) => o.kind === 'Deployment') as V1Deployment).spec!.template.spec!;
  const [c] = spec.containers;

  it('runs as nobody with no capability, no escalation, a read-only root, RuntimeDefault seccomp and no host namespace', () => {
    expect(spec.containers).toHaveLength(1);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c!.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect([spec.hostNetwork, spec.hostPID, spec.hostIPC].map((v) => v ?? false)).toEqual([false, false, false]);
  });

  it('probes the port its command listens on, on every address', () => {
    const [binary, sub, ...argv] = c!.command!;
    expect([binary, sub]).toEqual(['/usr/local/bin/gingham', 'ui']);
    const args = parseUiArgs(argv);
    expect(args.host).toBe('::');
    expect(c!.readinessProbe?.httpGet).toMatchObject({ path: '/api/view', port: args.port });
  });

  it('only reads the API', () => {
    const role = ui.find((o) => o.kind === 'ClusterRole') as V1ClusterRole;
    for (const rule of role.rules ?? []) expect([...(rule.verbs ?? [])].sort()).toEqual(['get', 'list', 'watch']);
    expect((role.rules ?? []).flatMap((r) => r.resources ?? []).sort()).toEqual(['clusternetworkpolicies', 'namespaces', 'networkpolicies', 'nodes', 'pods']);
  });
});

describe('conf/kube/clusternetworkpolicies-v0.3.0-experimental.yaml', () => {
  const VERSION = 'v0.3.0';
  const UPSTREAM = 'config/crd/experimental/policy.networking.k8s.io_clusternetworkpolicies.yaml';
  const text = readFileSync(join(import.meta.dirname, '..', 'conf', 'kube', `clusternetworkpolicies-${VERSION}-experimental.yaml`), 'utf8');
  const [first, ...rest] = text.split('\n');
  const body = rest.join('\n');
  const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
  const named = /sha256 of the original: ([0-9a-f]{64})$/.exec(first!)?.[1];

  it('names the release, the channel and the sha256 of the file in its first line, and the rest has that sha256', () => {
    expect(first!.startsWith(`# sigs.k8s.io/network-policy-api@${VERSION} ${UPSTREAM} (channel experimental)`), first).toBe(true);
    expect(named).toBeDefined();
    expect(sha256(body)).toBe(named);
  });

  it('is the CRD of that release and channel (the conformance suite checks these annotations)', () => {
    const [crd, ...more] = loadAllYaml(body) as { kind?: string; metadata?: { name?: string; annotations?: Record<string, string> }; spec?: { versions?: { name: string; storage: boolean }[] } }[];
    expect(more).toEqual([]);
    expect(crd?.kind).toBe('CustomResourceDefinition');
    expect(crd?.metadata?.name).toBe('clusternetworkpolicies.policy.networking.k8s.io');
    expect(crd?.metadata?.annotations).toMatchObject({ 'policy.networking.k8s.io/bundle-version': VERSION, 'policy.networking.k8s.io/channel': 'experimental' });
    expect(crd?.spec?.versions?.find((v) => v.storage)?.name).toBe('v1beta1');
  });

  // The Go module cache holds the release when someone has fetched it (GOMODCACHE, else ~/go/pkg/mod).
  const module = join(process.env['GOMODCACHE'] ?? join(homedir(), 'go', 'pkg', 'mod'), `sigs.k8s.io/network-policy-api@${VERSION}`);
  it.skipIf(!existsSync(module))('equals the file in the module cache', () => {
    expect(body === readFileSync(join(module, UPSTREAM), 'utf8')).toBe(true);
  });
});
