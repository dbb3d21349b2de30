/**
 * The provider API key never leaves the worker's memory: a real `catalog-assets worker` process is
 * configured with a distinctive IMAROUTER_API_KEY (the production path, against the simulator), logs
 * at debug level, and runs plans through every kind of fault (5xx, 429, failed jobs, expired URLs,
 * moderation, a missing packshot); a second worker has a wrong key and is refused (401). Then the key
 * (and the wrong one) is searched for, raw and base64-encoded, in the processes' logs, in every
 * workflow history (binary, so payloads are searched byte for byte), in the error messages the client
 * gets, in every row of every table, and on the results page.
 */
import { randomBytes } from 'node:crypto';
import proto from '@temporalio/proto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadResultsData, renderResultsPage } from '../../src/results';
import { productWorkflowId } from '../../src/shared/ids';
import { triggerProduct } from '../../src/temporal/client/product';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { killAllWorkers, spawnWorker, waitReady, type WorkerProcess } from '../helpers/workerProcess';
import { recordFigures } from './figures';

const { History } = proto.temporal.api.history.v1;
const KEY = `ir-live-${randomBytes(18).toString('hex')}`;
const WRONG_KEY = `ir-live-${randomBytes(18).toString('hex')}`;
const CATALOG = 'rel-secrets';
const TABLES = ['catalogs', 'products', 'generation_jobs', 'assets', 'asset_variants', 'current_assets', 'slot_attempts', 'refresh_runs', 'review_decisions', 'webhook_events'];

/** The places a secret could hide in text: as is, and base64-encoded at each of the three alignments. */
function needles(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, ...[0, 1, 2].map((skip) => b.subarray(skip).toString('base64').slice(4, -4))];
}

describe('the provider API key never appears anywhere', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let wrongWorker: WorkerProcess;
  const wrongPrefix = `w${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    stack = await startTestStack({ startWorkers: false, simulator: { apiKey: KEY, latencyMs: { min: 100, max: 300 } } });
    const env = (key: string) => ({ IMAROUTER_API_KEY: key, SIMULATOR_API_KEY: 'not-this-one', LOG_LEVEL: 'debug', PROVIDER_RATE_LIMIT_PER_SECOND: '100' });
    worker = spawnWorker(stack, { env: env(KEY), keepAllOutput: true });
    wrongWorker = spawnWorker(stack, { env: { ...env(WRONG_KEY), TEMPORAL_TASK_QUEUE_PREFIX: wrongPrefix }, keepAllOutput: true });
    await Promise.all([waitReady(worker), waitReady(wrongWorker)]);
  }, 120_000);

  afterAll(async () => {
    await killAllWorkers();
    await stack?.close();
  });

  it('is not in logs, histories, error messages, database rows or the results page', { timeout: 120_000 }, async () => {
    const skus = ['K-1', 'K-2', 'K-3', 'K-4', 'K-BLOCKED', 'K-NO-PACKSHOT'];
    await stack.addProducts(
      CATALOG,
      skus.map((sku) => ({
        sku,
        attributes: sampleAttributes(stack, sku, sku === 'K-BLOCKED' ? { name: 'blocked-content cream' } : sku === 'K-NO-PACKSHOT' ? { packshotUrl: stack.packshotUrl('missing-1.jpg') } : {}),
      })),
    );
    stack.simulator.setFaults({
      serverError: 0.15,
      rateLimit: { probability: 0.1, retryAfterSeconds: 1 },
      script: [{ kind: 'failJob', code: 'content_rejected' }, { kind: 'expiredUrl' }, { kind: 'serverError', on: 'download', status: 503 }, { kind: 'dropAfterAccept' }],
    });
    const errors: string[] = [];
    const settle = async (workflowId: string) =>
      stack.client.workflow
        .getHandle(workflowId)
        .result()
        .catch((err: unknown) => {
          const e = err as Error & { cause?: Error & { details?: unknown[] } };
          errors.push(String(e), e.stack ?? '', String(e.cause), e.cause?.stack ?? '', JSON.stringify(e.cause?.details ?? []));
        });
    await Promise.all(
      skus.map(async (sku) => {
        const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
        await settle(workflowId);
      }),
    );
    // The wrong key: refused by the provider.
    await stack.addProducts(CATALOG, [{ sku: 'K-WRONG', attributes: sampleAttributes(stack, 'K-WRONG') }]);
    const wrong = await triggerProduct(stack.client, { taskQueuePrefix: wrongPrefix, input: { catalogId: CATALOG, sku: 'K-WRONG', trigger: 'manual', slots: ['hero'] } });
    await settle(wrong.workflowId);
    stack.simulator.setFaults({});

    // The faults did happen, and the key did its work (jobs were accepted with it, refused without it).
    expect(stack.simulator.ledger().jobs).toBeGreaterThan(5);
    expect(errors.join('\n')).toMatch(/ProviderUnauthorized/);
    expect(errors.join('\n')).toMatch(/ContentRejected/);

    // Histories, byte for byte.
    const histories: Buffer[] = [];
    for await (const wf of stack.client.workflow.list({ query: `CatalogId = '${CATALOG}'` })) {
      const h = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      histories.push(Buffer.from(History.encode(History.fromObject(h)).finish()));
    }
    expect(histories.length).toBeGreaterThanOrEqual(skus.length + 1);
    const allHistories = Buffer.concat(histories);
    expect(allHistories.includes(productWorkflowId(CATALOG, 'K-1'))).toBe(true);

    // Every row of every table.
    const rows: string[] = [];
    for (const table of TABLES) {
      const r = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(stack.database.db);
      rows.push(...r.rows.map((x) => x.row));
    }
    expect(rows.join('\n')).toContain('K-NO-PACKSHOT');

    // The results page.
    const html = renderResultsPage((await loadResultsData(stack.database.db, CATALOG, { limit: 100 }))!);
    expect(html).toContain('K-BLOCKED');

    const logs = worker.fullOutput() + wrongWorker.fullOutput();
    // The failures were logged, the refused key's 401 included.
    expect(logs).toContain('"msg":"worker running"');
    expect(logs).toMatch(/answered 401 unauthorized/);
    const places: Record<string, string | Buffer> = {
      'worker logs': logs,
      'workflow histories': allHistories,
      'client errors': errors.join('\n'),
      'database rows': rows.join('\n'),
      'results page': html,
    };
    const found: string[] = [];
    for (const [where, text] of Object.entries(places)) {
      for (const [which, secret] of [
        ['key', KEY],
        ['wrong key', WRONG_KEY],
      ] as const) {
        for (const needle of needles(secret)) if (text.includes(needle)) found.push(`${which} in ${where} (${needle === secret ? 'raw' : 'base64'})`);
      }
    }
    expect(found).toEqual([]);

    recordFigures('secrets', [
      {
        fault: 'API key leak: worker logs (debug), workflow histories (binary), client error messages, every database row, the results page',
        tried: `${skus.length + 1} plans through 5xx, 429, failed jobs, expired URLs, moderation, a missing packshot and a wrong key; ${histories.length} histories, ${(logs.length / 1024).toFixed(0)} kB of logs, ${rows.length} rows`,
        lost: '0 occurrences (raw or base64) of the key or of the wrong key',
      },
    ]);
  });
});
