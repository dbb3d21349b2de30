/**
 * `catalog-assets serve`: the HTTP service (PIM webhooks, manual refresh, status, health, metrics)
 * until SIGINT/SIGTERM. See src/http/server.ts for the routes.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../../app/logger';
import { openRuntime } from '../../app/runtime';
import { payloadCodecFromConfig } from '../../temporal/client/codec';
import { pruneWebhookEvents } from '../../db/repositories/pimChanges';
import { redact } from '../../config/redact';
import { assertAuthConfig, ServiceAuthConfigError } from '../../http/auth';
import { buildServer } from '../../http/server';
import { sendReviewDecision, triggerProduct } from '../../temporal/client/product';
import { startRefresh } from '../../temporal/client/refresh';
import { CliError, configOrExit } from '../context';

const PRUNE_EVERY_MS = 60 * 60 * 1000;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the HTTP service: PIM webhooks, manual refresh, catalog status, /healthz and /metrics.')
    .addOption(new Option('--host <host>', 'interface to bind (default HTTP_HOST)'))
    .addOption(new Option('--port <port>', 'port to listen on (default HTTP_PORT; 0 picks a free one)').argParser(port))
    .option('--migrate', 'run database migrations before starting', false)
    .addHelpText(
      'after',
      `
Without SERVICE_TOKEN the service only starts on a loopback address (127.0.0.1, ::1, localhost).
Webhooks verify with the catalog's own secret (catalog-assets webhook secret set; needs WEBHOOK_SECRET_KEY),
else the shared WEBHOOK_SECRET; with neither configured they answer 503 (unsigned webhooks are never accepted).
Examples:
  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/catalog WEBHOOK_SECRET=... catalog-assets serve --migrate
  $ curl -H "Authorization: Bearer $SERVICE_TOKEN" http://127.0.0.1:8080/catalogs/acme/status`,
    )
    .action(async (flags: { host?: string; port?: number; migrate: boolean }) => {
      const config = configOrExit();
      const host = flags.host ?? config.http.host;
      const listenPort = flags.port ?? config.http.port;
      try {
        assertAuthConfig({ serviceToken: config.http.serviceToken, host });
      } catch (err) {
        if (err instanceof ServiceAuthConfigError) throw new CliError(err.message, 3);
        throw err;
      }
      if (!config.databaseUrl) throw new CliError('DATABASE_URL is not set: the service keeps the catalog snapshot in Postgres', 3);
      const logger = createLogger(config.logLevel, 'http');
      const runtime = await openRuntime(config, { migrate: flags.migrate, logger, applicationName: 'catalog-assets-http' });
      const { db, client, connection, storage } = runtime;
      const prefix = config.temporal.taskQueuePrefix;
      let pruner: NodeJS.Timeout | undefined;
      try {
        const codec = payloadCodecFromConfig(config);
        const app = buildServer({
          db,
          logger,
          host,
          serviceToken: config.http.serviceToken,
          webhookSecret: config.http.webhookSecret,
          webhookSecretKey: config.http.webhookSecretKey,
          codecToken: config.http.codecToken,
          webhookToleranceSeconds: config.http.webhookToleranceSeconds,
          webhookMaxEvents: config.http.webhookMaxEvents,
          bodyLimitBytes: config.http.bodyLimitBytes,
          trigger: (input, meta) => triggerProduct(client, { taskQueuePrefix: prefix, input, productName: meta?.productName }),
          startRefresh: (request) => startRefresh(client, prefix, request),
          sendReview: (catalogId, sku, decision) => sendReviewDecision(client, catalogId, sku, decision),
          storage,
          codec: codec ? { codec, allowedOrigins: [config.temporal.uiUrl] } : undefined,
          healthChecks: {
            temporal: async () => {
              await connection.workflowService.getSystemInfo({});
            },
          },
        });

        const prune = () => {
          const cutoff = new Date(Date.now() - config.http.webhookEventRetentionDays * 24 * 60 * 60 * 1000);
          pruneWebhookEvents(db, cutoff).then(
            (n) => {
              if (n > 0) logger.info({ deleted: n, olderThan: cutoff.toISOString() }, 'pruned seen webhook events');
            },
            (err: unknown) => logger.warn({ err: redact(String(err)) }, 'pruning seen webhook events failed'),
          );
        };
        prune();
        pruner = setInterval(prune, PRUNE_EVERY_MS).unref();

        const address = await app.listen({ host, port: listenPort });
        process.stdout.write(`HTTP service listening on ${address} (Temporal ${config.temporal.address}, task queues ${prefix}.*)\n`);
        const signal = await new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        logger.info({ signal }, 'stopping');
        await app.close();
      } finally {
        clearInterval(pruner);
        await runtime.close().catch(() => undefined);
      }
    });
}
