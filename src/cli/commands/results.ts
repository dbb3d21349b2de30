/** `catalog-assets results`: writes the results page (a grid of every SKU's images) to static HTML files. */
import path from 'node:path';
import type { Command } from 'commander';
import { writeResultsPage } from '../../results/static';
import { CliError, configOrExit } from '../context';
import { positiveInt, withDatabase } from './status';

export function registerResultsCommand(program: Command): void {
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
    .action(async (f: { catalog: string; out: string; assetBaseUrl?: string; pageSize: number; includeRemoved: boolean; json: boolean }) => {
      if (f.pageSize > 1000) throw new CliError('--page-size must be at most 1000', 2);
      const config = configOrExit();
      await withDatabase(async (db) => {
        // Loaded on use: the runtime module pulls in the provider client and the image pipeline.
        const storage = f.assetBaseUrl ? undefined : (await import('../../app/runtime')).createStorage(config);
        try {
          const r = await writeResultsPage(db, f.catalog, f.out, {
            assetBaseUrl: f.assetBaseUrl,
            copyAssetsFrom: storage,
            pageSize: f.pageSize,
            includeRemoved: f.includeRemoved,
          }).catch((err: unknown) => {
            if (err instanceof Error && err.name === 'ResultsWriteError') throw new CliError(err.message, 1);
            throw err;
          });
          const summary = { ...r, files: r.files.map((p) => path.relative(process.cwd(), p) || p) };
          process.stdout.write(
            f.json
              ? `${JSON.stringify(summary)}\n`
              : `wrote ${summary.pages} page(s), ${summary.skus} SKUs: ${summary.files[0]}${summary.pages > 1 ? ` ... ${summary.files.at(-1)}` : ''}` +
                  `${r.assetDir ? `\n  ${r.copiedAssets} image(s) copied to ${path.relative(process.cwd(), r.assetDir) || r.assetDir}` : ''}\n`,
          );
        } finally {
          await storage?.close?.();
        }
      });
    });
}
