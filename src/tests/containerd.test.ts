// A real runtime drives gingham: containerd 1.6 runs inside a node namespace of the cluster and
// `ctr run --cni` starts two busybox containers on a gingham network; they get distinct addresses
// and reach each other. When their tasks end, ctr calls DEL and nothing is left behind.
//
// ctr reads only /etc/cni/net.d and /opt/cni/bin, neither exists on this machine, and containerd,
// its shims and libcni write under /run and /var/lib. So containerd runs in a private mount
// namespace where /etc, /opt, /run and /var/lib are overlays with a tmpfs upper layer: everything
// written there vanishes with the namespace, and the host's files are never touched. /sys is
// remounted so that it shows the node's links (gingham reads /sys/class/net), with the host's cgroup
// mounts carried over for runc. Every later ctr call enters that namespace with nsenter.
//
// ctr 1.6 calls CNI DEL only for a container it runs attached (no -d): `ctr run --rm --cni` stays
// running until the task exits, then removes the network and the container. The test ends a task
// with `ctr task kill -s SIGKILL`.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, GINGHAM, REF_CNI, requirePrivileges } from './cluster.js';

requirePrivileges();
{
  const tools = ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/bin/nsenter', '/usr/bin/unshare', `${REF_CNI}/loopback`];
  const missing = tools.filter((t) => !existsSync(t));
  if (missing.length > 0) throw new Error(`the containerd test cannot run, missing: ${missing.join(', ')}`);
}

const NETWORK = 'ctrnet';
const SUBNET = '198.18.20.0/24';
const CONTAINERS = ['c1', 'c2'] as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/** Pids whose mount namespace is `mntns`, and all their descendants (the containers under the shims). */
function processesOf(mntns: string): number[] {
  const parent = new Map<number, number>();
  const roots = new Set<number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readlinkSync(`/proc/${pid}/ns/mnt`) === mntns) roots.add(pid);
    } catch {
      // exited meanwhile
    }
  }
  const out = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  out.delete(process.pid);
  return [...out];
}

const containerdScript = `set -eu
T="$1"
exec >>"$T/containerd.log" 2>&1
mkdir -p "$T/cgsave" "$T/ovl"
# A sysfs of the node's network namespace, keeping the host's cgroup mounts for runc.
mount --rbind /sys/fs/cgroup "$T/cgsave"
mount -t sysfs sysfs /sys
mount --move "$T/cgsave" /sys/fs/cgroup
# Private, throw-away views of the directories that ctr, containerd, its shims and libcni use.
mount -t tmpfs tmpfs "$T/ovl"
for d in /etc /opt /run /var/lib; do
  u="$T/ovl/$(echo "$d" | tr / _)"
  mkdir -p "$u/up" "$u/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$u/up,workdir=$u/work" "$d"
done
mkdir -p /etc/cni/net.d /opt/cni/bin
mount --bind "$T/cni/conf" /etc/cni/net.d
mount --bind "$T/cni/bin" /opt/cni/bin
exec containerd --config "$T/containerd.toml"
`;

