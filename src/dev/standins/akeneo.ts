/**
 * A local Akeneo (Asset Manager) for tests and `npm start`: a real HTTP server speaking the endpoints
 * a publication uses, checked against Akeneo's REST API documentation (api.akeneo.com: authentication,
 * response codes, asset media files, assets, asset families and attributes) and STRICTER than Akeneo:
 *
 * - `POST /api/oauth/v1/token`: HTTP Basic client id and secret, JSON or form body, grant types
 *   `password` (the connection's user only) and `refresh_token` (each refresh token works once);
 *   tokens expire (`tokenTtlSeconds`, short for tests).
 * - every `/api/rest/v1/*` call needs `Authorization: Bearer <token>`; missing, unknown and expired
 *   tokens get Akeneo's 401 bodies.
 * - `POST /api/rest/v1/asset-media-files`: multipart/form-data with exactly one part, the file, in field
 *   `file`; the file must decode as an image of an allowed type whose extension matches its content
 *   (Akeneo itself takes any file). 201 with `Asset-media-file-code` and `Location`.
 * - `PATCH /api/rest/v1/asset-families/{family}/assets/{code}`: JSON; the code must be a valid asset
 *   code equal to the URL's; every value must name an attribute of the family, with `locale`,
 *   `channel` and `data` only, the locale set exactly when the attribute is localizable, a media file
 *   value naming an uploaded file with an extension the attribute allows. 201 created / 204 updated;
 *   422 with `errors[]` naming the property and attribute otherwise; unknown family 404.
 * - `GET` of an asset family, an asset attribute, an asset, and a media file's download.
 *
 * It records every token, upload and asset write, applies the family's product link rule (the SKU
 * attribute's value links the asset to that product), answers 429 beyond 4 concurrent calls per
 * connection (Akeneo's documented fair-usage limit) and injects faults: expired tokens, 429 bursts
 * with Retry-After, 5xx, and connections dropped before or after a request was accepted.
 * Every answer carries `X-Standin: akeneo` so nobody mistakes it for a real PIM.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { inspectImage, isImageRejectedError, type InputFormat } from '../../imaging';

export interface AkeneoStandInClient {
  clientId: string;
  secret: string;
  username: string;
  password: string;
}

export interface AkeneoStandInAttribute {
  code: string;
  type: 'media_file' | 'text';
  valuePerLocale?: boolean;
  valuePerChannel?: boolean;
  /** media_file: extensions (lower case, no dot) the attribute accepts; every extension when absent. */
  allowedExtensions?: string[];
  /** text: longest value (Akeneo's default for a text attribute is 255). */
  maxCharacters?: number;
}

export interface AkeneoStandInFamily {
  code: string;
  attributes: AkeneoStandInAttribute[];
  /** The attribute whose value the product link rule matches against product identifiers (SKUs). */
  linkSkuAttribute?: string;
  /** The product's asset collection attribute the rule adds the asset to. */
  productAttribute?: string;
}

/** Routes a fault can target; `api` is every authenticated route, `any` every route. */
export type AkeneoRoute = 'token' | 'family' | 'attribute' | 'getAsset' | 'patchAsset' | 'upload' | 'download';
type FaultTarget = AkeneoRoute | 'api' | 'any';

export type AkeneoFault =
  /** The presented access token turns out expired (401, as when it lapses between two calls). */
  | { kind: 'expiredToken'; on?: FaultTarget; times?: number }
  | { kind: 'rateLimit'; on?: FaultTarget; times?: number; retryAfterSeconds?: number; asHttpDate?: boolean }
  | { kind: 'serverError'; on?: FaultTarget; times?: number; status?: 500 | 502 | 503 | 504 }
  /** The request is applied (file stored, asset written) and then the connection is cut before any answer. */
  | { kind: 'dropAfterAccept'; on?: FaultTarget; times?: number }
  /** The connection is cut before the request does anything. */
  | { kind: 'dropBeforeAccept'; on?: FaultTarget; times?: number };

