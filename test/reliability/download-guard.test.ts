/**
 * Output downloads go through the same address guard as source images: the provider's own
 * host:port is allowed (a local simulator on 127.0.0.1), every other non-public host:port is refused
 * unless allowed, on every redirect hop, and a refused URL is a non-retryable contract breach that
 * never reaches the target.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../src/dev/testImages';
import { ProviderClient } from '../../src/provider/client';
import { ProviderError } from '../../src/provider/errors';
import { recordFigures, type Figure } from './figures';

interface Server {
  origin: string;
  host: string;
  port: number;
  seen: string[];
  close(): Promise<void>;
}

async function startServer(png: Buffer): Promise<Server> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(url.pathname);
    if (url.pathname === '/redirect') return void res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) }).end(png);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function outcome(client: ProviderClient, url: string): Promise<string> {
  try {
    const r = await client.download(url);
    return `downloaded ${r.contentType}`;
  } catch (err) {
    if (err instanceof ProviderError) return `${err.kind}${err.retryable ? ' (retryable)' : ''}`;
    throw err;
  }
}

describe('output downloads through the address guard', () => {
  let provider: Server;
  let other: Server;
  const figures: Figure[] = [];

  beforeAll(async () => {
    const png = await makeTestImage({ width: 16, height: 16, format: 'png', seed: 1 });
    provider = await startServer(png);
    other = await startServer(png);
  });
  afterAll(async () => {
    await provider?.close();
    await other?.close();
    if (figures.length) recordFigures('download-guard', figures);
  });

  it("allows the provider's own host:port, refuses any other private one, also after a redirect", { timeout: 30_000 }, async () => {
    const client = new ProviderClient({ baseUrl: `${provider.origin}/api`, apiKey: 'sim-key-0123456789', downloadGuard: { allowHosts: [] } });
    try {
      expect(await outcome(client, `${provider.origin}/files/out.png`)).toBe('downloaded image/png');
      const refused = [
        `${other.origin}/files/trap-port.png`,
        `${provider.origin}/redirect?to=${encodeURIComponent(`${other.origin}/files/trap-redirect.png`)}`,
        `http://localhost:${other.port}/files/trap-name.png`,
        `http://[::ffff:7f00:1]:${other.port}/files/trap-mapped.png`,
        `http://[::7f00:1]:${other.port}/files/trap-compat.png`,
        'http://169.254.169.254/latest/meta-data/',
      ];
      for (const url of refused) expect([url, await outcome(client, url)]).toEqual([url, 'invalid_response']);
      expect(other.seen).toEqual([]);
      // The message names the host, never the capability part of the URL.
      const err = await client.download(`${other.origin}/files/trap?X-Signature=abc123secret`).catch((e: unknown) => e as ProviderError);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).message).toMatch(/non-public address/);
      expect((err as ProviderError).message).not.toContain('abc123secret');
      figures.push({
        fault: "SSRF through output downloads: another local port, a redirect from the provider to it, localhost, IPv4-mapped and -compatible IPv6, cloud metadata",
        tried: `${refused.length + 1} output URLs (+1 from the provider's own host:port, downloaded)`,
        lost: '0 requests reached a host:port that was not allowed; each refused as a non-retryable invalid_response',
      });
    } finally {
      await client.close();
    }
  });

  it('reaches an allowed host:port, and only that port', { timeout: 30_000 }, async () => {
    const client = new ProviderClient({ baseUrl: provider.origin, apiKey: 'sim-key-0123456789', downloadGuard: { allowHosts: [other.host] } });
    try {
      other.seen.length = 0;
      expect(await outcome(client, `${other.origin}/files/ok.png`)).toBe('downloaded image/png');
      expect(await outcome(client, `${provider.origin}/redirect?to=${encodeURIComponent(`${other.origin}/files/ok2.png`)}`)).toBe('downloaded image/png');
      expect(other.seen).toEqual(['/files/ok.png', '/files/ok2.png']);
    } finally {
      await client.close();
    }
  });
});
