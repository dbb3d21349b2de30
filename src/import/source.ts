/** What the format readers (csv.ts, jsonl.ts) hand to the importer: one entry per record, in file order. */
export type SourceRow =
  | { line: number; get(column: string): unknown }
  | { line: number; error: string };

/** The whole file is unusable (no header, a mapped column missing...): nothing is imported. */
export class ImportError extends Error {
  override readonly name = 'ImportError';
}

export interface ReaderOptions {
  /** Columns the mapping reads. CSV checks them against the header before any row is read. */
  columns: string[];
  delimiter: string;
  maxRecordBytes: number;
}
