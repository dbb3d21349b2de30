/**
 * Operator routes on a catalog (bearer token):
 *   POST /catalogs/:id/refresh  { selection: 'changed'|'stale'|'all'|{ skus: [...] }, dryRun?: boolean, budget?: { images?, usd? } }
 *                               → 202 { workflowId, runId }; 404 unknown catalog; 409 already running; 503 Temporal unavailable
 *   GET  /catalogs/:id/status   → 200 CatalogStatus (see src/db/repositories/catalogStatus.ts); 404 unknown catalog
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { catalogIdSchema } from '../../catalog/text';
import { redact } from '../../config/redact';
import { getCatalog } from '../../db/repositories/catalogs';
import { InputCheckError } from '../../shared/check';
import { parseBudget, parseSelection } from '../../shared/refresh';
import type { RouteContext } from '../server';

const paramsSchema = z.object({ id: catalogIdSchema });
/** A field checked by the refresh workflow's own input checks (src/shared/refresh.ts): one definition. */
function checkedBy<T>(check: (value: unknown, path: string) => T) {
  return z.unknown().transform((value, ctx) => {
    try {
      return check(value, '');
    } catch (err) {
      if (!(err instanceof InputCheckError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.reason, path: err.path ? err.path.split('.') : [] });
      return z.NEVER;
    }
  });
}
const selectionSchema = checkedBy(parseSelection);
const budgetSchema = checkedBy(parseBudget);
export const refreshBodySchema = z
  .object({
    selection: selectionSchema,
    dryRun: z.boolean().default(false),
    budget: budgetSchema.optional(),
  })
  .strict();

type Params = z.infer<typeof paramsSchema>;
type RefreshBody = z.infer<typeof refreshBodySchema>;

export function registerCatalogRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Params: Params; Body: RefreshBody }>('/catalogs/:id/refresh', { schema: { params: paramsSchema, body: refreshBodySchema } }, async (request, reply) => {
    const catalogId = request.params.id;
    if (!(await getCatalog(ctx.db, catalogId))) return reply.code(404).send({ error: 'unknown_catalog', message: `no catalog ${JSON.stringify(catalogId)}` });
    const { selection, dryRun, budget } = request.body;
    try {
      const started = await ctx.startRefresh({ catalogId, selection, dryRun, budget, trigger: 'manual' });
      request.log.info({ catalogId, workflowId: started.workflowId, dryRun }, 'refresh started');
      return await reply.code(202).send({ catalogId, workflowId: started.workflowId, runId: started.runId });
    } catch (err) {
      const message = redact(err instanceof Error ? err.message : String(err));
      if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') {
        return reply.code(409).send({ error: 'refresh_running', message });
      }
      request.log.warn({ catalogId, err: message }, 'refresh could not be started');
      return reply.code(503).send({ error: 'refresh_unavailable', message: `the refresh could not be started: ${message}` });
    }
  });

  app.get<{ Params: Params }>('/catalogs/:id/status', { schema: { params: paramsSchema } }, async (request, reply) => {
    const status = await ctx.catalogStatus(request.params.id);
    if (!status) return reply.code(404).send({ error: 'unknown_catalog', message: `no catalog ${JSON.stringify(request.params.id)}` });
    return reply.header('cache-control', 'no-store').send(status);
  });
}
