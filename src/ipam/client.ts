// The IPAM a main plugin uses: gingham's own in-process, or any other type by exec.
import type { CniEnv } from '../cni/env.js';
import { invalidConfig } from '../cni/errors.js';
import type { Attachment, NetConf } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import { str } from '../cni/validate.js';
import { parseIpamConfig } from './config.js';
import { delegate } from './delegate.js';
import { ipamAdd, ipamCheck, ipamDel, ipamGc, ipamStatus } from './ipam.js';

export interface IpamClient {
  type: string;
  add(): Promise<Result>;
  del(): Promise<void>;
  check(prev: Result): Promise<void>;
  gc(valid: Attachment[]): Promise<void>;
  status(): Promise<void>;
}

export const IPAM_TYPE = 'gingham';

export function ipamFor(conf: NetConf, env: CniEnv, stdin: string): IpamClient {
  if (!conf.ipam) throw invalidConfig('ipam is required');
  const type = str(conf.ipam, 'type', 'ipam.type');
  const att: Attachment = { containerId: env.containerId, ifName: env.ifName };
  if (type !== IPAM_TYPE) {
    const run = (cmd: string, input = stdin): Promise<Result | undefined> => delegate(type, cmd, input, env.path);
    return {
      type,
      add: async () => (await run('ADD'))!,
      del: async () => void (await run('DEL')),
      check: async () => void (await run('CHECK')),
      gc: async () => void (await run('GC')),
      status: async () => void (await run('STATUS')),
    };
  }
  const cfg = parseIpamConfig(conf.ipam);
  const requested = [...env.args.ips, ...conf.requestedIps];
  return {
    type,
    add: () => ipamAdd(cfg, { ...att, network: conf.name, requested, ...pod(env) }),
    del: () => ipamDel(cfg, conf.name, att),
    check: (prev) => ipamCheck(cfg, conf.name, att, prev),
    gc: async (valid) => void (await ipamGc(cfg, conf.name, valid)),
    status: () => ipamStatus(cfg, conf.name),
  };
}

function pod(env: CniEnv): { podNamespace?: string; podName?: string } {
  const out: { podNamespace?: string; podName?: string } = {};
  if (env.args.podNamespace) out.podNamespace = env.args.podNamespace;
  if (env.args.podName) out.podName = env.args.podName;
  return out;
}
