/**
 * Property tests of POST /webhooks/pim: whatever the body (any shape, types, sizes, encodings), the
 * answer is 400 or 202 (413 exactly when over the limit), never a 500; a rejected delivery writes
 * nothing; and accepted deliveries with duplicate, repeated and out-of-order events leave the snapshot
 * exactly as a simple model says (newest event per SKU wins, seen event ids change nothing), starting
 * workflows exactly for the SKUs whose data changed. Driven through fastify.inject (same server,
 * same handlers, no sockets) so a thousand cases stay fast; the example tests use real HTTP.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/support/canonicalJson';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { buildServer } from '../../src/http/server';
import { signedHeaders } from '../../src/http/signature';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { SECRET, TOKEN, type JsonBody } from './helpers';

const BODY_LIMIT = 32 * 1024;
const MAX_EVENTS = 40;
const RUNS = 1_000;

/** Characters that break naive code: NUL, lone surrogates, quotes, separators, astral and RTL text. */
const nastyChar = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\ufffd', '\u202e', '😀', 'é', '日', '"', '\\', '/', ':', '%', '\n', '\t', '__proto__') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const nastyString = fc.string({ unit: nastyChar, maxLength: 24 });
const nastyJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    nastyString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(nastyString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

interface Delivered {
  status: number;
  body: JsonBody;
}

describe('webhook deliveries, property-based', () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  const triggered: string[] = [];
  let catalogCounter = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = buildServer({
      db: database.db,
      host: '127.0.0.1',
      serviceToken: TOKEN,
      webhookSecret: SECRET,
      bodyLimitBytes: BODY_LIMIT,
      webhookMaxEvents: MAX_EVENTS,
      trigger: async (input) => {
        triggered.push(input.sku);
        return { workflowId: `product:${input.catalogId}:${input.sku}`, runId: 'r' };
      },
      startRefresh: async () => ({ workflowId: 'w', runId: 'r' }),
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  async function deliver(catalogId: string, bytes: Buffer): Promise<Delivered> {
    const res = await app.inject({
      method: 'POST',
      url: `/webhooks/pim/${encodeURIComponent(catalogId)}`,
      headers: { 'content-type': 'application/json', ...signedHeaders(SECRET, bytes) },
      payload: bytes,
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  }

  async function dbState(): Promise<string> {
    const r = await sql<{ p: string; e: string; u: string | null; s: string }>`
      select (select count(*) from products)::text as p, (select count(*) from webhook_events)::text as e,
             (select max(updated_at)::text from products) as u, (select count(*) from products where status = 'removed')::text as s`.execute(database.db);
    return JSON.stringify(r.rows[0]);
  }

  async function newCatalog(): Promise<string> {
    const id = `prop-${catalogCounter++}`;
    await upsertCatalog(database.db, { id });
    return id;
  }

  it('answers any body with 400 or 202 (413 over the limit), never a 500, and a rejected body writes nothing', async () => {
    const validish = fc.record({
      action: fc.oneof(fc.constantFrom('product.created', 'product.updated', 'product.removed'), nastyJson),
      event_id: fc.oneof(fc.uuid(), nastyJson),
      event_datetime: fc.oneof(fc.date({ noInvalidDate: true, min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z') }).map((d) => d.toISOString()), nastyJson),
      data: fc.oneof(
        fc.record({ resource: fc.record({ identifier: fc.oneof(nastyString, nastyJson), values: fc.oneof(fc.dictionary(nastyString, nastyJson, { maxKeys: 3 }), nastyJson) }, { requiredKeys: [] }) }),
        nastyJson,
      ),
    }, { requiredKeys: [] });
    const body = fc.oneof(
      nastyJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      fc.array(validish, { maxLength: 5 }).map((events) => Buffer.from(JSON.stringify({ events }))),
      validish.map((e) => Buffer.from(JSON.stringify(e))),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf16le')),
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(`{"events":[${JSON.stringify(s)}]}`)),
      fc.integer({ min: 1, max: 120 }).map((n) => Buffer.from(JSON.stringify({ events: Array.from({ length: n }, (_, i) => ({ action: 'product.created', event_id: `big-${i}`, event_datetime: '2024-01-01T00:00:00Z', data: { resource: { identifier: `S${i}`, values: { name: [{ locale: null, scope: null, data: 'x'.repeat(300) }] } } } })) }))),
      fc.integer({ min: 1, max: 5_000 }).map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
      fc.constant(Buffer.from('\ufeff{"events": []}')),
    );
    const catalogId = await newCatalog();
    await fc.assert(
      fc.asyncProperty(body, async (bytes) => {
        const before = await dbState();
        const triggersBefore = triggered.length;
        const res = await deliver(catalogId, bytes);
        if (bytes.length > BODY_LIMIT) {
          expect(res.status).toBe(413);
        } else {
          expect([400, 202]).toContain(res.status);
        }
        if (res.status !== 202) {
          expect(await dbState()).toBe(before);
          expect(triggered.length).toBe(triggersBefore);
          expect(typeof res.body.message).toBe('string');
        }
      }),
      { numRuns: RUNS },
    );
  }, 240_000);

  it('applies duplicate, repeated and out-of-order events exactly as the model says, all-or-nothing per delivery', async () => {
    const T0 = Date.UTC(2024, 10, 24, 12, 0, 0);
    const SKUS = ['S-1', 'S-2', 'Ü/ç:3 x'];
    const eventArb = fc.record({
      action: fc.constantFrom('product.created', 'product.updated', 'product.removed'),
      eventId: fc.constantFrom('e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8'),
      sku: fc.constantFrom(...SKUS),
      second: fc.integer({ min: 0, max: 5 }),
      offsetMinutes: fc.constantFrom(0, 120, -330),
      name: fc.constantFrom('Alpha', 'Beta', ' Gamma ', '', null),
      brand: fc.constantFrom('Lumen', 'Nox', null),
    });
    // A delivery is either well-formed, or has one event broken somewhere (then it must be rejected whole).
    const deliveryArb = fc.record({ events: fc.array(eventArb, { minLength: 1, maxLength: 6 }), breakAt: fc.option(fc.nat(), { freq: 4 }) });

    type Ev = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;
    const isoWithOffset = (ms: number, offsetMinutes: number) => {
      const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19);
      if (offsetMinutes === 0) return `${local}Z`;
      const sign = offsetMinutes > 0 ? '+' : '-';
      const abs = Math.abs(offsetMinutes);
      return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    };
    const toWire = (e: Ev) => {
      const values: Record<string, unknown> = {};
      if (e.name !== null) values.name = [{ locale: null, scope: null, data: e.name }];
      if (e.brand !== null) values.brand = [{ locale: 'en_GB', scope: 'web', data: e.brand }];
      return {
        action: e.action,
        event_id: e.eventId,
        event_datetime: isoWithOffset(T0 + e.second * 1000, e.offsetMinutes),
        data: { resource: e.action === 'product.removed' ? { identifier: e.sku } : { identifier: e.sku, values } },
      };
    };

    interface State {
      name: string;
      attributes: Record<string, unknown>;
      status: 'active' | 'removed';
      at: number;
    }
    /** The reference model: what the snapshot must be, and which SKUs must be triggered. */
    function modelDeliver(model: Map<string, State>, seen: Set<string>, events: Ev[]): string[] {
      const fresh: Array<{ e: Ev; i: number }> = [];
      const inBatch = new Set<string>();
      events.forEach((e, i) => {
        if (seen.has(e.eventId) || inBatch.has(e.eventId)) return;
        inBatch.add(e.eventId);
        fresh.push({ e, i });
      });
      const triggers: string[] = [];
      for (const sku of SKUS) {
        const mine = fresh.filter((f) => f.e.sku === sku);
        if (mine.length === 0) continue;
        const winner = mine.reduce((a, b) => (b.e.second >= a.e.second ? b : a)).e;
        const at = T0 + winner.second * 1000;
        const cur = model.get(sku);
        if (cur && at < cur.at) continue;
        if (winner.action === 'product.removed') {
          model.set(sku, cur ? { ...cur, status: 'removed', at } : { name: sku, attributes: {}, status: 'removed', at });
          continue;
        }
        const attributes: Record<string, unknown> = {};
        if (winner.name !== null) attributes.name = winner.name;
        if (winner.brand !== null) attributes.brand = winner.brand;
        const name = winner.name && winner.name.trim() !== '' ? winner.name.trim() : sku;
        const changed = !cur || cur.status !== 'active' || canonicalJson({ name: cur.name, attributes: cur.attributes }) !== canonicalJson({ name, attributes });
        model.set(sku, { name, attributes, status: 'active', at });
        if (changed) triggers.push(sku);
      }
      for (const f of fresh) seen.add(f.e.eventId);
      return triggers.sort();
    }

    await fc.assert(
      fc.asyncProperty(fc.array(deliveryArb, { minLength: 1, maxLength: 4 }), async (deliveries) => {
        const catalogId = await newCatalog();
        const model = new Map<string, State>();
        const seen = new Set<string>();
        for (const d of deliveries) {
          const wire: unknown[] = d.events.map(toWire);
          const broken = d.breakAt !== null;
          if (broken) {
            const i = d.breakAt! % wire.length;
            const e = wire[i] as { data: { resource: Record<string, unknown> }; event_datetime: string };
            // One of several ways to break a single event.
            const how = d.breakAt! % 4;
            if (how === 0) e.data.resource.identifier = '';
            else if (how === 1) e.event_datetime = 'not a date';
            else if (how === 2) e.data.resource.values = { name: 'not a list' };
            else e.data.resource.identifier = 'x\u0000y';
          }
          const before = broken ? await dbState() : '';
          const triggersBefore = triggered.length;
          const res = await deliver(catalogId, Buffer.from(JSON.stringify({ events: wire })));
          if (broken) {
            expect(res.status).toBe(400);
            expect(res.body.field).toMatch(/^events\.\d+\./);
            expect(await dbState()).toBe(before);
            expect(triggered.length).toBe(triggersBefore);
            continue;
          }
          expect(res.status).toBe(202);
          const expectedTriggers = modelDeliver(model, seen, d.events);
          expect(triggered.slice(triggersBefore).sort()).toEqual(expectedTriggers);
          expect((res.body.workflows as Array<{ sku: string }>).map((w) => w.sku).sort()).toEqual(expectedTriggers);
        }
        const rows = await database.db
          .selectFrom('products')
          .select(['sku', 'name', 'attributes', 'status', 'pim_updated_at'])
          .where('catalog_id', '=', catalogId)
          .execute();
        const actual = Object.fromEntries(rows.map((r) => [r.sku, { name: r.name, attributes: r.attributes, status: r.status, at: r.pim_updated_at?.getTime() }]));
        expect(actual).toEqual(Object.fromEntries(model));
      }),
      { numRuns: RUNS },
    );
  }, 240_000);
});
