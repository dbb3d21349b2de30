/** What `catalog-assets import` does, loaded when it runs. */
import path from 'node:path';
import { triggerProducts } from '../../catalog/triggerProducts';
import { redact } from '../../config/redact';
import { createDb } from '../../db/connect';
import { ImportError, importFile, loadMapping, MappingError, type ImportFormat, type ImportResult } from '../../import';
import { connectClient } from '../../temporal/client/connection';
import { triggerProduct } from '../../temporal/client/product';
import { CliError, configOrExit } from '../context';
import type { ImportFlags as Flags } from './import';

const SHOWN_FAILURES = 50;

function formatOf(file: string, given: ImportFormat | undefined): ImportFormat {
  if (given) return given;
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new CliError(`cannot tell the format of ${file} from its extension: pass --format csv or --format jsonl`, 2);
}

export async function importExport(flags: Flags): Promise<void> {
  const config = configOrExit();
  if (!config.databaseUrl) throw new CliError('DATABASE_URL is not set: say which Postgres holds the catalog', 3);
  const format = formatOf(flags.file, flags.format);
  let mapping;
  try {
    mapping = await loadMapping(flags.mapping);
  } catch (err) {
    if (err instanceof MappingError) throw new CliError(err.message, 2);
    throw err;
  }

  const db = createDb(config.databaseUrl, { poolSize: 4, applicationName: 'catalog-assets-import' });
  let result: ImportResult;
  try {
    result = await importFile(db, { catalogId: flags.catalog, file: flags.file, format, mapping, batchSize: flags.batchSize });
  } catch (err) {
    if (err instanceof ImportError) throw new CliError(`nothing imported: ${err.message}`, 1);
    throw err;
  } finally {
    await db.destroy();
  }

  let triggered: { started: number; failed: Array<{ sku: string; message: string }> } | undefined;
  if (flags.trigger && result.changedSkus.length > 0) {
    const { client, connection } = await connectClient(config);
    try {
      const outcome = await triggerProducts(
        result.changedSkus,
        (sku) => triggerProduct(client, { taskQueuePrefix: config.temporal.taskQueuePrefix, input: { catalogId: flags.catalog, sku, trigger: 'import' } }),
        16,
      );
      triggered = {
        started: outcome.started.length,
        failed: outcome.failed.map((f) => ({ sku: f.item, message: redact(f.error instanceof Error ? f.error.message : String(f.error)) })),
      };
    } finally {
      await connection.close();
    }
  }

  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ catalogId: flags.catalog, file: flags.file, format, ...result, ...(triggered ? { triggered } : {}) })}\n`);
  } else {
    const out: string[] = [
      `catalog ${flags.catalog}: ${result.imported} imported, ${result.unchanged} unchanged, ${result.failed.length} failed (${result.rows} rows in ${flags.file})`,
    ];
    for (const f of result.failed.slice(0, SHOWN_FAILURES)) out.push(`  line ${f.line}: ${f.reason}`);
    if (result.failed.length > SHOWN_FAILURES) out.push(`  ... and ${result.failed.length - SHOWN_FAILURES} more (--json lists them all)`);
    if (triggered) {
      out.push(`started ${triggered.started} product workflow(s)${triggered.failed.length ? `; ${triggered.failed.length} could not be started` : ''}`);
      for (const f of triggered.failed.slice(0, 10)) out.push(`  ${f.sku}: ${f.message}`);
    } else if (result.changedSkus.length > 0 && !flags.trigger) {
      out.push(`${result.changedSkus.length} changed SKU(s): generate with  catalog-assets refresh --catalog ${flags.catalog} --select changed`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (result.failed.length > 0) throw new CliError(`${result.failed.length} row(s) failed; the other rows were imported`, 4);
  if (triggered && triggered.failed.length > 0) throw new CliError(`${triggered.failed.length} product workflow(s) could not be started`, 4);
}
