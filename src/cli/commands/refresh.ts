/** `catalog-assets refresh`: starts a catalog refresh, optionally waits with a live progress bar. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { RefreshSelection } from '../../shared/refresh';

function selection(value: string): RefreshSelection {
  if (value === 'changed' || value === 'stale' || value === 'all') return value;
  const skus = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (skus.length === 0) throw new InvalidArgumentError('use changed, stale, all, or a comma-separated list of SKUs');
  return { skus };
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}

export function register(program: Command): void {
  program
    .command('refresh')
    .description('Refresh a catalog: run the asset plan for its changed, stale, all or listed SKUs.')
    .requiredOption('--catalog <id>', 'catalog id')
    .addOption(new Option('--select <selection>', 'changed | stale | all | SKU,SKU,...').default('stale').argParser(selection))
    .option('--dry-run', 'estimate what would be generated and its cost; call no paid API', false)
    .option('--budget-usd <usd>', 'stop starting products past this spend', positive)
    .option('--budget-images <n>', 'stop starting products past this many images', positive)
    .option('--window <n>', 'product workflows in flight at once', (v) => parseInt(v, 10))
    .option('--wait', 'wait for the run to end and print its result', false)
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 error, 2 bad usage, 3 bad configuration, 4 finished with failed products
(a dry run: products that cannot be prepared, listed with slot and reason).
Examples:
  $ catalog-assets refresh --catalog acme --select changed --wait
  $ catalog-assets refresh --catalog acme --select all --dry-run --wait --json
  $ catalog-assets refresh --catalog acme --select SKU-1,SKU-2 --budget-usd 5 --wait`,
    )
    .action(async (f) => (await import('./refresh.run')).refresh(f));
}
