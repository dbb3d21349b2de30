/**
 * `catalog-assets retry` and `catalog-assets ledger list|resolve`: the operator's side of the money
 * rules. A slot past its re-buy cap (`NeedsAttention`) buys again only when an operator says so; a
 * submit that may have been billed (ambiguous, not sent again) is settled by attaching the provider's
 * job id, by resubmitting knowingly, or by closing it as never billed.
 */
import type { Command } from 'commander';

export function register(program: Command): void {
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
    .action(async (f) => (await import('./ledger.run')).retry(f));

  const ledger = program.command('ledger').description('The ledger of paid steps: ambiguous submits, and settling them.');
  ledger
    .command('list')
    .description('Steps that were sent and may be billed, waiting for an operator.')
    .option('--catalog <id>', 'only this catalog')
    .option('--sku <sku>', 'only this SKU')
    .option('--json', 'print machine-readable JSON (an array)', false)
    .action(async (f) => (await import('./ledger.run')).list(f));

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
    .action(async (f) => (await import('./ledger.run')).resolve(f));
}
