// The namespace cluster for privileged tests (ARCHITECTURE.md: address plan, tests): a "fabric"
// namespace with the underlay bridge, node namespaces joined to it by veths (198.18.0.0/24), an
// "outside host" (198.18.0.254), and pod namespaces. Everything carries a per-run prefix and is removed by
// destroy(), also after a failure. The plugin runs inside its node: ip netns exec NODE gingham.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';

export const ROOT = resolve(import.meta.dirname, '..', '..');
// GINGHAM_BIN runs the tests against another build (say, of an older commit, to see a test fail).
export const GINGHAM = process.env['GINGHAM_BIN'] ?? join(ROOT, 'bin', 'gingham');
export const REF_CNI = '/usr/lib/cni';

export interface CniCall {
  command: string;
  containerId?: string;
  ifName?: string;
  netns?: string;
  args?: string;
  path?: string;
  env?: Record<string, string>;
}

export interface CniOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json?: Record<string, unknown>;
}

/** Fail (not skip) when a privileged test cannot run: root, the binary and the tools are needed. */
export function requirePrivileges(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  if (!existsSync(GINGHAM)) missing.push(`${GINGHAM} (run make build)`);
  for (const tool of ['/usr/sbin/iptables', '/usr/bin/busybox', `${REF_CNI}/bridge`]) if (!existsSync(tool)) missing.push(tool);
  if (missing.length > 0) throw new Error(`privileged tests cannot run, missing: ${missing.join(', ')} (make deps build)`);
}

export class Cluster {
  readonly prefix: string;
  readonly fabric: string;
  readonly tmp: string;
  private readonly namespaces: string[] = [];
  private nodeCount = 0;

  constructor() {
    this.prefix = `gt${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    this.fabric = `${this.prefix}-fabric`;
    this.tmp = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
  }

  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  netnsPath(name: string): string {
    return `/var/run/netns/${this.ns(name)}`;
  }

  async sh(argv: string[], input?: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, ...(input !== undefined ? { input } : {}) });
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Run argv inside a namespace of this cluster; throws on failure. */
  async exec(name: string, argv: string[], input?: string): Promise<string> {
    const r = await this.sh(['ip', 'netns', 'exec', this.ns(name), ...argv], input);
    if (r.exitCode !== 0) throw new Error(`${name}: ${argv.join(' ')} failed (${r.exitCode}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async tryExec(name: string, argv: string[]): Promise<boolean> {
    return (await this.sh(['ip', 'netns', 'exec', this.ns(name), ...argv])).exitCode === 0;
  }

  async addNamespace(name: string): Promise<string> {
    await execa('ip', ['netns', 'add', this.ns(name)]);
    this.namespaces.push(this.ns(name));
    await this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    return this.netnsPath(name);
  }

  async start(): Promise<void> {
    await this.addNamespace('fabric');
    await this.exec('fabric', ['ip', 'link', 'add', 'fab0', 'type', 'bridge']);
    await this.exec('fabric', ['ip', 'link', 'set', 'fab0', 'up']);
  }

  private async joinFabric(name: string, cidr: string): Promise<void> {
    const idx = this.namespaces.length;
    await this.exec('fabric', ['ip', 'link', 'add', `f${idx}`, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', this.ns(name)]);
    await this.exec('fabric', ['ip', 'link', 'set', `f${idx}`, 'master', 'fab0', 'up']);
    await this.exec(name, ['ip', 'addr', 'add', cidr, 'dev', 'uplink']);
    await this.exec(name, ['ip', 'link', 'set', 'uplink', 'up']);
  }

  /** A node: 198.18.0.N on the fabric. Returns its underlay address. */
  async addNode(name: string): Promise<string> {
    this.nodeCount++;
    const addr = `198.18.0.${this.nodeCount}`;
    await this.addNamespace(name);
    await this.joinFabric(name, `${addr}/24`);
    return addr;
  }

  /** The outside host, 198.18.0.254: a host on the underlay that is not a node. */
  async addOutsideHost(): Promise<string> {
    await this.addNamespace('outside');
    await this.joinFabric('outside', '198.18.0.254/24');
    return '198.18.0.254';
  }

  async cni(node: string, conf: unknown, call: CniCall, binary = GINGHAM): Promise<CniOutcome> {
    const env: Record<string, string> = {
      CNI_COMMAND: call.command,
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_PATH: call.path ?? `${join(ROOT, 'bin')}:${REF_CNI}`,
      GINGHAM_LOG: join(this.tmp, 'gingham.log'),
      GINGHAM_RUN_DIR: join(this.tmp, 'run'),
      ...(call.containerId !== undefined ? { CNI_CONTAINERID: call.containerId } : {}),
      ...(call.ifName !== undefined ? { CNI_IFNAME: call.ifName } : {}),
      ...(call.netns !== undefined ? { CNI_NETNS: call.netns } : {}),
      ...(call.args !== undefined ? { CNI_ARGS: call.args } : {}),
      ...call.env,
    };
    const r = await execa('ip', ['netns', 'exec', this.ns(node), binary], {
      input: typeof conf === 'string' ? conf : JSON.stringify(conf),
      env,
      extendEnv: false,
      reject: false,
    });
    const out: CniOutcome = { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
    try {
      if (r.stdout.trim()) out.json = JSON.parse(r.stdout) as Record<string, unknown>;
    } catch {
      // not JSON: left for the test to see
    }
    return out;
  }

  /** ADD for a pod, expecting success; returns the result. */
  async add(node: string, conf: unknown, pod: string, ifName = 'eth0', extra: Partial<CniCall> = {}, binary = GINGHAM): Promise<Record<string, unknown>> {
    const r = await this.cni(node, conf, { command: 'ADD', containerId: `${this.prefix}-${pod}`, ifName, netns: this.netnsPath(pod), ...extra }, binary);
    if (r.exitCode !== 0 || !r.json) throw new Error(`ADD ${pod} failed (${r.exitCode}): ${r.stdout} ${r.stderr}`);
    return r.json;
  }

  async del(node: string, conf: unknown, pod: string, ifName = 'eth0'): Promise<CniOutcome> {
    return this.cni(node, conf, { command: 'DEL', containerId: `${this.prefix}-${pod}`, ifName, netns: this.netnsPath(pod) });
  }

  /** Links of a namespace by name. */
  async links(name: string): Promise<string[]> {
    const out = JSON.parse(await this.exec(name, ['ip', '-j', 'link', 'show'])) as { ifname: string }[];
    return out.map((l) => l.ifname);
  }

  /** Every rule of both families in the node's nat and filter tables. */
  async rules(node: string): Promise<string> {
    const parts: string[] = [];
    for (const bin of ['iptables', 'ip6tables']) for (const t of ['nat', 'filter']) parts.push(await this.exec(node, [bin, '-w', '-t', t, '-S']));
    return parts.join('\n');
  }

  async ping(from: string, to: string): Promise<boolean> {
    return this.tryExec(from, ['busybox', 'ping', '-c', '1', '-W', '2', to]);
  }

  async destroy(): Promise<void> {
    for (const ns of this.namespaces.reverse()) await execa('ip', ['netns', 'del', ns], { reject: false });
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
