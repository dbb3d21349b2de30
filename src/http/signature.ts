/**
 * Webhook signatures: HMAC-SHA256 with the catalog's secret (webhookSecrets.ts) over `${timestamp}.${rawBody}` (the exact bytes
 * received, before any parsing), sent as
 *
 *   X-Timestamp: <unix seconds>
 *   X-Signature: sha256=<hex>          (several comma-separated signatures are accepted, for secret rotation)
 *
 * Akeneo's own header names (X-Akeneo-Request-Timestamp, X-Akeneo-Request-Signature: <hex>) carry the
 * same scheme and are accepted too, so an Akeneo connection needs no adapter.
 *
 * Comparison is constant-time (crypto.timingSafeEqual over two 32-byte digests). The timestamp must be
 * within WEBHOOK_TOLERANCE_SECONDS of the service's clock, either way: a captured request cannot be
 * replayed later, and within the window the event-id de-duplication makes a replay start nothing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADERS = ['x-signature', 'x-akeneo-request-signature'] as const;
export const TIMESTAMP_HEADERS = ['x-timestamp', 'x-akeneo-request-timestamp'] as const;

export type SignatureFailure = 'missing_signature' | 'malformed_signature' | 'bad_signature' | 'missing_timestamp' | 'malformed_timestamp' | 'stale_timestamp';

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure; message: string };

function digest(secret: string, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/** The X-Signature value for a body (what a PIM, or a test, sends). */
export function signWebhook(secret: string, timestamp: number | string, body: Buffer | string): string {
  return `sha256=${digest(secret, String(timestamp), Buffer.isBuffer(body) ? body : Buffer.from(body)).toString('hex')}`;
}

/** Signed headers for a body, timestamped now (or at `nowSeconds`). */
export function signedHeaders(secret: string, body: Buffer | string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { 'x-timestamp': String(nowSeconds), 'x-signature': signWebhook(secret, nowSeconds, body) };
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, names: readonly string[]): string | string[] | undefined {
  for (const name of names) if (headers[name] !== undefined) return headers[name];
  return undefined;
}

/**
 * `secret`: the secret, or every secret valid for the catalog (current and previous during a
 * rotation); an empty list verifies nothing, with the same answer as a wrong signature.
 */
export function verifyWebhook(o: { secret: string | readonly string[]; headers: Headers; rawBody: Buffer; nowMs: number; toleranceSeconds: number }): SignatureCheck {
  const sig = header(o.headers, SIGNATURE_HEADERS);
  const ts = header(o.headers, TIMESTAMP_HEADERS);
  if (sig === undefined || sig === '') return { ok: false, reason: 'missing_signature', message: 'the X-Signature header is missing' };
  if (ts === undefined || ts === '') return { ok: false, reason: 'missing_timestamp', message: 'the X-Timestamp header is missing' };
  if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'malformed_timestamp', message: 'X-Timestamp must be unix seconds' };
  if (typeof sig !== 'string') return { ok: false, reason: 'malformed_signature', message: 'X-Signature must be sent once' };

  const candidates: Buffer[] = [];
  for (const part of sig.split(',')) {
    const m = /^(?:sha256=)?([0-9a-fA-F]{64})$/.exec(part.trim());
    if (m) candidates.push(Buffer.from(m[1]!, 'hex'));
  }
  if (candidates.length === 0) return { ok: false, reason: 'malformed_signature', message: 'X-Signature must be sha256=<64 hex digits>' };

  const secrets = typeof o.secret === 'string' ? [o.secret] : o.secret;
  const expected = secrets.map((secret) => digest(secret, ts, o.rawBody));
  // Every candidate against every secret (no early exit), each in constant time over equal-length buffers.
  let matched = false;
  for (const c of candidates) for (const e of expected) matched = timingSafeEqual(c, e) || matched;
  if (!matched) return { ok: false, reason: 'bad_signature', message: 'the signature does not match the body' };

  const skew = Math.abs(o.nowMs / 1000 - Number(ts));
  if (skew > o.toleranceSeconds) {
    return { ok: false, reason: 'stale_timestamp', message: `X-Timestamp is ${Math.round(skew)} s away from the service's clock (tolerance ${o.toleranceSeconds} s)` };
  }
  return { ok: true };
}
