/**
 * `catalog-assets webhook secret set|rotate|list|remove`: each catalog's own webhook secret (see
 * src/http/webhookSecrets.ts). A new secret is printed once, here, and stored only sealed under
 * WEBHOOK_SECRET_KEY; nothing can show it again (set or rotate to get a new one).
 */
import type { Command } from 'commander';
import { CliError } from '../errors';

export const DEFAULT_KEEP_PREVIOUS_HOURS = 24;

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 24 * 90) throw new CliError('--keep-previous-hours: a number of hours from 0 to 2160', 2);
  return n;
}

export function register(program: Command): void {
  const webhook = program.command('webhook').description("PIM webhooks: each catalog's own signing secret.");
  const secret = webhook
    .command('secret')
    .description("Set, rotate, list or remove a catalog's webhook secret (sealed in Postgres under WEBHOOK_SECRET_KEY).")
    .addHelpText(
      'after',
      `
A catalog with its own secret accepts only deliveries signed with it (and, during a rotation, the
previous one until it expires), never the shared WEBHOOK_SECRET. Examples:
  $ catalog-assets webhook secret set --catalog acme            # prints a new secret once
  $ catalog-assets webhook secret rotate --catalog acme --keep-previous-hours 48
  $ catalog-assets webhook secret list`,
    );

  secret
    .command('set')
    .description('Give the catalog a new secret (generated, or read from stdin); any previous one stops working at once.')
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--from-stdin', "read the secret from stdin instead of generating one (e.g. the PIM's own)", false)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags) => (await import('./webhook.run')).setSecret(flags));

  secret
    .command('rotate')
    .description('Give the catalog a new secret; the current one stays valid for a while, so the PIM can switch over.')
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--keep-previous-hours <hours>', `how long the current secret stays valid (default ${DEFAULT_KEEP_PREVIOUS_HOURS})`, hours)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags) => (await import('./webhook.run')).rotateSecret(flags));

  secret
    .command('list')
    .description('Catalogs with their own secret: key id, when rotated, until when a previous one is valid (never a secret).')
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags) => (await import('./webhook.run')).listSecrets(flags));

  secret
    .command('remove')
    .description('Remove the catalog\'s own secrets: it falls back to the shared WEBHOOK_SECRET (or accepts no webhooks).')
    .requiredOption('--catalog <id>', 'catalog id')
    .action(async (flags) => (await import('./webhook.run')).removeSecret(flags));
}
