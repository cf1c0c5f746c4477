// A fake Kubernetes API server for tests: just enough of /api/v1/nodes (list, watch) for the
// agent's informer. Plain JavaScript, so a test can run it as its own process, also inside a
// network namespace next to the agent binary (`ip netns exec NS node fake-apiserver.mjs`).
//
// Protocol: prints "listening PORT" on stdout once bound (argv[2]: address, default 127.0.0.1;
// port 0). Each stdin line is a watch event, {"type":"ADDED"|"MODIFIED"|"DELETED","object":Node}:
// it changes the node list and goes to every open watch. A line {"type":"CLOSE-WATCHES"} ends all
// open watches (as an API server does on a timeout), so clients must watch again.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const host = process.argv[2] ?? '127.0.0.1';
/** @type {Map<string, object>} */
const nodes = new Map();
/** @type {Set<import('node:http').ServerResponse>} */
const watchers = new Set();
let rv = 1;
let lists = 0;
let watches = 0;

const withRv = (obj) => ({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } });

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/stats') {
    res.end(JSON.stringify({ lists, watches, open: watchers.size }));
    return;
  }
  if (url.pathname !== '/api/v1/nodes') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 }));
    return;
  }
  if (url.searchParams.get('watch') === 'true') {
    watches++;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    watchers.add(res);
    req.on('close', () => watchers.delete(res));
    return;
  }
  lists++;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: [...nodes.values()] }));
});

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return;
  const ev = JSON.parse(line);
  if (ev.type === 'CLOSE-WATCHES') {
    for (const w of watchers) w.end();
    watchers.clear();
    return;
  }
  rv++;
  const obj = withRv(ev.object);
  if (ev.type === 'DELETED') nodes.delete(obj.metadata.name);
  else nodes.set(obj.metadata.name, obj);
  for (const w of watchers) w.write(`${JSON.stringify({ type: ev.type, object: obj })}\n`);
});

server.listen(0, host, () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
// Ends with its stdin's writer, or on SIGTERM.
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
