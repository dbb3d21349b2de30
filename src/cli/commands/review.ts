/** `catalog-assets review approve|reject`: an operator's decision on a slot waiting for review. */
import type { Command } from 'commander';
import { connectClient } from '../../temporal/client/connection';
import { sendReviewDecision } from '../../temporal/client/product';
import { CliError, configOrExit } from '../context';
import { registerReviewShowCommand } from './reviewShow';

export function registerReviewCommand(program: Command): void {
  const review = program.command('review').description('Approve or reject new assets of catalogs that require review before publish.');
  registerReviewShowCommand(review);
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
      .action(async (f: { catalog: string; sku: string; slot: string; note?: string; by: string }) => {
        const config = configOrExit();
        const { client, connection } = await connectClient(config);
        try {
          const sent = await sendReviewDecision(client, f.catalog, f.sku, { slot: f.slot, decision: verb, note: f.note, by: f.by });
          if (!sent.ok) throw new CliError(sent.message, 1);
          const { workflowId } = sent;
          process.stdout.write(`${verb === 'approve' ? 'approved' : 'rejected'} ${f.slot} of ${f.sku} (${workflowId})\n`);
        } finally {
          await connection.close();
        }
      });
  }
}
