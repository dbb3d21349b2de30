/** `catalog-assets results`: writes the results page (a grid of every SKU's images) to static HTML files. */
import type { Command } from 'commander';
import { positiveInt } from '../arguments';

export function register(program: Command): void {
  program
    .command('results')
    .description("Write a catalog's results page (one row per SKU, one column per slot, with failures and versions) as static HTML.")
    .requiredOption('--catalog <id>', 'catalog id')
    .requiredOption('--out <file.html>', 'the first page; further pages are written next to it as <name>-2.html, <name>-3.html...')
    .option('--asset-base-url <url>', 'link images as <url>/<storage key> (e.g. the HTTP service\'s https://host/assets) instead of copying them')
    .option('--page-size <n>', 'SKUs per page (at most 1000)', positiveInt, 200)
    .option('--include-removed', 'also list products the PIM removed', false)
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Without --asset-base-url, the image shown in each cell is copied from the asset storage (ASSET_DIR or S3)
into <name>_files/ next to the page, so the folder can be opened from disk or zipped as it is.
Needs DATABASE_URL. Exit codes: 0 written, 1 unknown catalog or error, 2 bad usage, 3 configuration missing.
Examples:
  $ catalog-assets results --catalog acme --out results/acme.html
  $ catalog-assets results --catalog acme --out acme.html --asset-base-url https://assets-ops.example.com/assets
  $ catalog-assets results --catalog acme --out acme.html --page-size 500 --json`,
    )
    .action(async (f) => (await import('./results.run')).writeResults(f));
}
