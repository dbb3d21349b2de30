/**
 * The sample catalog's destinations in the local stack: the stand-ins of src/dev/standins, each a real
 * HTTP server (Akeneo's REST API with its Asset Manager, Shopify's Admin GraphQL API, a webhook
 * receiver that verifies signatures), and the catalog settings that point at them. This is the one
 * place `npm start` wires them in: each stand-in starts here and returns its settings entry; its
 * secrets go into the environment the in-process workers' destinations read.
 */
import { randomBytes } from 'node:crypto';
import { startAkeneoStandIn, type RunningAkeneoStandIn } from '../dev/standins/akeneo';
import { startShopifyStandIn, type ShopifyStandIn } from '../dev/standins/shopify';
import { startWebhookReceiver, type WebhookReceiver } from '../dev/standins/webhookReceiver';
import type { DestinationSettings } from '../shared/publishSettings';

export const LOCAL_SHOPIFY_TOKEN_ENV = 'SHOPIFY_ADMIN_TOKEN';
export const LOCAL_EVENTS_SECRET_ENV = 'CATALOG_EVENTS_SECRET';

export interface LocalDestinations {
  /** The sample catalog's `destinations` setting. */
  destinations: DestinationSettings[];
  /** Secrets the destinations read from the environment (access tokens, signing secrets). */
  env: Record<string, string>;
  akeneo?: RunningAkeneoStandIn;
  shopify?: ShopifyStandIn;
  events?: WebhookReceiver;
  close(): Promise<void>;
}

export async function startLocalDestinations(o: { products: ReadonlyArray<{ sku: string; name: string; locale?: string }> }): Promise<LocalDestinations> {
  const closers: Array<() => Promise<void>> = [];
  try {
    // The PIM activates every locale the sample products carry (Akeneo refuses a value in any other).
    const locales = [...new Set(o.products.flatMap((p) => (p.locale ? [p.locale.replace('-', '_')] : [])))];
    const akeneo = await startAkeneoStandIn(locales.length > 0 ? { locales } : {});
    closers.push(() => akeneo.close());
    const shopify = await startShopifyStandIn({ shopName: 'sample', products: o.products.map((p) => ({ sku: p.sku, title: p.name })) });
    closers.push(() => shopify.close());
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const events = await startWebhookReceiver({ secret });
    closers.push(() => events.close());
    return {
      destinations: [
        { ...akeneo.destinationSettings('pim'), enabled: true },
        { name: 'shop', kind: 'shopify', shop: shopify.url, tokenEnv: LOCAL_SHOPIFY_TOKEN_ENV, enabled: true },
        { name: 'events', kind: 'webhook', url: events.url, secretEnv: LOCAL_EVENTS_SECRET_ENV, enabled: true },
      ],
      env: { ...akeneo.env(), [LOCAL_SHOPIFY_TOKEN_ENV]: shopify.token, [LOCAL_EVENTS_SECRET_ENV]: secret },
      akeneo,
      shopify,
      events,
      async close() {
        for (const close of closers.reverse()) await close();
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close();
    throw err;
  }
}
