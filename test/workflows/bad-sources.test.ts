/**
 * A source image that cannot be fetched fails its slot, and only its slot, after a bounded number of
 * tries, with a reason naming the attribute, the URL and the cause; the other slots of the SKU are
 * generated. Unknown hosts are real DNS answers (RFC 6761 `.invalid`); transient faults come from a
 * fetch double in front of the real guarded fetch that answers 503 for a host of the test's own.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getSlotAttempts, listCurrentAssets } from '../../src/db/repositories/assets';
import { SourceFetchError, type FetchedImage } from '../../src/net/guardedFetch';
import { DEFAULT_SOURCE_FETCH_POLICY } from '../../src/net/sourceFetcher';
import { FailureType } from '../../src/shared/failures';
import { productWorkflowId } from '../../src/shared/ids';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = `bad-sources-${process.pid}`;
const DOWN_HOST = 'packshots.cdn-down.invalid';

describe('bad sources fail fast and visibly', () => {
  let stack: TestStack;
  let realFetch: TestStack['deps']['fetchSource'];
  /** Every URL the activities asked the network for, in order. */
  const fetched: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
    realFetch = stack.deps.fetchSource.bind(stack.deps);
  });
  afterEach(() => {
    stack.deps.fetchSource = realFetch;
    stack.deps.sourceFetch = { ...DEFAULT_SOURCE_FETCH_POLICY };
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A fetch double: `<host>` answers per `script` (a function of the try number), anything else goes to the real guarded fetch. */
  function scriptHost(host: string, script: (n: number, url: string) => Promise<FetchedImage>): void {
    let n = 0;
    stack.deps.fetchSource = (url) => {
      fetched.push(url);
      if (new URL(url).host !== host) return realFetch(url);
      n += 1;
      return script(n, url);
    };
  }

  async function settle(workflowId: string): Promise<ProductWorkflowResult> {
    try {
      return (await stack.client.workflow.getHandle(workflowId).result()) as ProductWorkflowResult;
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause && 'details' in err.cause) return (err.cause as { details: unknown[] }).details[0] as ProductWorkflowResult;
      throw err;
    }
  }

  async function historyLength(workflowId: string): Promise<number> {
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    return history.events?.length ?? 0;
  }

  it('a packshot host that does not resolve: the label slot fails naming attribute, URL and cause; hero and lifestyle are generated', async () => {
    const skus = ['DNS-1', 'DNS-2', 'DNS-3', 'DNS-4'];
    await stack.addProducts(
      CATALOG,
      skus.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku, { packshotUrl: `https://${DOWN_HOST}/${sku}.jpg` }) })),
    );
    fetched.length = 0;
    scriptHost('never.test', () => Promise.reject(new Error('unused')));
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: { skus }, dryRun: false, trigger: 'manual', window: 4 });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ planned: 4, failed: 4, generated: 0, failureCount: 4 });
    expect(result.failures.map((f) => f.sku).sort()).toEqual(skus);

    for (const sku of skus) {
      const reason = `attribute "packshotUrl" (https://${DOWN_HOST}/${sku}.jpg) could not be fetched: ENOTFOUND ${DOWN_HOST}`;
      expect(result.failures.find((f) => f.sku === sku)).toEqual({ sku, slot: 'label', errorType: FailureType.sourceUnreachable, reason });
      const attempts = await getSlotAttempts(stack.database.db, CATALOG, sku);
      const label = attempts.filter((a) => a.slot === 'label');
      expect(label.map((a) => [a.outcome, a.error_type, a.error_message])).toEqual([['failed', FailureType.sourceUnreachable, reason]]);
      const current = await listCurrentAssets(stack.database.db, CATALOG, sku);
      expect(current.map((c) => c.slot).sort()).toEqual(['hero', 'lifestyle']);
      const product = await settle(productWorkflowId(CATALOG, sku));
      expect(product.slots.find((s) => s.slot === 'label')).toMatchObject({ outcome: 'failed', errorType: FailureType.sourceUnreachable });
    }
    // Each product tried the unknown host at most twice (one quick retry); the host memory spares the rest.
    const dnsFetches = fetched.filter((u) => new URL(u).host === DOWN_HOST).length;
    expect(dnsFetches).toBeGreaterThanOrEqual(1);
    expect(dnsFetches).toBeLessThanOrEqual(2 * skus.length);
  });

  it('a transient fault is tried the configured number of times, then the slot fails with the cause; history stays small', async () => {
    stack.deps.sourceFetch = { attempts: 3, windowMs: 3_000, hostDownMs: 60_000 };
    scriptHost('cdn.flaky.test', (_n, url) => Promise.reject(new SourceFetchError('http_status', `${url} answered HTTP 503`, true)));
    const sku = 'FLAKY-1';
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku, { packshotUrl: 'https://cdn.flaky.test/p.jpg' }) }]);
    fetched.length = 0;
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
    const result = await settle(workflowId);
    const label = result.slots.find((s) => s.slot === 'label');
    expect(label).toEqual(expect.objectContaining({
      outcome: 'failed',
      errorType: FailureType.sourceUnreachable,
      message: 'attribute "packshotUrl" (https://cdn.flaky.test/p.jpg) could not be fetched: HTTP 503',
    }));
    expect(result.slots.filter((s) => s.outcome === 'generated').map((s) => s.slot).sort()).toEqual(['hero', 'lifestyle']);
    expect(fetched.filter((u) => u === 'https://cdn.flaky.test/p.jpg')).toHaveLength(3);
    // Three tries of one local activity: a few events more than a clean run, not one batch per retry of the database policy.
    expect(await historyLength(workflowId)).toBeLessThan(90);
  });

  it('a transient fault that clears within the tries: the label is generated', async () => {
    stack.deps.sourceFetch = { attempts: 3, windowMs: 3_000, hostDownMs: 60_000 };
    scriptHost('cdn.blip.test', (n, url) =>
      n === 1 ? Promise.reject(new SourceFetchError('network', `fetching ${url} failed: ECONNRESET`, true)) : realFetch(stack.packshotUrl('packshot-blip.jpg')),
    );
    const sku = 'BLIP-1';
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku, { packshotUrl: 'https://cdn.blip.test/p.jpg' }) }]);
    fetched.length = 0;
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
    const result = await settle(workflowId);
    expect(result.slots.map((s) => [s.slot, s.outcome]).sort()).toEqual([['hero', 'generated'], ['label', 'generated'], ['lifestyle', 'generated']]);
    expect(fetched.filter((u) => u === 'https://cdn.blip.test/p.jpg')).toHaveLength(2);
  });

  it('a 404 or a page that is not an image fails at the first try, as bad product data', async () => {
    fetched.length = 0;
    scriptHost('never.test', () => Promise.reject(new Error('unused')));
    const cases = [
      { sku: 'GONE-1', url: stack.packshotUrl('missing-gone.jpg'), cause: 'HTTP 404' },
      { sku: 'PAGE-1', url: stack.packshotUrl('not-an-image-page.jpg'), cause: 'not an image' },
    ];
    await stack.addProducts(CATALOG, cases.map((c) => ({ sku: c.sku, attributes: sampleAttributes(stack, c.sku, { packshotUrl: c.url }) })));
    for (const c of cases) {
      const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku: c.sku, trigger: 'manual' });
      const result = await settle(workflowId);
      const label = result.slots.find((s) => s.slot === 'label');
      expect(label).toMatchObject({ outcome: 'failed', errorType: FailureType.invalidProductData });
      expect(label && 'message' in label ? label.message : '').toContain(`attribute "packshotUrl" (${c.url}) could not be fetched: `);
      expect(label && 'message' in label ? label.message : '').toContain(c.cause);
      expect(fetched.filter((u) => u === c.url)).toHaveLength(1);
    }
  });
});
