/**
 * Publishes one asset version to Shopify as product media:
 *   1. find the product by the variant's SKU (`productVariants(query: "sku:…")`) and read its media;
 *   2. if a media image's file name carries this publication's marker, it is already there: done;
 *   3. `stagedUploadsCreate` (resource IMAGE, POST), then a multipart POST of the file to the target;
 *   4. `productUpdate(product: { id }, media: [{ originalSource, alt, mediaContentType: IMAGE }])`.
 *
 * Idempotency: the marker is in the uploaded file name, which Shopify keeps in the media's CDN URL. A
 * media still being processed has no URL yet, so while any media of the product is UPLOADED or
 * PROCESSING the adapter cannot tell and answers retryable (come back shortly) rather than risk a
 * second copy. `productUpdate` itself is never repeated in the call after an uncertain answer (5xx, a
 * dropped connection): the retry starts again at step 1 and finds the media by its name.
 */
import { createHash } from 'node:crypto';
import { PublishError, type DestinationAdapter, type DestinationContext, type PublishItem, type PublishReceipt, type ReadFile } from '../destination';
import { ShopifyGraphqlClient, type GraphqlResult } from './graphql';
import { checkShopifyLimits, publicationFileName, shopifyAlt, urlCarriesMarker } from './limits';
import {
  FIND_VARIANT_BY_SKU,
  MEDIA_PAGE,
  PRODUCT_MEDIA_PAGE,
  PRODUCT_UPDATE_MEDIA,
  SHOP_NAME,
  STAGED_UPLOADS_CREATE,
  type FindVariantData,
  type MediaConnection,
  type MediaNode,
  type ProductMediaData,
  type ProductUpdateData,
  type ShopData,
  type StagedUploadsData,
  type UserError,
} from './operations';
import { graphqlEndpoint, type ShopifySettings } from './settings';

/** First guesses of each operation's requested cost; replaced by what Shopify charged once known. */
const FIRST_COST_GUESS: Record<string, number> = {
  ShopName: 1,
  FindVariantBySku: 12,
  ProductMediaPage: 3 + MEDIA_PAGE * 3,
  StagedUploadsCreate: 11,
  ProductAttachMedia: 20,
};

/** The waits for the cost bucket one publish made (the client's counters mix concurrent publishes). */
interface WaitAccount {
  waitedMs: number;
  waits: number;
}

/** How long a staged upload is attached again rather than uploaded again (staged files expire at Shopify). */
const STAGED_REUSE_MS = 60 * 60 * 1000;

/** How long to come back when the product has media Shopify is still processing. */
const PROCESSING_RETRY_MS = 5_000;

export class ShopifyDestination implements DestinationAdapter {
  readonly kind = 'shopify' as const;
  readonly name: string;
  private client: ShopifyGraphqlClient | undefined;
  private readonly costs = new Map<string, number>();
  /** Staged uploads whose attach did not certainly happen, by publication key (this process only). */
  private readonly stagedFiles = new Map<string, { resourceUrl: string; sha256: string; at: number }>();
  private readonly fetch: typeof fetch;

  constructor(
    private readonly settings: ShopifySettings,
    private readonly ctx: DestinationContext,
  ) {
    this.name = settings.name;
    this.fetch = ctx.fetch ?? fetch;
  }

  /** One client per adapter, so every publish through it shares what is known of the bucket. */
  private graphql(): ShopifyGraphqlClient {
    if (this.client) return this.client;
    const token = this.ctx.env[this.settings.tokenEnv];
    if (!token) {
      throw new PublishError(`tokenEnv: the environment variable ${this.settings.tokenEnv} (the Admin API access token) is not set`, 'invalid_config', false);
    }
    this.client = new ShopifyGraphqlClient({ endpoint: graphqlEndpoint(this.settings), token, fetch: this.fetch, now: this.ctx.now ?? Date.now });
    return this.client;
  }

  private async call<T>(op: string, query: string, variables: Record<string, unknown>, idempotent: boolean, signal?: AbortSignal, account?: WaitAccount): Promise<GraphqlResult<T>> {
    const onWait = account
      ? (ms: number) => {
          account.waitedMs += ms;
          account.waits += 1;
        }
      : undefined;
    const result = await this.graphql().call<T>(op, query, variables, { expectedCost: this.costs.get(op) ?? FIRST_COST_GUESS[op] ?? 50, idempotent, signal, onWait });
    if (result.cost) this.costs.set(op, result.cost.requestedQueryCost);
    return result;
  }

