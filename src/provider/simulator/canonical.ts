/**
 * Canonical request bodies: the parsed body (defaults applied) serialised with sorted keys, so two
 * requests that mean the same thing hash the same whatever their key order or omitted defaults.
 */
import { canonicalJson, sha256Hex } from '../../support/canonicalJson';

export { sha256Hex };

/** The hash the ledger and idempotency compare: operation, model and canonical body. */
export function bodyHash(operation: string, model: string, body: unknown): string {
  return sha256Hex(`${operation}\n${model}\n${canonicalJson(body)}`).slice(0, 32);
}
