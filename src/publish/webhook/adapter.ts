/**
 * The outbound-event destination: one signed POST per delivery attempt, classified so the publish
 * step knows whether to come back (429, 5xx, 408, a dropped connection, a timeout: retryable, with
 * Retry-After honoured) or to give up with the reason (410 Gone, a refused signature, any other 4xx,
 * a redirect). Retries are the publish step's: each call here is exactly one attempt, and each attempt
 * is reported to `recordDelivery` for the delivery log.
 *
 * At least once: an attempt whose answer was lost may have been processed; the next attempt carries
 * the same `webhook-id` (and body `id`) so the receiver recognises it.
 */
import { registerSecret } from '../../config/redact';
import type { DeliveryAttempt, DestinationContext, EventDestination, OutboundEvent, PublishItem, PublishReceipt } from '../destination';
import { PublishError } from '../destination';
import { assetPublishedEvent, wireEventId } from './events';
import { EVENT_TYPES, webhookSettingsSchema, type WebhookSettings } from './settings';
import { decodeSecrets, SecretFormatError, signatureHeader } from './signature';

/** How much of an answer the delivery log keeps, and how much of it an error message quotes. */
export const ANSWER_EXCERPT_CHARS = 500;
const MESSAGE_EXCERPT_CHARS = 200;
/** Bytes read from an answer at most (the rest is discarded unread). */
const ANSWER_READ_BYTES = 4096;
/** Standard Webhooks recommends small payloads; anything this big is a bug upstream, not a delivery. */
const MAX_BODY_BYTES = 256 * 1024;
/** A Retry-After past this is clamped: a misbehaving receiver must not park a publication for a day. */
export const MAX_RETRY_AFTER_MS = 15 * 60 * 1000;
const USER_AGENT = 'catalog-assets-events/1 (+standard-webhooks)';

/** Control characters out, whitespace collapsed, cut to `max` characters. */
export function excerpt(text: string, max = ANSWER_EXCERPT_CHARS): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** Retry-After (RFC 9110): delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else if (/^[A-Za-z]{3},/.test(text) && !Number.isNaN(Date.parse(text))) ms = Date.parse(text) - nowMs;
  else return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

function invalidConfig(name: string, message: string): PublishError {
  return new PublishError(`destination ${name}: ${message}`, 'invalid_config', false);
}

/** The first bytes of an answer, as text; a body that cannot be read reads as empty. */
async function readAnswer(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ANSWER_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // The status is what counts; a body cut off mid-way is still an answer.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, ANSWER_READ_BYTES).toString('utf8');
}

