/**
 * `catalog-assets import`: loads a PIM export (CSV or JSON lines) into a catalog's snapshot, through a
 * field mapping. Bad rows are reported with their line numbers; good rows are imported in whole
 * batches. With --trigger the changed SKUs' product workflows start at once; without it a later
 * `refresh --select changed` (or the nightly schedule) picks them up.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { triggerProducts } from '../../catalog/triggerProducts';
import { redact } from '../../config/redact';
import { createDb } from '../../db/connect';
import { ImportError, importFile, loadMapping, MappingError, type ImportFormat, type ImportResult } from '../../import';
import { connectClient } from '../../temporal/client/connection';
import { triggerProduct } from '../../temporal/client/product';
import { CliError, configOrExit } from '../context';

interface Flags {
  catalog: string;
  file: string;
  format?: ImportFormat;
  mapping: string;
  batchSize?: number;
  json: boolean;
  trigger: boolean;
}

const SHOWN_FAILURES = 50;

function batchSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5_000) throw new InvalidArgumentError('expected an integer from 1 to 5000');
  return n;
}

function formatOf(file: string, given: ImportFormat | undefined): ImportFormat {
  if (given) return given;
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new CliError(`cannot tell the format of ${file} from its extension: pass --format csv or --format jsonl`, 2);
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description("Import a PIM export file (CSV or JSON lines) into a catalog's product snapshot.")
    .requiredOption('--catalog <id>', 'catalog id (created if it does not exist)')
    .requiredOption('--file <path>', 'the export file')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['csv', 'jsonl']))
    .requiredOption('--mapping <file>', 'field mapping, JSON or YAML: { sku, name, attributes: { <attribute>: <column> } }')
    .addOption(new Option('--batch-size <n>', 'rows per transaction').argParser(batchSize))
    .option('--trigger', 'start product workflows for the changed SKUs now', false)
    .option('--json', 'print the full result as JSON', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 every row imported, 1 error, 2 bad usage, 3 bad configuration, 4 some rows failed (the rest imported).
Mapping example (mapping.json):
  { "sku": "Article Number", "name": "Title",
    "attributes": { "brand": "Brand", "labelText": "Label Copy", "packshotUrl": "Image URL" } }
Examples:
  $ catalog-assets import --catalog acme --file export.csv --mapping mapping.json
  $ catalog-assets import --catalog acme --file export.jsonl --mapping mapping.yaml --trigger --json`,
    )
    .action(async (flags: Flags) => {
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
    });
}
