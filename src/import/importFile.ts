/**
 * Bulk import of a PIM export (CSV or JSON lines) into the catalog snapshot.
 *
 * - The file is streamed: memory stays bounded whatever its size (a batch of rows, one record, and
 *   the SKUs seen so far for duplicate detection).
 * - Bad rows (missing SKU or name, a bad URL in a URL attribute, a SKU repeated in the file, the wrong
 *   number of columns, bad quoting, invalid UTF-8, an over-long field or record) are reported with
 *   their line number and reason; every good row is imported.
 * - Nothing is half-imported: valid rows are written in batches (default 1,000), each one multi-row
 *   upsert (INSERT ... SELECT FROM unnest(arrays) ON CONFLICT) in one transaction, so a crash leaves whole batches only; running the import again
 *   completes it (upserts on (catalog, SKU) are idempotent).
 * - A row whose fingerprint (sha256 of the canonical JSON of name and attributes) matches the
 *   snapshot and whose product is active is `unchanged`: not written, not triggered. A removed product
 *   that reappears is reactivated, with its retired assets restored.
 * - The import is additive: products missing from the file are left as they are (removal is a PIM
 *   event, not an absence). The catalog is created with the first batch if it does not exist.
 */
import fs from 'node:fs';
import type { Kysely } from 'kysely';
import { writeImportBatch } from '../db/repositories/products';
import { catalogIdSchema } from '../catalog/text';
import type { Database } from '../db/schema';
import { readCsv } from './csv';
import { readJsonLines } from './jsonl';
import type { FieldMapping } from './mapping';
import { rowValidator, type ImportedProduct } from './product';
import { ImportError, type SourceRow } from './source';

export type ImportFormat = 'csv' | 'jsonl';

export interface ImportOptions {
  catalogId: string;
  file: string;
  format: ImportFormat;
  mapping: FieldMapping;
  /** Rows per transaction (default 1,000, at most 5,000). */
  batchSize?: number;
  /** A record larger than this is a failed row (default 1 MiB). */
  maxRecordBytes?: number;
  /** Recorded in products.source (default `import`). */
  source?: string;
  /** Called after each committed batch. */
  onProgress?: (p: { rows: number; imported: number; unchanged: number; failed: number }) => void;
}

export interface ImportResult {
  /** Products written (new, changed, or reactivated). */
  imported: number;
  /** Valid rows identical to the snapshot. */
  unchanged: number;
  failed: Array<{ line: number; reason: string }>;
  /** SKUs whose snapshot changed: what a product workflow (or a `changed` refresh) should regenerate. */
  changedSkus: string[];
  /** Data rows read (valid or not). */
  rows: number;
}

export const DEFAULT_IMPORT_BATCH_SIZE = 1_000;

export async function importFile(db: Kysely<Database>, o: ImportOptions): Promise<ImportResult> {
  const catalog = catalogIdSchema.safeParse(o.catalogId);
  if (!catalog.success) throw new ImportError(catalog.error.issues[0]!.message);
  const batchSize = o.batchSize ?? DEFAULT_IMPORT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5_000) throw new ImportError('batch size must be an integer from 1 to 5000');

  let stream: fs.ReadStream;
  try {
    await fs.promises.access(o.file, fs.constants.R_OK);
    stream = fs.createReadStream(o.file, { highWaterMark: 1024 * 1024 });
  } catch (err) {
    throw new ImportError(`cannot read ${o.file}: ${(err as Error).message}`);
  }

  const readerOptions = {
    columns: [...new Set([o.mapping.sku, o.mapping.name, ...Object.values(o.mapping.attributes)])],
    delimiter: o.mapping.csv?.delimiter ?? ',',
    maxRecordBytes: o.maxRecordBytes ?? 1024 * 1024,
  };
  const reader: AsyncGenerator<SourceRow[]> = o.format === 'csv' ? readCsv(stream, readerOptions) : readJsonLines(stream, readerOptions);

  const validate = rowValidator(o.mapping);
  const firstLineOf = new Map<string, number>();
  const result: ImportResult = { imported: 0, unchanged: 0, failed: [], changedSkus: [], rows: 0 };
  let batch: ImportedProduct[] = [];

  // One batch is written while the next one is parsed; a write error stops the import at the next batch.
  let writing: Promise<void> | undefined;
  let writeError: Error | undefined;
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    await writing;
    if (writeError) throw writeError;
    writing = writeImportBatch(db, o.catalogId, rows, o.source ?? 'import').then(
      (changed) => {
        result.imported += changed.length;
        result.unchanged += rows.length - changed.length;
        for (const sku of changed) result.changedSkus.push(sku);
        o.onProgress?.({ rows: result.rows, imported: result.imported, unchanged: result.unchanged, failed: result.failed.length });
      },
      (err: unknown) => {
        writeError = err instanceof Error ? err : new Error(String(err));
      },
    );
  };

  try {
    for await (const rows of reader) {
      for (const row of rows) {
        result.rows++;
        const outcome = validate(row);
        if (!outcome.ok) {
          result.failed.push({ line: outcome.line, reason: outcome.reason });
          continue;
        }
        const first = firstLineOf.get(outcome.product.sku);
        if (first !== undefined) {
          result.failed.push({ line: outcome.product.line, reason: `duplicate SKU ${JSON.stringify(outcome.product.sku)} (first on line ${first})` });
          continue;
        }
        firstLineOf.set(outcome.product.sku, outcome.product.line);
        batch.push(outcome.product);
        if (batch.length >= batchSize) await flush();
      }
    }
    await flush();
  } finally {
    stream.destroy();
    await writing;
  }
  if (writeError) throw writeError;
  result.failed.sort((a, b) => a.line - b.line);
  return result;
}

export { ImportError };