export interface AkeneoStandInOptions {
  port?: number;
  host?: string;
  clients?: AkeneoStandInClient[];
  families?: AkeneoStandInFamily[];
  /** Activated locales (Akeneo rejects a value in any other). */
  locales?: string[];
  channels?: string[];
  tokenTtlSeconds?: number;
  refreshTtlSeconds?: number;
  /** Image types an upload may be (decoded to check). */
  allowedFormats?: InputFormat[];
  maxFileBytes?: number;
  /** Time each authenticated call takes (so concurrency limits can be seen). */
  latencyMs?: number;
  /** Concurrent authenticated calls per connection before 429 (Akeneo documents 4). */
  maxConcurrentPerClient?: number;
  faults?: AkeneoFault[];
}

export interface RecordedToken {
  grantType: 'password' | 'refresh_token';
  clientId: string;
  at: number;
}
export interface RecordedUpload {
  code: string;
  filename: string;
  bytes: number;
  sha256: string;
  format: InputFormat;
  /** True when the connection was cut after the file was stored (the client never saw the code). */
  dropped: boolean;
}
export interface RecordedAssetWrite {
  family: string;
  code: string;
  status: 201 | 204;
  /** Media file codes this write put into the asset. */
  mediaFileCodes: string[];
  values: Record<string, StoredValue[]>;
  dropped: boolean;
}
export interface RecordedRequest {
  method: string;
  route: AkeneoRoute | 'unknown';
  status: number | 'dropped';
  fault?: AkeneoFault['kind'];
}

export interface AkeneoStandInRecord {
  tokens: RecordedToken[];
  uploads: RecordedUpload[];
  assetWrites: RecordedAssetWrite[];
  requests: RecordedRequest[];
  /** SKU -> asset codes the family's product link rule attached, per family. */
  productLinks: Record<string, Record<string, string[]>>;
}

interface StoredValue {
  locale: string | null;
  channel: string | null;
  data: unknown;
}
interface StoredAsset {
  code: string;
  values: Record<string, StoredValue[]>;
  created: string;
  updated: string;
}

export interface RunningAkeneoStandIn {
  url: string;
  record: AkeneoStandInRecord;
  /** Replaces the pending faults. */
  setFaults(faults: AkeneoFault[]): void;
  /** Every access token issued so far expires now (the next call with one gets the expired 401). */
  expireAllTokens(): void;
  /** The assets stored in a family, as the PIM holds them. */
  assets(family: string): Array<{ code: string; values: Record<string, StoredValue[]> }>;
  /** `${prefix}_CLIENT_ID`... for the first client, as a destination reads them. */
  env(prefix?: string): Record<string, string>;
  /** Destination settings that publish into the default family here (for the local stack and tests). */
  destinationSettings(name?: string): { name: string; kind: 'akeneo'; baseUrl: string; assetFamily: string; altAttribute: string; altLocalizable: true; defaultLocale: string };
  close(): Promise<void>;
}

export const DEFAULT_AKENEO_CLIENT: AkeneoStandInClient = Object.freeze({
  clientId: '1_catalogassetslocal',
  secret: 'local-akeneo-secret',
  username: 'catalog_assets_api_1234',
  password: 'local-akeneo-password',
});

export const DEFAULT_AKENEO_FAMILY: AkeneoStandInFamily = Object.freeze<AkeneoStandInFamily>({
  code: 'packshots',
  attributes: [
    { code: 'media', type: 'media_file', allowedExtensions: ['jpg', 'jpeg', 'png', 'webp'] },
    { code: 'sku', type: 'text' },
    { code: 'alt_text', type: 'text', valuePerLocale: true },
    { code: 'label', type: 'text', valuePerLocale: true },
  ],
  linkSkuAttribute: 'sku',
  productAttribute: 'packshots',
});

const ASSET_CODE = /^[A-Za-z0-9_]+$/;
const EXTENSIONS: Record<InputFormat, string[]> = {
  jpeg: ['jpg', 'jpeg'],
  png: ['png'],
  webp: ['webp'],
  avif: ['avif'],
  gif: ['gif'],
  tiff: ['tif', 'tiff'],
};
const CONTENT_TYPES: Record<InputFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  gif: 'image/gif',
  tiff: 'image/tiff',
};

interface Pending {
  fault: AkeneoFault;
  left: number;
}

class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
  }
}

