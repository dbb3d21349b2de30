/** What `catalog-assets retry` and `ledger list|resolve` do, loaded when they run. */
import { ambiguousSteps, releasePaidAttempts, resolveAmbiguous, type AmbiguousResolution } from '../../db/repositories/jobs';
import { connectClient } from '../../temporal/client/connection';
import { triggerProduct } from '../../temporal/client/product';
import { withDatabase } from '../database';
import { CliError, configOrExit } from '../context';
import { cell, table } from '../views';

async function runSlot(catalogId: string, sku: string, slot: string): Promise<string> {
  const config = configOrExit();
  const { client, connection } = await connectClient(config);
  try {
    const { workflowId } = await triggerProduct(client, { taskQueuePrefix: config.temporal.taskQueuePrefix, input: { catalogId, sku, slots: [slot], trigger: 'manual' } });
    return workflowId;
  } finally {
    await connection.close();
  }
}

export async function retry(f: { catalog: string; sku: string; slot: string; by: string; run: boolean }): Promise<void> {
  const released = await withDatabase((db) => releasePaidAttempts(db, { catalogId: f.catalog, sku: f.sku, slot: f.slot }, f.by));
  process.stdout.write(`released ${released} unusable paid attempt${released === 1 ? '' : 's'} of ${f.slot} for SKU ${f.sku}\n`);
  if (f.run) process.stdout.write(`started ${await runSlot(f.catalog, f.sku, f.slot)}\n`);
}


export async function list(f: { catalog?: string; sku?: string; json: boolean }): Promise<void> {
  const rows = await withDatabase((db) => ambiguousSteps(db, { ...(f.catalog ? { catalogId: f.catalog } : {}), ...(f.sku ? { sku: f.sku } : {}) }));
  if (f.json) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ idempotencyKey: r.idempotency_key, catalogId: r.catalog_id, sku: r.sku, slot: r.slot, imagesRequested: r.images_requested, message: r.error_message, updatedAt: new Date(r.updated_at).toISOString() })))}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no ambiguous steps\n');
    return;
  }
  process.stdout.write(`${table(rows.map((r) => [cell(r.catalog_id), cell(r.sku, 40), cell(r.slot), cell(r.idempotency_key, 80), `${r.images_requested} image(s)`, cell(r.error_message, 80)]))}\n`);
}


export async function resolve(f: { key: string; jobId?: string; resubmit: boolean; notBilled: boolean; by: string }): Promise<void> {
  const chosen = [f.jobId !== undefined, f.resubmit, f.notBilled].filter(Boolean).length;
  if (chosen !== 1) throw new CliError('say exactly one of --job-id <id>, --resubmit or --not-billed', 2);
  if (f.jobId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(f.jobId)) throw new CliError('--job-id: printable characters without spaces, at most 200', 2);
  const how: AmbiguousResolution = f.jobId !== undefined ? { jobId: f.jobId } : f.resubmit ? { resubmit: true } : { notBilled: true };
  const settled = await withDatabase((db) => resolveAmbiguous(db, f.key, how, f.by));
  if (!settled) throw new CliError(`no ambiguous step with key ${JSON.stringify(f.key)}`, 1);
  process.stdout.write(`settled ${f.key}: ${'jobId' in how ? `job ${how.jobId} attached` : 'resubmit' in how ? 'written off; the next run buys again' : 'closed as never billed'}\n`);
}
