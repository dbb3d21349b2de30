/**
 * Configuration, parsed once from the environment by a zod schema. A missing or malformed variable
 * fails at start with a message naming the variable and the reason.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AllowListError, parseAllowEntry } from '../net/allowList';
import { registerSecret } from './redact';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** Where `catalog-assets simulator` listens by default. */
export const DEFAULT_SIMULATOR_URL = 'http://127.0.0.1:8790';

/** Every environment variable the product reads. Documented in the README's configuration table. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('.data'),

  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE_PREFIX: z.string().regex(/^[a-z0-9.-]+$/, 'lowercase letters, digits, dots and dashes').default('catalog-assets'),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
  /**
   * Payload encryption (AES-256-GCM) of everything the workers and clients store in Temporal: inputs,
   * results, summaries. 32 random bytes, base64. The value is never echoed in a message.
   */
  TEMPORAL_PAYLOAD_KEY: z
    .string()
    .refine((v) => decodePayloadKey(v) !== undefined, 'must be 32 random bytes, base64-encoded (generate one with: openssl rand -base64 32)')
    .optional(),
  /** Names the key in every encrypted payload (for rotation); default: derived from the key itself. */
  TEMPORAL_PAYLOAD_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key name of up to 64 letters, digits, dots, dashes and underscores, such as 2026-11')
    .optional(),

  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_POOL_SIZE: int(1, 200).default(10),

  IMAROUTER_BASE_URL: z.string().url().optional(),
  IMAROUTER_API_KEY: z.string().min(8, 'looks too short to be an API key').optional(),
  IMAROUTER_MODEL: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a model path such as seedream-4.5').default('seedream-4.5'),
  IMAROUTER_TIMEOUT_MS: int(1_000, 300_000).default(25_000),
  IMAROUTER_MAX_DOWNLOAD_MB: int(1, 200).default(40),
  /** Route family: `seed` (the vendor page's routes) or `tasks` (ImaRouter's unified /v1/images/generations). */
  IMAROUTER_API_STYLE: z.enum(['seed', 'tasks']).default('seed'),
  /**
   * Whether the provider honours Idempotency-Key (nothing documents it; `catalog-assets provider check
   * --idempotency` finds out). Default: `unknown` for the real API, `honoured` for the simulator.
   */
  IMAROUTER_IDEMPOTENCY: z.enum(['honoured', 'unknown']).optional(),
  /** With no IMAROUTER_API_KEY the worker talks to the local simulator, which accepts this key. */
  SIMULATOR_API_KEY: z.string().min(1).default('sim-local-key'),
  /** Where that simulator runs (another host in docker-compose.yml); never used once IMAROUTER_API_KEY is set. */
  SIMULATOR_URL: z.string().url().default(DEFAULT_SIMULATOR_URL),
  /**
   * Whether the local simulator may stand in when IMAROUTER_API_KEY is unset: unset means yes except
   * with NODE_ENV=production; 1 allows it in production too (on purpose); 0 refuses it everywhere.
   * A configured key always wins.
   */
  IMAROUTER_SIMULATOR: bool.optional(),

  /**
   * Jobs in flight per worker (the paid step holds its slot for the job's life). 200: the account's
   * ~500 images/min at ~25 s per job (bench/README.md, realistic latency); the shared rate limit keeps
   * several workers within the account.
   */
  PROVIDER_CONCURRENCY: int(1, 1_000).default(200),
  PROVIDER_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().max(10_000).default(8),
  PROVIDER_MAX_WAIT_MINUTES: int(1, 24 * 60).default(30),
  /** Billed jobs per catalog, SKU, slot and fingerprint that bought nothing kept, before an operator must decide. */
  MAX_PAID_ATTEMPTS: int(1, 20).default(2),
  IMAGING_CONCURRENCY: int(1, 256).default(Math.max(1, os.availableParallelism())),
  REFERENCE_MODE: z.enum(['inline', 'url']).default('inline'),
  VARIANTS: z.string().default('default'),
  MAX_OUTPUT_MEGAPIXELS: int(1, 200).default(40),

  ASSET_STORAGE: z.enum(['local', 's3']).default('local'),
  ASSET_DIR: z.string().min(1).optional(),
  /**
   * A CDN or bucket URL in front of asset storage: `<base>/<storage key>` is each variant's public URL,
   * handed to destinations that pull files instead of receiving bytes.
   */
  ASSET_PUBLIC_BASE_URL: z
    .string()
    .url('must be an http(s) URL such as https://cdn.example.com/assets')
    .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
    .optional(),
  /** S3-compatible object storage (ASSET_STORAGE=s3). Omit S3_ENDPOINT for AWS S3 itself. */
  S3_ENDPOINT: z
    .string()
    .url('must be a URL such as http://minio:9000')
    .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
    .optional(),
  S3_REGION: z.string().regex(/^[a-z0-9-]+$/, 'a region name such as us-east-1').default('us-east-1'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name: 3-63 lowercase letters, digits, dots and dashes')
    .optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Defaults to true when S3_ENDPOINT is set (most S3-compatible stores want path-style URLs). */
  S3_FORCE_PATH_STYLE: bool.optional(),
  /** Lifetime of presigned GET URLs handed to the image provider (REFERENCE_MODE=url); SigV4 allows up to 7 days. */
  S3_PRESIGN_SECONDS: int(1, 604_800).default(3_600),
  /** `host:port` entries (an entry without a port is the scheme's default port only); see src/net/allowList.ts. */
  ALLOW_PRIVATE_REFERENCE_HOSTS: csv
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        try {
          parseAllowEntry(entry);
        } catch (err) {
          if (!(err instanceof AllowListError)) throw err;
          ctx.addIssue({ code: 'custom', message: `${err.message}; use host:port entries such as 127.0.0.1:8791` });
        }
      }
    })
    .default([]),
  /** Tries per source or reference image before its slot fails, spread over the window below. */
  SOURCE_FETCH_ATTEMPTS: int(1, 20).default(4),
  SOURCE_FETCH_WINDOW_SECONDS: int(0, 3_600).default(120),
  /** How long a worker remembers an image host as unreachable (other products fail at once). */
  SOURCE_HOST_DOWN_SECONDS: int(0, 3_600).default(60),

  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: int(0, 65_535).default(8080),
  SERVICE_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** The shared webhook secret: only for catalogs without a secret of their own (see src/http/webhookSecrets.ts). */
  WEBHOOK_SECRET: z.string().min(16, 'use at least 16 characters').optional(),
  /** Encrypts the per-catalog webhook secrets stored in Postgres (AES-256-GCM): 32 random bytes, base64. */
  WEBHOOK_SECRET_KEY: z
    .string()
    .refine((v) => decodePayloadKey(v) !== undefined, 'must be 32 random bytes, base64-encoded (generate one with: openssl rand -base64 32)')
    .optional(),
  /** A bearer token for the payload codec endpoint only (Temporal UI, `temporal --codec-auth`); SERVICE_TOKEN works too. */
  TEMPORAL_CODEC_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  WEBHOOK_TOLERANCE_SECONDS: int(10, 3_600).default(300),
  /** Largest request body the HTTP service reads (webhook batches, refresh requests); larger ones get 413. */
  HTTP_BODY_LIMIT_BYTES: int(1_024, 64 * 1024 * 1024).default(1024 * 1024),
  /** Most events one webhook delivery may carry; more is a 400 (the PIM should split the batch). */
  WEBHOOK_MAX_EVENTS: int(1, 10_000).default(1_000),
  /** How long seen webhook event ids are kept for de-duplication before the service prunes them. */
  WEBHOOK_EVENT_RETENTION_DAYS: int(1, 3_650).default(30),
});

