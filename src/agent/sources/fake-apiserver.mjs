// A fake Kubernetes API server for tests: just enough of the collections the agent's informers
// follow (list, and watch) — Nodes, Pods, Namespaces, NetworkPolicies (all namespaces) and
// ClusterNetworkPolicies. Plain
// JavaScript, so a test can run it as its own process, also inside a network namespace next to the
// agent binary (`ip netns exec NS node fake-apiserver.mjs`).
//
// Protocol: prints "listening PORT" on stdout once bound (argv[2]: address, default 127.0.0.1;
// port 0). Each stdin line is a watch event, {"type":"ADDED"|"MODIFIED"|"DELETED","object":OBJ}: the
// object's kind (Node when it has none) picks its collection, metadata.namespace/name its key; the
// event changes that collection and goes to each of its open watches. A line
// {"type":"CLOSE-WATCHES"} ends all open watches (as an API server does on a timeout), so clients
// must watch again. A watch from resourceVersion 0 begins with an ADDED event for every object, as
// the API server's does.
// Over HTTP: GET /stats gives request counts (in all and per path); GET
// /fail-lists?path=P&on=1 makes lists of P answer 503 until /fail-lists?path=P&on=0;
// /expire-watches?path=P&on=1 makes watches of P answer 410 Gone (so clients list again; before
// absent's 404) until on=0;
// /absent?path=P&on=1 makes P's lists and watches answer 404 and ends its open watches, as when its
// CRD is not installed, until on=0 (the objects stay, as if the CRD came back with them).
import { createServer } from 'node:http';

const host = process.argv[2] ?? '127.0.0.1';

/** kind -> API path of its collection. */
const PATHS = {
  Node: '/api/v1/nodes',
  Pod: '/api/v1/pods',
  Namespace: '/api/v1/namespaces',
  NetworkPolicy: '/apis/networking.k8s.io/v1/networkpolicies',
  ClusterNetworkPolicy: '/apis/policy.networking.k8s.io/v1beta1/clusternetworkpolicies',
};

/**
 * @typedef {{ kind: string, apiVersion: string, objects: Map<string, object>,
 *   watchers: Set<import('node:http').ServerResponse>, lists: number, watches: number, failLists: boolean,
 *   expireWatches: boolean, absent: boolean }} Collection
 */
/** @type {Map<string, Collection>} path -> collection */
const collections = new Map(
  Object.entries(PATHS).map(([kind, path]) => [
    path,
    { kind, apiVersion: path.startsWith('/apis/') ? path.split('/').slice(2, 4).join('/') : 'v1', objects: new Map(), watchers: new Set(), lists: 0, watches: 0, failLists: false, expireWatches: false, absent: false },
  ]),
);
let rv = 1;

/**
 * JSON as the API server (Go's encoding/json) writes it: U+2028 and U+2029 escaped, so a watch
 * stream's lines are lines whatever the objects hold.
 */
const json = (v) => JSON.stringify(v).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

const withRv = (obj) => ({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } });
const keyOf = (obj) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;

function status(res, code, message) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message }));
}

function stats() {
  const all = [...collections.values()];
  const sum = (f) => all.reduce((n, c) => n + f(c), 0);
  const paths = Object.fromEntries([...collections].map(([p, c]) => [p, { lists: c.lists, watches: c.watches, open: c.watchers.size }]));
  return { lists: sum((c) => c.lists), watches: sum((c) => c.watches), open: sum((c) => c.watchers.size), paths };
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/stats') {
    res.end(JSON.stringify(stats()));
    return;
  }
  const switches = { '/fail-lists': 'failLists', '/expire-watches': 'expireWatches', '/absent': 'absent' };
  if (Object.hasOwn(switches, url.pathname)) {
    const c = collections.get(url.searchParams.get('path') ?? '');
    if (!c) return status(res, 404, 'no such collection');
    c[switches[url.pathname]] = url.searchParams.get('on') === '1';
    if (c.absent) {
      for (const w of c.watchers) w.end();
      c.watchers.clear();
    }
    res.end('{}');
    return;
  }
  const c = collections.get(url.pathname);
  if (!c) return status(res, 404, 'not found');
  if (url.searchParams.get('watch') === 'true') {
    c.watches++;
    if (c.expireWatches) return status(res, 410, 'too old resource version (test)');
    if (c.absent) return status(res, 404, 'the server could not find the requested resource');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (url.searchParams.get('resourceVersion') === '0') for (const obj of c.objects.values()) res.write(`${json({ type: 'ADDED', object: obj })}\n`);
    c.watchers.add(res);
    req.on('close', () => c.watchers.delete(res));
    return;
  }
  c.lists++;
  if (c.absent) return status(res, 404, 'the server could not find the requested resource');
  if (c.failLists) return status(res, 503, 'lists of this collection fail (test)');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(json({ kind: `${c.kind}List`, apiVersion: c.apiVersion, metadata: { resourceVersion: String(rv) }, items: [...c.objects.values()] }));
});

// Split on "\n" only (readline would split on U+2028 inside a JSON string too).
let pending = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) if (line.trim() !== '') onEvent(line);
});

function onEvent(line) {
  const ev = JSON.parse(line);
  if (ev.type === 'CLOSE-WATCHES') {
    for (const c of collections.values()) {
      for (const w of c.watchers) w.end();
      c.watchers.clear();
    }
    return;
  }
  const c = collections.get(PATHS[ev.object.kind ?? 'Node']);
  if (!c) throw new Error(`no collection for kind ${ev.object.kind}`);
  rv++;
  const obj = withRv(ev.object);
  if (ev.type === 'DELETED') c.objects.delete(keyOf(obj));
  else c.objects.set(keyOf(obj), obj);
  for (const w of c.watchers) w.write(`${json({ type: ev.type, object: obj })}\n`);
}

server.listen(0, host, () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
// Ends with its stdin's writer, or on SIGTERM.
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
