/**
 * Settings of an Akeneo destination (one entry of a catalog's `destinations` array, without the
 * publish step's own `slots`, `profile` and `enabled`, which it removes before asking this schema).
 * Secrets never live here: the client id, secret, username and password come from
 * `${credentialsEnvPrefix}_*` in the environment.
 */
import { z } from 'zod';

/** Akeneo's own rule for asset family and attribute codes: letters, digits, underscores. */
const AKENEO_CODE = /^[A-Za-z0-9_]+$/;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function akeneoCode(field: string) {
  return z
    .string({ error: `${field} must be a string` })
    .min(1, { error: `${field} must not be empty` })
    .max(255, { error: `${field} must be at most 255 characters (an Akeneo code)` })
    .regex(AKENEO_CODE, { error: `${field} may contain only letters, digits and underscores (an Akeneo code)` });
}

/** An Akeneo locale code as the PIM spells it (`en_US`, `fr_FR`). */
const akeneoLocale = (field: string) =>
  z.string({ error: `${field} must be a string` }).regex(/^[a-z]{2,3}_[A-Za-z0-9]{2,4}$/, { error: `${field} must be an Akeneo locale code such as en_US` });

const baseUrl = z
  .string({ error: 'baseUrl must be a string' })
  .transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `baseUrl is not a URL: ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    const local = LOCAL_HOSTS.has(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
      ctx.addIssue({ code: 'custom', message: 'baseUrl must use https (plain http only for localhost or 127.0.0.1)' });
      return z.NEVER;
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: 'baseUrl must not carry credentials; they come from the environment (credentialsEnvPrefix)' });
      return z.NEVER;
    }
    if (url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: 'baseUrl must not have a query or fragment' });
      return z.NEVER;
    }
    // The PIM may live under a path prefix; the API paths are appended to it.
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  });

export const akeneoSettingsSchema = z
  .strictObject(
    {
      name: z.string({ error: 'name must be a string' }).min(1, { error: 'name must not be empty' }).max(64, { error: 'name must be at most 64 characters' }),
      kind: z.literal('akeneo', { error: "kind must be 'akeneo'" }),
      /** The PIM's address, e.g. `https://acme.cloud.akeneo.com`. */
      baseUrl,
      /** The asset family the images go into; its product link rule attaches them to products. */
      assetFamily: akeneoCode('assetFamily'),
      /** The family's `media_file` attribute that receives the image. */
      mediaAttribute: akeneoCode('mediaAttribute').default('media'),
      /** The text attribute the family's product link rule reads the SKU from. */
      skuAttribute: akeneoCode('skuAttribute').default('sku'),
      /** A text attribute for the alt text; left out, no alt text is written. */
      altAttribute: akeneoCode('altAttribute').optional(),
      /** Whether `altAttribute` has one value per locale in the family (`value_per_locale`). */
      altLocalizable: z.boolean({ error: 'altLocalizable must be true or false' }).default(false),
      /** The Akeneo locale for alt text when the product has none (only with `altLocalizable`). */
      defaultLocale: akeneoLocale('defaultLocale').optional(),
      /** Product locale -> Akeneo locale where the plain rewrite (`en-GB` -> `en_GB`) is not right. */
      localeMap: z.record(z.string().min(1, { error: 'localeMap keys must not be empty' }), akeneoLocale('localeMap values')).optional(),
      /** Prefix of the environment variables holding the credentials (`AKENEO_CLIENT_ID`...). */
      credentialsEnvPrefix: z
        .string({ error: 'credentialsEnvPrefix must be a string' })
        .regex(/^[A-Z][A-Z0-9_]*$/, { error: 'credentialsEnvPrefix must be upper-case letters, digits and underscores, starting with a letter' })
        .default('AKENEO'),
      /** Per-request time limit in milliseconds (an upload gets four times as long). */
      requestTimeoutMs: z.number().int().min(1_000, { error: 'requestTimeoutMs must be at least 1000' }).max(300_000, { error: 'requestTimeoutMs must be at most 300000' }).default(30_000),
    },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown Akeneo destination setting(s): ${issue.keys.join(', ')}` : undefined) },
  )
  .superRefine((s, ctx) => {
    if (s.altLocalizable && !s.altAttribute) {
      ctx.addIssue({ code: 'custom', path: ['altLocalizable'], message: 'altLocalizable needs altAttribute (the localizable text attribute for alt text)' });
    }
    if (!s.altLocalizable && s.defaultLocale) {
      ctx.addIssue({ code: 'custom', path: ['defaultLocale'], message: 'defaultLocale applies only with altLocalizable: true' });
    }
    const attrs = [['mediaAttribute', s.mediaAttribute], ['skuAttribute', s.skuAttribute], ['altAttribute', s.altAttribute]] as const;
    for (let i = 0; i < attrs.length; i++) {
      for (let j = i + 1; j < attrs.length; j++) {
        const [fa, va] = attrs[i]!;
        const [fb, vb] = attrs[j]!;
        if (va !== undefined && va === vb) ctx.addIssue({ code: 'custom', path: [fb], message: `${fb} must differ from ${fa} (both are "${va}")` });
      }
    }
  });

export type AkeneoSettings = z.output<typeof akeneoSettingsSchema>;
export type AkeneoSettingsInput = z.input<typeof akeneoSettingsSchema>;

/** The four variables a destination reads, in the order they are checked. */
export function credentialVariables(prefix: string): { clientId: string; secret: string; username: string; password: string } {
  return { clientId: `${prefix}_CLIENT_ID`, secret: `${prefix}_SECRET`, username: `${prefix}_USERNAME`, password: `${prefix}_PASSWORD` };
}

/** Validates settings, throwing one message that names every bad field (`assetFamily: ...`). */
export function parseAkeneoSettings(input: unknown): AkeneoSettings {
  const parsed = akeneoSettingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message;
  });
  throw new Error(`invalid Akeneo destination settings: ${lines.join('; ')}`);
}
