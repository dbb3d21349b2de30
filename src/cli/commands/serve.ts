/**
 * `catalog-assets serve`: the HTTP service (PIM webhooks, manual refresh, status, health, metrics)
 * until SIGINT/SIGTERM. See src/http/server.ts for the routes.
 */
import { type Command, Option } from 'commander';
import { integer } from '../arguments';

export function register(program: Command): void {
  program
    .command('serve')
    .description('Run the HTTP service: PIM webhooks, manual refresh, catalog status, /healthz and /metrics.')
    .addOption(new Option('--host <host>', 'interface to bind (default HTTP_HOST)'))
    .addOption(new Option('--port <port>', 'port to listen on (default HTTP_PORT; 0 picks a free one)').argParser(integer(0, 65_535)))
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
    .action(async (flags) => (await import('./serve.run')).serve(flags));
}
