/**
 * A small Admin GraphQL client: one POST per operation, the token in `X-Shopify-Access-Token`, and
 * Shopify's calculated-cost throttle obeyed from the `extensions.cost` every answer carries.
 *
 * The throttle is a leaky bucket of cost points per app and shop: a query needs its requested cost
 * available before it runs, the unused part is refunded, and the bucket refills at `restoreRate` points
 * a second. The client keeps the last status it was told and, before a call that would not fit, waits
 * for the refill instead of being answered THROTTLED.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PublishError } from '../destination';

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface QueryCost {
  requestedQueryCost: number;
  actualQueryCost: number | null;
  throttleStatus: ThrottleStatus;
}

export interface GraphqlClientOptions {
  endpoint: string;
  token: string;
  fetch: typeof fetch;
  now: () => number;
  /** How many times a call refused before it ran (THROTTLED, 429) is repeated in the call. */
  maxAttempts?: number;
  /** The longest the client waits in one go before handing the retry to the publish step. */
  maxWaitMs?: number;
}

export interface CallOptions {
  /** What the operation was charged last time (or a fair first guess): the client waits until that fits. */
  expectedCost: number;
  /** Repeating is safe after 5xx or a dropped connection (reads, staged targets); never for attaching media. */
  idempotent: boolean;
  signal?: AbortSignal;
  /** Told of every wait this call makes (for the caller's own account of throttling). */
  onWait?: (ms: number) => void;
}

export interface GraphqlResult<T> {
  data: T;
  cost?: QueryCost;
}

interface GraphqlError {
  message: string;
  extensions?: { code?: string };
}

const TIMEOUT_MS = 30_000;

export class ShopifyGraphqlClient {
  private status: { at: number; throttle: ThrottleStatus } | undefined;
  /** Points reserved by calls on their way: counted as spent until their answer brings a fresh status. */
  private inflight = 0;
  /** Total time spent waiting for the bucket (for receipts and tests). */
  waitedMs = 0;
  waits = 0;
  /** The version that answered (`X-Shopify-API-Version`): not the pinned one once Shopify dropped it. */
  servedVersion: string | undefined;

  constructor(private readonly o: GraphqlClientOptions) {}

  /** Points the bucket holds now, by the last status and the time since. */
  available(): number | undefined {
    if (!this.status) return undefined;
    const { throttle, at } = this.status;
    return Math.min(throttle.maximumAvailable, throttle.currentlyAvailable + (throttle.restoreRate * (this.o.now() - at)) / 1000) - this.inflight;
  }

