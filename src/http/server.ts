/**
 * The HTTP service: PIM webhooks, manual refresh, catalog status, health and metrics.
 *
 * Why fastify: it is schema-first (every route declares its params and body, validated before the
 * handler runs; here the schemas are the project's own zod schemas, through a validator compiler),
 * fast, and well kept; its encapsulated plugins let the webhook routes have their own raw-body parser
 * (signatures are over the exact bytes) and the service routes their own auth hook, and it ships a
 * request injector for tests. Express would need body parsers and hand-rolled validation for the same.
 *
 * Routes:
 *   POST /webhooks/pim/:catalogId   PIM events, HMAC-signed with the catalog's secret (signature.ts, webhookSecrets.ts, akeneo.ts, routes/webhooks.ts)
 *   POST /webhooks/pim              the same, catalog from `?catalog=<id>` or `X-Catalog-Id: <id>`
 *   POST /catalogs/:id/refresh      start a refresh (bearer token)
 *   GET  /catalogs/:id/status       the catalog at a glance (bearer token)
 *   POST /catalogs/:id/skus/:sku/review  a review decision for a slot waiting for review (bearer token)
 *   GET  /metrics                   Prometheus text (bearer token)
 *   GET  /healthz                   Postgres and Temporal up/down, 200 or 503 (open; details with the bearer token)
 *   POST /codec/encode|decode       Temporal payload codec (bearer: SERVICE_TOKEN or TEMPORAL_CODEC_TOKEN), when payloads are encrypted
 *
 * Errors are JSON `{ error: <code>, message, field? }`; bad input is always a 4xx naming the reason,
 * never a 500, and no message carries a configured secret (redact()).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { redact, registerSecret } from '../config/redact';
import { catalogStatus as catalogStatusQuery, type CatalogStatus } from '../db/repositories/catalogStatus';
import type { Database } from '../db/schema';
import type { RefreshBudget, RefreshSelection } from '../shared/refresh';
import { assertAuthConfig, bearerMatches } from './auth';
import { createHttpMetrics, type HttpMetrics } from './metrics';
import { registerCatalogRoutes } from './routes/catalogs';
import { registerChannelRoutes } from './routes/channels';
import { registerHealthRoute, type HealthCheck } from './routes/health';
import { registerMetricsRoute } from './routes/metrics';
import { registerReviewRoute, type SendReview } from './routes/review';
import { registerWebhookRoutes } from './routes/webhooks';
import type { PayloadCodec } from '@temporalio/common';
import { registerResultsRoutes } from '../results/routes';
import type { AssetStorage } from '../storage/types';
import { registerCodecRoutes } from '../temporal/client/codecRoutes';
import { createWebhookSecretResolver, type WebhookSecretResolver } from './webhookSecrets';

/** Starts (or signals) a SKU's product workflow. Production: triggerProduct; tests: a recorder. */
export type StartProductPlan = (
  input: { catalogId: string; sku: string; trigger: 'webhook' },
  meta?: { productName?: string },
) => Promise<{ workflowId: string; runId: string }>;

export interface RefreshStartRequest {
  catalogId: string;
  selection: RefreshSelection;
  dryRun: boolean;
  budget?: RefreshBudget;
  trigger: 'manual';
}
export type StartRefresh = (req: RefreshStartRequest) => Promise<{ workflowId: string; runId: string }>;

