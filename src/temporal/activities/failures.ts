/**
 * Turns the errors of the clients the activities use into Temporal failures: the type names come
 * from src/shared/failures.ts, retryable classes keep Temporal's backoff (or the server's
 * Retry-After), the rest are non-retryable and carry their reason. Messages never carry secrets.
 */
import { ApplicationFailure } from '@temporalio/common';
import { redact } from '../../config/redact';
import { isImageRejectedError } from '../../imaging';
import { SourceFetchError } from '../../net/guardedFetch';
import { isProviderError, type ProviderError } from '../../provider/errors';
import { FailureType, type FailureTypeName } from '../../shared/failures';
import { StorageError } from '../../storage/types';

export function fail(type: FailureTypeName, message: string, opts: { retryable?: boolean; nextRetryDelayMs?: number; details?: unknown[] } = {}): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message: redact(message),
    nonRetryable: !opts.retryable,
    nextRetryDelay: opts.nextRetryDelayMs,
    details: opts.details,
  });
}

const PROVIDER_TYPES: Record<string, FailureTypeName> = {
  invalid_request: FailureType.invalidRequest,
  unauthorized: FailureType.unauthorized,
  insufficient_credit: FailureType.insufficientCredit,
  content_rejected: FailureType.contentRejected,
  not_found: FailureType.jobNotFound,
  idempotency_conflict: FailureType.idempotencyConflict,
  rate_limited: FailureType.rateLimited,
  unavailable: FailureType.providerUnavailable,
  timeout: FailureType.providerTimeout,
  network: FailureType.network,
  url_expired: FailureType.outputExpired,
  invalid_response: FailureType.providerUnavailable,
  job_failed: FailureType.jobFailed,
};

export function providerFailure(err: ProviderError): ApplicationFailure {
  const type = PROVIDER_TYPES[err.kind] ?? FailureType.providerUnavailable;
  const retryable = err.retryable;
  return fail(type, err.message, { retryable, nextRetryDelayMs: retryable ? err.retryAfterMs : undefined });
}

/** Any error an activity did not classify itself. Unknown errors stay retryable (bounded by policy). */
export function toFailure(err: unknown, context: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (isProviderError(err)) return providerFailure(err);
  if (isImageRejectedError(err)) return fail(FailureType.invalidImage, `${context}: ${err.message}`);
  if (err instanceof StorageError) {
    return fail(FailureType.storage, `${context}: ${err.message}`, { retryable: err.reason !== 'invalid_key' });
  }
  if (err instanceof SourceFetchError) {
    // A timeout or a 5xx from the PIM's image host is retried; a 404 or a non-image is bad data.
    return err.retryable
      ? fail(FailureType.sourceUnavailable, `${context}: ${err.message}`, { retryable: true })
      : fail(FailureType.invalidProductData, `${context}: ${err.message}`);
  }
  const code = (err as { code?: string } | undefined)?.code;
  if (typeof code === 'string' && /^(08|57P|53)/.test(code)) {
    return fail(FailureType.database, `${context}: database unavailable (${code}): ${(err as Error).message}`, { retryable: true });
  }
  if (err instanceof Error) {
    const safe = new Error(redact(`${context}: ${err.message}`));
    safe.name = err.name;
    return safe;
  }
  return new Error(redact(`${context}: ${String(err)}`));
}
