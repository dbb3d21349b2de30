/**
 * The Akeneo destination: each published asset version becomes one asset in the configured asset
 * family (Asset Manager), holding the image in its media attribute and the SKU in the attribute the
 * family's product link rule reads, so Akeneo attaches it to the product itself.
 *
 * Idempotency: the asset code derives from (catalog, SKU, slot, version). Before uploading, the asset
 * is read; one that already holds a media value is this version already published, and nothing is
 * sent. The order is upload, then one PATCH that sets the media and the SKU together, so an asset
 * never exists half-written: it either has its media (published) or does not exist yet.
 *
 * When the upload succeeded but the PATCH did not (429, 5xx, a connection dropped before Akeneo read
 * it), the next attempt in the same worker reuses the media file code instead of uploading again.
 *
 * A dropped connection after Akeneo accepted the upload: the code of that media file never reached
 * us, and Akeneo has no way to look a media file up (its codes are random storage paths, there is no
 * idempotency key), so the retry uploads the file again and patches the asset once with the new code.
 * The first file stays an unreferenced media file in the PIM's storage (not an asset, not shown on any
 * product). That second upload is the chosen trade: the alternative, writing the asset before its
 * media, would show a product an asset without an image. What cannot happen is a second asset, or a
 * second PATCH, for one version: the asset is only ever written after the lookup found it without
 * media, and a PATCH dropped after it was applied is found by the next attempt's lookup.
 */
import { createHash } from 'node:crypto';
import { registerSecret } from '../../config/redact';
import { PublishError, type DestinationAdapter, type DestinationContext, type DestinationKind, type PublishFile, type PublishItem, type PublishReceipt, type ReadFile } from '../destination';
import { akeneoAssetCode, akeneoLocaleFor, mediaFileName } from './assetCode';
import { AkeneoClient, type AssetValue } from './client';
import { akeneoSettingsSchema, credentialVariables, type AkeneoSettings } from './settings';

export { akeneoSettingsSchema, parseAkeneoSettings, type AkeneoSettings, type AkeneoSettingsInput } from './settings';
export { akeneoAssetCode } from './assetCode';

/** Akeneo text attributes hold at most 255 characters unless configured otherwise. */
const MAX_TEXT = 255;
const MAX_REMEMBERED_UPLOADS = 1000;

export const akeneoKind: DestinationKind<AkeneoSettings> = {
  kind: 'akeneo',
  settingsSchema: akeneoSettingsSchema,
  create: (settings, ctx) => new AkeneoDestination(settings, ctx),
};

function readCredentials(settings: AkeneoSettings, env: DestinationContext['env']) {
  const names = credentialVariables(settings.credentialsEnvPrefix);
  const read = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      throw new PublishError(`Akeneo destination "${settings.name}": environment variable ${name} is not set (credentialsEnvPrefix ${settings.credentialsEnvPrefix})`, 'invalid_config', false);
    }
    return value;
  };
  const secret = read(names.secret);
  const password = read(names.password);
  // From here on no log line, error message or results page can show them, whoever echoes them.
  registerSecret(secret);
  registerSecret(password);
  return {
    clientId: read(names.clientId),
    secret,
    username: read(names.username),
    password,
    variables: `${names.clientId}, ${names.secret}, ${names.username} and ${names.password}`,
  };
}

class AkeneoDestination implements DestinationAdapter {
  readonly kind = 'akeneo' as const;
  readonly name: string;
  private readonly client: AkeneoClient;
  /** Set once the family has been seen: a missing family is reported as such, not as a failed upload. */
  private familyChecked?: Promise<void>;
  /**
   * Media files uploaded but not yet in their asset (the PATCH failed with a 5xx, a 429 or a dropped
   * connection before it was accepted): an attempt in this process reuses the code instead of
   * uploading the same bytes again. Keyed by asset code and content hash; bounded.
   */
  private readonly uploaded = new Map<string, string>();
  private readonly inProgress = new Map<string, Promise<PublishReceipt>>();

  constructor(
    private readonly settings: AkeneoSettings,
    ctx: DestinationContext,
  ) {
    this.name = settings.name;
    this.client = new AkeneoClient({
      baseUrl: settings.baseUrl,
      credentials: readCredentials(settings, ctx.env),
      fetch: ctx.fetch ?? globalThis.fetch,
      now: ctx.now ?? Date.now,
      timeoutMs: settings.requestTimeoutMs,
    });
  }

  async test(signal?: AbortSignal): Promise<{ ok: true; detail: string }> {
    await this.client.accessToken(signal);
    await this.checkFamily();
    const { assetFamily, mediaAttribute, skuAttribute, altAttribute } = this.settings;
    const checks: Array<[string, string, string[]]> = [
      ['mediaAttribute', mediaAttribute, ['media_file']],
      ['skuAttribute', skuAttribute, ['text']],
    ];
    if (altAttribute) checks.push(['altAttribute', altAttribute, ['text']]);
    for (const [field, code, types] of checks) {
      const attr = await this.client.getAssetAttribute(assetFamily, code, signal);
      if (!attr) throw new PublishError(`${field}: asset family "${assetFamily}" has no attribute "${code}"`, 'invalid_config', false);
      if (!types.includes(attr.type)) {
        throw new PublishError(`${field}: attribute "${code}" of asset family "${assetFamily}" is of type ${attr.type}, expected ${types.join(' or ')}`, 'invalid_config', false);
      }
      if (field === 'altAttribute' && Boolean(attr.value_per_locale) !== this.settings.altLocalizable) {
        throw new PublishError(
          `altLocalizable: attribute "${code}" ${attr.value_per_locale ? 'has' : 'does not have'} one value per locale; set altLocalizable to ${Boolean(attr.value_per_locale)}`,
          'invalid_config',
          false,
        );
      }
    }
    return { ok: true, detail: `token obtained; asset family "${assetFamily}" has media attribute "${mediaAttribute}" and SKU attribute "${skuAttribute}"` };
  }

