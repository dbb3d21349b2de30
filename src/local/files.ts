/**
 * A tiny read-only HTTP server for the sample catalog's packshots and scene references, on 127.0.0.1.
 * It stands in for the PIM's image CDN: the worker fetches sources from it like from any PIM (through
 * the guarded fetch, which the local stack allows to reach 127.0.0.1). Flat folder, image files only,
 * no directory listings, no path outside the folder.
 *
 * Files are held in memory (the sample's are a few MB), loaded at start and on a miss: reading them
 * from disk per request would go through the libuv thread pool, which the workers' image work keeps
 * busy, and a packshot fetch could then wait behind seconds of sharp tasks.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}\.(jpe?g|png|webp)$/;
const TYPES: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

export interface FileServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startFileServer(o: { dir: string; port: number; host?: string }): Promise<FileServer> {
  const root = path.resolve(o.dir);
  const cache = new Map<string, Buffer>();
  const load = (name: string): Buffer | undefined => {
    try {
      const bytes = fs.readFileSync(path.join(root, name));
      cache.set(name, bytes);
      return bytes;
    } catch {
      return undefined;
    }
  };
  for (const name of fs.existsSync(root) ? fs.readdirSync(root) : []) if (NAME.test(name)) load(name);

  const server = http.createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]!.replace(/^\//, '');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const m = NAME.exec(name);
    const bytes = m && !name.includes('..') ? (cache.get(name) ?? load(name)) : undefined;
    if (!m || !bytes) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[m[1]!]!, 'content-length': bytes.length, 'cache-control': 'public, max-age=300' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
