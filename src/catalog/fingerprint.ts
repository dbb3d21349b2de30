/**
 * The attribute fingerprint of a product in the snapshot: sha256 of the canonical JSON (keys sorted at
 * every depth) of its name and attributes. Webhooks and imports compute it the same way, so the same
 * product data always gives the same fingerprint whichever way it arrived, and "changed" means "the
 * fingerprint differs".
 */
import { canonicalJson, sha256Hex } from '../support/canonicalJson';

export function productFingerprint(product: { name: string; attributes: Record<string, unknown> }): string {
  return sha256Hex(canonicalJson({ name: product.name, attributes: product.attributes }));
}
