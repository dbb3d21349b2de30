/** What `catalog-assets results` does, loaded when it runs. */
import path from 'node:path';
import { writeResultsPage } from '../../results/static';
import { withDatabase } from '../database';
import { CliError, configOrExit } from '../context';

export async function writeResults(f: { catalog: string; out: string; assetBaseUrl?: string; pageSize: number; includeRemoved: boolean; json: boolean }): Promise<void> {
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
}
