/**
 * HTTP routes of the results page, for the HTTP service to mount:
 *
 *   GET /catalogs/:id/results?offset=0&limit=200   the results page (HTML); 404 unknown catalog
 *   GET /assets/<storage key>                       a stored file (variant or original), streamed with its
 *                                                   content type, a strong ETag and an immutable Cache-Control;
 *                                                   400 for a key that is not a content key, 404 when absent
 *
 * Keys are validated with parseContentKey before storage is touched, so no request can name a path
 * outside the store. Both routes run `deps.auth` (a preHandler) when given.
 *
 * No route schemas: the handlers validate their own input, so the routes behave the same whatever
 * validator compiler the host instance uses.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, preHandlerAsyncHookHandler } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { parseContentKey, type AssetExtension } from '../storage/keys';
import { LocalDirStorage } from '../storage/localDir';
import { StorageError, type AssetStorage } from '../storage/types';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, loadResultsData } from '../db/repositories/results';
import { esc, renderResultsPage, resultsPageCsp } from './render';

export interface ResultsRouteDeps {
  db: Kysely<Database>;
  storage: AssetStorage;
  /** Runs before both routes (e.g. the service's bearer-token check); reply from it to refuse. */
  auth?: preHandlerAsyncHookHandler;
}

const gzipAsync = promisify(gzip);

export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export const CONTENT_TYPES: Record<AssetExtension, string> = {
  avif: 'image/avif',
  webp: 'image/webp',
  jpg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  tiff: 'image/tiff',
};

function intParam(value: string | string[] | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const s = Array.isArray(value) ? (value.length === 1 ? value[0]! : '') : value;
  if (!/^\d{1,9}$/.test(s)) throw new RangeError(`${name} must be a whole number from ${min} to ${max}`);
  const n = Number(s);
  if (n < min || n > max) throw new RangeError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

function htmlError(reply: FastifyReply, status: number, title: string, message: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'")
    .send(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${esc(title)}</title><h1>${esc(title)}</h1><p>${esc(message)}</p></html>\n`);
}

export function registerResultsRoutes(app: FastifyInstance, deps: ResultsRouteDeps): void {
  const preHandler = deps.auth ? { preHandler: deps.auth } : {};

  app.get<{ Params: { id: string }; Querystring: Record<string, string | string[] | undefined> }>('/catalogs/:id/results', preHandler, async (request, reply) => {
    const catalogId = request.params.id;
    let limit: number;
    let offset: number;
    try {
      limit = intParam(request.query.limit, 'limit', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
      offset = intParam(request.query.offset, 'offset', 0, 0, 1_000_000_000);
    } catch (err) {
      return htmlError(reply, 400, 'Bad request', (err as Error).message);
    }
    if (catalogId.length === 0 || catalogId.length > 200) return htmlError(reply, 404, 'Catalog not found', `no catalog ${JSON.stringify(catalogId.slice(0, 200))}`);
    const data = await loadResultsData(deps.db, catalogId, { limit, offset });
    if (!data) return htmlError(reply, 404, 'Catalog not found', `no catalog ${JSON.stringify(catalogId)}`);
    const html = renderResultsPage(data);
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('vary', 'accept-encoding')
      .header('content-security-policy', resultsPageCsp())
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    // A 200-SKU page with the default 12 variants is ~3.5 MB of HTML (mostly the details panels) and
    // ~0.5 MB gzipped: compressed here, as the service has no compression layer.
    if (/\bgzip\b/i.test(String(request.headers['accept-encoding'] ?? ''))) {
      return reply.header('content-encoding', 'gzip').send(await gzipAsync(html, { level: 6 }));
    }
    return reply.send(html);
  });

  app.get<{ Params: { '*': string } }>('/assets/*', preHandler, async (request, reply) => {
    const key = request.params['*'];
    let ext: AssetExtension;
    let sha256: string;
    try {
      ({ ext, sha256 } = parseContentKey(key));
    } catch {
      return reply.code(400).send({ error: 'invalid_key', message: 'not an asset key; expected [prefix/]ab/cd/<sha256>.<ext>' });
    }
    const etag = `"${sha256}"`;
    const cacheable = () =>
      reply
        .header('cache-control', ASSET_CACHE_CONTROL)
        .header('etag', etag)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'");
    const notFound = () => reply.code(404).header('cache-control', 'no-store').send({ error: 'not_found', message: `no stored asset ${key}` });

    if (deps.storage instanceof LocalDirStorage) {
      const file = deps.storage.pathFor(key);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) return notFound();
      if (request.headers['if-none-match'] === etag) return cacheable().code(304).send();
      return cacheable().type(CONTENT_TYPES[ext]).header('content-length', st.size).send(createReadStream(file));
    }
    try {
      if (request.headers['if-none-match'] === etag && (await deps.storage.exists(key))) return await cacheable().code(304).send();
      const data = await deps.storage.get(key);
      return await cacheable().type(CONTENT_TYPES[ext]).send(data);
    } catch (err) {
      if (err instanceof StorageError && err.reason === 'not_found') return notFound();
      throw err;
    }
  });
}