export type Env = z.infer<typeof envSchema>;

/** The 32 bytes of a base64 (standard or URL-safe) AES-256 key, or undefined when it is not one. */
export function decodePayloadKey(value: string): Buffer | undefined {
  const v = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) return undefined;
  const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

/** The default id of a payload key: a short hash of it, so two processes with different keys are told apart. */
export function payloadKeyId(key: Buffer): string {
  return `k-${createHash('sha256').update('catalog-assets payload key id').update(key).digest('hex').slice(0, 12)}`;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  temporal: {
    address: string;
    namespace: string;
    tls: boolean;
    apiKey: string | undefined;
    uiUrl: string;
    taskQueuePrefix: string;
    /** Payload encryption key (TEMPORAL_PAYLOAD_KEY); undefined means payloads are stored as plain JSON. */
    payloadKey: { key: Buffer; keyId: string } | undefined;
  };
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** The image provider (ImaRouter, or the local simulator standing in for it): one section for all of it. */
  provider: {
    /** `simulator` when no API key is configured: the local simulator, never confused with the real API. */
    kind: 'real' | 'simulator';
    apiKey: string;
    baseUrl: string;
    model: string;
    timeoutMs: number;
    maxDownloadBytes: number;
    apiStyle: 'seed' | 'tasks';
    concurrency: number;
    rateLimitPerSecond: number;
    maxWaitMinutes: number;
    maxPaidAttempts: number;
    /** IMAROUTER_IDEMPOTENCY with its default applied. */
    idempotency: 'honoured' | 'unknown';
  };
  imaging: { concurrency: number; variants: string; maxOutputPixels: number };
  referenceMode: 'inline' | 'url';
  storage: { kind: 'local' | 's3'; dir: string; s3: S3Settings | undefined };
  /** The publish step: ASSET_PUBLIC_BASE_URL (undefined: destinations receive bytes only). */
  publish: { publicBaseUrl: string | undefined };
  allowPrivateReferenceHosts: string[];
  sourceFetch: { attempts: number; windowMs: number; hostDownMs: number };
  http: {
    host: string;
    port: number;
    serviceToken: string | undefined;
    /** Accepted by the payload codec endpoint besides serviceToken. */
    codecToken: string | undefined;
    /** The shared secret, for catalogs without their own. */
    webhookSecret: string | undefined;
    /** Decrypts the per-catalog webhook secrets stored in Postgres (WEBHOOK_SECRET_KEY). */
    webhookSecretKey: Buffer | undefined;
    webhookToleranceSeconds: number;
    bodyLimitBytes: number;
    webhookMaxEvents: number;
    webhookEventRetentionDays: number;
  };
}

