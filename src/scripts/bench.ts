// make bench: gingham against the reference bridge + host-local (Debian containernetworking-plugins)
// in one run, alternating call by call, each in a node namespace of its own. Prints medians, p95
// and ratios. Run with Node 24 (type stripping): node src/scripts/bench.ts [rounds]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ROUNDS = Number(process.argv[2] ?? 40);
const BURST = 100;
const P = `gb${process.pid}`;
const WORK = mkdtempSync(`/tmp/${P}-`);

interface Plugin {
  key: 'gingham' | 'reference';
  node: string;
  bin: string;
  conf: Record<string, unknown>;
}

const common = { cniVersion: '1.0.0', isGateway: true, isDefaultGateway: true, ipMasq: true };
const plugins: Plugin[] = [
  {
    key: 'gingham',
    node: `${P}-g`,
    bin: join(ROOT, 'bin', 'gingham'),
    conf: { ...common, name: 'benchg', type: 'gingham', bridge: 'gbench0', logFile: '', ipam: { type: 'gingham', dataDir: join(WORK, 'g'), ranges: [[{ subnet: '198.18.16.0/24' }]] } },
  },
  {
    key: 'reference',
    node: `${P}-r`,
    bin: '/usr/lib/cni/bridge',
    conf: { ...common, name: 'benchr', type: 'bridge', bridge: 'rbench0', ipam: { type: 'host-local', dataDir: join(WORK, 'r'), ranges: [[{ subnet: '198.18.16.0/24' }]] } },
  },
];

const namespaces: string[] = [];
function sh(...argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.toString()}`);
}
function netns(name: string): string {
  sh('ip', 'netns', 'add', name);
  namespaces.push(name);
  return `/var/run/netns/${name}`;
}

interface Call {
  /** Wall time of the plugin process, and its CPU (user+sys, with every process it waited for). */
  ms: number;
  cpuMs: number;
  code: number;
  out: string;
}
// bash's `time` reports the plugin's own real, user and sys time (ms resolution), without bash's
// start-up; on fd 3, so the plugin's stderr stays out of it.
const TIMED = 'TIMEFORMAT="%3R %3U %3S"; { time ip netns exec "$0" "$1" 2>/dev/null; } 2>&3';
function call(p: Plugin, command: string, id: string, ns: string): Promise<Call> {
  return new Promise((done, fail) => {
    const env = { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', GINGHAM_RUN_DIR: join(WORK, 'run'), PATH: process.env['PATH'] ?? '' };
    const child = spawn('bash', ['-c', TIMED, p.node, p.bin], { env, stdio: ['pipe', 'pipe', 'ignore', 'pipe'] });
    let out = '';
    let timing = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stdio[3]!.on('data', (b: Buffer) => (timing += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const [real = NaN, user = NaN, sys = NaN] = timing.trim().split(/\s+/).map(Number);
      done({ ms: real * 1000, cpuMs: (user + sys) * 1000, code: code ?? 1, out });
    });
    child.stdin!.end(JSON.stringify(p.conf));
  });
}
async function ok(p: Plugin, command: string, id: string, ns: string): Promise<Call> {
  const r = await call(p, command, id, ns);
  if (r.code !== 0) throw new Error(`${p.key} ${command} ${id}: ${r.out}`);
  return r;
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const f1 = (x: number): string => x.toFixed(1);

async function main(): Promise<void> {
  for (const p of plugins) netns(p.node);
  // A pod that stays: the calls measured are those of a node that already runs pods.
  for (const p of plugins) await ok(p, 'ADD', 'keeper', netns(`${P}-${p.key[0]}keep`));
  const times: Record<string, Record<string, number[]>> = { gingham: { ADD: [], DEL: [] }, reference: { ADD: [], DEL: [] } };
  const cpu: Record<string, Record<string, number[]>> = { gingham: { ADD: [], DEL: [] }, reference: { ADD: [], DEL: [] } };
  const pods = Array.from({ length: ROUNDS }, (_, i) => netns(`${P}-s${i}`));
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? plugins : [...plugins].reverse();
    for (const p of order) {
      for (const verb of ['ADD', 'DEL']) {
        const c = await ok(p, verb, `seq${i}`, pods[i]!);
        times[p.key]![verb]!.push(c.ms);
        cpu[p.key]![verb]!.push(c.cpuMs);
      }
    }
  }
  const burst: Record<string, { wall: number; failures: number; dup: number }> = {};
  const bpods = Array.from({ length: BURST }, (_, i) => netns(`${P}-b${i}`));
  for (const p of plugins) {
    const t = performance.now();
    const rs = await Promise.all(bpods.map((ns, i) => call(p, 'ADD', `burst${i}`, ns)));
    const wall = performance.now() - t;
    const ips = rs.filter((r) => r.code === 0).map((r) => (JSON.parse(r.out) as { ips: { address: string }[] }).ips[0]!.address);
    burst[p.key] = { wall, failures: rs.filter((r) => r.code !== 0).length, dup: ips.length - new Set(ips).size };
    await Promise.all(bpods.map((ns, i) => call(p, 'DEL', `burst${i}`, ns)));
  }

  const g = times['gingham']!;
  const r = times['reference']!;
  const row = (what: string, gv: number, rv: number, target: string): string => `| ${what} | ${f1(gv)} | ${f1(rv)} | ${(gv / rv).toFixed(2)}x | ${target} |`;
  console.log(`\ngingham vs reference bridge + host-local, ${ROUNDS} sequential rounds (alternating), ${BURST} ADDs at once; ms\n`);
  console.log('| measure | gingham | reference | ratio | target |\n| --- | --- | --- | --- | --- |');
  console.log(row('ADD median', pct(g['ADD']!, 0.5), pct(r['ADD']!, 0.5), '<= 1.5x'));
  console.log(row('ADD p95', pct(g['ADD']!, 0.95), pct(r['ADD']!, 0.95), ''));
  console.log(row('DEL median', pct(g['DEL']!, 0.5), pct(r['DEL']!, 0.5), '<= 0.5x'));
  console.log(row('DEL p95', pct(g['DEL']!, 0.95), pct(r['DEL']!, 0.95), ''));
  console.log(row('ADD CPU (user+sys) median', pct(cpu['gingham']!['ADD']!, 0.5), pct(cpu['reference']!['ADD']!, 0.5), ''));
  console.log(row('DEL CPU (user+sys) median', pct(cpu['gingham']!['DEL']!, 0.5), pct(cpu['reference']!['DEL']!, 0.5), ''));
  console.log(row(`${BURST} ADDs at once, wall`, burst['gingham']!.wall, burst['reference']!.wall, '<= 1.0x'));
  for (const p of plugins) console.log(`${p.key}: ${BURST} at once: ${burst[p.key]!.failures} failed, ${burst[p.key]!.dup} duplicate addresses`);
}

try {
  await main();
} finally {
  for (const ns of namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(WORK, { recursive: true, force: true });
}