describe('containerd (ctr run --cni) on a gingham network', () => {
  const c = new Cluster();
  // The containerd namespace; ctr's default cgroup of a container is /<namespace>/<id>.
  const ctrNs = c.prefix;
  const sock = join(c.tmp, 'ctrd', 'sock');
  const ipamDir = join(c.tmp, 'ipam');
  const logFile = join(c.tmp, 'gingham.log');
  let containerd: ReturnType<typeof execa> | undefined;
  let pid = 0;
  let mntns = '';
  const runs = new Map<string, ReturnType<typeof execa>>();
  const ended = new Set<string>();
  const addrs = new Map<string, string>();

  const ctr = (args: string[], timeout = 30_000) =>
    execa('nsenter', [`--target=${pid}`, '--mount', '--net', 'ctr', '--address', sock, '--namespace', ctrNs, ...args], {
      reject: false,
      stdin: 'ignore',
      timeout,
      env: { GINGHAM_RUN_DIR: join(c.tmp, 'run'), GINGHAM_LOG: logFile },
    });

  const containerdLog = (): string => {
    try {
      return readFileSync(join(c.tmp, 'containerd.log'), 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no containerd log)';
    }
  };

  /** Status of each task, from `ctr task ls`. */
  const tasks = async (): Promise<Map<string, string>> => {
    const r = await ctr(['task', 'ls']);
    if (r.exitCode !== 0) throw new Error(`ctr task ls failed: ${r.stderr}`);
    const out = new Map<string, string>();
    for (const line of r.stdout.split('\n').slice(1)) {
      const [id, , status] = line.trim().split(/\s+/);
      if (id && status) out.set(id, status);
    }
    return out;
  };

  const ghLinks = async (): Promise<string[]> => (await c.links('node')).filter((l) => l.startsWith('gh-'));

  beforeAll(async () => {
    await c.start();
    await c.addNode('node');

    // A busybox rootfs per container; PATH is not set by ctr for a --rootfs container, so absolute paths.
    for (const id of CONTAINERS) {
      const root = join(c.tmp, `rootfs-${id}`);
      for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'run']) mkdirSync(join(root, d), { recursive: true });
      copyFileSync('/usr/bin/busybox', join(root, 'bin', 'busybox'));
      for (const applet of ['sh', 'sleep', 'ping', 'ip', 'true']) symlinkSync('busybox', join(root, 'bin', applet));
    }

    const confDir = join(c.tmp, 'cni', 'conf');
    const binDir = join(c.tmp, 'cni', 'bin');
    mkdirSync(confDir, { recursive: true });
    mkdirSync(binDir, { recursive: true });
    mkdirSync(join(c.tmp, 'ctrd'), { recursive: true });
    symlinkSync(GINGHAM, join(binDir, 'gingham'));
    symlinkSync(join(REF_CNI, 'loopback'), join(binDir, 'loopback'));
    const conflist = {
      cniVersion: '1.0.0',
      name: NETWORK,
      plugins: [{ type: 'gingham', bridge: 'gctr0', isGateway: true, logFile, ipam: { type: 'gingham', dataDir: ipamDir, ranges: [[{ subnet: SUBNET }]] } }],
    };
    writeFileSync(join(confDir, '10-ctrnet.conflist'), JSON.stringify(conflist));
    writeFileSync(
      join(c.tmp, 'containerd.toml'),
      [
        'version = 2',
        `root = "${join(c.tmp, 'ctrd', 'root')}"`,
        `state = "${join(c.tmp, 'ctrd', 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${sock}"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(c.tmp, 'ctrd', 'opt')}"`,
        '',
      ].join('\n'),
    );
    const script = join(c.tmp, 'containerd.sh');
    writeFileSync(script, containerdScript);

    // nsenter and unshare exec without forking, so the pid is containerd's once the script has run.
    containerd = execa('nsenter', [`--net=${c.netnsPath('node')}`, 'unshare', '--mount', '--propagation', 'private', 'sh', script, c.tmp], {
      reject: false,
      stdio: 'ignore',
    });
    let exited = false;
    void containerd.finally(() => (exited = true));
    pid = containerd.pid ?? 0;
    if (!pid) throw new Error('containerd did not start');
    await until('containerd to serve', 20_000, async () => {
      try {
        if (!exited && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'containerd') mntns = readlinkSync(`/proc/${pid}/ns/mnt`);
      } catch {
        // exiting: seen below
      }
      if (exited) throw new Error(`containerd exited: ${containerdLog()}`);
      if (!mntns) return undefined;
      return (await ctr(['version'], 5_000)).exitCode === 0 ? true : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    // Normally the second test has ended everything; after a failure, kill what is left: containerd,
    // its shims, the ctr processes and the containers under the shims.
    for (const run of runs.values()) run.kill('SIGKILL');
    if (mntns) {
      const left = processesOf(mntns);
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await until('leftover processes to exit', 10_000, async () => (left.some(alive) ? undefined : true)).catch(() => undefined);
    } else {
      containerd?.kill('SIGKILL');
    }
    await Promise.allSettled([containerd, ...runs.values()]);
    // runc leaves the namespace level of the cgroups (/<namespace>), and after a kill the containers'.
    for (let attempt = 0; attempt < 20; attempt++) {
      let remaining = 0;
      for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
        const dir = join('/sys/fs/cgroup', hierarchy, ctrNs);
        if (!existsSync(dir)) continue;
        for (const id of CONTAINERS) {
          try {
            if (existsSync(join(dir, id))) rmdirSync(join(dir, id));
          } catch {
            remaining++;
          }
        }
        try {
          rmdirSync(dir);
        } catch {
          remaining++;
        }
      }
      if (remaining === 0) break;
      await sleep(100);
    }
    await c.destroy();
  }, 60_000);

  it('starts two containers that get distinct addresses from the pool and reach each other', async () => {
    for (const id of CONTAINERS) {
      const args = ['run', '--rm', '--cni', '--null-io', '--env', 'PATH=/bin', '--runc-root', join(c.tmp, 'runc'), '--rootfs', join(c.tmp, `rootfs-${id}`), id, '/bin/sleep', '3600'];
      const run = ctr(args, 0);
      runs.set(id, run);
      void run.finally(() => ended.add(id));
    }
    // CNI ADD happens between task creation and start, so RUNNING means the network is set up.
    for (const id of CONTAINERS) {
      const run = runs.get(id)!;
      await until(`${id} to run`, 30_000, async () => {
        if (ended.has(id)) {
          const r = await run;
          throw new Error(`ctr run ${id} exited (${r.exitCode}): ${String(r.stderr)} ${String(r.stdout)}\n${containerdLog()}`);
        }
        return (await tasks()).get(id) === 'RUNNING' ? true : undefined;
      });
    }

    for (const id of CONTAINERS) {
      const r = await ctr(['task', 'exec', '--exec-id', `addr-${id}`, id, '/bin/ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(r.exitCode, `${r.stderr}${r.stdout}`).toBe(0);
      const m = /inet (198\.18\.20\.(\d+))\/24/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![2])).toBeGreaterThan(1); // .1 is the gateway on the bridge
      expect(Number(m![2])).toBeLessThan(255);
      addrs.set(id, m![1]!);
    }
    expect(addrs.get('c1')).not.toBe(addrs.get('c2'));

    // The links and reservations are gingham's: one gh- veth per container on the bridge, one
    // reservation per container, named with ctr's container ID "<namespace>-<id>".
    const links = await ghLinks();
    expect(links).toHaveLength(2);
    const ports = (JSON.parse(await c.exec('node', ['ip', '-j', 'link', 'show', 'master', 'gctr0'])) as { ifname: string }[]).map((l) => l.ifname);
    expect(ports.sort()).toEqual(links.sort());
    expect(readdirSync(join(ipamDir, NETWORK, 'attachments')).sort()).toEqual(CONTAINERS.map((id) => `${ctrNs}-${id}@eth0`));

    const ping = async (from: string, to: string): Promise<void> => {
      const r = await ctr(['task', 'exec', '--exec-id', `ping-${from}`, from, '/bin/ping', '-c', '2', '-W', '2', addrs.get(to)!]);
      expect(r.exitCode, `ping ${from} -> ${to}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/[12] packets received/);
    };
    await ping('c1', 'c2');
    await ping('c2', 'c1');
  }, 90_000);

  it('removes the network when the tasks end: no veth and no reservation is left', async () => {
    expect(runs.size, 'the first test did not start the containers').toBe(2);
    expect([...ended], 'ctr run ended before its task was killed').toEqual([]);
    for (const id of CONTAINERS) {
      const r = await ctr(['task', 'kill', '--signal', 'SIGKILL', id]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    // ctr run sees the exit, calls CNI DEL, deletes the task and (--rm) the container, exits 128+9.
    // A failed DEL does not change its exit code: ctr only logs it ("network review").
    let ctrErrors = '';
    for (const id of CONTAINERS) {
      const r = await runs.get(id)!;
      ctrErrors += `ctr run ${id}: ${String(r.stderr)}\n`;
      expect(r.exitCode, ctrErrors).toBe(137);
    }
    const log = readFileSync(logFile, 'utf8');
    const why = `${ctrErrors}gingham log:\n${log}`;
    expect((await tasks()).size).toBe(0);
    const containers = await ctr(['container', 'ls', '-q']);
    expect(containers.stdout.trim()).toBe('');

    expect(await ghLinks(), why).toEqual([]);
    const store = join(ipamDir, NETWORK);
    expect(readdirSync(join(store, 'attachments')), why).toEqual([]);
    expect(readdirSync(store).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n)), why).toEqual([]);
    for (const id of CONTAINERS) {
      expect(log).toContain(`"msg":"ADD ok","container":"${ctrNs}-${id}"`);
      expect(log, why).toContain(`"msg":"DEL ok","container":"${ctrNs}-${id}"`);
    }

    // containerd stops on SIGTERM; with the tasks gone, nothing of it is left in its namespace.
    containerd!.kill('SIGTERM');
    const r = await Promise.race([containerd!, sleep(15_000).then(() => undefined)]);
    expect(r, 'containerd did not stop within 15 s').toBeDefined();
    expect(mntns).toMatch(/^mnt:\[\d+\]$/);
    await until('the shims to exit', 10_000, async () => (processesOf(mntns).length === 0 ? true : undefined));
  }, 90_000);
});
