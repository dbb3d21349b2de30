/**
 * The HTTP face of the simulator: the contract's endpoints, the output files, and the simulator-only
 * endpoints. Every response carries `X-Simulator` so nobody mistakes it for the real service.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BALANCE_PATH, LIMITS, REPLAYED_HEADER, simulatorPaths, tasksPaths } from '../contract';
import type { RequestFault } from './faults';
import { errorBody, invalidRequest, type ErrorReply } from './httpErrors';
import type { SimulatorEngine, SubmitOutcome } from './engine';
import { silentLogger } from './options';

const SUBMIT_ROUTE = '/v1/image/:model/:operation';
const TASK_SUBMIT_ROUTE = tasksPaths.submit;
const SUBMIT_ROUTES = new Set([SUBMIT_ROUTE, TASK_SUBMIT_ROUTE]);

/** Which route family a request is on, for the dialect of its answer (errors included). */
function familyOf(url: string): 'seed' | 'tasks' {
  return url.startsWith('/v1/images/') ? 'tasks' : 'seed';
}
/** Room for the largest legal compose: 14 inline references of 10 MB each, base64-encoded. */
const BODY_LIMIT = Math.ceil((LIMITS.maxReferences * LIMITS.maxReferenceBytes * 4) / 3) + 1024 * 1024;

