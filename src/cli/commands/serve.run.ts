/** What `catalog-assets serve` does, loaded when it runs: the HTTP service over the runtime until SIGINT/SIGTERM. */
import { createLogger } from '../../app/logger';
import { openRuntime } from '../../app/runtime';
import { redact } from '../../config/redact';
import { pruneWebhookEvents } from '../../db/repositories/pimChanges';
import { assertAuthConfig, ServiceAuthConfigError } from '../../http/auth';
import { buildServer } from '../../http/server';
import { payloadCodecFromConfig } from '../../temporal/client/codec';
import { sendReviewDecision, triggerProduct } from '../../temporal/client/product';
import { startRefresh } from '../../temporal/client/refresh';
import { CliError, configOrExit } from '../context';

const PRUNE_EVERY_MS = 60 * 60 * 1000;

export async function serve(flags: { host?: string; port?: number; migrate: boolean }): Promise<void> {
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
}
