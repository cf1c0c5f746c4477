// The informer wiring against a fake API server in its own process: list, watch events, a watch
// the server ends, and an API server that goes away and comes back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInfo } from '../network/nodes.js';
import { type FakeApiServer, startFakeApiServer, until, v1Node } from '../testing.js';
import { valueOf } from '../metrics/testing.js';
import { KubernetesNodes, guarded, loadKubeConfig } from './kubernetes.js';

const names = (ns: NodeInfo[] | undefined): string[] | undefined => ns?.map((n) => n.name).sort();

describe('guarded', () => {
  it('reads an object whose converter throws as unreadable, with one problem line', () => {
    const convert = guarded('pod', (): { problems: string[] } => {
      throw new Error('odd\nshape');
    });
    expect(convert({ metadata: { namespace: 'x', name: 'a' } })).toEqual({ problems: ['pod "x"/"a": cannot be read ("odd\\nshape") (ignored)'] });
    expect(convert({ metadata: { name: 'n1' } }).problems).toEqual(['pod "n1": cannot be read ("odd\\nshape") (ignored)']);
  });
});

describe('KubernetesNodes', () => {
  let api: FakeApiServer;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-agent-kube-'));
    api = await startFakeApiServer();
  });
  afterAll(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists, then follows adds, updates and deletes; onChange fires for each', async () => {
    api.send('ADDED', v1Node('n1', ['198.18.128.0/24'], ['198.18.0.1']));
    api.send('ADDED', v1Node('n2', ['198.18.129.0/24'], ['198.18.0.2']));
    let changes = 0;
    const src = new KubernetesNodes(loadKubeConfig(api.kubeconfig(join(dir, 'kubeconfig'))), () => changes++, () => undefined);
    expect(src.snapshot()).toBeUndefined();
    await src.start();
    try {
      await until('the list', () => (names(src.snapshot())?.length === 2 ? true : undefined));
      expect(src.snapshot()).toContainEqual({ name: 'n2', podCIDRs: ['198.18.129.0/24'], internalIPs: ['198.18.0.2'] });
      const before = changes;
      api.send('ADDED', v1Node('n3', ['198.18.130.0/24'], ['198.18.0.3']));
      await until('n3', () => (names(src.snapshot())?.includes('n3') ? true : undefined));
      api.send('MODIFIED', v1Node('n2', ['198.18.129.0/24'], ['198.18.0.22']));
      await until('n2 moved', () => src.snapshot()?.find((n) => n.name === 'n2' && n.internalIPs[0] === '198.18.0.22'));
      api.send('DELETED', v1Node('n1', [], []));
      await until('n1 gone', () => (names(src.snapshot())?.join() === 'n2,n3' ? true : undefined));
      expect(changes - before).toBeGreaterThanOrEqual(3);
      // The server ends every watch (as on its timeout): the informer must watch again, not relist.
      api.send('CLOSE-WATCHES');
      await new Promise((r) => setTimeout(r, 200));
      api.send('ADDED', v1Node('n4', ['198.18.131.0/24'], ['198.18.0.4']));
      await until('n4 after the watch was cut', () => (names(src.snapshot())?.includes('n4') ? true : undefined));
      const stats = (await (await fetch(`${api.url}/stats`)).json()) as { lists: number; watches: number };
      expect(stats).toMatchObject({ lists: 1, watches: 2 });
    } finally {
      await src.stop();
    }
  });

  it('skips a node whose podCIDR or InternalIP cannot be read, logging it once', async () => {
    const own = await startFakeApiServer();
    own.send('ADDED', v1Node('good', ['198.18.140.0/24'], ['198.18.0.40']));
    own.send('ADDED', v1Node('evil', ['198.18.141.0/24\nlink add evil type bridge'], ['198.18.0.41']));
    own.send('ADDED', v1Node('Evil\n', ['198.18.142.0/24'], ['198.18.0.42']));
    const skipped: unknown[] = [];
    const src = new KubernetesNodes(loadKubeConfig(own.kubeconfig(join(dir, 'skips'))), () => undefined, (_level, msg, fields) => msg === 'node skipped' && skipped.push(fields?.['problem']));
    await src.start();
    try {
      const nodes = await until('the list', () => src.snapshot());
      expect(nodes.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: 'evil', podCIDRs: [], internalIPs: [], invalid: 'spec.podCIDRs: "198.18.141.0/24\\nlink add evil type bridge" is not a CIDR' },
        { name: 'good', podCIDRs: ['198.18.140.0/24'], internalIPs: ['198.18.0.40'] },
      ]);
      src.snapshot();
      expect(skipped).toEqual([
        'node "Evil\\n": metadata.name: "Evil\\n" is not a DNS-1123 subdomain (1-253 of a-z, 0-9, -, .) (node ignored)',
        'node evil: spec.podCIDRs: "198.18.141.0/24\\nlink add evil type bridge" is not a CIDR (node skipped)',
      ]);
    } finally {
      await src.stop();
      await own.stop();
    }
  });

  it('keeps no snapshot while the API server is unreachable, and retries (counting each restart)', async () => {
    const before = await valueOf('gingham_api_watch_restarts_total', { resource: 'node' });
    const gone = await startFakeApiServer();
    const kubeconfig = gone.kubeconfig(join(dir, 'gone'));
    await gone.stop();
    const warnings: string[] = [];
    const src = new KubernetesNodes(loadKubeConfig(kubeconfig), () => undefined, (level, msg) => level === 'warn' && warnings.push(msg));
    await src.start();
    try {
      await until('a retry warning', () => (warnings.length > 0 ? true : undefined));
      expect(src.snapshot()).toBeUndefined();
      expect(warnings[0]).toMatch(/node watch failed; retrying/);
      expect(await valueOf('gingham_api_watch_restarts_total', { resource: 'node' })).toBeGreaterThan(before);
    } finally {
      await src.stop();
    }
  });
});
