import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema';
import type { ImageLimits } from '../../imaging';
import type { VariantSpec } from '../../imaging/variantSpec';
import type { FetchedImage } from '../../net/guardedFetch';
import type { SourceFetchPolicy } from '../../net/sourceFetcher';
import type { ProviderClient } from '../../provider/client';
import type { AssetStorage } from '../../storage/types';
import type { ChannelGate, DestinationContext } from '../../publish/destination';
import type { AnyKind } from '../../publish/settings';

/** Everything the activities touch, injected so tests and the local stack can wire their own. */
export interface ActivityDeps {
  db: Kysely<Database>;
  provider: Pick<ProviderClient, 'generate' | 'edit' | 'compose' | 'getJob' | 'download'>;
  storage: AssetStorage;
  /** The provider's model path: part of every fingerprint. */
  model: string;
  variants: VariantSpec[];
  /** Limits for provider outputs (untrusted input). */
  outputLimits: ImageLimits;
  referenceMode: 'inline' | 'url';
  /** Fetches a PIM-supplied image URL under the network guard. */
  fetchSource(url: string): Promise<FetchedImage>;
  /** How many tries a source image gets, over how long (default DEFAULT_SOURCE_FETCH_POLICY). */
  sourceFetch?: SourceFetchPolicy;
  poll: { initialMs: number; maxIntervalMs: number; maxWaitMs: number };
  /**
   * Which provider makes the images (simulator or real, base URL, model): recorded with every paid
   * step and part of every fingerprint, so a simulator image never counts as current for the real API.
   */
  providerIdentity: string;
  /**
   * Whether the provider is known to honour Idempotency-Key. `unknown`: an ambiguous submit is never
   * sent again automatically; it is parked in the ledger for an operator.
   */
  idempotency: 'honoured' | 'unknown';
  /** Billed jobs per step and fingerprint that bought nothing kept, before the slot needs an operator. */
  maxPaidAttempts: number;
  /** The destination kinds this build knows (default src/publish/kinds.ts; tests bring fakes). */
  destinationKinds?: readonly AnyKind[];
  /** Asked before an image goes to a destination that names a channel profile, when `publishGate` is on. */
  channelGate?: ChannelGate;
  /** ASSET_PUBLIC_BASE_URL: public URLs of stored files, for destinations that pull. */
  publicBaseUrl?: string;
  /** What destinations are built with: secrets from the environment, an injected fetch in tests. */
  destinationContext?: DestinationContext;
}
