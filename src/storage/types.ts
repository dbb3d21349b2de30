/**
 * Content-addressed asset storage. Keys come from contentKey() only, so a key names its bytes: a put
 * of the same key is always the same content, and writing it twice is harmless.
 */
export interface AssetStorage {
  readonly kind: 'local' | 's3';
  /** Stores data under key atomically; a no-op when the key already holds that content. */
  put(key: string, data: Buffer, contentType: string): Promise<{ key: string; bytes: number }>;
  /** Rejects with StorageError reason 'not_found' when the key is absent. */
  get(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Idempotent: deleting an absent key succeeds. */
  delete(key: string): Promise<void>;
  /**
   * A URL for key: undefined when this backend hands out none (local storage without a public base
   * URL), otherwise a promise of it (a presigned S3 GET URL is signed asynchronously). Throws
   * StorageError('invalid_key') synchronously for an unsafe key. Callers `await` the result.
   */
  urlFor?(key: string): Promise<string> | undefined;
  /** Releases connections (S3 keeps a socket pool); local storage has nothing to release. */
  close?(): Promise<void>;
}

export type StorageErrorReason = 'invalid_key' | 'not_found' | 'no_space' | 'not_writable' | 'io';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly reason: StorageErrorReason,
    message: string,
    readonly details: { key?: string; code?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
  }
}