/** The low-level reason a fetch failed (ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET...), never the URL. */
function networkReason(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function checkEvent(event: OutboundEvent): string | undefined {
  if (typeof event.id !== 'string' || event.id === '' || event.id.length > 2000) return 'event.id must be a non-empty string of at most 2000 characters';
  if (!(EVENT_TYPES as readonly string[]).includes(event.type)) return `event.type must be one of ${EVENT_TYPES.join(', ')}`;
  if (typeof event.occurredAt !== 'string' || Number.isNaN(Date.parse(event.occurredAt))) return 'event.occurredAt must be an ISO date-time';
  if (event.data === null || typeof event.data !== 'object' || Array.isArray(event.data)) return 'event.data must be an object';
  return undefined;
}

export function createWebhookDestination(raw: WebhookSettings, ctx: DestinationContext): EventDestination {
  const parsed = webhookSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join('.') : '(settings)';
    throw invalidConfig(typeof raw?.name === 'string' ? raw.name : 'webhook', `${field} ${issue?.message ?? 'is invalid'}`);
  }
  const settings = parsed.data;
  const { name } = settings;
  const secretValue = ctx.env[settings.secretEnv];
  if (secretValue === undefined || secretValue.trim() === '') {
    throw invalidConfig(name, `${settings.secretEnv} is not set: it must hold the secret that signs this destination's events (whsec_<base64>, at least 24 bytes)`);
  }
  // Never sent (only signatures are), but kept out of every message and log line all the same.
  for (const part of secretValue.trim().split(/\s+/)) registerSecret(part);
  let keys: Buffer[];
  try {
    keys = decodeSecrets(secretValue);
  } catch (err) {
    if (err instanceof SecretFormatError) throw invalidConfig(name, `${settings.secretEnv}: ${err.message}`);
    throw err;
  }
  const url = new URL(settings.url);
  // Only the host in messages: receivers often carry a token in the path or query (hooks.slack.com/services/...).
  const where = url.host;
  const doFetch = ctx.fetch ?? fetch;
  const now = ctx.now ?? Date.now;

  async function log(entry: DeliveryAttempt): Promise<string | undefined> {
    if (!ctx.recordDelivery) return undefined;
    try {
      await ctx.recordDelivery(entry);
      return undefined;
    } catch (err) {
      return excerpt(err instanceof Error ? err.message : String(err), MESSAGE_EXCERPT_CHARS);
    }
  }

  async function deliver(given: OutboundEvent, catalogId: string | undefined, signal?: AbortSignal): Promise<PublishReceipt> {
    const problem = checkEvent(given);
    if (problem) throw new PublishError(`destination ${name}: ${problem}`, 'rejected', false);
    const event = { ...given, id: wireEventId(given.id) };
    if (!settings.events.includes(event.type)) {
      return { remoteId: event.id, alreadyPresent: false, details: { sent: false, reason: `${event.type} is not among the events this destination takes` } };
    }
    const body = JSON.stringify({ id: event.id, type: event.type, occurredAt: event.occurredAt, data: event.data });
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) throw new PublishError(`destination ${name}: the ${event.type} event is ${Buffer.byteLength(body)} bytes, over ${MAX_BODY_BYTES}`, 'rejected', false);

    const attemptedAt = new Date(now());
    const timestamp = Math.floor(attemptedAt.getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': event.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(keys, event.id, timestamp, body),
    };
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const started = performance.now();
    const base = { eventId: event.id, type: event.type, destination: name, ...(catalogId !== undefined ? { catalogId } : {}), attemptedAt };

    let res: Response;
    try {
      res = await doFetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: combined });
    } catch (err) {
      const durationMs = Math.round(performance.now() - started);
      const cancelled = signal?.aborted === true && !timeout.aborted;
      const reason = cancelled ? 'cancelled by the caller' : timeout.aborted ? `no answer within ${settings.timeoutMs} ms` : `network error (${networkReason(err)})`;
      const logError = await log({ ...base, durationMs, error: reason, outcome: 'retryable' });
      if (cancelled) throw signal?.reason ?? err;
      throw new PublishError(`destination ${name}: ${event.type} ${event.id} to ${where}: ${reason}${logError ? ` (delivery log: ${logError})` : ''}`, 'network', true);
    }
    const answer = excerpt(await readAnswer(res));
    const durationMs = Math.round(performance.now() - started);
    const status = res.status;

    if (status >= 200 && status < 300) {
      const logError = await log({ ...base, status, answer, durationMs, outcome: 'delivered' });
      return { remoteId: event.id, alreadyPresent: false, details: { eventId: event.id, type: event.type, status, durationMs, ...(logError ? { deliveryLogError: logError } : {}) } };
    }

    const quoted = answer === '' ? '' : `: ${excerpt(answer, MESSAGE_EXCERPT_CHARS)}`;
    let error: PublishError;
    if (status === 429) {
      error = new PublishError(`the receiver is rate limiting (429)${quoted}`, 'rate_limited', true, retryAfterMs(res.headers.get('retry-after'), now()));
    } else if (status >= 500 || status === 408) {
      error = new PublishError(`the receiver is unavailable (${status})${quoted}`, 'unavailable', true, retryAfterMs(res.headers.get('retry-after'), now()));
    } else if (status === 410) {
      error = new PublishError(`the receiver answered 410 Gone: it takes no more events; remove or change this destination${quoted}`, 'rejected', false);
    } else if (status === 401 || status === 403) {
      error = new PublishError(`the receiver refused the delivery (${status}): check that it verifies with the secret in ${settings.secretEnv} and that its clock is right${quoted}`, 'bad_credentials', false);
    } else if (status >= 300 && status < 400) {
      error = new PublishError(`the receiver answered ${status} (a redirect); redirects are not followed: set url to where it points`, 'rejected', false);
    } else {
      error = new PublishError(`the receiver rejected the event (${status})${quoted}`, 'rejected', false);
    }
    const logError = await log({ ...base, status, answer, durationMs, error: error.message, outcome: error.retryable ? 'retryable' : 'rejected' });
    throw new PublishError(
      `destination ${name}: ${event.type} ${event.id} to ${where}: ${error.message}${logError ? ` (delivery log: ${logError})` : ''}`,
      error.code,
      error.retryable,
      error.retryAfterMs,
    );
  }

  return {
    name,
    kind: 'webhook',

    /**
     * A reachability check (OPTIONS), not a delivery: a `test` event is none of the types a receiver
     * subscribed to, and a real event would be a false one. The signature is first checked by the
     * receiver on a real delivery (its answer is in the delivery log).
     */
    async test(signal) {
      const timeout = AbortSignal.timeout(settings.timeoutMs);
      const started = performance.now();
      let res: Response;
      try {
        res = await doFetch(url, { method: 'OPTIONS', headers: { 'user-agent': USER_AGENT }, redirect: 'manual', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        await res.body?.cancel().catch(() => undefined);
      } catch (err) {
        const reason = timeout.aborted ? `no answer within ${settings.timeoutMs} ms` : `network error (${networkReason(err)})`;
        throw new PublishError(`destination ${name}: ${where} is not reachable: ${reason}`, 'network', true);
      }
      const ms = Math.round(performance.now() - started);
      if (res.status >= 500) throw new PublishError(`destination ${name}: ${where} answered OPTIONS with ${res.status}`, 'unavailable', true, retryAfterMs(res.headers.get('retry-after'), now()));
      if (res.status === 410) throw new PublishError(`destination ${name}: ${where} answered 410 Gone: it takes no more events`, 'rejected', false);
      return { ok: true, detail: `${where} is reachable (OPTIONS answered ${res.status} in ${ms} ms); no event was sent, the signature is checked by the first delivery` };
    },

    async publish(item: PublishItem, _readFile, signal) {
      return deliver(assetPublishedEvent(item, new Date(now())), item.catalogId, signal);
    },

    async send(event, signal) {
      const catalogId = typeof event.data?.catalogId === 'string' ? event.data.catalogId : undefined;
      return deliver(event, catalogId, signal);
    },
  };
}
