// The gingham CLI: what a person runs on a node to see what the plugin did.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST, SUPPORTED_VERSIONS } from '../cni/result.js';
import { DEFAULT_DATA_DIR } from '../ipam/config.js';
import { Store } from '../ipam/store.js';

declare const GINGHAM_VERSION: string;

const HELP = `gingham: a CNI plugin with its own IPAM (one binary)

As a CNI plugin: runs when CNI_COMMAND is set (main type "gingham", IPAM type "gingham").

Commands:
  gingham version                                version and supported CNI versions
  gingham ipam [--data-dir DIR] [NET]            reservations per network (default DIR ${DEFAULT_DATA_DIR})
  gingham agent [FLAGS]                          the node agent: overlay or routes, masquerade, conflist
  gingham inspect [--json]                       the agent's plan for this node and whether the kernel matches
  gingham policy explain --from A --to B --port 80/TCP
                                                 whether NetworkPolicies let A reach B, and which rule decides
  gingham policy drops [--follow] [--pod NS/NAME]  what this node's policies denied, live (policy help)
  gingham ui [--listen HOST:PORT] [--kubeconfig PATH] [--agent-port N]
                                                 the live class view: a web page of the cluster's network (ui --help)
  gingham agent --cleanup                        remove everything the agent made on this node
  gingham agent install-cni [--cni-bin-dir DIR]  copy this binary into the CNI bin dir
  gingham probe serve --tcp P,.. --udp P,..      answer each connection/datagram with "from ADDR"
  gingham probe connect HOST:PORT/tcp|udp        print a probe server's answer (exit 1: none)
  gingham probe resolve NAME                     print the addresses NAME resolves to
  gingham probe matrix TARGET...                 probe many targets at once, one JSON line per round
  gingham help                                   this text; also "agent --help", "probe help"
`;

function version(): string {
  const v = typeof GINGHAM_VERSION === 'string' ? GINGHAM_VERSION : 'dev';
  return `gingham ${v}\nCNI spec ${LATEST}; supported versions ${SUPPORTED_VERSIONS.join(', ')}\n`;
}

function ipamTable(dataDir: string, only: string | undefined): string {
  let nets: string[];
  try {
    nets = readdirSync(dataDir).sort();
  } catch {
    return `no IPAM data in ${dataDir}\n`;
  }
  const rows: string[][] = [['NETWORK', 'ADDRESSES', 'CONTAINER', 'IFNAME', 'POD', 'SINCE']];
  for (const net of nets.filter((n) => !only || n === only)) {
    for (const r of new Store(dataDir, net).list()) {
      const pod = r.podName ? `${r.podNamespace ?? ''}/${r.podName}` : '-';
      rows.push([net, r.ips.join(','), r.containerId.slice(0, 16), r.ifName, pod, r.created]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return `${rows.map((row) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')}\n`;
}

export async function runCli(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'version':
    case '--version':
      process.stdout.write(version());
      return 0;
    case 'ipam': {
      let dataDir = DEFAULT_DATA_DIR;
      const pos: string[] = [];
      for (let i = 0; i < rest.length; i++) {
        if (rest[i] === '--data-dir') dataDir = rest[++i] ?? dataDir;
        else pos.push(rest[i]!);
      }
      process.stdout.write(ipamTable(join(dataDir), pos[0]));
      return 0;
    }
    case 'agent':
    case 'policy':
    case 'ui': {
      // The agent (and `policy` and `ui`, which read the cluster with its client) is a bundle of its own,
      // loaded only here: see src/agent/load.ts.
      const { loadAgent } = await import('../agent/load.js');
      let entries;
      try {
        entries = loadAgent();
      } catch (e) {
        process.stderr.write(`gingham: cannot load the agent: ${(e as Error).message}\n`);
        return 1;
      }
      return cmd === 'agent' ? entries.runAgent(rest) : cmd === 'policy' ? entries.runPolicyCli(rest) : entries.runUi(rest);
    }
    case 'inspect': {
      const { runInspect } = await import('./inspect.js');
      return runInspect(rest);
    }
    case 'probe': {
      const { runProbe } = await import('./probe.js');
      return runProbe(rest);
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`gingham: unknown command "${cmd}"\n\n${HELP}`);
      return 2;
  }
}
