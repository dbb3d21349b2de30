/**
 * Turning a raw request body into a JSON value that is safe to validate and store. Everything that
 * could make Postgres or the workflow id encoder fail later is found here and named, so bad input is
 * a 400 that says what and where, never a 500:
 * invalid UTF-8, invalid JSON, NUL characters and unpaired surrogates (Postgres text and jsonb reject
 * them), numbers JSON cannot carry (1e400 would silently become null), `__proto__` keys, and nesting
 * deeper than any product needs.
 */
import { findUnstorableValue } from '../catalog/text';

export type DecodedBody = { ok: true; value: unknown } | { ok: false; reason: string; field?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeJsonBody(raw: Buffer): DecodedBody {
  if (raw.length === 0) return { ok: false, reason: 'body is empty' };
  let text: string;
  try {
    // A leading byte-order mark is dropped (TextDecoder's default).
    text = utf8.decode(raw);
  } catch {
    return { ok: false, reason: 'body is not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `body is not valid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  const problem = findUnstorableValue(value);
  return problem ? { ok: false, ...problem } : { ok: true, value };
}
