// The CNI entry: read the call, pick the role (main plugin "gingham", or IPAM "gingham" under
// another main plugin), run the verb, and print exactly one JSON document (or nothing) on stdout.
import { bridgeAdd, bridgeCheck, bridgeDel, bridgeGc, bridgeStatus } from './backends/bridge/plugin.js';
import { type CniEnv, readCommand, readEnv } from './cni/env.js';
import { CniError, Code, asCniError, invalidConfig } from './cni/errors.js';
import { timeoutSeconds, withDeadline } from './cni/deadline.js';
import { type NetConf, decodeStdin, parseNetConf, readLimits } from './cni/netconf.js';
import { LATEST, SUPPORTED_VERSIONS, renderResult, versionAtLeast } from './cni/result.js';
import { str } from './cni/validate.js';
import { IPAM_TYPE, ipamFor } from './ipam/client.js';
import { cleaned } from './ipam/ipam.js';
import { log, mark, phaseTimes, setLogFile, setLogLimits, sinceStartMs } from './log.js';

export const PLUGIN_TYPE = 'gingham';

export interface Outcome {
  stdout: string;
  exitCode: number;
}

const MIN_VERSION: Partial<Record<CniEnv['command'], string>> = { CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };

async function runMain(conf: NetConf, env: CniEnv, stdin: string): Promise<string> {
  switch (env.command) {
    case 'ADD':
      return JSON.stringify(renderResult(await bridgeAdd(conf, env, stdin), conf.cniVersion));
    case 'DEL':
      await bridgeDel(conf, env, stdin);
      return '';
    case 'CHECK':
      await bridgeCheck(conf, env, stdin);
      return '';
    case 'GC':
      await bridgeGc(conf, env, stdin);
      return '';
    default:
      await bridgeStatus(conf, env, stdin);
      return '';
  }
}

/** IPAM mode: another main plugin (reference bridge, macvlan, …) execs us with ipam.type gingham. */
async function runIpam(conf: NetConf, env: CniEnv, stdin: string): Promise<string> {
  const ipam = ipamFor(conf, env, stdin);
  switch (env.command) {
    case 'ADD':
      return JSON.stringify(renderResult(await ipam.add(), conf.cniVersion));
    case 'DEL':
      await ipam.del();
      return '';
    case 'CHECK':
      if (!conf.prevResult) throw invalidConfig('CHECK needs prevResult');
      await ipam.check(conf.prevResult);
      return '';
    case 'GC':
      await ipam.gc(conf.validAttachments ?? []);
      return '';
    default:
      await ipam.status();
      return '';
  }
}

/** The IPAM's clean-up counts for the call's log line, when there were any (the agent's metrics). */
const cleanedFields = (): Partial<typeof cleaned> => ({ ...(cleaned.repaired > 0 ? { repaired: cleaned.repaired } : {}), ...(cleaned.released > 0 ? { released: cleaned.released } : {}) });

export async function runPlugin(environ: Record<string, string | undefined>, stdin: string): Promise<Outcome> {
  let cniVersion = LATEST;
  const started = sinceStartMs();
  // One call per process, but tests run many in one.
  cleaned.repaired = cleaned.released = 0;
  let env: CniEnv | undefined;
  try {
    if (readCommand(environ) === 'VERSION') {
      return { stdout: JSON.stringify({ cniVersion: LATEST, supportedVersions: SUPPORTED_VERSIONS }), exitCode: 0 };
    }
    const raw = decodeStdin(stdin);
    if (typeof raw['cniVersion'] === 'string') cniVersion = raw['cniVersion'];
    const limits = readLimits(raw);
    setLogFile(limits.logFile);
    setLogLimits({ maxBytes: limits.logMaxBytes, keep: limits.logKeep });
    const seconds = timeoutSeconds(limits.timeout, environ);
    const conf = parseNetConf(raw);
    mark('parsed');
    env = readEnv(environ);
    const min = MIN_VERSION[env.command];
    if (min && !versionAtLeast(conf.cniVersion, min)) {
      throw new CniError(Code.IncompatibleVersion, `${env.command} needs cniVersion ${min} or later, the config says ${conf.cniVersion}`);
    }
    let work: (conf: NetConf, env: CniEnv, stdin: string) => Promise<string>;
    if (conf.type === PLUGIN_TYPE) work = runMain;
    else if (conf.ipam && str(conf.ipam, 'type', 'ipam.type') === IPAM_TYPE) work = runIpam;
    else throw invalidConfig(`neither type nor ipam.type is "${PLUGIN_TYPE}" (type is "${conf.type}")`);
    const checked = env;
    const stdout = await withDeadline(seconds, () => work(conf, checked, stdin));
    log('info', `${env.command} ok`, { container: env.containerId, ifName: env.ifName, network: conf.name, ms: Math.round(sinceStartMs() - started), phases: phaseTimes(), ...cleanedFields() });
    return { stdout, exitCode: 0 };
  } catch (e) {
    const err = asCniError(e);
    log('error', `${env?.command ?? environ['CNI_COMMAND'] ?? '?'} failed: ${err.message}`, { code: err.code, container: env?.containerId, ms: Math.round(sinceStartMs() - started), details: err.details || undefined, ...cleanedFields() });
    return { stdout: JSON.stringify(err.toJSON(cniVersion)), exitCode: 1 };
  }
}
