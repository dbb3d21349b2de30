/**
 * `GET /healthz`: readiness of what the service needs (Postgres, Temporal), each with a time limit.
 * Open, because load balancers call it, so without the service token it says only up or down per
 * dependency: an error's text (hosts, users, library messages) is for operators, who get it with
 * `Authorization: Bearer <SERVICE_TOKEN>` (redacted all the same) and in the service log.
 */
import type { FastifyInstance } from 'fastify';
import { pingDatabase } from '../../db/connect';
import { redact } from '../../config/redact';
import { bearerMatches } from '../auth';
import type { RouteContext } from '../server';

export type HealthCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 3_000;

async function runCheck(check: HealthCheck): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: redact(err instanceof Error ? err.message : String(err)).slice(0, 500) };
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoute(app: FastifyInstance, ctx: RouteContext): void {
  const checks: Record<string, HealthCheck> = {
    postgres: async () => {
      await pingDatabase(ctx.db);
    },
    ...ctx.healthChecks,
  };
  app.get('/healthz', async (request, reply) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => runCheck(checks[name]!)));
    const detailed = ctx.serviceToken !== undefined && bearerMatches(request.headers.authorization, ctx.serviceToken);
    const byName = Object.fromEntries(
      names.map((name, i) => {
        const r = results[i]!;
        if (!r.ok) request.log.warn({ check: name, error: r.error }, 'health check failed');
        return [name, detailed ? { ...r, status: r.ok ? 'up' : 'down' } : { ok: r.ok, status: r.ok ? 'up' : 'down' }];
      }),
    );
    const ok = results.every((r) => r.ok);
    return reply.code(ok ? 200 : 503).header('cache-control', 'no-store').send({ status: ok ? 'ok' : 'unavailable', checks: byName });
  });
}
