/**
 * Failure types, named in one place. Activities throw ApplicationFailure with these types; retry
 * policies list the non-retryable ones; the workflow turns them into per-slot outcomes.
 */
export const FailureType = {
  invalidProductData: 'InvalidProductData',
  invalidPlan: 'InvalidPlan',
  invalidRequest: 'ProviderInvalidRequest',
  unauthorized: 'ProviderUnauthorized',
  insufficientCredit: 'ProviderInsufficientCredit',
  contentRejected: 'ContentRejected',
  idempotencyConflict: 'ProviderIdempotencyConflict',
  jobFailed: 'ProviderJobFailed',
  jobNotFound: 'ProviderJobNotFound',
  jobStillRunning: 'ProviderJobStillRunning',
  rateLimited: 'ProviderRateLimited',
  providerUnavailable: 'ProviderUnavailable',
  providerTimeout: 'ProviderTimeout',
  network: 'ProviderNetwork',
  ambiguousSubmit: 'ProviderAmbiguousSubmit',
  /**
   * A submit may have reached a provider not known to honour idempotency keys: parked in the ledger
   * as ambiguous (maybe billed), never sent again automatically; an operator resolves it.
   */
  ambiguousParked: 'ProviderAmbiguousSubmitParked',
  /** The slot bought MAX_PAID_ATTEMPTS unusable jobs for one fingerprint: an operator decides. */
  needsAttention: 'NeedsAttention',
  /** The product was removed from the catalog: nothing more is bought for it. */
  productRemoved: 'ProductRemoved',
  /** The refresh's budget has no room for this paid step: refused before anything is paid. */
  budgetExhausted: 'BudgetExhausted',
  outputExpired: 'ProviderOutputExpired',
  invalidImage: 'InvalidImage',
  /** A source or reference image could not be fetched for a reason another attempt may fix. */
  sourceUnavailable: 'SourceUnavailable',
  /** A source or reference image still could not be fetched after its bounded tries (or its host is known down). */
  sourceUnreachable: 'SourceUnreachable',
  storage: 'StorageFailure',
  database: 'DatabaseFailure',
  /** A destination answered 429, 5xx or dropped the connection: the publish step retries (Retry-After honoured). */
  destinationUnavailable: 'DestinationUnavailable',
  /** A catalog's destination settings do not parse, or name a kind this build lacks. */
  destinationConfigInvalid: 'DestinationConfigInvalid',
} as const;
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Errors that another attempt cannot fix: listed in every retry policy as non-retryable. */
export const NON_RETRYABLE_FAILURES: FailureTypeName[] = [
  FailureType.invalidProductData,
  FailureType.invalidPlan,
  FailureType.invalidRequest,
  FailureType.unauthorized,
  FailureType.insufficientCredit,
  FailureType.contentRejected,
  FailureType.idempotencyConflict,
  FailureType.jobFailed,
  FailureType.jobNotFound,
  FailureType.sourceUnreachable,
  FailureType.ambiguousParked,
  FailureType.needsAttention,
  FailureType.productRemoved,
  FailureType.budgetExhausted,
  FailureType.destinationConfigInvalid,
];
