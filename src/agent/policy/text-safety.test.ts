// Issue 14, defect 5: names from the API server reach iptables-restore text through comments.
// Whatever they hold, compiled and rendered they must stay inside their argument: the text, split
// by a model of the real parser, holds only our chains' commands, and the comment
// and prefix come back as one argument each.
import { describe, expect, it } from 'vitest';
import { COMMENT_MAX } from '../../kernel/packet-filter/model.js';
import { parseIptablesRestore } from '../../kernel/parser-models.js';
import { compile } from './compile.js';
import { CHAIN_PREFIX } from './model.js';
import { normalizeRuleset, renderChains } from './render.js';
import { ns, pod, policy, rule, sel } from './testing.js';

const EVIL = 'a\n-I INPUT 1 -s 198.18.250.0/24 -j ACCEPT\n#';

/** The one iptables-restore text a first sync of these inputs would run for IPv4, parsed. */
function firstSync(policyName: string, podName: string): { args: string[] }[] {
  const inputs = {
    namespaces: [ns('x')],
    pods: [pod('x', podName, ['198.18.1.2'], { labels: { app: 'web' } })],
    policies: [policy('x', policyName, { select: sel({ app: 'web' }), ingress: [rule([{ podSelector: sel() }], [{ protocol: 'TCP', port: 80 }])] })],
  };
  const { ruleset } = compile(inputs, { node: 'n1', sctpPorts: true, logDrops: true });
  const want = normalizeRuleset(ruleset);
  const text = renderChains(want[4].chains, { chains: new Map(), refs: [] }).text;
  const items = parseIptablesRestore(text);
  const commands = items.filter((i) => i.kind === 'command').map((i) => ({ args: (i as { args: string[] }).args }));
  // Exactly the rules of the ruleset, each one command, and the hook: nothing more.
  expect(commands).toHaveLength(want[4].chains.reduce((n, c) => n + c.rules.length, 0) + 1);
  return commands;
}

describe('names pasted into iptables-restore text (issue 14, defect 5)', () => {
  it('a NetworkPolicy named to inject an INPUT rule installs no such rule', () => {
    const commands = firstSync(EVIL, 'p');
    for (const c of commands) {
      const chain = c.args[1]!;
      expect(chain.startsWith(CHAIN_PREFIX) || (c.args[0] === '-I' && chain === 'FORWARD')).toBe(true);
    }
    expect(commands.some((c) => c.args.includes('INPUT'))).toBe(false);
    // The name is still told, in one comment argument.
    const notes = commands.flatMap((c) => c.args.filter((_, i) => c.args[i - 1] === '--comment'));
    expect(notes.some((n) => n.startsWith('x/a') && n.includes('-I INPUT 1'))).toBe(true);
  });

  it('a pod named p"q stays inside its quoted comment; the verdict event prefix names its chain, not the pod', () => {
    const commands = firstSync('allow-web', 'p"q');
    expect(commands.some((c) => c.args.includes('x/p"q ingress'))).toBe(true);
    const log = commands.find((c) => c.args.includes('NFLOG'));
    expect(log).toBeDefined();
    const prefix = log!.args[log!.args.indexOf('--nflog-prefix') + 1];
    expect(prefix).toMatch(/^gingham deny ingress GINGHAM-NPI-[0-9a-f]{12}$/);
    expect(log!.args.slice(-4)).toEqual(['--nflog-group', '9917', '--nflog-size', '128']);
  });

  it('a long name is cut to the 128 bytes both dataplanes keep (nft: 128, iptables: 255)', () => {
    const long = 'p'.repeat(200);
    const notes = firstSync(long, 'p').flatMap((c) => c.args.filter((_, i) => c.args[i - 1] === '--comment'));
    const cut = notes.find((n) => n.startsWith(`x/${'p'.repeat(10)}`));
    expect(cut).toBe(`x/${'p'.repeat(126)}`);
    for (const n of notes) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(COMMENT_MAX);
  });
});
