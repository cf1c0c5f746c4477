// Traffic between pods: `kubectl exec` of `gingham probe connect|resolve` (and busybox ping) in a
// test pod, and `gingham probe connect` from the host to the nodes' Docker addresses; IPv4 or IPv6.
// Every target address goes through assertSafe first: nothing is ever sent outside 198.18.0.0/15,
// fd42:18::/32 and fd42:19::/32.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { BUSYBOX_HOST, GINGHAM_HOST, GINGHAM_IN_IMAGE, KUBECONFIG, KUBECTL } from './env.js';
import { assertSafe, hostPort } from './ip.js';
import { namespace } from './kube.js';
import { sleep } from './timing.js';

export type Proto = 'tcp' | 'udp';

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function kubectl(args: string[], o: { timeoutMs?: number; input?: Buffer } = {}): Promise<Run> {
  const r = await execa(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], {
    timeout: o.timeoutMs ?? 60_000,
    reject: false,
    ...(o.input ? { input: o.input } : {}),
    encoding: 'utf8',
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command in the probe container of a test pod (of the run's namespace unless another is given). */
export const podExec = (pod: string, cmd: string[], o: { timeoutMs?: number; input?: Buffer; namespace?: string } = {}): Promise<Run> =>
  kubectl(['-n', o.namespace ?? namespace(), 'exec', ...(o.input ? ['-i'] : []), pod, '-c', 'probe', '--', ...cmd], o);

const runText = (r: Run): string => `exit ${r.exitCode}: ${(r.stdout + r.stderr).trim()}`;

/** The source address in a probe server's answer ("from 198.18.129.5", "from fd42:18:8001::5"). */
export function answerSource(out: string): string | undefined {
  return /^from (\S+)\s*$/m.exec(out)?.[1];
}

/**
 * `gingham probe connect host:port/proto` from a pod; a few attempts (a lost first datagram
 * should not fail a run) and then the answer's source address, or an Error naming each attempt.
 */
export async function connectFromPod(pod: string, host: string, port: number, proto: Proto, attempts = 3): Promise<string> {
  assertSafe(host);
  const errors: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const r = await podExec(pod, [GINGHAM_IN_IMAGE, 'probe', 'connect', `${hostPort(host, port)}/${proto}`, '--timeout', '3000']);
    const src = answerSource(r.stdout);
    if (r.exitCode === 0 && src) return src;
    errors.push(runText(r));
    await sleep(1000);
  }
  throw new Error(`${pod} -> ${hostPort(host, port)}/${proto} failed ${attempts} times: ${errors.join(' | ')}`);
}

/** The same from the host (the VM), to a node's Docker address. */
export async function connectFromHost(host: string, port: number, proto: Proto, attempts = 3): Promise<string> {
  assertSafe(host);
  const errors: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const r = await execa(GINGHAM_HOST, ['probe', 'connect', `${hostPort(host, port)}/${proto}`, '--timeout', '3000'], { reject: false, timeout: 10_000 });
    const src = answerSource(r.stdout);
    if (r.exitCode === 0 && src) return src;
    errors.push(`exit ${r.exitCode}: ${(r.stdout + r.stderr).trim()}`);
    await sleep(1000);
  }
  throw new Error(`host -> ${hostPort(host, port)}/${proto} failed ${attempts} times: ${errors.join(' | ')}`);
}

/**
 * `gingham probe resolve NAME` in a pod (getaddrinfo, so A and AAAA records both): the addresses
 * it prints, one a line, or an Error.
 */
export async function resolveFromPod(pod: string, name: string, attempts = 3): Promise<string[]> {
  const errors: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const r = await podExec(pod, [GINGHAM_IN_IMAGE, 'probe', 'resolve', name, '--timeout', '5000']);
    const addrs = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    if (r.exitCode === 0 && addrs.length > 0) return addrs;
    errors.push(runText(r));
    await sleep(1000);
  }
  throw new Error(`${pod}: resolve ${name} failed ${attempts} times: ${errors.join(' | ')}`);
}

export const BUSYBOX_IN_POD = '/tmp/busybox';

/**
 * The gingham image has no ping: the host's static busybox is copied into the pod (through
 * `kubectl exec -i`, no tar needed) and its ping applet runs there, as the pod, with the raw
 * socket the container runtime grants by default (CAP_NET_RAW).
 */
export async function installBusybox(pod: string, ns?: string): Promise<void> {
  const r = await podExec(pod, ['sh', '-c', `cat > ${BUSYBOX_IN_POD}.tmp && chmod 0755 ${BUSYBOX_IN_POD}.tmp && mv ${BUSYBOX_IN_POD}.tmp ${BUSYBOX_IN_POD}`], {
    input: readFileSync(BUSYBOX_HOST),
    ...(ns ? { namespace: ns } : {}),
  });
  if (r.exitCode !== 0) throw new Error(`copying busybox into ${pod}: ${runText(r)}`);
}

/** ICMP echo from a pod: 3 requests, all must be answered. Returns ping's summary line. */
export async function pingFromPod(pod: string, host: string): Promise<string> {
  assertSafe(host);
  const r = await podExec(pod, [BUSYBOX_IN_POD, 'ping', '-c', '3', '-W', '2', host], { timeoutMs: 30_000 });
  const summary = /(\d+) packets transmitted, (\d+) packets received/.exec(r.stdout);
  if (r.exitCode !== 0 || !summary || summary[1] !== summary[2]) throw new Error(`${pod}: ping ${host}: ${runText(r)}`);
  return summary[0];
}