  async call<T>(operationName: string, query: string, variables: Record<string, unknown>, opts: CallOptions): Promise<GraphqlResult<T>> {
    const maxAttempts = this.o.maxAttempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      await this.waitForBucket(opts.expectedCost, opts.signal, opts.onWait);
      const reserved = this.status ? opts.expectedCost : 0;
      this.inflight += reserved;
      try {
        return await this.once<T>(operationName, query, variables, opts.signal);
      } catch (err) {
        if (!(err instanceof PublishError) || !err.retryable || attempt >= maxAttempts) throw err;
        // THROTTLED and 429 were refused before running; 5xx and a lost connection may have run.
        const refused = err.code === 'rate_limited';
        if (!refused && !opts.idempotent) throw err;
        const waitMs = err.retryAfterMs ?? Math.min(8_000, 500 * 2 ** (attempt - 1));
        if (waitMs > (this.o.maxWaitMs ?? 30_000)) throw err;
        await this.pause(waitMs, opts.signal, opts.onWait);
      } finally {
        this.inflight -= reserved;
      }
    }
  }

  /** Waits until the bucket (as last told, refilled since, less what calls in flight reserved) holds `cost`. */
  private async waitForBucket(cost: number, signal?: AbortSignal, onWait?: (ms: number) => void): Promise<void> {
    for (;;) {
      const available = this.available();
      if (available === undefined || !this.status) return;
      const { restoreRate, maximumAvailable } = this.status.throttle;
      const need = Math.min(cost, maximumAvailable);
      if (need <= available || restoreRate <= 0) return;
      const waitMs = Math.ceil(((need - available) / restoreRate) * 1000);
      if (waitMs > (this.o.maxWaitMs ?? 30_000)) {
        throw new PublishError(`Shopify's cost bucket needs ${Math.ceil(waitMs / 1000)} s to refill for this call (cost ${cost})`, 'rate_limited', true, waitMs);
      }
      await this.pause(waitMs, signal, onWait);
    }
  }

  private async pause(ms: number, signal?: AbortSignal, onWait?: (ms: number) => void): Promise<void> {
    this.waits += 1;
    this.waitedMs += ms;
    onWait?.(ms);
    await sleep(ms, undefined, { signal });
  }

  private async once<T>(operationName: string, query: string, variables: Record<string, unknown>, signal?: AbortSignal): Promise<GraphqlResult<T>> {
    let response: Response;
    const timeout = AbortSignal.timeout(TIMEOUT_MS);
    try {
      response = await this.o.fetch(this.o.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-shopify-access-token': this.o.token },
        body: JSON.stringify({ query, variables, operationName }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new PublishError(`Shopify ${operationName}: connection failed (${describe(err)})`, 'network', true);
    }
    const text = await response.text().catch(() => '');
    this.servedVersion = response.headers.get('x-shopify-api-version') ?? this.servedVersion;
    if (response.status === 401 || response.status === 403) {
      throw new PublishError(
        `Shopify ${operationName}: HTTP ${response.status}: the Admin API token was refused${response.status === 403 ? ' or lacks a scope (write_products, read_products)' : ''}`,
        'bad_credentials',
        false,
      );
    }
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get('retry-after'));
      const ms = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 2_000;
      throw new PublishError(`Shopify ${operationName}: HTTP 429 (retry after ${ms} ms)`, 'rate_limited', true, ms);
    }
    if (response.status === 404) {
      throw new PublishError(`Shopify ${operationName}: HTTP 404 at ${this.o.endpoint}: check shop and apiVersion (is the version still supported?)`, 'invalid_config', false);
    }
    if (response.status >= 500) throw new PublishError(`Shopify ${operationName}: HTTP ${response.status}`, 'unavailable', true);
    if (response.status !== 200) throw new PublishError(`Shopify ${operationName}: HTTP ${response.status}: ${text.slice(0, 200)}`, 'rejected', false);

    let body: { data?: T | null; errors?: GraphqlError[]; extensions?: { cost?: QueryCost } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PublishError(`Shopify ${operationName}: the answer is not JSON`, 'unavailable', true);
    }
    const cost = body.extensions?.cost;
    if (cost?.throttleStatus) this.status = { at: this.o.now(), throttle: cost.throttleStatus };
    const errors = body.errors ?? [];
    if (errors.some((e) => e.extensions?.code === 'THROTTLED')) {
      const t = cost?.throttleStatus;
      const requested = cost?.requestedQueryCost ?? 0;
      const ms = t && t.restoreRate > 0 ? Math.ceil((Math.max(1, requested - t.currentlyAvailable) / t.restoreRate) * 1000) : 1_000;
      throw new PublishError(`Shopify ${operationName}: THROTTLED (cost ${requested}, ${t?.currentlyAvailable ?? '?'} available)`, 'rate_limited', true, ms);
    }
    if (errors.some((e) => e.extensions?.code === 'ACCESS_DENIED')) {
      throw new PublishError(`Shopify ${operationName}: access denied: ${errors.map((e) => e.message).join('; ')} (the app needs write_products and read_products)`, 'bad_credentials', false);
    }
    if (errors.some((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR')) {
      throw new PublishError(`Shopify ${operationName}: internal error: ${errors.map((e) => e.message).join('; ')}`, 'unavailable', true);
    }
    if (errors.length > 0 || body.data == null) {
      throw new PublishError(`Shopify ${operationName}: ${errors.map((e) => e.message).join('; ') || 'no data'}`, 'rejected', false);
    }
    return { data: body.data, cost };
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
