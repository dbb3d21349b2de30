/**
 * PIM webhooks:
 *   POST /webhooks/pim/:catalogId
 *   POST /webhooks/pim?catalog=<id>        (or header X-Catalog-Id: <id>), for PIMs with one fixed URL
 *
 * A delivery is checked in this order, and the first failure answers:
 *   413 body larger than HTTP_BODY_LIMIT_BYTES (before anything is read into memory past the limit)
 *   503 webhooks disabled (neither WEBHOOK_SECRET nor WEBHOOK_SECRET_KEY is set)
 *   400 catalog id malformed (or missing)
 *   503 the catalog has its own secret but this process cannot open it (WEBHOOK_SECRET_KEY missing or another)
 *   401 signature missing/malformed/wrong for the catalog's secrets (its own, else the shared one; see
 *       ../webhookSecrets.ts), or timestamp outside WEBHOOK_TOLERANCE_SECONDS; nothing is written
 *   400 UTF-8, JSON or any event malformed (naming the field), including an event dated
 *       before 1970 or more than 24 h ahead of the service clock; nothing is written
 *   404 unknown catalog
 *   202 { accepted, duplicates, stale, unchanged, removed, workflows: [{ sku, workflowId }] }
 *       accepted: events not seen before; duplicates: seen before (or repeated in the batch);
 *       stale: accepted but older than data already applied (or than another event of the batch);
 *       unchanged: accepted, data already as sent; removed: SKUs marked removed; workflows: started
 *   503 trigger_failed: the batch was recorded but some workflows could not be started (Temporal down);
 *       the same body redelivered retries exactly those (their events are marked trigger_state=failed)
 *
 * The whole batch is validated first (all-or-nothing), applied in one transaction (see
 * catalog/pimChanges.ts), and only after the commit are product workflows started, for the SKUs that
 * were created or changed; a removal starts no generation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { applyPimChanges, settleTriggers } from '../../db/repositories/pimChanges';
import { catalogIdSchema } from '../../catalog/text';
import { triggerProducts } from '../../catalog/triggerProducts';
import { redact } from '../../config/redact';
import { getCatalog } from '../../db/repositories/catalogs';
import { parsePimDelivery, toPimChange } from '../akeneo';
import { decodeJsonBody } from '../payload';
import type { RouteContext } from '../server';
import { verifyWebhook } from '../signature';

export function registerWebhookRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // The signature covers the exact bytes: every body is read raw, whatever its Content-Type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post<{ Params: { catalogId: string } }>('/webhooks/pim/:catalogId', (request, reply) => receive(ctx, request, reply, request.params.catalogId));
  app.post<{ Querystring: { catalog?: unknown } }>('/webhooks/pim', (request, reply) =>
    receive(ctx, request, reply, request.query.catalog ?? request.headers['x-catalog-id']),
  );
}

async function receive(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, catalogParam: unknown): Promise<FastifyReply> {
  const { metrics } = ctx;
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

  if (!ctx.webhooksEnabled) {
    metrics.webhookRejected.inc({ reason: 'disabled' });
    return reply.code(503).send({ error: 'webhooks_disabled', message: 'neither WEBHOOK_SECRET nor WEBHOOK_SECRET_KEY is set: this service accepts no webhooks' });
  }

  // The catalog first: its secrets decide whether the signature is valid (a delivery signed for one
  // catalog does not verify for another).
  const catalog = catalogIdSchema.safeParse(catalogParam);
  if (!catalog.success) {
    metrics.webhookRejected.inc({ reason: 'payload' });
    const message = catalogParam === undefined ? 'say which catalog: /webhooks/pim/<catalogId>, ?catalog=<id> or X-Catalog-Id' : catalog.error.issues[0]!.message;
    return reply.code(400).send({ error: 'invalid_request', field: 'catalog', message });
  }
  const catalogId = catalog.data;

  const secrets = await ctx.webhookSecrets(catalogId);
  if (secrets.source === 'unavailable') {
    metrics.webhookRejected.inc({ reason: 'secret_unavailable' });
    request.log.error({ catalogId, reason: secrets.reason }, 'webhook secret of the catalog cannot be opened');
    return reply.code(503).send({ error: 'webhook_secret_unavailable', message: 'this catalog\'s webhook secret cannot be checked here; see the service log' });
  }
  if (secrets.source === 'none') request.log.warn({ catalogId }, 'no webhook secret accepts deliveries for this catalog');
  const check = verifyWebhook({ secret: secrets.secrets, headers: request.headers, rawBody: raw, nowMs: ctx.now(), toleranceSeconds: ctx.webhookToleranceSeconds });
  if (!check.ok) {
    metrics.webhookRejected.inc({ reason: check.reason === 'stale_timestamp' ? 'timestamp' : 'signature' });
    request.log.warn({ catalogId, reason: check.reason }, 'webhook rejected');
    return reply.code(401).header('www-authenticate', 'HMAC-SHA256').send({ error: check.reason, message: check.message });
  }

  const decoded = decodeJsonBody(raw);
  if (!decoded.ok) {
    metrics.webhookRejected.inc({ reason: 'payload' });
    return reply.code(400).send({ error: 'invalid_payload', message: redact(decoded.field ? `${decoded.field}: ${decoded.reason}` : decoded.reason), field: decoded.field });
  }
  const parsed = parsePimDelivery(decoded.value, ctx.webhookMaxEvents, ctx.now());
  if (!parsed.ok) {
    metrics.webhookRejected.inc({ reason: 'payload' });
    const first = parsed.issues[0]!;
    return reply.code(400).send({ error: 'invalid_payload', message: redact(`${first.field}: ${first.message}`), field: first.field, issues: parsed.issues });
  }

  if (!(await getCatalog(ctx.db, catalogId))) {
    metrics.webhookRejected.inc({ reason: 'unknown_catalog' });
    return reply.code(404).send({ error: 'unknown_catalog', message: `no catalog ${JSON.stringify(catalogId)}; create it (e.g. with catalog-assets import) first` });
  }

  const result = await applyPimChanges(ctx.db, catalogId, parsed.events.map(toPimChange));
  metrics.webhookEvents.inc({ outcome: 'accepted' }, result.accepted);
  metrics.webhookEvents.inc({ outcome: 'duplicate' }, result.duplicates);
  metrics.webhookEvents.inc({ outcome: 'stale' }, result.stale);
  metrics.webhookEvents.inc({ outcome: 'unchanged' }, result.unchanged);

  const triggered = await triggerProducts(
    result.toTrigger,
    (t) => withTimeout(ctx.trigger({ catalogId, sku: t.sku, trigger: 'webhook' }, { productName: t.productName }), ctx.triggerTimeoutMs),
    ctx.triggerConcurrency,
  );
  await settleTriggers(ctx.db, catalogId, triggered.started.flatMap((s) => s.item.eventIds), 'none');
  await settleTriggers(ctx.db, catalogId, triggered.failed.flatMap((f) => f.item.eventIds), 'failed');

  const body = {
    accepted: result.accepted,
    duplicates: result.duplicates,
    stale: result.stale,
    unchanged: result.unchanged,
    removed: result.removed.length,
    workflows: triggered.started.map((s) => ({ sku: s.item.sku, workflowId: s.workflowId })).sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)),
  };
  request.log.info({ catalogId, ...body, workflows: body.workflows.length, failed: triggered.failed.length }, 'webhook delivery applied');

  if (triggered.failed.length > 0) {
    metrics.webhookRejected.inc({ reason: 'trigger_failed' });
    const failed = triggered.failed.map((f) => ({ sku: f.item.sku, message: redact(f.error instanceof Error ? f.error.message : String(f.error)).slice(0, 500) }));
    request.log.warn({ catalogId, failed }, 'product workflows could not be started; a redelivery retries them');
    return reply.code(503).send({
      error: 'trigger_failed',
      message: `the events were recorded, but ${failed.length} product workflow(s) could not be started; deliver the same batch again to retry them`,
      ...body,
      failed,
    });
  }
  return reply.code(202).send(body);
}

/** Gives up waiting (the call itself may still land; a redelivery's start is then coalesced with it). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from Temporal within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
