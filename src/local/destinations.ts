/**
 * The sample catalog's destinations in the local stack: the stand-ins of src/dev/standins (Akeneo,
 * Shopify, a webhook receiver), each a real HTTP server, and the catalog settings that point at them.
 *
 * This is the one place `npm start` wires them in: start each stand-in here, return its settings
 * entry (`{ name, kind, ...kind fields }`, validated against src/publish/kinds.ts when the sample
 * catalog is written) and the environment its secrets come from (the workers' DestinationContext).
 * Until the stand-ins and their kinds are part of the build, the sample catalog publishes nowhere.
 */
import type { DestinationSettings } from '../shared/publishSettings';

export interface LocalDestinations {
  /** The sample catalog's `destinations` setting. */
  destinations: DestinationSettings[];
  /** Secrets the destinations read from the environment (client secrets, access tokens, signing keys). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalDestinations(): Promise<LocalDestinations> {
  const closers: Array<() => Promise<void>> = [];
  const destinations: DestinationSettings[] = [];
  const env: Record<string, string> = {};
  // e.g. const akeneo = await startAkeneoStandIn({}); closers.push(akeneo.close);
  //      destinations.push({ name: 'akeneo', kind: 'akeneo', baseUrl: akeneo.url, ..., enabled: true });
  return {
    destinations,
    env,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
