/** Shared by the HTTP tests: a service over a test database with recorded triggers, and signed requests. */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema';
import { buildServer, type StartProductPlan, type ServerDeps, type StartRefresh } from '../../src/http/server';
import { signedHeaders } from '../../src/http/signature';

/** Response bodies are asserted field by field: a loose type keeps those assertions readable. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonBody = any;

export const SECRET = 'whsec_test_0123456789abcdef';
export const TOKEN = 'svc_token_0123456789abcdef';

export interface RecordedTrigger {
  catalogId: string;
  sku: string;
  trigger: string;
  productName?: string;
}

export interface TestService {
  app: FastifyInstance;
  url: string;
  triggers: RecordedTrigger[];
  refreshes: Array<Parameters<StartRefresh>[0]>;
  close(): Promise<void>;
}

/** A service on a free port; `trigger` records its calls (the workflow side is tested elsewhere). */
export async function startService(db: Kysely<Database>, overrides: Partial<ServerDeps> = {}): Promise<TestService> {
  const triggers: RecordedTrigger[] = [];
  const refreshes: Array<Parameters<StartRefresh>[0]> = [];
  const trigger: StartProductPlan = async (input, meta) => {
    triggers.push({ ...input, productName: meta?.productName });
    return { workflowId: `product:${input.catalogId}:${input.sku}`, runId: `run-${triggers.length}` };
  };
  const app = buildServer({
    db,
    host: '127.0.0.1',
    serviceToken: TOKEN,
    webhookSecret: SECRET,
    webhookToleranceSeconds: 300,
    trigger,
    startRefresh: async (req) => {
      refreshes.push(req);
      return { workflowId: `refresh:${req.catalogId}:test`, runId: 'run-refresh' };
    },
    healthChecks: { temporal: async () => undefined },
    ...overrides,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, triggers, refreshes, close: () => app.close() };
}

export async function postSigned(
  url: string,
  body: unknown,
  o: { secret?: string; timestamp?: number; headers?: Record<string, string>; raw?: boolean } = {},
): Promise<{ status: number; json: JsonBody }> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' && o.raw ? body : JSON.stringify(body));
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signedHeaders(o.secret ?? SECRET, bytes, o.timestamp), ...o.headers },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

let eventCounter = 0;
export function newEventId(): string {
  return `evt-${process.pid}-${Date.now().toString(36)}-${eventCounter++}`;
}

/** One value in Akeneo's shape: `[{ locale: null, scope: null, data }]`. */
export const v = (data: unknown) => [{ locale: null, scope: null, data }];

export function productEvent(
  action: 'product.created' | 'product.updated' | 'product.removed',
  sku: string,
  o: { at?: string; eventId?: string; values?: Record<string, unknown>; family?: string; categories?: string[] } = {},
): Record<string, unknown> {
  const resource: Record<string, unknown> = { identifier: sku };
  if (action !== 'product.removed') {
    resource.values = Object.fromEntries(Object.entries(o.values ?? { name: `Product ${sku}` }).map(([k, val]) => [k, v(val)]));
    if (o.family) resource.family = o.family;
    if (o.categories) resource.categories = o.categories;
  }
  return {
    action,
    event_id: o.eventId ?? newEventId(),
    event_datetime: o.at ?? new Date().toISOString(),
    author: 'julia',
    author_type: 'ui',
    data: { resource },
  };
}

export async function counts(db: Kysely<Database>): Promise<{ products: number; events: number; assets: number; catalogs: number }> {
  const r = await sql<{ products: string; events: string; assets: string; catalogs: string }>`
    select (select count(*) from products) as products, (select count(*) from webhook_events) as events,
           (select count(*) from assets) as assets, (select count(*) from catalogs) as catalogs`.execute(db);
  const row = r.rows[0]!;
  return { products: Number(row.products), events: Number(row.events), assets: Number(row.assets), catalogs: Number(row.catalogs) };
}

/** A full snapshot of what a delivery may touch, to prove a rejected one touched nothing. */
export async function snapshot(db: Kysely<Database>): Promise<string> {
  const products = await db.selectFrom('products').selectAll().orderBy('catalog_id').orderBy('sku').execute();
  const events = await db.selectFrom('webhook_events').selectAll().orderBy('catalog_id').orderBy('event_id').execute();
  const assets = await db.selectFrom('assets').select(['id', 'status']).orderBy('id').execute();
  return JSON.stringify({ products, events, assets });
}

/** Seeds one generated asset (ledger row, asset, current mapping) for a SKU's slot. */
export async function seedAsset(db: Kysely<Database>, catalogId: string, sku: string, slot = 'hero'): Promise<string> {
  const job = await db
    .insertInto('generation_jobs')
    .values({
      idempotency_key: `seed:${catalogId}:${sku}:${slot}:${Math.random()}`,
      catalog_id: catalogId,
      sku,
      slot,
      workflow_id: 'wf',
      run_id: 'run',
      operation: 'generate',
      model: 'seedream-4.5',
      fingerprint: 'f',
      status: 'completed',
      images_requested: 1,
      images_billed: 1,
      cost_cents: 4,
      updated_at: new Date(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const asset = await db
    .insertInto('assets')
    .values({
      catalog_id: catalogId,
      sku,
      slot,
      version: 1,
      fingerprint: 'f',
      generation_job_id: job.id,
      output_index: 0,
      prompt: 'p',
      checksum: 'c',
      width: 10,
      height: 10,
      format: 'jpeg',
      storage_key: 'k',
      placeholder: 'x',
      dominant_color: '#ffffff',
      cost_cents: 4,
      status: 'current',
      updated_at: new Date(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('current_assets').values({ catalog_id: catalogId, sku, slot, asset_id: asset.id, updated_at: new Date() }).execute();
  return asset.id;
}
