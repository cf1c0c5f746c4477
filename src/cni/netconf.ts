// The parts of a network configuration every gingham role reads: the spec's common keys,
// prevResult, runtimeConfig capability args and GC's valid attachments.
import { CniError, Code, invalidConfig } from './errors.js';
import { type Dns, type Result, LATEST, isSupported, parseResult } from './result.js';
import { configPath } from './paths.js';
import { type Obj, isObj, macOf, obj, optArr, optInt, optObj, optStr, str } from './validate.js';

export interface Attachment {
  containerId: string;
  ifName: string;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  /** The whole input object, for delegation and for the backend's own keys. */
  raw: Obj;
  ipam?: Obj;
  dns?: Dns;
  prevResult?: Result;
  /** runtimeConfig "ips" capability (and the args.cni.ips convention). */
  requestedIps: string[];
  /** runtimeConfig "mac" capability. */
  mac?: string;
  /** GC: cni.dev/valid-attachments. Absent means none is valid: libcni's GC without arguments. */
  validAttachments?: Attachment[];
  /** Absolute, or "" for no log. */
  logFile?: string;
  logMaxBytes?: number;
  logKeep?: number;
  /** The cap on one call, in seconds (cniTimeout). */
  timeout?: number;
}

/** The log's and the call's limits, read before anything else so that every failure is logged. */
export function readLimits(raw: Obj): Pick<NetConf, 'logFile' | 'logMaxBytes' | 'logKeep' | 'timeout'> {
  const out: Pick<NetConf, 'logFile' | 'logMaxBytes' | 'logKeep' | 'timeout'> = {};
  const logFile = raw['logFile'];
  if (logFile !== undefined && logFile !== null) out.logFile = logFile === '' ? '' : configPath(logFile, 'logFile');
  const maxBytes = optInt(raw, 'logMaxBytes', 1024, Number.MAX_SAFE_INTEGER);
  if (maxBytes !== undefined) out.logMaxBytes = maxBytes;
  const keep = optInt(raw, 'logKeep', 0, 100);
  if (keep !== undefined) out.logKeep = keep;
  const timeout = optInt(raw, 'cniTimeout', 1, 3600);
  if (timeout !== undefined) out.timeout = timeout;
  return out;
}

/** Decode stdin. Bad JSON is code 6; a missing or unsupported version is code 1 or 7. */
export function decodeStdin(text: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(Code.DecodingFailure, `network configuration is not JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw new CniError(Code.DecodingFailure, 'network configuration is not a JSON object');
  return v;
}

export function versionOf(raw: Obj): string {
  const v = raw['cniVersion'];
  if (typeof v !== 'string' || v === '') throw invalidConfig('cniVersion must be a non-empty string');
  if (!isSupported(v)) {
    throw new CniError(Code.IncompatibleVersion, `CNI version ${v} is not supported`, `supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, ${LATEST}`);
  }
  return v;
}

const strList = (v: unknown, path: string): string[] => {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalidConfig(`${path} must be a list of strings`);
  return v as string[];
};

function readDns(o: Obj | undefined): Dns | undefined {
  if (!o) return undefined;
  const d: Dns = {};
  if (o['nameservers'] !== undefined) d.nameservers = strList(o['nameservers'], 'dns.nameservers');
  const domain = optStr(o, 'domain', 'dns.domain');
  if (domain) d.domain = domain;
  if (o['search'] !== undefined) d.search = strList(o['search'], 'dns.search');
  if (o['options'] !== undefined) d.options = strList(o['options'], 'dns.options');
  return d;
}

export function parseNetConf(raw: Obj): NetConf {
  const cniVersion = versionOf(raw);
  const name = str(raw, 'name');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw invalidConfig(`name "${name}" has characters outside [A-Za-z0-9_.-]`);
  const conf: NetConf = { cniVersion, name, type: str(raw, 'type'), raw, requestedIps: [], ...readLimits(raw) };
  const ipam = optObj(raw, 'ipam');
  if (ipam) conf.ipam = ipam;
  const dns = readDns(optObj(raw, 'dns'));
  if (dns) conf.dns = dns;
  if (raw['prevResult'] !== undefined && raw['prevResult'] !== null) conf.prevResult = parseResult(raw['prevResult'], 'prevResult');
  const rc = optObj(raw, 'runtimeConfig');
  if (rc) {
    const ips = optArr(rc, 'ips', 'runtimeConfig.ips');
    if (ips) conf.requestedIps.push(...strList(ips, 'runtimeConfig.ips'));
    if (rc['mac'] !== undefined && rc['mac'] !== '') conf.mac = macOf(rc['mac'], 'runtimeConfig.mac');
  }
  const args = optObj(raw, 'args');
  const cniArgs = args ? optObj(args, 'cni', 'args.cni') : undefined;
  if (cniArgs?.['ips'] !== undefined) conf.requestedIps.push(...strList(cniArgs['ips'], 'args.cni.ips'));
  // libcni also sends the list as "cni.dev/attachments" (its name before spec 1.1.0 settled).
  const key = raw['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const valid = raw[key];
  if (valid !== undefined && valid !== null) {
    if (!Array.isArray(valid)) throw invalidConfig(`${key} must be a list`);
    conf.validAttachments = valid.map((a, n) => {
      const o = obj(a, `${key}[${n}]`);
      return { containerId: str(o, 'containerID', `${key}[${n}].containerID`), ifName: str(o, 'ifname', `${key}[${n}].ifname`) };
    });
  }
  return conf;
}
