// The example configurations in conf/ are what users copy: each must pass gingham's own validation.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from './backends/bridge/config.js';
import { type NetConf, parseNetConf } from './cni/netconf.js';
import type { Obj } from './cni/validate.js';
import { parseIpamConfig } from './ipam/config.js';

const dir = join(import.meta.dirname, '..', 'conf');
const files = readdirSync(dir).filter((f) => /\.(conf|conflist)$/.test(f));

/** Each plugin entry as a runtime would hand it to the plugin: with the list's name and version. */
function pluginConfs(file: string): NetConf[] {
  const raw = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Obj;
  const plugins = Array.isArray(raw['plugins']) ? (raw['plugins'] as Obj[]) : [raw];
  return plugins.map((p) => parseNetConf({ ...p, name: raw['name'], cniVersion: raw['cniVersion'] }));
}

describe('conf/ examples', () => {
  it('there are examples', () => expect(files.length).toBeGreaterThanOrEqual(4));

  it.each(files)('%s is valid for gingham', (file) => {
    let checked = 0;
    for (const conf of pluginConfs(file)) {
      if (conf.type === 'gingham') {
        parseBridgeConfig(conf.raw);
        checked++;
      }
      if (conf.ipam?.['type'] === 'gingham') {
        expect(parseIpamConfig(conf.ipam).rangeSets.length).toBeGreaterThan(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});
