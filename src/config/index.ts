/**
 * Configuration, parsed once from the environment by a zod schema. A missing or malformed variable
 * fails at start with a message naming the variable and the reason.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { registerSecret } from './redact';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

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

  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_POOL_SIZE: int(1, 200).default(10),

  IMAROUTER_BASE_URL: z.string().url().optional(),
  IMAROUTER_API_KEY: z.string().min(8, 'looks too short to be an API key').optional(),
  IMAROUTER_MODEL: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a model path such as seedream-4.5').default('seedream-4.5'),
  IMAROUTER_TIMEOUT_MS: int(1_000, 300_000).default(25_000),
  IMAROUTER_MAX_DOWNLOAD_MB: int(1, 200).default(40),
  /** With no IMAROUTER_API_KEY the worker talks to the local simulator, which accepts this key. */
  SIMULATOR_API_KEY: z.string().min(1).default('sim-local-key'),

  PROVIDER_CONCURRENCY: int(1, 1_000).default(32),
  PROVIDER_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().max(10_000).default(8),
  PROVIDER_MAX_WAIT_MINUTES: int(1, 24 * 60).default(30),
  IMAGING_CONCURRENCY: int(1, 256).default(Math.max(1, os.availableParallelism())),
  REFERENCE_MODE: z.enum(['inline', 'url']).default('inline'),
  VARIANTS: z.string().default('default'),
  MAX_OUTPUT_MEGAPIXELS: int(1, 200).default(40),

  ASSET_STORAGE: z.enum(['local', 's3']).default('local'),
  ASSET_DIR: z.string().min(1).optional(),
  ALLOW_PRIVATE_REFERENCE_HOSTS: csv.default([]),

  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: int(0, 65_535).default(8080),
  SERVICE_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  WEBHOOK_SECRET: z.string().min(16, 'use at least 16 characters').optional(),
  WEBHOOK_TOLERANCE_SECONDS: int(10, 3_600).default(300),
});

export type Env = z.infer<typeof envSchema>;

/** Where `catalog-assets simulator` listens by default. */
export const DEFAULT_SIMULATOR_URL = 'http://127.0.0.1:8790';

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
  };
  databaseUrl: string | undefined;
  databasePoolSize: number;
  imarouter: {
    /** `simulator` when no API key is configured: the local simulator, never confused with the real API. */
    kind: 'real' | 'simulator';
    apiKey: string;
    baseUrl: string;
    model: string;
    timeoutMs: number;
    maxDownloadBytes: number;
  };
  provider: { concurrency: number; rateLimitPerSecond: number; maxWaitMinutes: number };
  imaging: { concurrency: number; variants: string; maxOutputPixels: number };
  referenceMode: 'inline' | 'url';
  storage: { kind: 'local' | 's3'; dir: string };
  allowPrivateReferenceHosts: string[];
  http: { host: string; port: number; serviceToken: string | undefined; webhookSecret: string | undefined; webhookToleranceSeconds: number };
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.IMAROUTER_API_KEY && !e.IMAROUTER_BASE_URL) {
    throw new ConfigError('invalid configuration:\n  IMAROUTER_BASE_URL: required when IMAROUTER_API_KEY is set (the real API\'s base URL)');
  }
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
    },
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    imarouter: {
      kind: e.IMAROUTER_API_KEY ? 'real' : 'simulator',
      apiKey: e.IMAROUTER_API_KEY ?? e.SIMULATOR_API_KEY,
      baseUrl: e.IMAROUTER_BASE_URL ?? DEFAULT_SIMULATOR_URL,
      model: e.IMAROUTER_MODEL,
      timeoutMs: e.IMAROUTER_TIMEOUT_MS,
      maxDownloadBytes: e.IMAROUTER_MAX_DOWNLOAD_MB * 1024 * 1024,
    },
    provider: {
      concurrency: e.PROVIDER_CONCURRENCY,
      rateLimitPerSecond: e.PROVIDER_RATE_LIMIT_PER_SECOND,
      maxWaitMinutes: e.PROVIDER_MAX_WAIT_MINUTES,
    },
    imaging: { concurrency: e.IMAGING_CONCURRENCY, variants: e.VARIANTS, maxOutputPixels: e.MAX_OUTPUT_MEGAPIXELS * 1_000_000 },
    referenceMode: e.REFERENCE_MODE,
    storage: { kind: e.ASSET_STORAGE, dir: path.resolve(e.ASSET_DIR ?? path.join(e.DATA_DIR, 'assets')) },
    allowPrivateReferenceHosts: e.ALLOW_PRIVATE_REFERENCE_HOSTS,
    http: {
      host: e.HTTP_HOST,
      port: e.HTTP_PORT,
      serviceToken: e.SERVICE_TOKEN,
      webhookSecret: e.WEBHOOK_SECRET,
      webhookToleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
    },
  };
}

/** Names of every variable the schema knows (used to check docker-compose.yml and the README). */
export const KNOWN_ENV_VARS = Object.keys(envSchema.shape);
