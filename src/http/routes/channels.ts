/**
 * Operator route (bearer token), the HTTP view of `status --channel`:
 *   GET /catalogs/:id/channels/:profile[?failing=true][&sku=...]
 *     → 200 ChannelReport (src/db/repositories/channelChecks.ts): counts, and the live assets' checks
 *       with their figures and failed rules; 404 unknown catalog; 400 unknown profile
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { catalogIdSchema } from '../../catalog/text';
import { readCatalogPlan } from '../../db/repositories/catalogs';
import { channelReport } from '../../db/repositories/channelChecks';
import { BUILTIN_CHANNELS, isBuiltinChannel } from '../../shared/channelProfiles';
import type { RouteContext } from '../server';

const paramsSchema = z.object({ id: catalogIdSchema, profile: z.string().min(1).max(64) });
const querySchema = z
  .object({ failing: z.enum(['true', 'false']).default('false'), sku: z.string().min(1).max(200).optional() })
  .strict();

export function registerChannelRoutes(app: FastifyInstance, ctx: Pick<RouteContext, 'db'>): void {
  app.get<{ Params: z.infer<typeof paramsSchema>; Querystring: z.infer<typeof querySchema> }>(
    '/catalogs/:id/channels/:profile',
    { schema: { params: paramsSchema, querystring: querySchema } },
    async (request, reply) => {
      const { id, profile } = request.params;
      const catalog = await readCatalogPlan(ctx.db, id);
      if (!catalog) return reply.code(404).send({ error: 'unknown_catalog', message: `no catalog ${JSON.stringify(id)}` });
      const custom = Object.keys(catalog.plan?.channelProfiles ?? {});
      if (!isBuiltinChannel(profile) && !custom.includes(profile)) {
        return reply.code(400).send({
          error: 'unknown_profile',
          message: `profile: unknown channel profile ${JSON.stringify(profile)} for catalog ${JSON.stringify(id)}; known: ${[...BUILTIN_CHANNELS, ...custom].join(', ')}`,
        });
      }
      const report = await channelReport(ctx.db, { catalogId: id, profile, failing: request.query.failing === 'true', ...(request.query.sku ? { sku: request.query.sku } : {}) });
      return reply.header('cache-control', 'no-store').send(report);
    },
  );
}
