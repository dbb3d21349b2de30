/**
 * Assets as objects in an S3-compatible store (AWS S3, MinIO, versitygw, Ceph RGW, R2...).
 *
 * The client is AWS's own SDK (@aws-sdk/client-s3 + @aws-sdk/s3-request-presigner): the reference
 * implementation of the protocol (SigV4 signing, retries, error parsing, credential chain), and it
 * talks to any S3-compatible store through `endpoint` + `forcePathStyle`. Versions are pinned exactly
 * because the SDK changes wire defaults between minor releases (e.g. default request checksums in
 * 3.729), which is what breaks third-party stores.
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { redact } from '../config/redact';
import { parseContentKey } from './keys';
import { type AssetStorage, StorageError } from './types';

/** Content-addressed keys never change content, so caches may keep them for a year without revalidating. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** For S3-compatible stores; omitted means AWS S3. */
  endpoint?: string | undefined;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle: boolean;
  /** Omitted means the SDK's default credential chain (environment, instance or task role...). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Lifetime of urlFor() URLs, in seconds (default one hour). */
  presignSeconds?: number;
  /** Per-request socket limits, so a stalled store fails the activity instead of hanging it. */
  timeouts?: { connectMs?: number; requestMs?: number };
}

type Op = 'read' | 'write' | 'delete' | 'check' | 'create' | 'presign';

export class S3Storage implements AssetStorage {
  readonly kind = 's3' as const;
  readonly bucket: string;
  /** The underlying client, for tests and for operations this interface does not cover. */
  readonly client: S3Client;
  private readonly presignSeconds: number;
  private readonly secret: string | undefined;
  private readonly where: string;

