/**
 * `catalog-assets events list`: the last delivery attempts of a catalog's outbound events (signed
 * webhooks) and what each receiver answered. Reads Postgres only (DATABASE_URL).
 */
import type { Command } from 'commander';
import { listDeliveries, type DeliveryRow } from '../../db/repositories/deliveries';
import { integer } from '../arguments';
import { cell, palette, table, withDatabase } from './status';

function describeAttempt(r: DeliveryRow): string {
  if (r.status !== null) return `${r.status}`;
  return 'no answer';
}

export function registerEventsCommand(program: Command): void {
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
    .action(async (f: { catalog: string; destination?: string; event?: string; limit: number; json: boolean }) => {
      const rows = await withDatabase((db) =>
        listDeliveries(db, { catalogId: f.catalog, limit: f.limit, ...(f.destination !== undefined ? { destination: f.destination } : {}), ...(f.event !== undefined ? { eventId: f.event } : {}) }),
      );
      if (f.json) {
        process.stdout.write(
          `${JSON.stringify(rows.map((r) => ({ attemptedAt: r.attemptedAt.toISOString(), destination: r.destination, eventId: r.eventId, type: r.type, attempt: r.attempt, outcome: r.outcome, status: r.status, durationMs: r.durationMs, error: r.error, answer: r.answer })))}\n`,
        );
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`no deliveries for catalog ${f.catalog}${f.destination !== undefined ? ` and destination ${f.destination}` : ''}\n`);
        return;
      }
      const c = palette();
      const colour = (o: DeliveryRow['outcome']) => (o === 'delivered' ? c.green(o) : o === 'retryable' ? c.yellow(o) : c.red(o));
      process.stdout.write(
        `${table(
          rows.map((r) => [
            r.attemptedAt.toISOString(),
            cell(r.destination, 32),
            cell(r.type),
            cell(r.eventId, 40),
            `#${r.attempt}`,
            colour(r.outcome),
            describeAttempt(r),
            `${r.durationMs} ms`,
            cell(r.error ?? (r.answer ? `answer: ${r.answer}` : ''), 100),
          ]),
        )}\n`,
      );
    });
}
