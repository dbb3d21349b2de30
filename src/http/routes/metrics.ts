/** `GET /metrics`: Prometheus text exposition (behind the service token, like every operator route). */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../server';

export function registerMetricsRoute(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/metrics', async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).header('cache-control', 'no-store').send(body);
  });
}