const answer = (status: number, message: string, extra: Record<string, unknown> = {}) => new HttpAnswer(status, { code: status, message, ...extra });

export async function startAkeneoStandIn(options: AkeneoStandInOptions = {}): Promise<RunningAkeneoStandIn> {
  const clients = options.clients ?? [DEFAULT_AKENEO_CLIENT];
  const families = new Map((options.families ?? [DEFAULT_AKENEO_FAMILY]).map((f) => [f.code, f]));
  const locales = new Set(options.locales ?? ['en_US', 'en_GB', 'fr_FR', 'de_DE']);
  const channels = new Set(options.channels ?? ['ecommerce']);
  const tokenTtl = options.tokenTtlSeconds ?? 3600;
  const refreshTtl = options.refreshTtlSeconds ?? 14 * 24 * 3600;
  const allowedFormats = new Set(options.allowedFormats ?? ['jpeg', 'png', 'webp', 'avif']);
  const maxFileBytes = options.maxFileBytes ?? 32 * 1024 * 1024;
  const maxConcurrent = options.maxConcurrentPerClient ?? 4;
  const latencyMs = options.latencyMs ?? 0;
  const inFlight = new Map<string, number>();

  const accessTokens = new Map<string, { clientId: string; expiresAt: number }>();
  const refreshTokens = new Map<string, { clientId: string; username: string; expiresAt: number }>();
  const mediaFiles = new Map<string, { bytes: Buffer; format: InputFormat; filename: string }>();
  const assets = new Map<string, Map<string, StoredAsset>>([...families.keys()].map((code) => [code, new Map()]));
  let pending: Pending[] = [];
  const record: AkeneoStandInRecord = { tokens: [], uploads: [], assetWrites: [], requests: [], productLinks: {} };

  const setFaults = (faults: AkeneoFault[]) => {
    pending = faults.map((fault) => ({ fault, left: fault.times ?? 1 }));
  };
  setFaults(options.faults ?? []);

  /** The first pending fault for this route (consumed); expired-token faults only where a token is checked. */
  function takeFault(route: AkeneoRoute, kinds: Array<AkeneoFault['kind']>): AkeneoFault | undefined {
    for (const p of pending) {
      if (p.left <= 0 || !kinds.includes(p.fault.kind)) continue;
      const on = p.fault.on ?? (p.fault.kind === 'dropAfterAccept' ? 'upload' : 'api');
      if (on === 'any' || on === route || (on === 'api' && route !== 'token')) {
        p.left--;
        return p.fault;
      }
    }
    return undefined;
  }

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 1024 * 1024, return503OnClosing: true });
  await app.register(multipart, { limits: { fileSize: maxFileBytes, files: 2, fields: 5, parts: 6 }, throwFileSizeLimit: true });

  // Bodies are parsed by the routes themselves, so a wrong content type or bad JSON gets Akeneo's answer.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const ROUTES: Record<string, AkeneoRoute> = {
    'POST /api/oauth/v1/token': 'token',
    'GET /api/rest/v1/asset-families/:family': 'family',
    'GET /api/rest/v1/asset-families/:family/attributes/:attribute': 'attribute',
    'GET /api/rest/v1/asset-families/:family/assets/:code': 'getAsset',
    'PATCH /api/rest/v1/asset-families/:family/assets/:code': 'patchAsset',
    'POST /api/rest/v1/asset-media-files': 'upload',
    'GET /api/rest/v1/asset-media-files/*': 'download',
  };
  const routeOf = (request: FastifyRequest): AkeneoRoute | 'unknown' => ROUTES[`${request.method} ${request.routeOptions.url ?? ''}`] ?? 'unknown';

  app.addHook('onRequest', async (_request, reply) => {
    void reply.header('X-Standin', 'akeneo');
  });
  app.addHook('onResponse', async (request, reply) => {
    record.requests.push({ method: request.method, route: routeOf(request), status: reply.statusCode });
  });
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof HttpAnswer) return reply.code(err.status).type('application/json').send(err.body);
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status === 413) return reply.code(413).send({ code: 413, message: 'Request Entity Too Large' });
    return reply.code(status >= 400 && status < 600 ? status : 500).send({ code: status, message: err instanceof Error ? err.message : String(err) });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 404, message: `No route found for "${request.method} ${request.url.split('?')[0]}"` }));

  /** Answers an injected 429/5xx or cuts the connection; `true` when the request must stop here. */
  function injected(request: FastifyRequest, reply: FastifyReply, route: AkeneoRoute): boolean {
    const fault = takeFault(route, ['rateLimit', 'serverError', 'dropBeforeAccept']);
    if (!fault) return false;
    if (fault.kind === 'dropBeforeAccept') {
      record.requests.push({ method: request.method, route, status: 'dropped', fault: fault.kind });
      drop(request, reply);
      return true;
    }
    if (fault.kind === 'rateLimit') {
      const seconds = fault.retryAfterSeconds ?? 1;
      void reply.header('Retry-After', fault.asHttpDate ? new Date(Date.now() + seconds * 1000).toUTCString() : String(seconds));
      void reply.code(429).send({ code: 429, message: 'Too many requests. Please retry later.' });
      return true;
    }
    if (fault.kind === 'serverError') {
      const status = fault.status ?? 503;
      void reply.code(status).send({ code: status, message: 'Simulated server error' });
      return true;
    }
    return false;
  }

  function dropAfter(request: FastifyRequest, reply: FastifyReply, route: AkeneoRoute): boolean {
    const fault = takeFault(route, ['dropAfterAccept']);
    if (!fault) return false;
    record.requests.push({ method: request.method, route, status: 'dropped', fault: fault.kind });
    drop(request, reply);
    return true;
  }

  function authenticate(request: FastifyRequest, reply: FastifyReply, route: AkeneoRoute): string {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || header === '') throw answer(401, 'Authentication is required');
    const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
    if (!m) throw answer(401, 'Authentication is required');
    const token = accessTokens.get(m[1]!);
    if (!token) throw answer(401, 'The access token provided is invalid.');
    if (takeFault(route, ['expiredToken'])) token.expiresAt = Date.now() - 1;
    if (Date.now() >= token.expiresAt) throw answer(401, 'The access token provided has expired.');
    // Akeneo's fair-usage limit: a few calls at once per connection, the rest answered 429.
    const active = inFlight.get(token.clientId) ?? 0;
    if (active >= maxConcurrent) {
      void reply.header('Retry-After', '1');
      throw answer(429, `Too many concurrent requests: at most ${maxConcurrent} at once per connection.`);
    }
    inFlight.set(token.clientId, active + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight.set(token.clientId, (inFlight.get(token.clientId) ?? 1) - 1);
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
    return token.clientId;
  }

  /** Authenticated, counted against the concurrency limit, then held for `latencyMs` like a busy PIM. */
  async function admit(request: FastifyRequest, reply: FastifyReply, route: AkeneoRoute): Promise<void> {
    authenticate(request, reply, route);
    if (latencyMs > 0) await sleep(latencyMs);
  }

  function family(code: string): AkeneoStandInFamily {
    const f = families.get(code);
    if (!f) throw answer(404, `Asset family "${code}" does not exist.`);
    return f;
  }

  function requireContentType(request: FastifyRequest, expected: string[]) {
    const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (!type) throw answer(415, `The 'Content-type' header is missing. '${expected[0]}' has to specified as value.`);
    if (!expected.includes(type)) throw answer(415, `'${type}' in 'Content-type' header is not valid. Only '${expected.join("' or '")}' is allowed.`);
    return type;
  }

  // ---- OAuth2 token ----
  app.post('/api/oauth/v1/token', async (request, reply) => {
    if (injected(request, reply, 'token')) return reply;
    const type = requireContentType(request, ['application/json', 'application/x-www-form-urlencoded']);
    const client = basicClient(request.headers.authorization, clients);
    if (!client) throw answer(422, 'Parameter "client_id" is missing or does not match any client, or secret is invalid');
    const raw = typeof request.body === 'string' ? request.body : '';
    let body: Record<string, unknown>;
    try {
      body = type === 'application/json' ? (JSON.parse(raw) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(raw));
    } catch {
      throw answer(400, 'Invalid json message received');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw answer(400, 'Invalid json message received');
    const grant = body.grant_type;
    if (grant === 'password') {
      if (typeof body.username !== 'string' || typeof body.password !== 'string') throw answer(422, 'Parameter "username" and "password" are required');
      if (!safeEqual(body.username, client.username) || !safeEqual(body.password, client.password)) throw answer(422, 'No user with this username and password');
      for (const key of Object.keys(body)) if (!['grant_type', 'username', 'password'].includes(key)) throw answer(422, `Parameter "${key}" is not expected for the password grant`);
      record.tokens.push({ grantType: 'password', clientId: client.clientId, at: Date.now() });
      return reply.send(issue(client));
    }
    if (grant === 'refresh_token') {
      const presented = typeof body.refresh_token === 'string' ? body.refresh_token : undefined;
      if (!presented) throw answer(422, 'Parameter "refresh_token" is required');
      const held = refreshTokens.get(presented);
      // Used once: the refresh answer carries a new refresh token and the old one is gone.
      refreshTokens.delete(presented);
      if (!held || held.clientId !== client.clientId || Date.now() >= held.expiresAt) throw answer(422, 'Invalid refresh token');
      record.tokens.push({ grantType: 'refresh_token', clientId: client.clientId, at: Date.now() });
      return reply.send(issue(client));
    }
    throw answer(422, `Parameter "grant_type" must be "password" or "refresh_token"${grant === undefined ? ' and is missing' : ''}`);
  });

  function issue(client: AkeneoStandInClient) {
    const access = randomBytes(32).toString('base64url');
    const refresh = randomBytes(32).toString('base64url');
    accessTokens.set(access, { clientId: client.clientId, expiresAt: Date.now() + tokenTtl * 1000 });
    refreshTokens.set(refresh, { clientId: client.clientId, username: client.username, expiresAt: Date.now() + refreshTtl * 1000 });
    return { access_token: access, expires_in: tokenTtl, token_type: 'bearer', scope: null, refresh_token: refresh };
  }

  // ---- asset families and attributes ----
  app.get<{ Params: { family: string } }>('/api/rest/v1/asset-families/:family', async (request, reply) => {
    await admit(request, reply, 'family');
    if (injected(request, reply, 'family')) return reply;
    const f = family(request.params.family);
    const media = f.attributes.find((a) => a.type === 'media_file');
    return reply.send({
      code: f.code,
      labels: { en_US: f.code },
      attribute_as_main_media: media?.code ?? null,
      naming_convention: {},
      product_link_rules: f.linkSkuAttribute
        ? [
            {
              product_selections: [{ field: 'sku', operator: 'EQUALS', value: `{{${f.linkSkuAttribute}}}` }],
              assign_assets_to: [{ mode: 'add', attribute: f.productAttribute ?? f.code }],
            },
          ]
        : [],
      transformations: [],
      sharing_enabled: false,
    });
  });

  app.get<{ Params: { family: string; attribute: string } }>('/api/rest/v1/asset-families/:family/attributes/:attribute', async (request, reply) => {
    await admit(request, reply, 'attribute');
    if (injected(request, reply, 'attribute')) return reply;
    const f = family(request.params.family);
    const a = f.attributes.find((x) => x.code === request.params.attribute);
    if (!a) throw answer(404, `Attribute "${request.params.attribute}" does not exist for the asset family "${f.code}".`);
    return reply.send({
      code: a.code,
      labels: { en_US: a.code },
      type: a.type,
      value_per_locale: Boolean(a.valuePerLocale),
      value_per_channel: Boolean(a.valuePerChannel),
      is_required_for_completeness: false,
      ...(a.type === 'media_file' ? { allowed_extensions: a.allowedExtensions ?? [], max_file_size: null, media_type: 'image' } : { max_characters: a.maxCharacters ?? 255, is_textarea: false }),
    });
  });

  // ---- assets ----
  app.get<{ Params: { family: string; code: string } }>('/api/rest/v1/asset-families/:family/assets/:code', async (request, reply) => {
    await admit(request, reply, 'getAsset');
    if (injected(request, reply, 'getAsset')) return reply;
    const f = family(request.params.family);
    const asset = assets.get(f.code)!.get(request.params.code);
    if (!asset) throw answer(404, `Asset "${request.params.code}" does not exist.`);
    return reply.send(present(f, asset, baseUrl()));
  });

  app.patch<{ Params: { family: string; code: string } }>('/api/rest/v1/asset-families/:family/assets/:code', async (request, reply) => {
    await admit(request, reply, 'patchAsset');
    if (injected(request, reply, 'patchAsset')) return reply;
    requireContentType(request, ['application/json']);
    const f = family(request.params.family);
    let body: unknown;
    try {
      body = JSON.parse(typeof request.body === 'string' ? request.body : '');
    } catch {
      throw answer(400, 'Invalid json message received');
    }
    const code = request.params.code;
    const valid = validateAsset(f, code, body, { locales, channels, mediaFiles });
    const store = assets.get(f.code)!;
    const existing = store.get(code);
    const now = new Date().toISOString();
    const asset: StoredAsset = existing ?? { code, values: {}, created: now, updated: now };
    for (const [attr, entries] of Object.entries(valid.values)) {
      const kept = (asset.values[attr] ?? []).filter((old) => !entries.some((e) => e.locale === old.locale && e.channel === old.channel));
      asset.values[attr] = [...kept, ...entries.filter((e) => e.data !== null)];
    }
    asset.updated = now;
    store.set(code, asset);
    const mediaFileCodes = Object.entries(valid.values)
      .filter(([attr]) => f.attributes.find((a) => a.code === attr)?.type === 'media_file')
      .flatMap(([, entries]) => entries.map((e) => e.data).filter((d): d is string => typeof d === 'string'));
    linkToProduct(f, asset);
    const status = existing ? 204 : 201;
    const write: RecordedAssetWrite = { family: f.code, code, status, mediaFileCodes, values: structuredClone(valid.values), dropped: false };
    record.assetWrites.push(write);
    if (dropAfter(request, reply, 'patchAsset')) {
      write.dropped = true;
      return reply;
    }
    void reply.header('Location', `${baseUrl()}/api/rest/v1/asset-families/${f.code}/assets/${code}`);
    return reply.code(status).send();
  });

  function linkToProduct(f: AkeneoStandInFamily, asset: StoredAsset) {
    if (!f.linkSkuAttribute) return;
    const sku = asset.values[f.linkSkuAttribute]?.[0]?.data;
    const hasMedia = f.attributes.some((a) => a.type === 'media_file' && (asset.values[a.code]?.length ?? 0) > 0);
    if (typeof sku !== 'string' || !hasMedia) return;
    const links = (record.productLinks[f.code] ??= {});
    const list = (links[sku] ??= []);
    if (!list.includes(asset.code)) list.push(asset.code);
  }

  // ---- asset media files ----
  app.post('/api/rest/v1/asset-media-files', async (request, reply) => {
    await admit(request, reply, 'upload');
    if (injected(request, reply, 'upload')) return reply;
    requireContentType(request, ['multipart/form-data']);
    let file: { filename: string; bytes: Buffer } | undefined;
    for await (const part of request.parts()) {
      if (part.type !== 'file') throw answer(422, `Property "${part.fieldname}" does not exist. Only the file is expected, in field "file".`);
      if (part.fieldname !== 'file') {
        await part.toBuffer();
        throw answer(422, `Property "file" is required. A file was sent in field "${part.fieldname}".`);
      }
      if (file) throw answer(422, 'Only one file may be uploaded per request.');
      file = { filename: part.filename, bytes: await part.toBuffer() };
    }
    if (!file) throw answer(422, 'Property "file" is required.');
    const ext = /\.([^.]+)$/.exec(file.filename)?.[1] ?? '';
    if (/[&\\ +*?[\]^$(){}=!<>|:\-#@;]/.test(ext)) throw answer(422, 'File extension cannot contain special characters.');
    let format: InputFormat;
    try {
      format = (await inspectImage(file.bytes, { maxBytes: maxFileBytes, maxPixels: 100_000_000 })).format;
    } catch (err) {
      if (isImageRejectedError(err)) throw answer(422, `The file is not a usable image: ${err.message}`);
      throw err;
    }
    if (!allowedFormats.has(format)) throw answer(422, `Images of type ${format} are not accepted; send ${[...allowedFormats].join(', ')}.`);
    if (!EXTENSIONS[format].includes(ext.toLowerCase())) throw answer(422, `The file name "${file.filename}" does not match its content (${format}).`);
    const sha1 = createHash('sha1').update(randomBytes(16)).digest('hex');
    // Akeneo's file keys: a random sha1 spread over four directory levels, then the original name.
    const code = `${sha1[0]}/${sha1[1]}/${sha1[2]}/${sha1[3]}/${sha1}_${file.filename.replace(/[^A-Za-z0-9._]/g, '_')}`;
    mediaFiles.set(code, { bytes: file.bytes, format, filename: file.filename });
    const upload: RecordedUpload = { code, filename: file.filename, bytes: file.bytes.length, sha256: createHash('sha256').update(file.bytes).digest('hex'), format, dropped: false };
    record.uploads.push(upload);
    if (dropAfter(request, reply, 'upload')) {
      upload.dropped = true;
      return reply;
    }
    void reply.header('Asset-media-file-code', code);
    void reply.header('Location', `${baseUrl()}/api/rest/v1/asset-media-files/${code}`);
    return reply.code(201).send();
  });

  app.get<{ Params: { '*': string } }>('/api/rest/v1/asset-media-files/*', async (request, reply) => {
    await admit(request, reply, 'download');
    if (injected(request, reply, 'download')) return reply;
    const file = mediaFiles.get(request.params['*']);
    if (!file) throw answer(404, `Media file "${request.params['*']}" does not exist.`);
    return reply.type(CONTENT_TYPES[file.format]).send(file.bytes);
  });

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  function baseUrl() {
    return url;
  }

  return {
    url,
    record,
    setFaults,
    expireAllTokens: () => {
      for (const t of accessTokens.values()) t.expiresAt = Date.now() - 1;
    },
    assets: (code) => [...(assets.get(code)?.values() ?? [])].map((a) => ({ code: a.code, values: structuredClone(a.values) })),
    env: (prefix = 'AKENEO') => {
      const c = clients[0]!;
      return { [`${prefix}_CLIENT_ID`]: c.clientId, [`${prefix}_SECRET`]: c.secret, [`${prefix}_USERNAME`]: c.username, [`${prefix}_PASSWORD`]: c.password };
    },
    destinationSettings: (name = 'akeneo') => ({
      name,
      kind: 'akeneo',
      baseUrl: url,
      assetFamily: DEFAULT_AKENEO_FAMILY.code,
      altAttribute: 'alt_text',
      altLocalizable: true,
      defaultLocale: 'en_US',
    }),
    close: () => app.close(),
  };
}

function drop(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  request.raw.socket.destroy();
}

function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

function basicClient(header: string | undefined, clients: AkeneoStandInClient[]): AkeneoStandInClient | undefined {
  const m = typeof header === 'string' ? /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header) : null;
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  return clients.find((c) => safeEqual(c.clientId, id) && safeEqual(c.secret, secret));
}

function present(f: AkeneoStandInFamily, asset: StoredAsset, base: string) {
  const values: Record<string, unknown[]> = {};
  for (const [attr, entries] of Object.entries(asset.values)) {
    const media = f.attributes.find((a) => a.code === attr)?.type === 'media_file';
    values[attr] = entries.map((e) => (media ? { ...e, _links: { download: { href: `${base}/api/rest/v1/asset-media-files/${String(e.data)}` } } } : { ...e }));
  }
  return { code: asset.code, values, created: asset.created, updated: asset.updated };
}

interface ValidationContext {
  locales: Set<string>;
  channels: Set<string>;
  mediaFiles: Map<string, { format: InputFormat; filename: string }>;
}

/** Checks a PATCH body against the family, collecting every problem as Akeneo's `errors[]`. */
function validateAsset(f: AkeneoStandInFamily, urlCode: string, body: unknown, ctx: ValidationContext): { values: Record<string, StoredValue[]> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw answer(400, 'Invalid json message received');
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (key !== 'code' && key !== 'values') throw answer(422, `Property "${key}" does not exist. Check the expected format on the API documentation.`);
  }
  const errors: Array<Record<string, unknown>> = [];
  if (urlCode.length > 255) errors.push({ property: 'code', message: 'Asset code cannot be longer than 255 characters' });
  if (!ASSET_CODE.test(urlCode)) errors.push({ property: 'code', message: 'Asset code may contain only letters, numbers and underscores' });
  if (input.code !== undefined && input.code !== urlCode) {
    errors.push({ property: 'code', message: `The code ${JSON.stringify(input.code)} provided in the request body must match the code "${urlCode}" provided in the url` });
  }
  const values: Record<string, StoredValue[]> = {};
  if (input.values !== undefined) {
    if (typeof input.values !== 'object' || input.values === null || Array.isArray(input.values)) {
      errors.push({ property: 'values', message: 'Property "values" expects an object of attribute codes' });
    } else {
      for (const [attrCode, raw] of Object.entries(input.values as Record<string, unknown>)) {
        const attr = f.attributes.find((a) => a.code === attrCode);
        const at = (message: string, extra: Record<string, unknown> = {}) => errors.push({ property: 'values', attribute: attrCode, message, ...extra });
        if (!attr) {
          at(`The attribute "${attrCode}" does not exist for the asset family "${f.code}"`);
          continue;
        }
        if (!Array.isArray(raw) || raw.length === 0) {
          at(`Property "values.${attrCode}" expects a non-empty array of {locale, channel, data}`);
          continue;
        }
        const seen = new Set<string>();
        const entries: StoredValue[] = [];
        for (const entry of raw as unknown[]) {
          if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
            at('A value must be an object with locale, channel and data');
            continue;
          }
          const e = entry as Record<string, unknown>;
          const extra = Object.keys(e).filter((k) => !['locale', 'channel', 'data'].includes(k));
          if (extra.length) at(`Property "${extra[0]}" does not exist in a value (only locale, channel, data)`);
          if (!('locale' in e) || !('channel' in e) || !('data' in e)) at('A value needs locale, channel and data (null where they do not apply)');
          const locale = e.locale ?? null;
          const channel = e.channel ?? null;
          if (attr.valuePerLocale) {
            if (typeof locale !== 'string') at(`The attribute "${attrCode}" has one value per locale: locale must be set`, { locale });
            else if (!ctx.locales.has(locale)) at(`The locale "${locale}" is not activated`, { locale });
          } else if (locale !== null) at(`The attribute "${attrCode}" is not localizable: locale must be null`, { locale });
          if (attr.valuePerChannel) {
            if (typeof channel !== 'string' || !ctx.channels.has(channel)) at(`The attribute "${attrCode}" has one value per channel: channel must be an existing channel`, { channel });
          } else if (channel !== null) at(`The attribute "${attrCode}" is not scopable: channel must be null`, { channel });
          const key = JSON.stringify([locale, channel]);
          if (seen.has(key)) at(`Two values for the same locale and channel`, { locale, channel });
          seen.add(key);
          const data = e.data;
          if (data !== null) {
            if (attr.type === 'text') {
              if (typeof data !== 'string') at('A text value must be a string', { locale });
              else if (data.length > (attr.maxCharacters ?? 255)) at(`This value is too long. It should have ${attr.maxCharacters ?? 255} characters or less.`, { locale });
            } else {
              const file = typeof data === 'string' ? ctx.mediaFiles.get(data) : undefined;
              if (!file) at(`The media file ${JSON.stringify(data)} does not exist`, { locale });
              else {
                const ext = /\.([^.]+)$/.exec(file.filename)?.[1]?.toLowerCase() ?? '';
                if (attr.allowedExtensions && !attr.allowedExtensions.includes(ext)) {
                  at(`The file extension "${ext}" is not allowed for the attribute "${attrCode}" (allowed: ${attr.allowedExtensions.join(', ')})`, { locale });
                }
              }
            }
          }
          entries.push({ locale: locale as string | null, channel: channel as string | null, data });
        }
        values[attrCode] = entries;
      }
    }
  }
  if (errors.length) throw answer(422, 'Validation failed.', { errors });
  return { values };
}
