/** The HTTP service over a test stack: its webhooks trigger the stack's product workflows. */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServerDeps } from '../../src/http/server';
import type { TestStack } from './stack';

export async function serveStack(
  stack: TestStack,
  o: { serviceToken: string; webhookSecret: string } & Partial<ServerDeps>,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildServer({
    db: stack.database.db,
    host: '127.0.0.1',
    trigger: (input) => stack.trigger(input),
    startRefresh: async () => {
      throw new Error('not used here');
    },
    healthChecks: { temporal: async () => undefined },
    ...o,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}
