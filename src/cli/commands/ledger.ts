/**
 * `catalog-assets retry` and `catalog-assets ledger list|resolve`: the operator's side of the money
 * rules. A slot past its re-buy cap (`NeedsAttention`) buys again only when an operator says so; a
 * submit that may have been billed (ambiguous, not sent again) is settled by attaching the provider's
 * job id, by resubmitting knowingly, or by closing it as never billed.
 */
import type { Command } from 'commander';
import { ambiguousSteps, releasePaidAttempts, resolveAmbiguous, type AmbiguousResolution } from '../../db/repositories/jobs';
import { connectClient } from '../../temporal/client/connection';
import { triggerProduct } from '../../temporal/client/product';
import { CliError, configOrExit } from '../context';
import { cell, table, withDatabase } from './status';

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

export function registerLedgerCommands(program: Command): void {
  program
    .command('retry')
    .description('Let a slot past its re-buy cap buy again (its unusable paid attempts stop counting), then run it.')
    .requiredOption('--catalog <id>', 'catalog id')
    .requiredOption('--sku <sku>', 'SKU')
    .requiredOption('--slot <slot>', 'slot (hero, label, lifestyle...)')
    .option('--by <name>', 'who decides (recorded)', process.env.USER ?? 'operator')
    .option('--no-run', 'only release the cap; the next trigger or nightly refresh runs the slot')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 a database or Temporal error, 2 bad usage, 3 configuration missing.
Example:
  $ catalog-assets retry --catalog acme --sku NC-001 --slot label --by alice`,
    )
    .action(async (f: { catalog: string; sku: string; slot: string; by: string; run: boolean }) => {
      const released = await withDatabase((db) => releasePaidAttempts(db, { catalogId: f.catalog, sku: f.sku, slot: f.slot }, f.by));
      process.stdout.write(`released ${released} unusable paid attempt${released === 1 ? '' : 's'} of ${f.slot} for SKU ${f.sku}\n`);
      if (f.run) process.stdout.write(`started ${await runSlot(f.catalog, f.sku, f.slot)}\n`);
    });

  const ledger = program.command('ledger').description('The ledger of paid steps: ambiguous submits, and settling them.');
  ledger
    .command('list')
    .description('Steps that were sent and may be billed, waiting for an operator.')
    .option('--catalog <id>', 'only this catalog')
    .option('--sku <sku>', 'only this SKU')
    .option('--json', 'print machine-readable JSON (an array)', false)
    .action(async (f: { catalog?: string; sku?: string; json: boolean }) => {
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
    });

  ledger
    .command('resolve')
    .description("Settle an ambiguous step: attach the provider's job id, resubmit knowingly, or close it as never billed.")
    .requiredOption('--key <idempotency-key>', 'the step (from `ledger list` or `status`)')
    .option('--job-id <id>', "the provider's job id, found in its dashboard: the next run polls it and pays nothing more")
    .option('--resubmit', 'write it off as maybe billed; the next run buys it again', false)
    .option('--not-billed', 'the provider confirms it never received it: close it unbilled', false)
    .option('--by <name>', 'who decides (recorded)', process.env.USER ?? 'operator')
    .addHelpText(
      'after',
      `
Exactly one of --job-id, --resubmit, --not-billed. Exit codes: 0 settled, 1 no ambiguous step with that key, 2 bad usage, 3 configuration missing.
Examples:
  $ catalog-assets ledger resolve --key acme:NC-001:label:3f2a…:0 --job-id job_8d1c
  $ catalog-assets ledger resolve --key acme:NC-001:label:3f2a…:0 --resubmit --by alice`,
    )
    .action(async (f: { key: string; jobId?: string; resubmit: boolean; notBilled: boolean; by: string }) => {
      const chosen = [f.jobId !== undefined, f.resubmit, f.notBilled].filter(Boolean).length;
      if (chosen !== 1) throw new CliError('say exactly one of --job-id <id>, --resubmit or --not-billed', 2);
      if (f.jobId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(f.jobId)) throw new CliError('--job-id: printable characters without spaces, at most 200', 2);
      const how: AmbiguousResolution = f.jobId !== undefined ? { jobId: f.jobId } : f.resubmit ? { resubmit: true } : { notBilled: true };
      const settled = await withDatabase((db) => resolveAmbiguous(db, f.key, how, f.by));
      if (!settled) throw new CliError(`no ambiguous step with key ${JSON.stringify(f.key)}`, 1);
      process.stdout.write(`settled ${f.key}: ${'jobId' in how ? `job ${how.jobId} attached` : 'resubmit' in how ? 'written off; the next run buys again' : 'closed as never billed'}\n`);
    });
}
