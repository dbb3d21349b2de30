import type { DestinationKind } from '../destination';
import { ShopifyDestination } from './adapter';
import { shopifySettingsSchema, type ShopifySettings } from './settings';

export { SHOPIFY_API_VERSION, SHOPIFY_TOKEN_ENV, shopifySettingsSchema, type ShopifySettings } from './settings';
export { SHOPIFY_IMAGE_LIMITS } from './limits';

/** Shopify as a destination: product media through the Admin GraphQL API (see ./adapter.ts). */
export const shopifyKind: DestinationKind<ShopifySettings> = {
  kind: 'shopify',
  settingsSchema: shopifySettingsSchema,
  create: (settings, ctx) => new ShopifyDestination(shopifySettingsSchema.parse(settings), ctx),
};
