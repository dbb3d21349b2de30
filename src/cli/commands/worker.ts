/** `catalog-assets worker`: polls the workflow, provider and imaging task queues until stopped. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { createLogger } from '../../app/logger';
import { describeProvider, openRuntime } from '../../app/runtime';
import type { TaskQueueRole } from '../../shared/ids';
import { runWorkers } from '../../temporal/worker';
import { configOrExit } from '../context';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run a worker: product and refresh workflows, provider calls and image work, on their own task queues.')
    .addOption(
      new Option('--queues <list>', 'which task queues this process polls (comma-separated)')
        .default('workflows,provider,imaging,publish')
        .env('WORKER_QUEUES'),
    )
    .option('--migrate', 'run database migrations before starting', false)
    .addOption(
      // Built ahead of time (`npm run build:workflows`; the Docker image ships one), so a worker starts
      // without bundling the workflow code.
      new Option('--workflow-bundle <file>', 'a prebuilt workflow bundle to load instead of bundling workflows at start').env('WORKFLOW_BUNDLE'),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/catalog catalog-assets worker --migrate
  $ catalog-assets worker --queues imaging        # a CPU-only worker on a bigger machine`,
    )
    .action(async (flags: { queues: string; migrate: boolean; workflowBundle?: string }) => {
      const config = configOrExit();
      const logger = createLogger(config.logLevel, 'worker');
      const roles = flags.queues.split(',').map((q) => q.trim()) as TaskQueueRole[];
      const runtime = await openRuntime(config, { migrate: flags.migrate, logger });
      logger.info({ provider: describeProvider(config) }, 'image provider');
      try {
        const workers = await runtime.createWorkers({
          roles,
          ...(flags.workflowBundle ? { workflowBundle: { codePath: flags.workflowBundle } } : {}),
        });
        logger.info(
          { queues: roles, prefix: config.temporal.taskQueuePrefix, temporal: config.temporal.address, payloadEncryption: config.temporal.payloadKey ? config.temporal.payloadKey.keyId : 'off' },
          'worker running',
        );
        await runWorkers(workers);
      } finally {
        await runtime.close();
      }
    });
}
