/** `catalog-assets worker`: polls the workflow, provider and imaging task queues until stopped. */
import { type Command, Option } from 'commander';

export function register(program: Command): void {
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
    .action(async (flags) => (await import('./worker.run')).runWorker(flags));
}