  async test(signal?: AbortSignal): Promise<{ ok: true; detail: string }> {
    const { data } = await this.call<ShopData>('ShopName', SHOP_NAME, {}, true, signal);
    const served = this.graphql().servedVersion;
    const version =
      served && served !== this.settings.apiVersion
        ? `Admin API ${served} answered, not the pinned ${this.settings.apiVersion} (no longer supported: move apiVersion)`
        : `Admin API ${this.settings.apiVersion}`;
    return { ok: true, detail: `shop "${data.shop.name}" (${data.shop.myshopifyDomain}), ${version}` };
  }

  async publish(item: PublishItem, readFile: ReadFile, signal?: AbortSignal): Promise<PublishReceipt> {
    const file = item.files[0];
    if (!file) throw new PublishError(`files: no variant file is configured for Shopify for slot ${item.slot}`, 'invalid_config', false);
    const type = checkShopifyLimits(file);
    const { fileName, marker } = publicationFileName(item, type.ext);
    const client = this.graphql();
    const account: WaitAccount = { waitedMs: 0, waits: 0 };

    const product = await this.findProduct(item.sku, signal, account);
    const media = await this.allMedia(product.id, signal, account);
    const present = media.find((m) => urlCarriesMarker(m.image?.url, marker) || urlCarriesMarker(m.originalSource?.url, marker));
    if (present) {
      this.stagedFiles.delete(item.publicationKey);
      return { remoteId: present.id, alreadyPresent: true, details: { productId: product.id, fileName, mediaStatus: present.status } };
    }
    const pending = media.filter((m) => (m.status === 'UPLOADED' || m.status === 'PROCESSING') && !m.image?.url && !m.originalSource?.url);
    if (pending.length > 0) {
      throw new PublishError(
        `Shopify is still processing ${pending.length} media of product ${product.id}; whether this version is among them shows once they are ready`,
        'unavailable',
        true,
        PROCESSING_RETRY_MS,
      );
    }

    const bytes = await readFile(file.storageKey);
    if (bytes.length !== file.bytes || createHash('sha256').update(bytes).digest('hex') !== file.sha256) {
      throw new PublishError(`files[${file.variant}]: stored file ${file.storageKey} does not match its recorded size and sha256`, 'rejected', false);
    }

    const known = new Set(media.map((m) => m.id));
    let attached: MediaNode | undefined;
    // A file staged by an earlier attempt in this process (whose attach failed uncertainly) is attached
    // again instead of being uploaded again; a fresh upload only when Shopify says the source is missing.
    let staged = this.stagedFiles.get(item.publicationKey);
    if (staged && (staged.sha256 !== file.sha256 || (this.ctx.now ?? Date.now)() - staged.at > STAGED_REUSE_MS)) staged = undefined;
    let uploads = 0;
    for (;;) {
      let resourceUrl: string;
      let delivered: boolean;
      if (staged) {
        ({ resourceUrl } = staged);
        delivered = false;
        staged = undefined;
      } else {
        const target = await this.stage(fileName, type.mime, bytes.length, signal, account);
        delivered = await this.upload(target, fileName, type.mime, bytes, signal);
        uploads += 1;
        resourceUrl = target.resourceUrl;
        this.stagedFiles.set(item.publicationKey, { resourceUrl, sha256: file.sha256, at: (this.ctx.now ?? Date.now)() });
      }
      const result = await this.attach(product.id, resourceUrl, shopifyAlt(item.altText), signal, account);
      if ('userErrors' in result) {
        this.stagedFiles.delete(item.publicationKey);
        const sourceMissing = result.userErrors.some((e) => (e.field ?? []).includes('originalSource'));
        // At most two uploads: a second only when the first was lost in transit.
        if (!delivered && sourceMissing && uploads < 2) continue;
        throw new PublishError(`Shopify productUpdate refused the media: ${formatUserErrors(result.userErrors)}`, 'rejected', false);
      }
      this.stagedFiles.delete(item.publicationKey);
      attached = result.nodes.filter((m) => !known.has(m.id)).at(-1) ?? result.nodes.at(-1);
      break;
    }
    if (!attached) throw new PublishError(`Shopify productUpdate answered without the new media for product ${product.id}`, 'unavailable', true);
    return {
      remoteId: attached.id,
      alreadyPresent: false,
      details: {
        productId: product.id,
        fileName,
        variant: file.variant,
        mediaStatus: attached.status,
        throttleWaitMs: Math.round(account.waitedMs),
        throttleWaits: account.waits,
        ...(client.servedVersion && client.servedVersion !== this.settings.apiVersion ? { servedApiVersion: client.servedVersion } : {}),
      },
    };
  }

  private async findProduct(sku: string, signal: AbortSignal | undefined, account: WaitAccount): Promise<{ id: string; title: string }> {
    const { data } = await this.call<FindVariantData>('FindVariantBySku', FIND_VARIANT_BY_SKU, { query: `sku:${searchValue(sku)}` }, true, signal, account);
    // Shopify's search is not an exact lookup: only a variant whose SKU is exactly ours counts.
    const variant = data.productVariants.nodes.find((v) => v.sku === sku);
    if (!variant) throw new PublishError(`sku: Shopify has no product variant with SKU "${sku}"`, 'not_found', false);
    return { id: variant.product.id, title: variant.product.title };
  }

