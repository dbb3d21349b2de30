/**
 * `catalog-assets events list`: the last delivery attempts of a catalog's outbound events (signed
 * webhooks) and what each receiver answered. Options and help only; the implementation
 * (events.run.ts) loads when the command runs.
 */
import type { Command } from 'commander';
import { integer } from '../arguments';

export function register(program: Command): void {
  const events = program.command('events').description("Outbound events (signed webhooks): what was delivered and what the receivers answered.");
  events
    .command('list')
    .description('The last delivery attempts, newest first, with each answer.')
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--destination <name>', "only this destination (its name in the catalog's settings)")
    .option('--event <id>', 'only the attempts of this event id (the webhook-id header)')
    .option('--limit <n>', 'how many attempts (1-1000)', integer(1, 1000), 20)
    .option('--json', 'print machine-readable JSON (an array)', false)
    .addHelpText(
      'after',
      `
Each line is one attempt: when, destination, event type and id, attempt number, outcome
(delivered, retryable: tried again later, rejected: given up), HTTP status, time taken, and the
error or the start of the receiver's answer.
Exit codes: 0 ok, 1 a database error, 2 bad usage, 3 configuration missing.
Example:
  $ catalog-assets events list --catalog acme --destination events --limit 50`,
    )
    .action(async (f: { catalog: string; destination?: string; event?: string; limit: number; json: boolean }) => (await import('./events.run')).list(f));
}