export interface ServerDeps {
  db: Kysely<Database>;
  logger?: Logger;
  /** The address the service will listen on: with no serviceToken only a loopback address is allowed. */
  host: string;
  serviceToken?: string;
  /**
   * The shared webhook secret, only for catalogs without their own (see webhookSecrets.ts). With
   * neither it nor webhookSecretKey the webhook routes answer 503: unsigned webhooks are never accepted.
   */
  webhookSecret?: string;
  /** WEBHOOK_SECRET_KEY: opens the per-catalog webhook secrets stored in Postgres. */
  webhookSecretKey?: Buffer;
  /** TEMPORAL_CODEC_TOKEN: accepted by the payload codec endpoint besides serviceToken. */
  codecToken?: string;
  webhookToleranceSeconds?: number;
  webhookMaxEvents?: number;
  bodyLimitBytes?: number;
  trigger: StartProductPlan;
  startRefresh: StartRefresh;
  /** Defaults to the Postgres repository query. */
  catalogStatus?: (catalogId: string) => Promise<CatalogStatus | undefined>;
  /** Named readiness checks; `postgres` (select 1) is added when absent. Production adds `temporal`. */
  healthChecks?: Record<string, HealthCheck>;
  /** Product workflows started at once per delivery. */
  triggerConcurrency?: number;
  /** A workflow start that takes longer counts as failed (retried on redelivery), so a PIM is answered in time. */
  triggerTimeoutMs?: number;
  /** Clock in milliseconds (tests move it to check the replay window). */
  now?: () => number;
  metrics?: HttpMetrics;
  /** Asset storage: mounts the results page and `/assets/*` (behind the service token when one is set). */
  storage?: AssetStorage;
  /** Payload codec endpoint for Temporal UI (`/codec/encode`, `/codec/decode`), when payloads are encrypted. */
  codec?: { codec: PayloadCodec; allowedOrigins: string[] };
  /** Sends review decisions to running plans (`POST /catalogs/:id/skus/:sku/review`); the route is mounted with it. */
  sendReview?: SendReview;
}

/** What the route modules share. */
export interface RouteContext {
  db: Kysely<Database>;
  logger: Logger;
  serviceToken: string | undefined;
  webhookSecret: string | undefined;
  /** False when no secret of any kind is configured: every delivery is refused with 503. */
  webhooksEnabled: boolean;
  /** The secrets that verify a delivery to a catalog. */
  webhookSecrets: WebhookSecretResolver;
  webhookToleranceSeconds: number;
  webhookMaxEvents: number;
  bodyLimitBytes: number;
  trigger: StartProductPlan;
  startRefresh: StartRefresh;
  catalogStatus: (catalogId: string) => Promise<CatalogStatus | undefined>;
  healthChecks: Record<string, HealthCheck>;
  triggerConcurrency: number;
  triggerTimeoutMs: number;
  now: () => number;
  metrics: HttpMetrics;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** A validation failure that names the field (`body.selection`, `params.id`). */
class RequestValidationError extends Error {
  readonly statusCode = 400;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RequestValidationError';
  }
}

