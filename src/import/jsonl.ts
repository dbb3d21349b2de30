/** JSON-lines export files: one JSON object per line; the mapping names top-level properties. */
import { isUtf8 } from 'node:buffer';
import { findUnstorableValue } from '../catalog/text';
import { RecordSplitter, type SplitRecord } from './records';
import type { ReaderOptions, SourceRow } from './source';

function toRow(r: SplitRecord): SourceRow {
  if ('error' in r) return r;
  if (!isUtf8(r.bytes)) return { line: r.line, error: 'the line is not valid UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(r.bytes.toString('utf8'));
  } catch (err) {
    return { line: r.line, error: `not valid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { line: r.line, error: 'expected a JSON object' };
  const problem = findUnstorableValue(value);
  if (problem) return { line: r.line, error: `${problem.field}: ${problem.reason}` };
  const record = value as Record<string, unknown>;
  return { line: r.line, get: (column) => (Object.hasOwn(record, column) ? record[column] : undefined) };
}

export async function* readJsonLines(input: AsyncIterable<Buffer>, o: ReaderOptions): AsyncGenerator<SourceRow[]> {
  const splitter = new RecordSplitter({ quoteAware: false, maxRecordBytes: o.maxRecordBytes });
  for await (const chunk of input) {
    const rows = splitter.push(chunk).map(toRow);
    if (rows.length) yield rows;
  }
  const rows = splitter.end().map(toRow);
  if (rows.length) yield rows;
}
