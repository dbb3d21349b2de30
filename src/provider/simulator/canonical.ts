/**
 * Canonical request bodies: the parsed body (defaults applied) serialised with sorted keys, so two
 * requests that mean the same thing hash the same whatever their key order or omitted defaults.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash the ledger and idempotency compare: operation, model and canonical body. */
export function bodyHash(operation: string, model: string, body: unknown): string {
  return sha256Hex(`${operation}\n${model}\n${canonicalJson(body)}`).slice(0, 32);
}
