/**
 * The provider error taxonomy. Every failure of the Seedream client is a ProviderError with a kind
 * that tells the caller what to do: retry (with the same idempotency key), give up and record the
 * reason, or fetch the job again for a fresh output URL. `sent` says whether the provider may have
 * seen the request, which is what decides whether a submit may have been billed.
 */
import { redact } from '../config/redact';
import type { ErrorCode } from './contract';

export const PROVIDER_ERROR_KINDS = [
  'invalid_request', // 400, or refused by local validation before sending
  'unauthorized', // 401 / 403 on the API: bad or missing key
  'insufficient_credit', // 402
  'content_rejected', // 422: input moderation (final for that prompt)
  'not_found', // 404: unknown job or output
  'idempotency_conflict', // 409: same key, different body
  'rate_limited', // 429 (Retry-After honoured)
  'unavailable', // 5xx
  'timeout', // no answer in time (connect, headers, body, or the call's deadline)
  'network', // DNS failure, refused connection, reset socket
  'url_expired', // an output URL past its expiry (410, or a 403 that says so)
  'invalid_response', // an answer that breaks the contract (bad JSON, wrong shape, not an image, too big); after a 2xx submit, sent 'maybe'
  'job_failed', // a job that ended `failed` (job-level outcome, see jobFailureError)
] as const;
export type ProviderErrorKind = (typeof PROVIDER_ERROR_KINDS)[number];

const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set(['rate_limited', 'unavailable', 'timeout', 'network']);

/** Whether an error of this kind may succeed when tried again (for a submit: with the same key). */
export function isRetryable(kind: ProviderErrorKind): boolean {
  return RETRYABLE.has(kind);
}

/**
 * Whether the request may have reached the provider:
 * - 'no': it certainly did not (validation, DNS failure, refused connection, connect timeout);
 * - 'maybe': the connection was up and the request written, but no answer came (timeout, reset):
 *   a submit may have been accepted and billed, so it must only be retried with the same key;
 * - 'yes': the provider answered with an HTTP status.
 */
export type SentState = 'no' | 'yes' | 'maybe';

export type ProviderOperation = 'generate' | 'edit' | 'compose' | 'getJob' | 'download' | 'balance';

export interface ProviderErrorInit {
  kind: ProviderErrorKind;
  operation: ProviderOperation;
  message: string;
  sent: SentState;
  /** Path only (no query): e.g. `POST /v1/image/seedream-4.5/generate`. */
  endpoint?: string;
  status?: number;
  code?: string;
  field?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly kind: ProviderErrorKind;
  readonly retryable: boolean;
  readonly sent: SentState;
  readonly operation: ProviderOperation;
  readonly endpoint?: string;
  readonly status?: number;
  /** The provider's error code, when it sent one. */
  readonly code?: string;
  /** The request field at fault, dotted (`imageUrls.3`). */
  readonly field?: string;
  readonly retryAfterMs?: number;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.retryable = isRetryable(init.kind);
    this.sent = init.sent;
    this.operation = init.operation;
    if (init.endpoint !== undefined) this.endpoint = init.endpoint;
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    if (init.field !== undefined) this.field = init.field;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      retryable: this.retryable,
      sent: this.sent,
      operation: this.operation,
      endpoint: this.endpoint,
      status: this.status,
      code: this.code,
      field: this.field,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}

/**
 * Removes every given secret (and any `Bearer <token>`) from a text. Delegates to the project's
 * redaction so globally registered secrets are removed too. Secrets shorter than 6 characters are
 * not substring-redacted (they would mangle ordinary text); real keys are far longer.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  return redact(text, [...secrets]);
}

/** Retry-After values above this are clamped: a misbehaving proxy must not park a step for a day. */
export const MAX_RETRY_AFTER_MS = 15 * 60 * 1000;

/**
 * Parses Retry-After (RFC 9110): delay-seconds or an HTTP date. A date is taken relative to `now`,
 * floored at 0 and capped at MAX_RETRY_AFTER_MS; an unparseable value gives undefined.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw == null) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    // Integer seconds per the RFC; a fractional value is tolerated rather than ignored.
    ms = Math.round(Number(text) * 1000);
  } else if (/^[A-Za-z]{3}/.test(text)) {
    // HTTP dates start with a day name (IMF-fixdate, RFC 850, asctime); Date.parse alone is too lenient.
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  } else {
    return undefined;
  }
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/** The kind an HTTP status means when the body does not say more. */
export function kindFromStatus(status: number): ProviderErrorKind {
  if (status === 400) return 'invalid_request';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 402) return 'insufficient_credit';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 409) return 'idempotency_conflict';
  if (status === 410) return 'url_expired';
  if (status === 422) return 'content_rejected';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'invalid_request'; // 405, 413, 415...: the request is wrong, not the moment
  return 'invalid_response'; // 1xx/3xx where a final 2xx was expected
}

const CODE_KINDS: Record<ErrorCode, ProviderErrorKind> = {
  invalid_request: 'invalid_request',
  unauthorized: 'unauthorized',
  insufficient_credit: 'insufficient_credit',
  not_found: 'not_found',
  idempotency_conflict: 'idempotency_conflict',
  content_rejected: 'content_rejected',
  rate_limited: 'rate_limited',
  internal_error: 'unavailable',
  reference_unreachable: 'job_failed',
  reference_invalid: 'job_failed',
  url_expired: 'url_expired',
  generation_failed: 'job_failed',
};

/**
 * The kind of an HTTP error answer. 429 and 5xx always keep their (retryable) status meaning; for
 * other statuses a known provider code is more precise than the status (a 422 that says
 * `invalid_request`, a 403 that says `url_expired`).
 */
export function kindFromHttp(status: number, code?: string): ProviderErrorKind {
  if (status === 429 || status >= 500) return kindFromStatus(status);
  if (code !== undefined && Object.prototype.hasOwnProperty.call(CODE_KINDS, code)) {
    const kind = CODE_KINDS[code as ErrorCode];
    // A job-level code on an HTTP answer says nothing about retrying the call: keep the status meaning.
    if (kind !== 'job_failed') return kind;
  }
  return kindFromStatus(status);
}
