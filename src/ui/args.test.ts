// `gingham ui`'s arguments: defaults, both flag styles, IPv6 listen addresses, and refusals.
import { describe, expect, it } from 'vitest';
import { hostAllowed, parseListen, parseUiArgs } from './args.js';

describe('gingham ui arguments', () => {
  it('defaults to 127.0.0.1:20918 and the agents on 20917', () => {
    expect(parseUiArgs([])).toEqual({ host: '127.0.0.1', port: 20918, agentPort: 20917, help: false });
  });

  it('takes --listen, --kubeconfig and --agent-port, with or without =', () => {
    expect(parseUiArgs(['--listen', '0.0.0.0:8080', '--kubeconfig=/k', '--agent-port', '9917'])).toEqual({ host: '0.0.0.0', port: 8080, agentPort: 9917, kubeconfig: '/k', help: false });
    expect(parseUiArgs(['--help']).help).toBe(true);
  });

  it('reads IPv6 in brackets, and host names', () => {
    expect(parseListen('[::1]:20918')).toEqual({ host: '::1', port: 20918 });
    expect(parseListen('[::]:0')).toEqual({ host: '::', port: 0 });
    expect(parseListen('localhost:1')).toEqual({ host: 'localhost', port: 1 });
  });

  it.each([
    [['--listen', '::1:80'], /want HOST:PORT/],
    [['--listen', '[198.18.0.1]:80'], /not an IPv6 address/],
    [['--listen', '127.0.0.1:70000'], /0-65535/],
    [['--listen', 'a b:80'], /not an address or host name/],
    [['--agent-port', '0'], /1-65535/],
    [['--agent-port'], /needs a value/],
    [['--nope'], /unknown argument "--nope"/],
  ])('%j is refused', (argv, msg) => expect(() => parseUiArgs(argv)).toThrow(msg));

  it('answers Host headers of addresses, localhost and the --listen name only (no DNS rebinding)', () => {
    for (const h of ['127.0.0.1:20918', '198.19.1.3:20918', '[::1]:20918', '[fd42:19:1::3]', 'localhost:20918', 'LOCALHOST', 'x.localhost:1', 'ui.example:20918'])
      expect([h, hostAllowed(h, 'ui.example')]).toEqual([h, true]);
    for (const h of ['', 'evil.example:20918', 'evil.example', '[evil]:1', '127.0.0.1.evil.example', 'localhost.evil.example', '127.0.0.1:20918:1'])
      expect([h, hostAllowed(h, '127.0.0.1')]).toEqual([h, false]);
  });
});
