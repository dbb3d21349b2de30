/** `catalog-assets review approve|reject`: an operator's decision on a slot waiting for review. */
import type { Command } from 'commander';

export function register(program: Command): void {
  const review = program.command('review').description('Approve or reject new assets of catalogs that require review before publish.');
  review
    .command('show')
    .description('Show what waits for review on a SKU, with the label OCR readings.')
    .requiredOption('--catalog <id>', 'catalog id')
    .requiredOption('--sku <sku>', 'SKU')
    .option('--slot <slot>', 'only this slot')
    .option('--json', 'the status as JSON')
    .addHelpText('after', '\nExample:\n  $ catalog-assets review show --catalog acme --sku ABC-123 --slot label')
    .action(async (f) => (await import('./reviewShow.run')).show(f));
  for (const verb of ['approve', 'reject'] as const) {
    review
      .command(verb)
      .description(verb === 'approve' ? 'Publish the asset waiting for review.' : 'Reject it; with --note the slot is regenerated with the note added to its prompt.')
      .requiredOption('--catalog <id>', 'catalog id')
      .requiredOption('--sku <sku>', 'SKU')
      .requiredOption('--slot <slot>', 'slot (hero, label, lifestyle...)')
      .option('--note <text>', 'what to change (reject)')
      .option('--by <name>', 'who decides (recorded)', process.env.USER ?? 'operator')
      .addHelpText('after', `\nExample:\n  $ catalog-assets review ${verb} --catalog acme --sku ABC-123 --slot hero${verb === 'reject' ? ' --note "darker background"' : ''} --by alice`)
      .action(async (f) => (await import('./review.run')).decide(verb, f));
  }
}
