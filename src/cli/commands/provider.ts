/**
 * `catalog-assets provider check`: the first contact with a provider account. Without flags it makes
 * the cheapest authenticated call (the balance endpoint, free); `--submit` sends one real generate and
 * prints the raw answers, so the first user with a key sees which answer shape the provider speaks;
 * `--idempotency` sends one body twice under one key and says whether the provider honoured the key
 * (the same job) or billed a second one, which is what IMAROUTER_IDEMPOTENCY should then say.
 */
import type { Command } from 'commander';
import { PRICE_PER_IMAGE_USD } from '../../provider/price';

export interface ProviderCheckFlags {
  submit?: boolean;
  idempotency?: boolean;
  yes?: boolean;
  pollMs?: number;
}

export function register(program: Command): void {
  const provider = program.command('provider').description('Check the image provider account and its contract');
  provider
    .command('check')
    .description('Make the cheapest authenticated call (free); optionally one paid generate (--submit) or an idempotency probe (--idempotency)')
    .option('--submit', `send one real generate and print the raw answers (costs $${PRICE_PER_IMAGE_USD.toFixed(2)})`)
    .option('--idempotency', `send the same body twice under one Idempotency-Key and report whether it was honoured (costs up to $${(2 * PRICE_PER_IMAGE_USD).toFixed(2)})`)
    .option('--yes', 'do not ask before spending money')
    .addHelpText(
      'after',
      `
Examples:
  $ catalog-assets provider check                  # free: key, base URL and balance
  $ catalog-assets provider check --submit --yes   # one image, raw answers printed with the key redacted
  $ catalog-assets provider check --idempotency    # asks first; tells you which IMAROUTER_IDEMPOTENCY to set
Exit codes: 0 ok, 3 configuration error, 1 anything else (including a declined confirmation).`,
    )
    .action(async (flags) => (await import('./provider.run')).check(flags));
}
