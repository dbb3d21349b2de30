/**
 * Canonical JSON: keys sorted at every depth, no whitespace, so the same value always serialises (and
 * hashes) the same whatever its key order: product fingerprints, step fingerprints, request hashes.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value)) ?? 'null';
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    // Already canonical (keys in order, flat values): used as is. The common case for imported rows.
    if (keys.every((k, i) => (i === 0 || keys[i - 1]! < k) && !isObject((v as Record<string, unknown>)[k]))) return v;
    const out: Record<string, unknown> = Object.create(null);
    for (const k of keys.sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

const isObject = (v: unknown) => typeof v === 'object' && v !== null;

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