  constructor(private readonly options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.presignSeconds = options.presignSeconds ?? 3_600;
    this.secret = options.credentials?.secretAccessKey;
    this.where = `s3://${options.bucket}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // put() sends its own SHA-256 (the content address itself), which the store verifies; the SDK's
      // extra default CRC32 on every request is what some S3-compatible stores reject.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: options.timeouts?.connectMs ?? 5_000, requestTimeout: options.timeouts?.requestMs ?? 60_000 },
    });
  }

  /**
   * Idempotent: a HEAD first, so a retried activity re-storing the same variants costs no upload. An
   * object under the key that does not hold these bytes (other size, checksum or content type) is
   * overwritten. The PUT itself is atomic (no reader ever sees a partial object) and carries the
   * SHA-256, so the store refuses bytes damaged on the way.
   */
  async put(key: string, data: Buffer, contentType: string): Promise<{ key: string; bytes: number }> {
    const { sha256 } = parseContentKey(key);
    const digest = createHash('sha256').update(data).digest();
    if (digest.toString('hex') !== sha256) {
      throw new StorageError('invalid_key', `refusing to store ${key}: the data's SHA-256 is ${digest.toString('hex')}, not the key's`, { key });
    }
    const checksum = digest.toString('base64');
    const existing = await this.head(key, 'write');
    if (
      existing &&
      existing.ContentLength === data.length &&
      (existing.ChecksumSHA256 === undefined || existing.ChecksumSHA256 === checksum) &&
      (existing.ContentType === undefined || existing.ContentType === contentType)
    ) {
      return { key, bytes: data.length };
    }
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ContentType: contentType,
          CacheControl: IMMUTABLE_CACHE_CONTROL,
          ChecksumSHA256: checksum,
        }),
      );
    } catch (err) {
      throw this.error(err, 'write', key);
    }
    return { key, bytes: data.length };
  }

  async get(key: string): Promise<Buffer> {
    parseContentKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) throw new Error('the response has no body');
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      throw this.error(err, 'read', key);
    }
  }

  async exists(key: string): Promise<boolean> {
    parseContentKey(key);
    return (await this.head(key, 'read')) !== undefined;
  }

  async delete(key: string): Promise<void> {
    parseContentKey(key);
    try {
      // S3 answers 204 for an absent key too, so this is idempotent without a HEAD.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      const mapped = this.error(err, 'delete', key);
      if (mapped.reason === 'not_found') return;
      throw mapped;
    }
  }

  /**
   * A presigned GET URL valid for the configured lifetime: what the image provider fetches when
   * REFERENCE_MODE=url. It is a bearer capability until it expires: never log it.
   */
  urlFor(key: string): Promise<string> {
    parseContentKey(key);
    return this.presignGet(key, { expiresInSeconds: this.presignSeconds });
  }

  /** A presigned GET URL with an explicit lifetime (SigV4 allows 1 s to 7 days). */
  async presignGet(key: string, o: { expiresInSeconds: number }): Promise<string> {
    parseContentKey(key);
    try {
      return await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: o.expiresInSeconds });
    } catch (err) {
      throw this.error(err, 'presign', key);
    }
  }

  /**
   * Checks that the bucket exists and the credentials reach it; with create, makes a missing bucket.
   * For setup commands and readiness checks: the per-asset methods cannot tell a missing bucket from a
   * missing key on HEAD (both are a bodiless 404).
   */
  async ensureBucket(o: { create?: boolean } = {}): Promise<'exists' | 'created'> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return 'exists';
    } catch (err) {
      const mapped = this.error(err, 'check');
      if (mapped.reason !== 'not_found' || !o.create) {
        if (mapped.reason === 'not_found') {
          throw new StorageError('not_found', `bucket ${this.where} does not exist; create it (or run setup) first`, mapped.details);
        }
        throw mapped;
      }
    }
    try {
      const region = this.options.region;
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the one region that must not be named as a location constraint.
          CreateBucketConfiguration: region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
        }),
      );
      return 'created';
    } catch (err) {
      const name = (err as { name?: string } | undefined)?.name;
      if (name === 'BucketAlreadyOwnedByYou') return 'exists';
      throw this.error(err, 'create');
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** HEAD with checksums, or undefined when the key is absent. */
  private async head(key: string, op: Op) {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }));
    } catch (err) {
      const mapped = this.error(err, op, key);
      if (mapped.reason === 'not_found') return undefined;
      throw mapped;
    }
  }

  private error(err: unknown, op: Op, key?: string): StorageError {
    return storageErrorFromS3(err, op, { key, where: this.where, secret: this.secret });
  }
}

/** What the S3 SDK's errors carry: a service error name and HTTP status, or a Node network error code. */
interface S3ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);
const DENIED = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AccountProblem',
  'AllAccessDisabled',
  'CredentialsProviderError',
]);
const FULL = new Set(['XMinioStorageFull', 'StorageFull']);

/**
 * Maps an S3 SDK failure to a StorageError whose message names the key and the bucket. HEAD responses
 * have no body, so a bodiless 404 / 403 is classified by status. The message passes through redact():
 * the secret access key (and any registered secret) never appears in it.
 */
export function storageErrorFromS3(err: unknown, op: Op, o: { key?: string | undefined; where: string; secret?: string | undefined }): StorageError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as S3ErrorLike;
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? (e.name && e.name !== 'Error' && e.name !== 'Unknown' ? e.name : undefined) ?? e.code;
  const detail = redact(
    [
      name,
      status ? `HTTP ${status}` : undefined,
      e.message && e.message !== 'UnknownError' && e.message !== name ? e.message : undefined,
      e.$metadata?.requestId ? `request id ${e.$metadata.requestId}` : undefined,
    ]
      .filter(Boolean)
      .join(', '),
    [o.secret],
  );
  const subject = o.key ? `asset ${o.key} in ${o.where}` : `bucket ${o.where}`;
  const verb = { read: 'read', write: 'write', delete: 'delete', check: 'reach', create: 'create', presign: 'presign a URL for' }[op];
  // A lean cause: the SDK's error holds the whole HTTP response (sockets, agent), too heavy for logs and failures.
  const cause = Object.assign(new Error(detail || 'unknown S3 error'), { name: name ?? 'S3Error' });
  const details = { key: o.key, code: name, cause };

  // A missing bucket is a broken storage root (like a local root that is a file), not a missing asset.
  if (name === 'NoSuchBucket') {
    return new StorageError('not_writable', `cannot ${verb} ${subject}: the bucket does not exist; check S3_BUCKET or run setup (${detail})`, details);
  }
  if ((name && NOT_FOUND.has(name)) || status === 404) return new StorageError('not_found', `${subject} does not exist (${detail})`, details);
  if ((name && DENIED.has(name)) || status === 403) {
    return new StorageError(
      'not_writable',
      `cannot ${verb} ${subject}: access denied; check S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY and the bucket policy (s3:GetObject, s3:PutObject, s3:DeleteObject, and s3:ListBucket, without which a missing key also answers 403) (${detail})`,
      details,
    );
  }
  if (name && FULL.has(name)) return new StorageError('no_space', `cannot ${verb} ${subject}: the store is out of space (${detail})`, details);
  const network = e.code && /^E[A-Z]+$/.test(e.code) ? ' (is the S3 endpoint reachable?)' : '';
  return new StorageError('io', `cannot ${verb} ${subject}: ${detail || 'unknown S3 error'}${network}`, details);
}
