/**
 * Splits a byte stream into records, with the line each one starts on, in bounded memory.
 *
 * CSV-aware mode follows RFC 4180 quoting to find where a record ends (a newline inside a quoted
 * field does not end it): a quote opens a quoted field only at the start of a field, `""` inside one
 * is a literal quote, and a quote followed by anything else ends it. Field parsing itself is left to
 * csv-parse (see csv.ts); this layer exists because csv-parse cannot resynchronise after a bad record
 * (after a bad quote it keeps reading the following good rows as part of the bad one), and an import
 * must report the bad row and keep the good ones.
 *
 * Recovery:
 * - a record longer than `maxRecordBytes` fails; if it was inside a quoted field (a quote never
 *   closed) scanning resumes on the line after the one the record started on, else after the line;
 * - a quoted field still open at the end of the input fails the same way, and scanning resumes on the
 *   line after its first line;
 * - blank (or whitespace-only) lines are skipped; a UTF-8 byte-order mark at the start is dropped.
 */

export type SplitRecord = { line: number; bytes: Buffer; lines: number } | { line: number; error: string };

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

export interface SplitterOptions {
  /** Follow CSV quoting (CSV); off for JSON lines. */
  quoteAware: boolean;
  delimiter?: number;
  maxRecordBytes: number;
  /** Line number of the first byte (for re-splitting part of a record). */
  firstLine?: number;
  /** Whether a byte-order mark may start the input. */
  atStartOfFile?: boolean;
}

export class RecordSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** Where the current record starts in `buf`. */
  private start = 0;
  /** Next byte to scan in `buf`. */
  private pos = 0;
  private line: number;
  private startLine: number;
  private inQuote = false;
  private pendingQuote = false;
  private fieldStart = true;
  /** Discarding an over-long line up to its newline. */
  private skipping = false;
  private bomChecked: boolean;
  private readonly delimiter: number;

  constructor(private readonly o: SplitterOptions) {
    this.line = o.firstLine ?? 1;
    this.startLine = this.line;
    this.delimiter = o.delimiter ?? 0x2c;
    this.bomChecked = !(o.atStartOfFile ?? true);
  }

  push(chunk: Buffer): SplitRecord[] {
    this.buf = this.start === this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.start), chunk]);
    this.pos -= this.start;
    this.start = 0;
    if (!this.bomChecked) {
      if (this.buf.length < 3) return [];
      this.bomChecked = true;
      if (this.buf[0] === 0xef && this.buf[1] === 0xbb && this.buf[2] === 0xbf) this.start = this.pos = 3;
    }
    return this.scan(false);
  }

  end(): SplitRecord[] {
    this.bomChecked = true;
    return this.scan(true);
  }

  private scan(final: boolean): SplitRecord[] {
    const out: SplitRecord[] = [];
    const { buf } = this;
    const quoteAware = this.o.quoteAware;
    let pos = this.pos;
    while (pos < buf.length) {
      const b = buf[pos]!;
      if (this.skipping) {
        if (b === LF) {
          this.skipping = false;
          this.line++;
          this.resetRecord(pos + 1);
        }
        pos++;
        continue;
      }
      if (pos - this.start >= this.o.maxRecordBytes) {
        if (this.inQuote) {
          out.push({ line: this.startLine, error: `bad quoting: a quoted field that starts on this line is not closed within ${this.o.maxRecordBytes} bytes` });
          pos = this.resyncAfterFirstLine(buf);
          continue;
        }
        out.push({ line: this.startLine, error: `the record is longer than ${this.o.maxRecordBytes} bytes` });
        this.skipping = true;
        continue;
      }
      if (quoteAware && this.inQuote) {
        if (this.pendingQuote) {
          this.pendingQuote = false;
          if (b === QUOTE) {
            pos++;
            continue;
          }
          this.inQuote = false;
          // Falls through: this byte is read outside the quoted field.
        } else {
          if (b === QUOTE) this.pendingQuote = true;
          else if (b === LF) this.line++;
          pos++;
          continue;
        }
      }
      if (b === LF) {
        this.emit(out, buf, pos);
        this.line++;
        this.resetRecord(pos + 1);
      } else if (quoteAware && b === QUOTE && this.fieldStart) {
        this.inQuote = true;
        this.fieldStart = false;
      } else if (b === this.delimiter) {
        this.fieldStart = true;
      } else if (b !== CR) {
        this.fieldStart = false;
      }
      pos++;
    }
    // An over-long line being discarded is not kept in memory.
    if (this.skipping) this.start = pos;
    this.pos = pos;
    if (final && !this.skipping && this.start < buf.length) {
      if (quoteAware && this.inQuote && !this.pendingQuote) {
        out.push({ line: this.startLine, error: 'bad quoting: a quoted field that starts on this line is never closed' });
        const firstLf = buf.indexOf(LF, this.start);
        if (firstLf >= 0) {
          const rest = new RecordSplitter({ ...this.o, firstLine: this.startLine + 1, atStartOfFile: false });
          out.push(...rest.push(buf.subarray(firstLf + 1)), ...rest.end());
        }
      } else {
        this.emit(out, buf, buf.length);
      }
      this.resetRecord(buf.length);
    }
    return out;
  }

  /** After a quote that never closed: resume on the line after the record's first line. */
  private resyncAfterFirstLine(buf: Buffer): number {
    const firstLf = buf.indexOf(LF, this.start);
    this.inQuote = false;
    this.pendingQuote = false;
    this.fieldStart = true;
    if (firstLf < 0) {
      this.skipping = true;
      return this.start;
    }
    this.line = this.startLine + 1;
    this.resetRecord(firstLf + 1);
    return firstLf + 1;
  }

  private resetRecord(at: number): void {
    this.start = at;
    this.startLine = this.line;
    this.inQuote = false;
    this.pendingQuote = false;
    this.fieldStart = true;
  }

  private emit(out: SplitRecord[], buf: Buffer, endExclusive: number): void {
    let end = endExclusive;
    if (end > this.start && buf[end - 1] === CR) end--;
    const bytes = buf.subarray(this.start, end);
    if (isBlank(bytes)) return;
    // A copy: the record must not pin the whole read buffer in memory.
    out.push({ line: this.startLine, bytes: Buffer.from(bytes), lines: this.line - this.startLine + 1 });
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  return true;
}

/** Splits an in-memory buffer completely (re-splitting the lines of a failed multi-line record). */
export function splitAll(bytes: Buffer, o: SplitterOptions): SplitRecord[] {
  const s = new RecordSplitter(o);
  return [...s.push(bytes), ...s.end()];
}
