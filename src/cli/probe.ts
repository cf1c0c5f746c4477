// `gingham probe`: a tiny TCP echo of the caller's address, so a test (or a class) sees from the
// receiver's side which source address a connection arrived with (masquerade or not).
import { createConnection, createServer } from 'node:net';

export function serve(port: number, host = '::'): Promise<never> {
  return new Promise((_, reject) => {
    const server = createServer((sock) => {
      const from = (sock.remoteAddress ?? '?').replace(/^::ffff:/, '');
      sock.end(`from ${from}\n`);
    });
    server.on('error', reject);
    server.listen({ port, host, ipv6Only: false }, () => process.stdout.write(`probe listening on port ${port}\n`));
  });
}

export function connect(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port, timeout: timeoutMs });
    let data = '';
    sock.on('data', (b: Buffer) => (data += b.toString()));
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => {
      sock.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    });
    sock.on('error', reject);
  });
}

export async function runProbe(args: string[]): Promise<number> {
  const [mode, ...rest] = args;
  const opt = (name: string, fallback: string): string => {
    const i = rest.indexOf(name);
    return i >= 0 ? (rest[i + 1] ?? fallback) : fallback;
  };
  if (mode === 'serve') {
    await serve(Number(opt('--port', '7000')));
    return 0;
  }
  if (mode === 'connect' && rest[0] && rest[1]) {
    try {
      process.stdout.write(await connect(rest[0], Number(rest[1]), Number(opt('--timeout', '3000'))));
      return 0;
    } catch (e) {
      process.stderr.write(`probe: ${(e as Error).message}\n`);
      return 1;
    }
  }
  process.stderr.write('usage: gingham probe serve [--port N] | gingham probe connect HOST PORT [--timeout MS]\n');
  return 2;
}
