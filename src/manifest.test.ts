// conf/kube/gingham.yaml keeps what a security review accepted (README: security): every container
// drops all capabilities and adds back only its own list, cannot escalate, has a read-only root and
// the runtime's seccomp filter; host directories are mounted read-only except the few listed here
// with their reason; the agent's probes ask the port and address its command serves them on; the
// ClusterRole only reads. Parsed as the API server would (client-node's typed objects), so a
// misspelt field reads as missing and fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type V1ClusterRole, type V1Container, type V1DaemonSet, loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from './agent/args.js';

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
});
