import type { Kysely } from 'kysely';
import type { Database } from '../src/db/schema';
import type { ImageLimits } from '../src/imaging';
import type { VariantSpec } from '../src/imaging/variantSpec';
import type { FetchedImage } from '../src/net/guardedFetch';
import type { SeedreamClient } from '../src/provider/client';
import type { AssetStorage } from '../src/storage/types';

/** Everything the activities touch, injected so tests and the local stack can wire their own. */
export interface ActivityDeps {
  db: Kysely<Database>;
  provider: Pick<SeedreamClient, 'generate' | 'edit' | 'compose' | 'getJob' | 'download'>;
  storage: AssetStorage;
  /** The provider's model path: part of every fingerprint. */
  model: string;
  variants: VariantSpec[];
  /** Limits for provider outputs (untrusted input). */
  outputLimits: ImageLimits;
  referenceMode: 'inline' | 'url';
  /** Fetches a PIM-supplied image URL under the network guard. */
  fetchSource(url: string): Promise<FetchedImage>;
  poll: { initialMs: number; maxIntervalMs: number; maxWaitMs: number };
}
