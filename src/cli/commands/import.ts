/**
 * `catalog-assets import`: loads a PIM export (CSV or JSON lines) into a catalog's snapshot, through a
 * field mapping. Bad rows are reported with their line numbers; good rows are imported in whole
 * batches. With --trigger the changed SKUs' product workflows start at once; without it a later
 * `refresh --select changed` (or the nightly schedule) picks them up.
 */
import { type Command, Option } from 'commander';
import type { ImportFormat } from '../../import';
import { integer } from '../arguments';

export interface ImportFlags {
  catalog: string;
  file: string;
  format?: ImportFormat;
  mapping: string;
  batchSize?: number;
  json: boolean;
  trigger: boolean;
}

export function register(program: Command): void {
  program
    .command('import')
    .description("Import a PIM export file (CSV or JSON lines) into a catalog's product snapshot.")
    .requiredOption('--catalog <id>', 'catalog id (created if it does not exist)')
    .requiredOption('--file <path>', 'the export file')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['csv', 'jsonl']))
    .requiredOption('--mapping <file>', 'field mapping, JSON or YAML: { sku, name, attributes: { <attribute>: <column> } }')
    .addOption(new Option('--batch-size <n>', 'rows per transaction').argParser(integer(1, 5_000)))
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
    .action(async (flags) => (await import('./import.run')).importExport(flags));
}