  async publish(item: PublishItem, readFile: ReadFile, signal?: AbortSignal): Promise<PublishReceipt> {
    const code = akeneoAssetCode(item);
    // Two publications of one version in this process (a retry overtaking a slow attempt) run one
    // after the other, so the second finds the asset instead of uploading and writing it again.
    const before = this.inProgress.get(code);
    const run = (async () => {
      if (before) await before.catch(() => undefined);
      return this.publishOnce(item, code, readFile, signal);
    })();
    this.inProgress.set(code, run);
    try {
      return await run;
    } finally {
      if (this.inProgress.get(code) === run) this.inProgress.delete(code);
    }
  }

  private async publishOnce(item: PublishItem, code: string, readFile: ReadFile, signal?: AbortSignal): Promise<PublishReceipt> {
    const { assetFamily, mediaAttribute } = this.settings;
    const file = item.files[0];
    if (!file) throw new PublishError(`no file to publish for ${item.sku}/${item.slot} v${item.version} (check this destination's slots)`, 'rejected', false);
    await this.checkFamily();

    const existing = await this.client.getAsset(assetFamily, code, signal);
    const held = existing?.values[mediaAttribute]?.find((v) => typeof v.data === 'string' && v.data !== '');
    if (held) {
      return { remoteId: code, alreadyPresent: true, details: { assetFamily, mediaFileCode: held.data as string, variant: file.variant } };
    }

    const values = this.values(item, code);
    const uploadKey = `${code}:${file.sha256}`;
    let mediaCode = this.uploaded.get(uploadKey);
    let status: 201 | 204;
    try {
      if (!mediaCode) {
        const bytes = await this.readChecked(file, readFile);
        mediaCode = (await this.client.uploadMediaFile(bytes, mediaFileName(code, file.format), file.contentType, signal)).code;
        this.remember(uploadKey, mediaCode);
      }
      values[mediaAttribute] = [{ locale: null, channel: null, data: mediaCode }];
      status = await this.client.patchAsset(assetFamily, { code, values }, signal);
    } catch (err) {
      // A rejected asset write may be about the media file itself: the next attempt uploads afresh.
      if (err instanceof PublishError && !err.retryable) this.uploaded.delete(uploadKey);
      throw err;
    }
    this.uploaded.delete(uploadKey);
    return {
      remoteId: code,
      alreadyPresent: false,
      details: { assetFamily, mediaFileCode: mediaCode, variant: file.variant, status, ...(item.altText.length > MAX_TEXT && this.settings.altAttribute ? { altTruncated: true } : {}) },
    };
  }

  private remember(key: string, mediaCode: string): void {
    this.uploaded.set(key, mediaCode);
    while (this.uploaded.size > MAX_REMEMBERED_UPLOADS) this.uploaded.delete(this.uploaded.keys().next().value!);
  }

  private checkFamily(): Promise<void> {
    // Publications started together share one lookup (under its own time limit, not one caller's
    // cancellation); a failed lookup is asked again next time.
    this.familyChecked ??= (async () => {
      const family = await this.client.getAssetFamily(this.settings.assetFamily);
      if (!family) {
        throw new PublishError(`assetFamily: Akeneo has no asset family "${this.settings.assetFamily}" (or the API user may not see it)`, 'not_found', false);
      }
    })().catch((err: unknown) => {
      this.familyChecked = undefined;
      throw err;
    });
    return this.familyChecked;
  }

  /** The SKU (and alt text) values; the media value is added once the upload named it. */
  private values(item: PublishItem, code: string): Record<string, AssetValue[]> {
    const s = this.settings;
    const values: Record<string, AssetValue[]> = {};
    if (item.sku.length > MAX_TEXT) throw new PublishError(`SKU "${item.sku.slice(0, 40)}..." is longer than an Akeneo text value (${MAX_TEXT})`, 'rejected', false);
    values[s.skuAttribute] = [{ locale: null, channel: null, data: item.sku }];
    const alt = item.altText.trim();
    if (s.altAttribute && alt !== '') {
      let locale: string | null = null;
      if (s.altLocalizable) {
        const mapped = akeneoLocaleFor(item.locale, s.localeMap, s.defaultLocale);
        if (!mapped) {
          throw new PublishError(
            `asset ${code}: alt text is localizable (altLocalizable) but product locale ${item.locale ? `"${item.locale}" has no Akeneo locale (add it to localeMap)` : 'is unknown'} and no defaultLocale is set`,
            'invalid_config',
            false,
          );
        }
        locale = mapped;
      }
      values[s.altAttribute] = [{ locale, channel: null, data: alt.length > MAX_TEXT ? `${alt.slice(0, MAX_TEXT - 1)}…` : alt }];
    }
    return values;
  }

  /** The stored bytes, checked against what the ledger recorded: a mismatch must never reach the PIM. */
  private async readChecked(file: PublishFile, readFile: ReadFile): Promise<Buffer> {
    const bytes = await readFile(file.storageKey);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== file.bytes || sha !== file.sha256) {
      throw new PublishError(`stored file ${file.storageKey} does not match its record (${bytes.length} bytes, sha256 ${sha.slice(0, 12)}...)`, 'rejected', false);
    }
    return bytes;
  }
}