/** Settings of the S3-compatible asset store; present only when ASSET_STORAGE=s3. */
export interface S3Settings {
  bucket: string;
  region: string;
  /** Undefined means AWS S3 itself. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Undefined means the AWS SDK's default credential chain (environment, instance or task role...). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  presignSeconds: number;
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  // Register secrets before anything below can echo them in an error message.
  registerSecret(e.S3_SECRET_ACCESS_KEY);
  registerSecret(e.TEMPORAL_PAYLOAD_KEY);
  registerSecret(e.WEBHOOK_SECRET_KEY);
  registerSecret(e.TEMPORAL_CODEC_TOKEN);
  const problems: string[] = [];
  if (e.IMAROUTER_API_KEY && !e.IMAROUTER_BASE_URL) {
    problems.push('IMAROUTER_BASE_URL: required when IMAROUTER_API_KEY is set (the real API\'s base URL)');
  }
  if (e.ASSET_STORAGE === 's3' && !e.S3_BUCKET) {
    problems.push('S3_BUCKET: required when ASSET_STORAGE=s3 (the bucket that holds the assets)');
  }
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    problems.push(
      `${e.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'}: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together, or neither (to use the AWS default credential chain)`,
    );
  }
  if (e.REFERENCE_MODE === 'url' && e.ASSET_STORAGE !== 's3') {
    problems.push(
      'REFERENCE_MODE: url needs ASSET_STORAGE=s3 (presigned URLs the provider can fetch); local files are never reachable by the provider, so use REFERENCE_MODE=inline',
    );
  }
  if (e.TEMPORAL_PAYLOAD_KEY_ID && !e.TEMPORAL_PAYLOAD_KEY) {
    problems.push('TEMPORAL_PAYLOAD_KEY_ID: names the payload encryption key, so it needs TEMPORAL_PAYLOAD_KEY too');
  }
  const simulatorAllowed = e.IMAROUTER_SIMULATOR ?? e.NODE_ENV !== 'production';
  if (!e.IMAROUTER_API_KEY && !simulatorAllowed) {
    problems.push(
      e.IMAROUTER_SIMULATOR === false
        ? 'IMAROUTER_API_KEY: required because IMAROUTER_SIMULATOR=0 refuses the local simulator'
        : 'IMAROUTER_API_KEY: required with NODE_ENV=production (the local simulator never stands in for the real API by accident; set IMAROUTER_SIMULATOR=1 to run production on the simulator on purpose)',
    );
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  registerSecret(e.IMAROUTER_API_KEY);
  registerSecret(e.TEMPORAL_API_KEY);
  registerSecret(e.SERVICE_TOKEN);
  registerSecret(e.WEBHOOK_SECRET);
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir: path.resolve(e.DATA_DIR),
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      tls: e.TEMPORAL_TLS,
      apiKey: e.TEMPORAL_API_KEY,
      uiUrl: e.TEMPORAL_UI_URL,
      taskQueuePrefix: e.TEMPORAL_TASK_QUEUE_PREFIX,
      payloadKey: payloadKeyOf(e.TEMPORAL_PAYLOAD_KEY, e.TEMPORAL_PAYLOAD_KEY_ID),
    },
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    provider: {
      kind: e.IMAROUTER_API_KEY ? 'real' : 'simulator',
      apiKey: e.IMAROUTER_API_KEY ?? e.SIMULATOR_API_KEY,
      baseUrl: e.IMAROUTER_BASE_URL ?? e.SIMULATOR_URL,
      model: e.IMAROUTER_MODEL,
      timeoutMs: e.IMAROUTER_TIMEOUT_MS,
      maxDownloadBytes: e.IMAROUTER_MAX_DOWNLOAD_MB * 1024 * 1024,
      apiStyle: e.IMAROUTER_API_STYLE,
      concurrency: e.PROVIDER_CONCURRENCY,
      rateLimitPerSecond: e.PROVIDER_RATE_LIMIT_PER_SECOND,
      maxWaitMinutes: e.PROVIDER_MAX_WAIT_MINUTES,
      maxPaidAttempts: e.MAX_PAID_ATTEMPTS,
      idempotency: e.IMAROUTER_IDEMPOTENCY ?? (e.IMAROUTER_API_KEY ? 'unknown' : 'honoured'),
    },
    imaging: { concurrency: e.IMAGING_CONCURRENCY, variants: e.VARIANTS, maxOutputPixels: e.MAX_OUTPUT_MEGAPIXELS * 1_000_000 },
    referenceMode: e.REFERENCE_MODE,
    storage: {
      kind: e.ASSET_STORAGE,
      dir: path.resolve(e.ASSET_DIR ?? path.join(e.DATA_DIR, 'assets')),
      s3:
        e.ASSET_STORAGE === 's3' && e.S3_BUCKET
          ? {
              bucket: e.S3_BUCKET,
              region: e.S3_REGION,
              endpoint: e.S3_ENDPOINT,
              forcePathStyle: e.S3_FORCE_PATH_STYLE ?? e.S3_ENDPOINT !== undefined,
              credentials:
                e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
                  ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
                  : undefined,
              presignSeconds: e.S3_PRESIGN_SECONDS,
            }
          : undefined,
    },
    publish: { publicBaseUrl: e.ASSET_PUBLIC_BASE_URL },
    allowPrivateReferenceHosts: e.ALLOW_PRIVATE_REFERENCE_HOSTS,
    sourceFetch: { attempts: e.SOURCE_FETCH_ATTEMPTS, windowMs: e.SOURCE_FETCH_WINDOW_SECONDS * 1_000, hostDownMs: e.SOURCE_HOST_DOWN_SECONDS * 1_000 },
    http: {
      host: e.HTTP_HOST,
      port: e.HTTP_PORT,
      serviceToken: e.SERVICE_TOKEN,
      codecToken: e.TEMPORAL_CODEC_TOKEN,
      webhookSecret: e.WEBHOOK_SECRET,
      webhookSecretKey: e.WEBHOOK_SECRET_KEY === undefined ? undefined : decodePayloadKey(e.WEBHOOK_SECRET_KEY),
      webhookToleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
      webhookMaxEvents: e.WEBHOOK_MAX_EVENTS,
      webhookEventRetentionDays: e.WEBHOOK_EVENT_RETENTION_DAYS,
    },
  };
}

/** Names of every variable the schema knows (used to check docker-compose.yml and the README). */
export const KNOWN_ENV_VARS = Object.keys(envSchema.shape);

function payloadKeyOf(value: string | undefined, keyId: string | undefined): Config['temporal']['payloadKey'] {
  const key = value === undefined ? undefined : decodePayloadKey(value);
  return key ? { key, keyId: keyId ?? payloadKeyId(key) } : undefined;
}
