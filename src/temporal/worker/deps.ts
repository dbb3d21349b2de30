/** Builds the activities' dependencies from configuration. */
import type { Kysely } from 'kysely';
import type { ActivityDeps } from '../activities/deps';
import { channelGate } from '../../db/repositories/channelChecks';
import type { Config } from '../../config';
import type { Database } from '../../db/schema';
import { CHEAP_TEST_VARIANTS, DEFAULT_VARIANTS, variantSetSchema, type VariantSpec } from '../../imaging';
import { guardedFetch } from '../../net/guardedFetch';
import type { ProviderClient } from '../../provider/client';
import { LIMITS } from '../../provider/contract';
import type { AssetStorage } from '../../storage/types';

/** VARIANTS: `default` (12 variants), `cheap` (two small JPEGs, for tests), or a JSON array of specs. */
export function parseVariants(value: string): VariantSpec[] {
  if (value === 'default') return [...DEFAULT_VARIANTS];
  if (value === 'cheap') return [...CHEAP_TEST_VARIANTS];
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new Error('VARIANTS: must be "default", "cheap" or a JSON array of variant specs');
  }
  const parsed = variantSetSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`VARIANTS: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

export function buildActivityDeps(
  config: Config,
  parts: { db: Kysely<Database>; provider: ProviderClient; storage: AssetStorage; variants?: VariantSpec[]; poll?: Partial<ActivityDeps['poll']> },
): ActivityDeps {
  return {
    db: parts.db,
    provider: parts.provider,
    storage: parts.storage,
    model: config.provider.model,
    variants: parts.variants ?? parseVariants(config.imaging.variants),
    outputLimits: { maxBytes: config.provider.maxDownloadBytes, maxPixels: config.imaging.maxOutputPixels },
    referenceMode: config.referenceMode,
    fetchSource: (url) => guardedFetch(url, { allowHosts: config.allowPrivateReferenceHosts, maxBytes: LIMITS.maxReferenceBytes }),
    sourceFetch: { ...config.sourceFetch },
    poll: { initialMs: 500, maxIntervalMs: 5_000, maxWaitMs: config.provider.maxWaitMinutes * 60_000, ...parts.poll },
    providerIdentity: providerIdentity(config),
    idempotency: config.provider.idempotency,
    maxPaidAttempts: config.provider.maxPaidAttempts,
    publicBaseUrl: config.publish.publicBaseUrl,
    // With `publishGate` on, a destination naming a channel profile takes only assets that passed its check.
    channelGate: channelGate(parts.db),
  };
}

/** `simulator|real <base URL> <model>`: what made an image, in its fingerprint and its ledger row. */
export function providerIdentity(config: Config): string {
  return `${config.provider.kind} ${config.provider.baseUrl.replace(/\/+$/, '')} ${config.provider.model}`;
}
