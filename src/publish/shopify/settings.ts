import { z } from 'zod';

/**
 * The Admin API version every call is pinned to: the newest stable one (released 2026-10-01, supported
 * at least until 2027-10-01). Shopify supports a version for at least 12 months and then answers calls
 * to it with the oldest version still supported (saying so in `X-Shopify-API-Version`), so moving it is
 * a deliberate, quarterly change (check `productUpdate`'s `media`, `stagedUploadsCreate` and
 * `productVariants` in the changelog), never an automatic one.
 */
export const SHOPIFY_API_VERSION = '2026-10';
export const SHOPIFY_TOKEN_ENV = 'SHOPIFY_ADMIN_TOKEN';

const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/;
const LOCAL_URL = /^http:\/\/127\.0\.0\.1:\d{1,5}$/;

/**
 * One Shopify destination in a catalog's `destinations` array. The token is never in settings: the
 * settings name the environment variable that holds it.
 */
export const shopifySettingsSchema = z.strictObject({
  name: z
    .string({ error: 'name: a destination name is required' })
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'name: use 1-63 lower-case letters, digits, "-" or "_" (e.g. "shop-eu")'),
  kind: z.literal('shopify', { error: 'kind: must be "shopify"' }),
  shop: z
    .string({ error: 'shop: the shop domain is required (e.g. "acme.myshopify.com")' })
    .trim()
    .toLowerCase()
    .refine((s) => SHOP_DOMAIN.test(s) || LOCAL_URL.test(s), {
      message: 'shop: must be the permanent "<name>.myshopify.com" domain (not a custom domain, no https://) or http://127.0.0.1:<port> for the local stand-in',
    }),
  apiVersion: z
    .string()
    .regex(/^\d{4}-(01|04|07|10)$/, 'apiVersion: must be a quarterly Admin API version such as "2025-10" (YYYY-01, -04, -07 or -10)')
    .default(SHOPIFY_API_VERSION),
  tokenEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'tokenEnv: must be the NAME of an environment variable (upper case, digits, "_"), not the token itself')
    .default(SHOPIFY_TOKEN_ENV),
  /** Which slots' variant files go to Shopify is the publish step's business; the adapter takes the first file it is given. */
});

export type ShopifySettings = z.output<typeof shopifySettingsSchema>;

/** The GraphQL endpoint for the settings: https for a real shop, the given origin for the stand-in. */
export function graphqlEndpoint(settings: Pick<ShopifySettings, 'shop' | 'apiVersion'>): string {
  const origin = settings.shop.startsWith('http://') ? settings.shop : `https://${settings.shop}`;
  return `${origin}/admin/api/${settings.apiVersion}/graphql.json`;
}
