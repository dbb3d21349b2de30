/** What `catalog-assets events list` does, loaded when it runs: reads the delivery log (DATABASE_URL). */
import { listDeliveries, type DeliveryRow } from '../../db/repositories/deliveries';
import { withDatabase } from '../database';
import { cell, palette, table } from '../views';

export async function list(f: { catalog: string; destination?: string; event?: string; limit: number; json: boolean }): Promise<void> {
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
        r.status !== null ? String(r.status) : 'no answer',
        `${r.durationMs} ms`,
        cell(r.error ?? (r.answer ? `answer: ${r.answer}` : ''), 100),
      ]),
    )}\n`,
  );
}
