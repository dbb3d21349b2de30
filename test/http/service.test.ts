import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { isLoopbackHost, ServiceAuthConfigError } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { postSigned, productEvent, seedAsset, startService, TOKEN, type JsonBody, type TestService } from './helpers';

const auth = { authorization: `Bearer ${TOKEN}` };

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; json: JsonBody; headers: Headers; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, headers: res.headers, text };
}

describe('the HTTP service over real HTTP', () => {
  let database: TestDatabase;
  let service: TestService;

  beforeAll(async () => {
    database = await createTestDatabase();
    await upsertCatalog(database.db, { id: 'acme', name: 'Acme' });
    service = await startService(database.db, { bodyLimitBytes: 16 * 1024 });
  });
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  it('refuses to build without a service token unless bound to loopback', () => {
    const deps = { db: database.db, trigger: async () => ({ workflowId: 'w', runId: 'r' }), startRefresh: async () => ({ workflowId: 'w', runId: 'r' }) };
    expect(() => buildServer({ ...deps, host: '0.0.0.0' })).toThrow(ServiceAuthConfigError);
    expect(() => buildServer({ ...deps, host: '10.1.2.3' })).toThrow(/SERVICE_TOKEN/);
    expect(() => buildServer({ ...deps, host: '0.0.0.0', serviceToken: TOKEN })).not.toThrow();
    expect(() => buildServer({ ...deps, host: '127.0.0.1' })).not.toThrow();
    for (const h of ['127.0.0.1', '::1', '[::1]', 'localhost', '127.3.2.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('requires the bearer token on operator routes, compared exactly; /healthz stays open', async () => {
    const routes = [`${service.url}/catalogs/acme/status`, `${service.url}/metrics`];
    for (const url of routes) {
      expect((await call(url)).status, url).toBe(401);
      expect((await call(url, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
      expect((await call(url, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } })).status).toBe(401);
      expect((await call(url, { headers: { authorization: TOKEN } })).status).toBe(401);
      expect((await call(url, { headers: auth })).status).toBe(200);
    }
    const refresh = await call(`${service.url}/catalogs/acme/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"selection":"all"}' });
    expect(refresh.status).toBe(401);
    expect(refresh.headers.get('www-authenticate')).toBe('Bearer');
    expect(service.refreshes).toHaveLength(0);
    expect((await call(`${service.url}/healthz`)).status).toBe(200);
  });

  it('allows the operator routes without a token on loopback when none is configured', async () => {
    const open = await startService(database.db, { serviceToken: undefined });
    try {
      expect((await call(`${open.url}/catalogs/acme/status`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('starts a refresh with validated input and answers 202 with its ids', async () => {
    const post = (body: string, id = 'acme') =>
      call(`${service.url}/catalogs/${id}/refresh`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const ok = await post(JSON.stringify({ selection: 'changed' }));
    expect(ok.status).toBe(202);
    expect(ok.json).toEqual({ catalogId: 'acme', workflowId: 'refresh:acme:test', runId: 'run-refresh' });
    const list = await post(JSON.stringify({ selection: { skus: ['A', 'B'] }, dryRun: true, budget: { images: 10, usd: 2.5 } }));
    expect(list.status).toBe(202);
    expect(service.refreshes).toEqual([
      { catalogId: 'acme', selection: 'changed', dryRun: false, budget: undefined, trigger: 'manual' },
      { catalogId: 'acme', selection: { skus: ['A', 'B'] }, dryRun: true, budget: { images: 10, usd: 2.5 }, trigger: 'manual' },
    ]);

    const bad: Array<[string, number, string | undefined]> = [
      ['{"selection":"everything"}', 400, 'body.selection'],
      ['{"selection":{"skus":[]}}', 400, 'body.selection.skus'],
      ['{"selection":"all","dryRun":"yes"}', 400, 'body.dryRun'],
      ['{"selection":"all","budget":{"usd":-1}}', 400, 'body.budget.usd'],
      ['{"selection":"all","extra":1}', 400, 'body'],
      ['{}', 400, 'body.selection'],
      ['{"selection":', 400, undefined],
      ['', 400, undefined],
    ];
    for (const [body, status, field] of bad) {
      const res = await post(body);
      expect(res.status, body).toBe(status);
      if (field) expect(res.json.field, body).toBe(field);
      expect(res.json.error, body).toMatch(/^invalid_/);
    }
    expect((await post('{"selection":"all"}', 'unknown')).status).toBe(404);
    expect((await post(JSON.stringify({ selection: { skus: Array.from({ length: 2_000 }, (_, i) => `SKU-${i}`) } }))).status).toBe(413);
    expect(service.refreshes).toHaveLength(2);
  });

  it('answers 503 without leaking secrets when the refresh cannot be started, 409 when one is running', async () => {
    const down = await startService(database.db, {
      startRefresh: async () => {
        throw new Error(`connect ECONNREFUSED with Authorization: Bearer ${TOKEN}`);
      },
    });
    const running = await startService(database.db, {
      startRefresh: async () => {
        throw Object.assign(new Error('Workflow execution already started'), { name: 'WorkflowExecutionAlreadyStartedError' });
      },
    });
    try {
      const init = { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"selection":"stale"}' };
      const res = await call(`${down.url}/catalogs/acme/refresh`, init);
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('refresh_unavailable');
      expect(res.text).not.toContain(TOKEN);
      expect((await call(`${running.url}/catalogs/acme/refresh`, init)).status).toBe(409);
    } finally {
      await down.close();
      await running.close();
    }
  });

  it('reports the catalog status from Postgres', async () => {
    await upsertCatalog(database.db, { id: 'status-cat', name: 'Status' });
    await upsertProducts(
      database.db,
      ['S-1', 'S-2', 'S-3'].map((sku) => ({ catalogId: 'status-cat', sku, name: sku, attributes: {}, attributesFingerprint: `fp-${sku}`, source: 'test' })),
    );
    await database.db.updateTable('products').set({ status: 'removed' }).where('sku', '=', 'S-3').execute();
    await database.db.updateTable('products').set({ settled_fingerprint: 'fp-S-1' }).where('sku', '=', 'S-1').execute();
    await seedAsset(database.db, 'status-cat', 'S-1', 'hero');
    await seedAsset(database.db, 'status-cat', 'S-1', 'label');
    await database.db
      .insertInto('slot_attempts')
      .values([
        { catalog_id: 'status-cat', sku: 'S-1', slot: 'hero', outcome: 'generated', workflow_id: 'w', attempted_at: new Date() },
        { catalog_id: 'status-cat', sku: 'S-2', slot: 'hero', outcome: 'failed', error_type: 'ContentRejected', error_message: 'moderation', workflow_id: 'w', attempted_at: new Date() },
      ])
      .execute();

    const res = await call(`${service.url}/catalogs/status-cat/status`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      catalogId: 'status-cat',
      name: 'Status',
      products: { total: 3, active: 2, removed: 1, changedSinceGenerated: 1 },
      assets: { current: 2, retired: 0 },
      lastAttempts: { generated: 1, skipped: 0, failed: 1 },
      recentFailures: [{ sku: 'S-2', slot: 'hero', errorType: 'ContentRejected', message: 'moderation' }],
      ledger: { jobs: 2, byStatus: { completed: 2 }, imagesBilled: 2, costCents: 8, costUsd: 0.08 },
      webhooks: { lastReceivedAt: null, pendingTriggers: 0 },
    });
    expect((await call(`${service.url}/catalogs/nope/status`, { headers: auth })).status).toBe(404);
    expect((await call(`${service.url}/catalogs/${'x'.repeat(300)}/status`, { headers: auth })).json).toMatchObject({ error: 'invalid_request', field: 'params.id' });
    expect(await call(`${service.url}/catalogs/%E0%A4%A/status`, { headers: auth })).toMatchObject({ status: 400, json: { error: 'invalid_url' } });
  });

  it('reports health: 200 when Postgres and Temporal answer, 503 naming the one that does not', async () => {
    const ok = await call(`${service.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: 'ok', checks: { postgres: { ok: true, status: 'up' }, temporal: { ok: true, status: 'up' } } });

    // A dependency that fails with text an attacker would like: hosts, users, a password, a token.
    const secretLooking = `14 UNAVAILABLE: connect ECONNREFUSED 10.20.30.40:7233 user=temporal_admin password=hunter2-prod-pw key ${TOKEN}`;
    const sick = await startService(database.db, {
      healthChecks: {
        temporal: async () => {
          throw new Error(secretLooking);
        },
      },
    });
    try {
      // Without the token: up or down per dependency, nothing of the error.
      const res = await call(`${sick.url}/healthz`);
      expect(res.status).toBe(503);
      expect(res.json).toEqual({ status: 'unavailable', checks: { postgres: { ok: true, status: 'up' }, temporal: { ok: false, status: 'down' } } });
      for (const leak of ['UNAVAILABLE', '10.20.30.40', 'temporal_admin', 'hunter2', TOKEN, 'ECONNREFUSED']) expect([leak, res.text.includes(leak)]).toEqual([leak, false]);
      // A wrong token is no token.
      const wrong = await call(`${sick.url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.text).not.toContain('UNAVAILABLE');
      // With the token: the detail, with configured secrets still redacted.
      const detailed = await call(`${sick.url}/healthz`, { headers: auth });
      expect(detailed.status).toBe(503);
      expect(detailed.json.checks.temporal).toMatchObject({ ok: false, status: 'down', error: expect.stringContaining('UNAVAILABLE') });
      expect(detailed.text).not.toContain(TOKEN);
    } finally {
      await sick.close();
    }
  });

  it('exposes Prometheus metrics: requests by route and status, webhook outcomes, process metrics', async () => {
    await postSigned(`${service.url}/webhooks/pim/acme`, { events: [productEvent('product.created', 'M-1')] });
    await postSigned(`${service.url}/webhooks/pim/acme`, { events: [productEvent('product.created', 'M-1', { eventId: 'fixed-id' })] });
    await postSigned(`${service.url}/webhooks/pim/acme`, { events: [productEvent('product.created', 'M-1', { eventId: 'fixed-id' })] });
    await postSigned(`${service.url}/webhooks/pim/acme`, { events: [] });
    await postSigned(`${service.url}/webhooks/pim/acme`, { events: [] }, { secret: 'not-the-secret-0123456789' });
    const res = await call(`${service.url}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toMatch(/catalog_assets_http_requests_total\{method="POST",route="\/webhooks\/pim\/:catalogId",status_code="202"\} 3/);
    expect(res.text).toMatch(/catalog_assets_http_requests_total\{method="POST",route="\/webhooks\/pim\/:catalogId",status_code="400"\} 1/);
    expect(res.text).toMatch(/catalog_assets_http_request_duration_seconds_bucket\{le="0.5",method="POST",route="\/webhooks\/pim\/:catalogId",status_code="202"\} 3/);
    expect(res.text).toMatch(/catalog_assets_webhook_events_total\{outcome="accepted"\} 2/);
    expect(res.text).toMatch(/catalog_assets_webhook_events_total\{outcome="duplicate"\} 1/);
    expect(res.text).toMatch(/catalog_assets_webhook_rejected_total\{reason="payload"\} 1/);
    expect(res.text).toMatch(/catalog_assets_webhook_rejected_total\{reason="signature"\} 1/);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('answers unknown routes and methods with JSON 404, never a 500', async () => {
    const res = await call(`${service.url}/nope?x=1`);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: 'not_found', message: 'no route GET /nope' });
    expect((await call(`${service.url}/catalogs/acme/status`, { method: 'DELETE', headers: auth })).status).toBe(404);
    const wrongType = await call(`${service.url}/catalogs/acme/refresh`, { method: 'POST', headers: { ...auth, 'content-type': 'application/xml' }, body: '<a/>' });
    expect(wrongType.status).toBe(415);
    const rows = await sql<{ n: string }>`select count(*)::text as n from webhook_events`.execute(database.db);
    expect(Number(rows.rows[0]!.n)).toBeGreaterThan(0);
  });
});