export function buildServer(engine: SimulatorEngine): FastifyInstance {
  const { options } = engine;
  const logger = options.logger ?? silentLogger;
  const expected = digest(`Bearer ${options.apiKey}`);
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, return503OnClosing: true });

  // An empty JSON body reads as "no body" (a validation error on submit, fine elsewhere).
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    if (typeof body === 'string' && body.trim() === '') done(null, undefined);
    else void defaultJson(req, body as string, done);
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('X-Simulator', 'imarouter-seedream-local');
    if (!request.url.startsWith('/v1/') && !request.url.startsWith('/api/')) return;
    const presented = request.headers.authorization;
    // Compared as digests in constant time; the presented value is never echoed or logged.
    if (typeof presented !== 'string' || !timingSafeEqual(digest(presented), expected)) {
      if (request.method === 'POST' && (request.url.startsWith('/v1/image/') || request.url.startsWith('/v1/images/'))) {
        engine.rejectedEarly({ idempotencyKey: headerKey(request) ?? null, status: 401, code: 'unauthorized' });
      }
      void reply.header('WWW-Authenticate', 'Bearer realm="imarouter-simulator"');
      return sendError(reply, { status: 401, code: 'unauthorized', message: 'missing or invalid bearer token' });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    logger.debug({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'simulator request');
  });

  app.setNotFoundHandler((_request, reply) => sendError(reply, { status: 404, code: 'not_found', message: 'no such endpoint' }));

  /** Error bodies in the dialect of the route family asked. */
  function sendError(reply: FastifyReply, e: ErrorReply): FastifyReply {
    const body = reply.request.url.startsWith('/v1/') ? engine.dialects.errorAnswer(familyOf(reply.request.url), e) : errorBody(e);
    return reply.code(e.status).type('application/json').send(body);
  }

  function sendFault(request: FastifyRequest, reply: FastifyReply, fault: RequestFault): FastifyReply {
    if (fault.kind === 'dropBeforeAccept') return drop(request, reply);
    if (fault.kind === 'serverError') {
      return sendError(reply, { status: fault.status, code: 'internal_error', message: `simulated upstream error (${fault.status})` });
    }
    const retryAfter = fault.asHttpDate ? new Date(Date.now() + fault.retryAfterSeconds * 1000).toUTCString() : String(fault.retryAfterSeconds);
    void reply.header('Retry-After', retryAfter);
    return sendError(reply, { status: 429, code: 'rate_limited', message: `rate limit exceeded; retry after ${fault.retryAfterSeconds} s` });
  }

  function sendSubmitted(request: FastifyRequest, reply: FastifyReply, outcome: SubmitOutcome, family: 'seed' | 'tasks'): FastifyReply {
    if (outcome.kind === 'error') return sendError(reply, outcome.error);
    if (outcome.kind === 'fault') return sendFault(request, reply, outcome.fault);
    if (outcome.dropAnswer) return drop(request, reply);
    if (outcome.replay) void reply.header(REPLAYED_HEADER, 'true');
    // Seed routes: 202 for a new job, 200 for a replay (CHOICE); task routes answer 200 either way.
    const status = family === 'tasks' || outcome.replay ? 200 : 202;
    return reply.code(status).send(engine.dialects.submitAnswer(family, outcome.job));
  }

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (SUBMIT_ROUTES.has(request.routeOptions.url ?? '')) {
      engine.rejectedEarly({ idempotencyKey: headerKey(request) ?? null, status: status >= 400 && status < 500 ? 400 : 500, code: status >= 400 && status < 500 ? 'invalid_request' : 'internal_error' });
    }
    if (status >= 400 && status < 500) {
      const message =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `request body exceeds ${BODY_LIMIT} bytes`
          : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'Content-Type must be application/json'
            : `malformed request: ${err.message}`;
      return sendError(reply, { status: 400, code: 'invalid_request', message });
    }
    logger.error({ err }, 'simulator: unexpected error');
    return sendError(reply, { status: 500, code: 'internal_error', message: 'internal error' });
  });

  app.post<{ Params: { model: string; operation: string } }>(SUBMIT_ROUTE, async (request, reply) => {
    return sendSubmitted(request, reply, engine.submit(request.params.model, request.params.operation, request.body, headerKey(request)), 'seed');
  });

  app.post(TASK_SUBMIT_ROUTE, async (request, reply) => {
    return sendSubmitted(request, reply, engine.submitTask(request.body, headerKey(request)), 'tasks');
  });

  for (const [route, family] of [
    ['/v1/jobs/:jobId', 'seed'],
    [`${TASK_SUBMIT_ROUTE}/:jobId`, 'tasks'],
  ] as const) {
    app.get<{ Params: { jobId: string } }>(route, async (request, reply) => {
      const outcome = engine.poll(request.params.jobId);
      if (outcome.kind === 'error') return sendError(reply, outcome.error);
      if (outcome.kind === 'fault') return sendFault(request, reply, outcome.fault);
      return reply.send(engine.dialects.jobAnswer(family, outcome.job, fileBase(request)));
    });
  }

  // ImaRouter's balance endpoint, in its documented shape.
  app.get(BALANCE_PATH, async () => {
    const { balanceUsd, usedAmountUsd } = engine.balance();
    return {
      success: true,
      message: '',
      data: { object: 'user_balance', user_id: 1, username: 'local-simulator', balance_usd: balanceUsd, used_amount_usd: usedAmountUsd },
    };
  });

  // Capability URLs: the token is the credential, as with presigned URLs, so no bearer key here.
  app.get<{ Params: { token: string } }>('/files/:token', async (request, reply) => {
    const outcome = engine.download(request.params.token);
    if (outcome.kind === 'error') return sendError(reply, outcome.error);
    if (outcome.kind === 'fault') return sendFault(request, reply, outcome.fault);
    return reply
      .header('Content-Type', outcome.contentType)
      .header('Content-Length', String(outcome.bytes.length))
      .header('Cache-Control', 'private, no-store')
      .send(outcome.bytes);
  });

  app.get(simulatorPaths.ledger, async () => engine.ledger());
  app.get(simulatorPaths.faults, async () => engine.currentFaults());
  app.post(simulatorPaths.faults, async (request, reply) => {
    try {
      return engine.setFaults(request.body ?? {});
    } catch (err) {
      if (err instanceof z.ZodError) return sendError(reply, invalidRequest(err));
      throw err;
    }
  });
  app.post(simulatorPaths.reset, async () => {
    engine.reset();
    return { ok: true };
  });
  app.get(simulatorPaths.health, async () => ({
    ok: true,
    simulator: true,
    note: 'LOCAL SIMULATOR of the ImaRouter Seedream 4.5 API, not the real service',
    model: options.model,
    maxRunning: options.maxRunning,
    latencyProfile: options.latencyProfile,
    timeScale: options.timeScale,
    dialects: { seed: engine.dialects.dialectFor('seed'), tasks: engine.dialects.dialectFor('tasks') },
    ignoreIdempotency: options.ignoreIdempotency,
    outputScale: options.outputScale,
    jobs: engine.runner.stats(),
  }));

  function fileBase(request: FastifyRequest): string {
    return options.publicUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`;
  }

  return app;
}

/** Destroys the connection without an answer: the client cannot tell what happened. */
function drop(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  request.raw.socket.destroy();
  return reply;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The Idempotency-Key header as sent (repeated headers joined, as the submit checks them). */
function headerKey(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  return Array.isArray(header) ? header.join(',') : header;
}