  private async allMedia(productId: string, signal: AbortSignal | undefined, account: WaitAccount): Promise<MediaNode[]> {
    const nodes: MediaNode[] = [];
    let after: string | null = null;
    for (;;) {
      const cursor: string | null = after;
      const result: GraphqlResult<ProductMediaData> = await this.call<ProductMediaData>('ProductMediaPage', PRODUCT_MEDIA_PAGE, { id: productId, mediaFirst: MEDIA_PAGE, after: cursor }, true, signal, account);
      const product: ProductMediaData['product'] = result.data.product;
      if (!product) throw new PublishError(`Shopify product ${productId} disappeared while its media was read`, 'not_found', false);
      nodes.push(...product.media.nodes);
      const page: MediaConnection['pageInfo'] = product.media.pageInfo;
      if (!page?.hasNextPage || !page.endCursor) return nodes;
      after = page.endCursor;
    }
  }

  private async stage(filename: string, mimeType: string, fileSize: number, signal: AbortSignal | undefined, account: WaitAccount) {
    const { data } = await this.call<StagedUploadsData>(
      'StagedUploadsCreate',
      STAGED_UPLOADS_CREATE,
      { input: [{ filename, mimeType, resource: 'IMAGE', httpMethod: 'POST', fileSize: String(fileSize) }] },
      true,
      signal,
      account,
    );
    const payload = data.stagedUploadsCreate;
    if (payload && payload.userErrors.length > 0) {
      throw new PublishError(`Shopify stagedUploadsCreate refused the upload: ${formatUserErrors(payload.userErrors)}`, 'rejected', false);
    }
    const target = payload?.stagedTargets?.[0];
    if (!target?.url || !target.resourceUrl) throw new PublishError('Shopify stagedUploadsCreate answered without a target', 'unavailable', true);
    return target;
  }

  /**
   * The multipart POST to the staged target: every parameter as given, the file last (the storage
   * service ignores fields after the file). Returns false when the answer was lost, so the caller
   * cannot know whether the file arrived.
   */
  private async upload(target: { url: string; parameters: { name: string; value: string }[] }, fileName: string, mime: string, bytes: Buffer, signal?: AbortSignal): Promise<boolean> {
    const form = new FormData();
    for (const p of target.parameters) form.append(p.name, p.value);
    form.append('file', new Blob([new Uint8Array(bytes)], { type: mime }), fileName);
    let response: Response;
    try {
      const timeout = AbortSignal.timeout(120_000);
      response = await this.fetch(target.url, { method: 'POST', body: form, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      if (signal?.aborted) throw err;
      return false;
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 200 && response.status < 300) return true;
    if (response.status >= 500) throw new PublishError(`Shopify staged upload: HTTP ${response.status}`, 'unavailable', true);
    throw new PublishError(`Shopify staged upload refused the file: HTTP ${response.status}: ${xmlMessage(text)}`, 'rejected', false);
  }

  private async attach(productId: string, originalSource: string, alt: string, signal: AbortSignal | undefined, account: WaitAccount): Promise<{ nodes: MediaNode[] } | { userErrors: UserError[] }> {
    const { data } = await this.call<ProductUpdateData>(
      'ProductAttachMedia',
      PRODUCT_UPDATE_MEDIA,
      { product: { id: productId }, media: [{ originalSource, alt, mediaContentType: 'IMAGE' }] },
      false,
      signal,
      account,
    ).catch((err: unknown) => {
      if (err instanceof PublishError && (err.code === 'network' || err.code === 'unavailable')) {
        throw new PublishError(`${err.message}; whether the media was attached is checked on the next attempt`, err.code, true, err.retryAfterMs);
      }
      throw err;
    });
    const payload = data.productUpdate;
    if (!payload) throw new PublishError('Shopify productUpdate answered without a payload', 'unavailable', true);
    if (payload.userErrors.length > 0) return { userErrors: payload.userErrors };
    return { nodes: payload.product?.media.nodes ?? [] };
  }
}

/** A value for Shopify's search syntax: quoted, with quotes and backslashes escaped. */
function searchValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function formatUserErrors(errors: UserError[]): string {
  return errors.map((e) => `${(e.field ?? []).join('.') || '(no field)'}: ${e.message}`).join('; ');
}

function xmlMessage(text: string): string {
  const m = /<Message>([^<]*)<\/Message>/.exec(text);
  return (m?.[1] ?? text).slice(0, 200);
}