export function buildServer(deps: ServerDeps): FastifyInstance {
  // Refuses an open service on a reachable address before anything listens.
  const authMode = assertAuthConfig({ serviceToken: deps.serviceToken, host: deps.host });
  // Secrets passed in directly (not through loadConfig) are redacted all the same.
  registerSecret(deps.serviceToken);
  registerSecret(deps.webhookSecret);
  registerSecret(deps.codecToken);
  const logger = deps.logger ?? pino({ level: 'silent' });
  const bodyLimitBytes = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const ctx: RouteContext = {
    db: deps.db,
    logger,
    serviceToken: deps.serviceToken,
    webhookSecret: deps.webhookSecret,
    webhooksEnabled: Boolean(deps.webhookSecret || deps.webhookSecretKey),
    webhookSecrets: createWebhookSecretResolver({ db: deps.db, key: deps.webhookSecretKey, sharedSecret: deps.webhookSecret, now: deps.now }),
    webhookToleranceSeconds: deps.webhookToleranceSeconds ?? 300,
    webhookMaxEvents: deps.webhookMaxEvents ?? 1_000,
    bodyLimitBytes,
    trigger: deps.trigger,
    startRefresh: deps.startRefresh,
    catalogStatus: deps.catalogStatus ?? ((id) => catalogStatusQuery(deps.db, id)),
    healthChecks: deps.healthChecks ?? {},
    triggerConcurrency: deps.triggerConcurrency ?? 8,
    triggerTimeoutMs: deps.triggerTimeoutMs ?? 5_000,
    now: deps.now ?? Date.now,
    metrics: deps.metrics ?? createHttpMetrics(),
  };
  if (authMode === 'open-loopback') logger.warn({ host: deps.host }, 'SERVICE_TOKEN is not set: service routes are open to callers on this machine (loopback only)');
  if (!ctx.webhooksEnabled) logger.warn('neither WEBHOOK_SECRET nor WEBHOOK_SECRET_KEY is set: PIM webhooks are refused (503)');
  else if (deps.webhookSecret) {
    logger.warn('WEBHOOK_SECRET (shared) verifies deliveries for every catalog without its own secret: those catalogs are not isolated from one another; give each its own (catalog-assets webhook secret set)');
  }

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: bodyLimitBytes,
    // A slow or stalled client cannot hold a connection forever.
    requestTimeout: 30_000,
    return503OnClosing: true,
    // Catalog ids are up to 200 characters, percent-encoded in the path.
    routerOptions: { maxParamLength: 1_000 },
    // Errors the router raises before any route (a malformed or over-long URL) answer in the same JSON shape.
    frameworkErrors: (err, _request, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      void (reply as FastifyReply).code(status).send({ error: 'invalid_url', message: redact(err.message).slice(0, 300) });
    },
  }) as unknown as FastifyInstance;

  // Route schemas are zod schemas: validated values (with defaults applied) replace the raw input.
  app.setValidatorCompiler(({ schema, httpPart }) => (data: unknown) => {
    const result = (schema as z.ZodType).safeParse(data);
    if (result.success) return { value: result.data };
    const issue = result.error.issues[0]!;
    const field = [httpPart === 'querystring' ? 'query' : (httpPart ?? 'body'), ...issue.path.map(String)].join('.');
    return { error: new RequestValidationError(field, issue.message) };
  });

  app.setErrorHandler((err: FastifyError & { field?: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (err instanceof RequestValidationError) {
      return reply.code(400).send({ error: 'invalid_request', message: redact(err.message), field: err.field });
    }
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        if (request.url.startsWith('/webhooks/')) ctx.metrics.webhookRejected.inc({ reason: 'too_large' });
        return reply.code(413).send({ error: 'payload_too_large', message: `the body is larger than ${bodyLimitBytes} bytes` });
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send({ error: 'invalid_json', message: `the body is not valid JSON: ${redact(err.message)}` });
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send({ error: 'invalid_json', message: 'the body is empty; send a JSON object' });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send({ error: 'unsupported_media_type', message: 'send Content-Type: application/json' });
    }
    if (err instanceof SyntaxError && status === 400) {
      return reply.code(400).send({ error: 'invalid_json', message: `the body is not valid JSON: ${redact(err.message)}` });
    }
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: (err.code ?? 'bad_request').toLowerCase(), message: redact(err.message) });
    }
    request.log.error({ err: { name: err.name, message: redact(err.message), stack: err.stack ? redact(err.stack) : undefined } }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: `internal error; see the service log for request ${request.id}` });
  });

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));

  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
    ctx.metrics.requests.inc(labels);
    ctx.metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });

  void app.register((child, _opts, done) => {
    registerWebhookRoutes(child, ctx);
    done();
  });
  void app.register((child, _opts, done) => {
    const token = ctx.serviceToken;
    if (token) {
      child.addHook('onRequest', async (request, reply) => {
        if (bearerMatches(request.headers.authorization, token)) return;
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'send Authorization: Bearer <SERVICE_TOKEN>' });
      });
    }
    registerCatalogRoutes(child, ctx);
    registerChannelRoutes(child, ctx);
    registerMetricsRoute(child, ctx);
    if (deps.sendReview) registerReviewRoute(child, { db: deps.db, sendReview: deps.sendReview });
    // Browsers cannot send a bearer header for <img>: with a token set, the page is for clients or a
    // proxy that add it; on loopback without a token it is open, like the rest of the service.
    if (deps.storage) registerResultsRoutes(child, { db: deps.db, storage: deps.storage });
    done();
  });
  if (deps.codec) {
    const codec = deps.codec;
    const tokens = [deps.serviceToken, deps.codecToken].filter((t): t is string => Boolean(t));
    // Whoever may call the codec can read every payload: it is never mounted without a credential.
    if (tokens.length === 0) logger.warn('the payload codec endpoint is not mounted: set SERVICE_TOKEN or TEMPORAL_CODEC_TOKEN to let Temporal UI read encrypted payloads');
    else {
      void app.register((child, _opts, done) => {
        registerCodecRoutes(child, { codec: codec.codec, allowedOrigins: codec.allowedOrigins, tokens });
        done();
      });
    }
  }
  registerHealthRoute(app, ctx);
  return app;
}
