/**
 * The codec endpoint Temporal UI (and `temporal workflow show --codec-endpoint`) calls to show
 * encrypted payloads in clear: `POST <prefix>/decode` and `POST <prefix>/encode`, each taking and
 * returning `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`.
 *
 * Whoever may call it can decrypt every payload and forge encrypted ones, so every POST needs a
 * credential: `Authorization: Bearer <token>` with one of `tokens` (the service token, or
 * TEMPORAL_CODEC_TOKEN for the codec alone), compared in constant time. There is no open mode:
 * mounting without a token throws. Temporal CLI passes it with `--codec-auth "Bearer <token>"`;
 * Temporal UI's "pass access token" sends the UI's own access token, so use the UI where that token
 * is this one, or behind a proxy that adds the header.
 *
 * Set Temporal UI's "Codec Server endpoint" to `http(s)://<this service>/codec` (or start the dev
 * server with `--ui-codec-endpoint`). The browser calls it cross-origin, so the routes answer CORS
 * (preflights included) for the allowed origins only (the UI's, TEMPORAL_UI_URL) and refuse any other
 * origin with 403. A request without an Origin header gets no CORS answer and no pass either: the
 * credential decides, as for any other caller.
 *
 * Mount: `registerCodecRoutes(app, { codec, allowedOrigins: [config.temporal.uiUrl], tokens })`, or
 * `app.register(codecRoutesPlugin, { ... })`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PayloadCodecError } from './codec';

export interface CodecRouteOptions {
  codec: PayloadCodec;
  /** Origins (scheme://host:port) of Temporal UI; a full URL is reduced to its origin. */
  allowedOrigins: string[];
  /** Default `/codec`. */
  prefix?: string;
  /** POSTs need `Authorization: Bearer <one of these>`; at least one is required. */
  tokens: Array<string | undefined>;
  /** Most payloads in one request (default 1,000). */
  maxPayloads?: number;
}

const base64 = z.string().max(64 * 1024 * 1024).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');

const jsonPayload = z
  .object({
    metadata: z.record(z.string(), base64).nullish(),
    data: base64.nullish(),
  })
  .passthrough();

type JsonPayload = z.infer<typeof jsonPayload>;

function fromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url.replace(/\/+$/, '');
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

function bearerIs(header: string | undefined, token: string): boolean {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m ? timingSafeEqual(sha256(m[1]!), sha256(token)) : false;
}

export class CodecRouteConfigError extends Error {
  override readonly name = 'CodecRouteConfigError';
}

export function registerCodecRoutes(app: FastifyInstance, options: CodecRouteOptions): void {
  const tokens = options.tokens.filter((t): t is string => typeof t === 'string' && t.length > 0);
  if (tokens.length === 0) throw new CodecRouteConfigError('the payload codec endpoint needs a credential: set SERVICE_TOKEN or TEMPORAL_CODEC_TOKEN');
  const prefix = (options.prefix ?? '/codec').replace(/\/+$/, '');
  const allowed = new Set(options.allowedOrigins.map(originOf));
  const maxPayloads = options.maxPayloads ?? 1_000;
  const body = z.object({ payloads: z.array(jsonPayload).max(maxPayloads) }).passthrough();

  /**
   * Sets the CORS headers for an allowed origin; false for another origin. No Origin (not a browser)
   * gets no CORS headers, and nothing else: the credential check that follows decides.
   */
  function cors(request: FastifyRequest, reply: FastifyReply): boolean {
    const origin = request.headers.origin;
    reply.header('vary', 'Origin');
    if (origin === undefined) return true;
    if (typeof origin !== 'string' || !allowed.has(origin)) return false;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    return true;
  }

  for (const op of ['encode', 'decode'] as const) {
    const url = `${prefix}/${op}`;
    app.options(url, async (request, reply) => {
      // A preflight is a browser's, and only the UI's origin gets one.
      if (request.headers.origin === undefined || !cors(request, reply)) return reply.code(403).send({ error: 'forbidden_origin', message: 'this origin may not use the codec endpoint' });
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', 'Content-Type, X-Namespace, Authorization');
      reply.header('access-control-max-age', '600');
      return reply.code(204).send();
    });
    app.post(url, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!cors(request, reply)) return reply.code(403).send({ error: 'forbidden_origin', message: 'this origin may not use the codec endpoint' });
      // Every token is compared (no early exit), so timing does not tell which one nearly matched.
      let authorized = false;
      for (const t of tokens) authorized = bearerIs(request.headers.authorization, t) || authorized;
      if (!authorized) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'the codec endpoint needs Authorization: Bearer <SERVICE_TOKEN or TEMPORAL_CODEC_TOKEN>' });
      }
      const parsed = body.safeParse(request.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return reply.code(400).send({ error: 'invalid_request', message: `${issue?.path.join('.') || 'body'}: ${issue?.message}`, field: issue?.path.join('.') });
      }
      try {
        const input = parsed.data.payloads.map(fromJson);
        const output = op === 'encode' ? await options.codec.encode(input) : await options.codec.decode(input);
        return reply.code(200).send({ payloads: output.map(toJson) });
      } catch (err) {
        if (err instanceof PayloadCodecError) return reply.code(400).send({ error: 'codec_error', message: err.message });
        throw err;
      }
    });
  }
}

/** The same routes as an encapsulated fastify plugin. */
export const codecRoutesPlugin: FastifyPluginAsync<CodecRouteOptions> = async (app, options) => {
  registerCodecRoutes(app, options);
};
