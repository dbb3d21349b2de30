/**
 * CSV export files: records found by the quote-aware splitter (records.ts), quoted fields parsed by
 * csv-parse (RFC 4180 quoting, strict: a stray or badly closed quote is an error for that record
 * only), the first record is the header. Works on bytes so invalid UTF-8 is detected exactly (Buffer
 * isUtf8), not silently replaced.
 */
import { isUtf8 } from 'node:buffer';
import { parse, type CsvError, type Options } from 'csv-parse/sync';
import { RecordSplitter, splitAll, type SplitRecord } from './records';
import { ImportError, type ReaderOptions, type SourceRow } from './source';

type DataRecord = Extract<SplitRecord, { bytes: Buffer }>;

function quotingMessage(err: unknown): string {
  const code = (err as CsvError).code;
  switch (code) {
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'bad quoting: a closing quote must be followed by the delimiter or the end of the line (double a quote inside a quoted field)';
    case 'INVALID_OPENING_QUOTE':
      return 'bad quoting: a quote inside an unquoted field (quote the whole field and double the quote)';
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'bad quoting: a quoted field is never closed';
    default:
      return `unreadable CSV record: ${(err as Error).message.replace(/ at line \d+/g, '')}`;
  }
}

export async function* readCsv(input: AsyncIterable<Buffer>, o: ReaderOptions): AsyncGenerator<SourceRow[]> {
  const delimiter = o.delimiter.charCodeAt(0);
  const bufferOptions: Options = { encoding: null, delimiter: o.delimiter, relax_column_count: true, record_delimiter: ['\n'], bom: false };
  const stringOptions: Options = { delimiter: o.delimiter, relax_column_count: true, record_delimiter: ['\n'], bom: false };
  const splitter = new RecordSplitter({ quoteAware: true, delimiter, maxRecordBytes: o.maxRecordBytes });
  let header: Header | undefined;

  const parseOne = (r: DataRecord): Buffer[][] => parse(r.bytes, bufferOptions) as unknown as Buffer[][];

  function readHeader(r: DataRecord): void {
    let fields: Buffer[];
    try {
      fields = parseOne(r)[0] ?? [];
    } catch (err) {
      throw new ImportError(`the header (line ${r.line}) is not readable: ${quotingMessage(err)}`);
    }
    if (!isUtf8(r.bytes)) throw new ImportError(`the header (line ${r.line}) is not valid UTF-8`);
    const names = fields.map((f) => f.toString('utf8').trim());
    const index = new Map<string, number>();
    for (const column of o.columns) {
      const positions = names.flatMap((n, i) => (n === column ? [i] : []));
      if (positions.length === 0) {
        throw new ImportError(`the mapping reads column "${column}", which the file's header does not have (columns: ${names.map((n) => JSON.stringify(n)).join(', ')})`);
      }
      if (positions.length > 1) throw new ImportError(`the header has column "${column}" ${positions.length} times; the mapping cannot tell which to read`);
      index.set(column, positions[0]!);
    }
    header = { names, index };
  }

  /** One record at a time, on bytes: the careful path (bad quoting, invalid UTF-8), which names what is wrong. */
  function* parseEach(records: SplitRecord[], h: Header): Generator<SourceRow> {
    for (const r of records) {
      if ('error' in r) {
        yield r;
        continue;
      }
      let parsed: Buffer[][];
      try {
        parsed = parseOne(r);
      } catch (err) {
        if (r.lines === 1) {
          yield { line: r.line, error: quotingMessage(err) };
          continue;
        }
        // A bad record spanning lines is either a multi-line field with a quoting error (its later lines
        // are pieces of that field) or a quote left open that swallowed the rows after it (its later lines
        // are rows). Only in the second case does every later line read as a well-formed row on its own:
        // then those rows are kept; otherwise nothing of the record is.
        const firstLf = r.bytes.indexOf(0x0a);
        const tail = [
          ...parseEach(splitAll(r.bytes.subarray(firstLf + 1), { quoteAware: true, delimiter, maxRecordBytes: o.maxRecordBytes, firstLine: r.line + 1, atStartOfFile: false }), h),
        ];
        if (tail.length > 0 && tail.every((t) => !('error' in t))) {
          yield { line: r.line, error: `${quotingMessage(err)}; a quote opened on this line swallowed the next line(s), which were read on their own` };
          yield* tail;
        } else {
          yield { line: r.line, error: `${quotingMessage(err)} (in the record on lines ${r.line}-${r.line + r.lines - 1})` };
        }
        continue;
      }
      if (parsed.length !== 1) yield { line: r.line, error: 'unreadable CSV record' };
      else yield rowFromBuffers(r, parsed[0]!, h);
    }
  }

  /**
   * A chunk of records, in order. Valid UTF-8 records without a quote are split on the delimiter
   * directly (nothing to unquote: the common case, and many times faster); records with quotes are
   * parsed by csv-parse in one call per chunk; if that call fails, record by record to find the bad ones.
   */
  function rowsOf(records: SplitRecord[]): SourceRow[] {
    let i = 0;
    if (!header) {
      while (i < records.length && !header) {
        const r = records[i++]!;
        if ('error' in r) throw new ImportError(`the header (line ${r.line}) is not readable: ${r.error}`);
        readHeader(r);
      }
      if (!header) return [];
    }
    const h = header;
    const rest = records.slice(i);
    const slots: SourceRow[][] = new Array<SourceRow[]>(rest.length);
    const quoted: Array<{ k: number; r: DataRecord; text: string }> = [];
    rest.forEach((r, k) => {
      if ('error' in r) slots[k] = [r];
      else if (!isUtf8(r.bytes)) slots[k] = [...parseEach([r], h)];
      else if (r.bytes.indexOf(QUOTE) < 0) slots[k] = [rowFromStrings(r, r.bytes.toString('utf8').split(o.delimiter), h)];
      else quoted.push({ k, r, text: r.bytes.toString('utf8') });
    });
    if (quoted.length > 0) {
      let parsed: string[][] | undefined;
      try {
        parsed = parse(quoted.map((q) => q.text).join('\n'), stringOptions);
        if (parsed.length !== quoted.length) parsed = undefined;
      } catch {
        parsed = undefined;
      }
      quoted.forEach((q, j) => {
        slots[q.k] = parsed ? [rowFromStrings(q.r, parsed[j]!, h)] : [...parseEach([q.r], h)];
      });
    }
    return slots.flat();
  }

  for await (const chunk of input) {
    const rows = rowsOf(splitter.push(chunk));
    if (rows.length) yield rows;
  }
  const rows = rowsOf(splitter.end());
  if (rows.length) yield rows;
  if (!header) throw new ImportError('the file is empty: expected a header line and product rows');
}

const QUOTE = 0x22;

interface Header {
  names: string[];
  index: Map<string, number>;
}

function rowFromStrings(r: DataRecord, fields: string[], h: Header): SourceRow {
  if (fields.length !== h.names.length) return { line: r.line, error: `expected ${h.names.length} columns, found ${fields.length}` };
  const values = new Map<string, string>();
  for (const [name, i] of h.index) values.set(name, fields[i]!);
  return { line: r.line, get: (column) => values.get(column) };
}

function rowFromBuffers(r: DataRecord, fields: Buffer[], h: Header): SourceRow {
  if (fields.length !== h.names.length) return { line: r.line, error: `expected ${h.names.length} columns, found ${fields.length}` };
  const bad = fields.findIndex((f) => !isUtf8(f));
  if (bad >= 0) return { line: r.line, error: `column "${h.names[bad] ?? bad + 1}" is not valid UTF-8` };
  return rowFromStrings(
    r,
    fields.map((f) => f.toString('utf8')),
    h,
  );
}
