/**
 * Review decisions through the service (bearer token), for catalogs that require review before publish:
 *   POST /catalogs/:id/skus/:sku/review  { slot, decision: 'approve'|'reject', note?, by? }
 *     → 202 { catalogId, sku, slot, decision, workflowId }: signalled to the SKU's running plan
 *     → 404 unknown catalog; 409 no running plan, or the slot is not waiting for review;
 *       503 Temporal unavailable
 * A rejection with a note regenerates the slot with the note in its prompt; one without a note (like a
 * `keep` timeout) keeps the previous version, and the same inputs are not bought again by later triggers.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { catalogIdSchema, skuSchema } from '../../catalog/text';
import { redact } from '../../config/redact';
import { getCatalog } from '../../db/repositories/catalogs';
import type { Database } from '../../db/schema';
import type { ReviewDecisionSignal } from '../../shared/steps';
import type { ReviewSendOutcome } from '../../temporal/client/product';
import type { Kysely } from 'kysely';

export type SendReview = (catalogId: string, sku: string, decision: ReviewDecisionSignal) => Promise<ReviewSendOutcome>;

const paramsSchema = z.object({ id: catalogIdSchema, sku: skuSchema });
export const reviewBodySchema = z
  .object({
    slot: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a lowercase slot name such as hero, label or lifestyle'),
    decision: z.enum(['approve', 'reject']),
    note: z.string().trim().min(1).max(500).optional(),
    by: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export function registerReviewRoute(app: FastifyInstance, deps: { db: Kysely<Database>; sendReview: SendReview }): void {
  app.post<{ Params: z.infer<typeof paramsSchema>; Body: z.infer<typeof reviewBodySchema> }>(
    '/catalogs/:id/skus/:sku/review',
    { schema: { params: paramsSchema, body: reviewBodySchema } },
    async (request, reply) => {
      const { id: catalogId, sku } = request.params;
      if (!(await getCatalog(deps.db, catalogId))) return reply.code(404).send({ error: 'unknown_catalog', message: `no catalog ${JSON.stringify(catalogId)}` });
      const { slot, decision, note, by } = request.body;
      let sent: ReviewSendOutcome;
      try {
        sent = await deps.sendReview(catalogId, sku, { slot, decision, ...(note ? { note } : {}), by: by ?? 'http' });
      } catch (err) {
        const message = redact(err instanceof Error ? err.message : String(err));
        request.log.warn({ catalogId, sku, err: message }, 'review decision could not be sent');
        return reply.code(503).send({ error: 'review_unavailable', message: `the decision could not be sent: ${message}` });
      }
      if (!sent.ok) return reply.code(409).send({ error: sent.reason, message: sent.message, workflowId: sent.workflowId });
      request.log.info({ catalogId, sku, slot, decision, workflowId: sent.workflowId }, 'review decision sent');
      return reply.code(202).send({ catalogId, sku, slot, decision, workflowId: sent.workflowId });
    },
  );
}
