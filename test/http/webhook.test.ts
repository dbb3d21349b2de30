import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { getProduct } from '../../src/db/repositories/products';
import { signWebhook } from '../../src/http/signature';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { counts, postSigned, productEvent, SECRET, seedAsset, snapshot, startService, type TestService } from './helpers';

const CATALOG = 'acme';

describe('POST /webhooks/pim/:catalogId over real HTTP', () => {
  let database: TestDatabase;
  let service: TestService;
  let url: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    await upsertCatalog(database.db, { id: CATALOG });
    service = await startService(database.db, { bodyLimitBytes: 64 * 1024 });
    url = `${service.url}/webhooks/pim/${CATALOG}`;
  });
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });
  beforeEach(() => {
    service.triggers.length = 0;
  });

  it('applies a signed batch in one go, maps Akeneo values, and starts one workflow per created SKU', async () => {
    const batch = {
      events: [
        productEvent('product.created', 'NC-001', {
          values: { name: 'Night Cream', brand: 'Lumen', labelText: 'Night Cream 50 ml', packshotUrl: 'https://cdn.example.com/nc-001.jpg' },
          family: 'creams',
          categories: ['face'],
        }),
        {
          ...productEvent('product.created', 'NC-002'),
          data: {
            resource: {
              identifier: 'NC-002',
              values: {
                name: [
                  { locale: 'fr_FR', scope: 'ecommerce', data: 'Crème de nuit' },
                  { locale: null, scope: null, data: 'Night Cream 2' },
                ],
                labelText: [{ locale: 'en_GB', scope: 'ecommerce', data: 'Night Cream 30 ml' }],
                weight: [{ locale: null, scope: null, data: { amount: '30', unit: 'GRAM' } }],
                discontinued: [{ locale: null, scope: null, data: null }],
              },
            },
          },
        },
      ],
    };
    const res = await postSigned(url, batch);
    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      accepted: 2,
      duplicates: 0,
      stale: 0,
      unchanged: 0,
      removed: 0,
      workflows: [
        { sku: 'NC-001', workflowId: 'product:acme:NC-001' },
        { sku: 'NC-002', workflowId: 'product:acme:NC-002' },
      ],
    });
    expect(service.triggers.sort((a, b) => a.sku.localeCompare(b.sku))).toEqual([
      { catalogId: CATALOG, sku: 'NC-001', trigger: 'webhook', productName: 'Night Cream' },
      { catalogId: CATALOG, sku: 'NC-002', trigger: 'webhook', productName: 'Night Cream 2' },
    ]);

    const p1 = await getProduct(database.db, CATALOG, 'NC-001');
    expect(p1).toMatchObject({ name: 'Night Cream', status: 'active', source: 'webhook' });
    expect(p1!.attributes).toEqual({
      name: 'Night Cream',
      brand: 'Lumen',
      labelText: 'Night Cream 50 ml',
      packshotUrl: 'https://cdn.example.com/nc-001.jpg',
      family: 'creams',
      categories: ['face'],
    });
    expect(p1!.attributes_fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const p2 = await getProduct(database.db, CATALOG, 'NC-002');
    // locale and scope null preferred, else the first entry; null data left out.
    expect(p2!.attributes).toEqual({ name: 'Night Cream 2', labelText: 'Night Cream 30 ml', weight: { amount: '30', unit: 'GRAM' } });
  });

  it('starts nothing new when the same batch is delivered again', async () => {
    const batch = { events: [productEvent('product.created', 'RE-1'), productEvent('product.created', 'RE-2')] };
    const first = await postSigned(url, batch);
    expect(first.status).toBe(202);
    expect(service.triggers).toHaveLength(2);
    const before = await snapshot(database.db);

    const again = await postSigned(url, batch);
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ accepted: 0, duplicates: 2, workflows: [] });
    expect(service.triggers).toHaveLength(2);
    expect(await snapshot(database.db)).toBe(before);
  });

  it('rejects a bad, missing or malformed signature with 401 and writes nothing', async () => {
    const body = Buffer.from(JSON.stringify({ events: [productEvent('product.created', 'SIG-1')] }));
    const before = await snapshot(database.db);
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'x-timestamp': String(now), 'x-signature': signWebhook('the-wrong-secret-0123456789', now, body) }, 'bad_signature'],
      [{ 'x-timestamp': String(now) }, 'missing_signature'],
      [{ 'x-signature': signWebhook(SECRET, now, body) }, 'missing_timestamp'],
      [{ 'x-timestamp': String(now), 'x-signature': 'sha256=abc' }, 'malformed_signature'],
      [{ 'x-timestamp': 'yesterday', 'x-signature': signWebhook(SECRET, now, body) }, 'malformed_timestamp'],
      // Signed for another body: the signature covers the raw bytes.
      [{ 'x-timestamp': String(now), 'x-signature': signWebhook(SECRET, now, `${body.toString()} `) }, 'bad_signature'],
      // Signed with another timestamp than the one sent.
      [{ 'x-timestamp': String(now), 'x-signature': signWebhook(SECRET, now - 1, body) }, 'bad_signature'],
    ];
    for (const [headers, error] of cases) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      expect(res.status, error).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe(error);
    }
    expect(service.triggers).toHaveLength(0);
    expect(await snapshot(database.db)).toBe(before);
  });

  it('rejects a replayed request whose timestamp is outside the tolerance window', async () => {
    const before = await snapshot(database.db);
    const body = { events: [productEvent('product.created', 'REPLAY-1')] };
    const old = Math.floor(Date.now() / 1000) - 301;
    const stale = await postSigned(url, body, { timestamp: old });
    expect(stale.status).toBe(401);
    expect(stale.json.error).toBe('stale_timestamp');
    const future = await postSigned(url, body, { timestamp: Math.floor(Date.now() / 1000) + 400 });
    expect(future.status).toBe(401);
    expect(await snapshot(database.db)).toBe(before);
    expect(service.triggers).toHaveLength(0);
  });

  it('rejects a malformed batch as a whole with 400 naming the field, and writes nothing', async () => {
    const before = await snapshot(database.db);
    const good = productEvent('product.created', 'MAL-1');
    const bad = productEvent('product.updated', 'MAL-2');
    (bad.data as { resource: Record<string, unknown> }).resource.identifier = 42;
    const res = await postSigned(url, { events: [good, bad] });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_payload');
    expect(res.json.field).toBe('events.1.data.resource.identifier');
    expect(res.json.message).toContain('events.1.data.resource.identifier');

    const cases: Array<[unknown, string]> = [
      [{ events: [{ ...good, action: 'product.deleted' }] }, 'events.0.action'],
      [{ events: [{ ...good, event_datetime: '2024-02-30T10:00:00Z' }] }, 'events.0.event_datetime'],
      [{ events: [{ ...good, event_datetime: '2024-01-01 10:00' }] }, 'events.0.event_datetime'],
      [{ events: [{ ...good, event_datetime: '1969-12-31T23:59:59Z' }] }, 'events.0.event_datetime'],
      // Dated far ahead, it would win every later comparison and freeze the product.
      [{ events: [good, { ...good, event_id: 'future', event_datetime: new Date(Date.now() + 2 * 86_400_000).toISOString() }] }, 'events.1.event_datetime'],
      [{ events: [] }, 'events'],
      [{ events: [{ ...good, data: { resource: { identifier: ' padded ' } } }] }, 'events.0.data.resource.identifier'],
      [{ events: [{ ...good, data: { resource: { identifier: 'A', values: { 'bad-code': [] } } } }] }, 'events.0.data.resource.values.bad-code'],
      [{ events: [{ ...good, data: { resource: { identifier: 'A', values: { name: 'not a list' } } } }] }, 'events.0.data.resource.values.name'],
      [{ events: [{ ...good, data: { resource: { identifier: 'A\u0000B' } } }] }, 'events.0.data.resource.identifier'],
      [{ events: [{ ...good, data: { resource: { identifier: 'A', values: { name: [{ data: 'x\ud800' }] } } } }] }, 'events.0.data.resource.values.name.0.data'],
      [[good], '(body)'],
      ['just a string', '(body)'],
    ];
    for (const [body, field] of cases) {
      const r = await postSigned(url, body);
      expect(r.status, JSON.stringify(body).slice(0, 120)).toBe(400);
      expect(r.json.field, JSON.stringify(body).slice(0, 120)).toBe(field);
    }
    expect(await snapshot(database.db)).toBe(before);
    expect(service.triggers).toHaveLength(0);
  });

  it('answers 400 for bytes that are not UTF-8 or not JSON, and 413 for a body over the limit', async () => {
    const before = await snapshot(database.db);
    const notUtf8 = await postSigned(url, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    expect(notUtf8.status).toBe(400);
    expect(notUtf8.json.message).toContain('UTF-8');
    const notJson = await postSigned(url, '{"events": [', { raw: true });
    expect(notJson.status).toBe(400);
    expect(notJson.json.message).toContain('not valid JSON');
    const empty = await postSigned(url, Buffer.alloc(0));
    expect(empty.status).toBe(400);
    const proto = await postSigned(url, '{"events":[],"__proto__":{"x":1}}', { raw: true });
    expect(proto.status).toBe(400);
    expect(proto.json.field).toBe('__proto__');
    const huge = await postSigned(url, { events: [productEvent('product.created', 'BIG', { values: { name: 'x'.repeat(70 * 1024) } })] });
    expect(huge.status).toBe(413);
    expect(huge.json.error).toBe('payload_too_large');
    // Not JSON at all, sent as text/plain: still read raw, still a 400 (never a 415 or 500).
    const text = Buffer.from('hello');
    const now = Math.floor(Date.now() / 1000);
    const plain = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-timestamp': String(now), 'x-signature': signWebhook(SECRET, now, text) }, body: text });
    expect(plain.status).toBe(400);
    expect(await snapshot(database.db)).toBe(before);
  });

  it('never lets an older event overwrite newer data, across deliveries and within one', async () => {
    const t = (s: number) => new Date(Date.UTC(2024, 10, 24, 12, 0, s)).toISOString();
    const newer = await postSigned(url, { events: [productEvent('product.updated', 'OOO-1', { at: t(30), values: { name: 'Newer', brand: 'B2' } })] });
    expect(newer.status).toBe(202);
    const older = await postSigned(url, { events: [productEvent('product.created', 'OOO-1', { at: t(10), values: { name: 'Older', brand: 'B1' } })] });
    expect(older.status).toBe(202);
    expect(older.json).toMatchObject({ accepted: 1, stale: 1, workflows: [] });
    const p = await getProduct(database.db, CATALOG, 'OOO-1');
    expect(p).toMatchObject({ name: 'Newer' });
    expect(p!.pim_updated_at!.toISOString()).toBe(t(30));

    // Within one batch the newest event wins, wherever it sits.
    const mixed = await postSigned(url, {
      events: [
        productEvent('product.updated', 'OOO-2', { at: t(50), values: { name: 'Latest' } }),
        productEvent('product.created', 'OOO-2', { at: t(40), values: { name: 'First' } }),
        productEvent('product.updated', 'OOO-2', { at: t(45), values: { name: 'Middle' } }),
      ],
    });
    expect(mixed.json).toMatchObject({ accepted: 3, stale: 2, workflows: [{ sku: 'OOO-2' }] });
    expect((await getProduct(database.db, CATALOG, 'OOO-2'))!.name).toBe('Latest');
    const outcomes = await database.db.selectFrom('webhook_events').select(['outcome']).where('sku', '=', 'OOO-2').orderBy('event_datetime').execute();
    expect(outcomes.map((o) => o.outcome)).toEqual(['superseded', 'superseded', 'applied']);
  });

  it('starts nothing for an update that changes nothing, but records its time', async () => {
    const values = { name: 'Same', brand: 'Lumen' };
    await postSigned(url, { events: [productEvent('product.created', 'SAME-1', { values, at: '2024-11-24T10:00:00Z' })] });
    service.triggers.length = 0;
    const res = await postSigned(url, { events: [productEvent('product.updated', 'SAME-1', { values, at: '2024-11-24T11:00:00+01:00' })] });
    expect(res.json).toMatchObject({ accepted: 1, unchanged: 1, workflows: [] });
    expect(service.triggers).toHaveLength(0);
    // 11:00+01:00 is 10:00Z: equal times apply (the later delivery wins a tie).
    expect((await getProduct(database.db, CATALOG, 'SAME-1'))!.pim_updated_at!.toISOString()).toBe('2024-11-24T10:00:00.000Z');
  });

  it('marks a removed product removed and its assets retired, keeps the mapping, and starts no generation', async () => {
    await postSigned(url, { events: [productEvent('product.created', 'RM-1', { at: '2024-11-24T10:00:00Z' })] });
    const assetId = await seedAsset(database.db, CATALOG, 'RM-1');
    service.triggers.length = 0;

    const removed = await postSigned(url, { events: [productEvent('product.removed', 'RM-1', { at: '2024-11-24T11:00:00Z' })] });
    expect(removed.status).toBe(202);
    expect(removed.json).toMatchObject({ accepted: 1, removed: 1, workflows: [] });
    expect(service.triggers).toHaveLength(0);
    const p = await getProduct(database.db, CATALOG, 'RM-1');
    expect(p).toMatchObject({ status: 'removed', name: 'Product RM-1' });
    const asset = await database.db.selectFrom('assets').select(['status']).where('id', '=', assetId).executeTakeFirstOrThrow();
    expect(asset.status).toBe('retired');
    const mapping = await database.db.selectFrom('current_assets').select(['asset_id']).where('sku', '=', 'RM-1').execute();
    expect(mapping.map((m) => m.asset_id)).toEqual([assetId]);

    // An update older than the removal changes nothing.
    const late = await postSigned(url, { events: [productEvent('product.updated', 'RM-1', { at: '2024-11-24T10:30:00Z', values: { name: 'Late' } })] });
    expect(late.json).toMatchObject({ stale: 1, workflows: [] });
    expect((await getProduct(database.db, CATALOG, 'RM-1'))!.status).toBe('removed');

    // A newer create brings it back with its assets current again, and generation starts.
    const back = await postSigned(url, { events: [productEvent('product.created', 'RM-1', { at: '2024-11-24T12:00:00Z' })] });
    expect(back.json).toMatchObject({ accepted: 1, workflows: [{ sku: 'RM-1' }] });
    expect((await getProduct(database.db, CATALOG, 'RM-1'))!.status).toBe('active');
    expect((await database.db.selectFrom('assets').select(['status']).where('id', '=', assetId).executeTakeFirstOrThrow()).status).toBe('current');
  });

  it('keeps a tombstone for a removal of an unknown SKU, so an older create cannot resurrect it', async () => {
    await postSigned(url, { events: [productEvent('product.removed', 'TOMB-1', { at: '2024-11-24T12:00:00Z' })] });
    expect(await getProduct(database.db, CATALOG, 'TOMB-1')).toMatchObject({ status: 'removed' });
    const older = await postSigned(url, { events: [productEvent('product.created', 'TOMB-1', { at: '2024-11-24T11:00:00Z' })] });
    expect(older.json).toMatchObject({ stale: 1, workflows: [] });
    expect(await getProduct(database.db, CATALOG, 'TOMB-1')).toMatchObject({ status: 'removed' });
    expect(service.triggers).toHaveLength(0);
  });

  it('accepts a single event without the envelope, and the catalog from ?catalog= or X-Catalog-Id', async () => {
    const single = await postSigned(url, productEvent('product.created', 'ONE-1'));
    expect(single.json).toMatchObject({ accepted: 1, workflows: [{ sku: 'ONE-1' }] });
    const byQuery = await postSigned(`${service.url}/webhooks/pim?catalog=${CATALOG}`, productEvent('product.created', 'ONE-2'));
    expect(byQuery.json).toMatchObject({ accepted: 1 });
    const byHeader = await postSigned(`${service.url}/webhooks/pim`, productEvent('product.created', 'ONE-3'), { headers: { 'x-catalog-id': CATALOG } });
    expect(byHeader.json).toMatchObject({ accepted: 1 });
    const none = await postSigned(`${service.url}/webhooks/pim`, productEvent('product.created', 'ONE-4'));
    expect(none.status).toBe(400);
    expect(none.json.field).toBe('catalog');
    const unknown = await postSigned(`${service.url}/webhooks/pim/nope`, productEvent('product.created', 'ONE-5'));
    expect(unknown.status).toBe(404);
    expect(await getProduct(database.db, CATALOG, 'ONE-4')).toBeUndefined();
  });

  it("accepts Akeneo's own signature headers", async () => {
    const body = JSON.stringify({ events: [productEvent('product.created', 'AK-1')] });
    const now = Math.floor(Date.now() / 1000);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-akeneo-request-timestamp': String(now),
        'x-akeneo-request-signature': signWebhook(SECRET, now, body).slice('sha256='.length),
      },
      body,
    });
    expect(res.status).toBe(202);
  });

  it('counts a repeated event id inside one batch as a duplicate', async () => {
    const e = productEvent('product.created', 'DUP-1');
    const res = await postSigned(url, { events: [e, { ...e, data: { resource: { identifier: 'DUP-1', values: { name: [{ locale: null, scope: null, data: 'Other' }] } } } }] });
    expect(res.json).toMatchObject({ accepted: 1, duplicates: 1 });
    expect((await getProduct(database.db, CATALOG, 'DUP-1'))!.name).toBe('Product DUP-1');
  });

  it('applies concurrent deliveries of the same batch once', async () => {
    const batch = { events: ['CC-1', 'CC-2', 'CC-3'].map((sku) => productEvent('product.created', sku)) };
    const results = await Promise.all([0, 1, 2, 3].map(() => postSigned(url, batch)));
    expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(results.reduce((s, r) => s + (r.json.accepted as number), 0)).toBe(3);
    expect(results.reduce((s, r) => s + (r.json.duplicates as number), 0)).toBe(9);
    expect(service.triggers.map((t) => t.sku).sort()).toEqual(['CC-1', 'CC-2', 'CC-3']);
  });
});

describe('webhook triggers when Temporal is unavailable', () => {
  let database: TestDatabase;
  let service: TestService;
  let failing = true;
  const started: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    await upsertCatalog(database.db, { id: CATALOG });
    service = await startService(database.db, {
      trigger: async (input) => {
        if (failing && input.sku === 'T-2') throw new Error(`Temporal unreachable (token ${SECRET})`);
        started.push(input.sku);
        return { workflowId: `wf-${input.sku}`, runId: 'r' };
      },
    });
  });
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  it('answers 503 after recording the batch; a redelivery starts exactly the workflows that failed', async () => {
    const url = `${service.url}/webhooks/pim/${CATALOG}`;
    const batch = { events: [productEvent('product.created', 'T-1'), productEvent('product.created', 'T-2')] };
    const first = await postSigned(url, batch);
    expect(first.status).toBe(503);
    expect(first.json).toMatchObject({ error: 'trigger_failed', accepted: 2, workflows: [{ sku: 'T-1', workflowId: 'wf-T-1' }], failed: [{ sku: 'T-2' }] });
    expect(JSON.stringify(first.json)).not.toContain(SECRET);
    expect(started).toEqual(['T-1']);
    expect((await counts(database.db)).products).toBe(2);

    failing = false;
    const again = await postSigned(url, batch);
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ accepted: 0, duplicates: 2, workflows: [{ sku: 'T-2', workflowId: 'wf-T-2' }] });
    expect(started).toEqual(['T-1', 'T-2']);

    const third = await postSigned(url, batch);
    expect(third.json).toMatchObject({ accepted: 0, duplicates: 2, workflows: [] });
    expect(started).toEqual(['T-1', 'T-2']);
  });

  it('answers in time when Temporal hangs: a start that takes too long counts as failed', async () => {
    const hanging = await startService(database.db, { triggerTimeoutMs: 200, trigger: () => new Promise(() => undefined) });
    try {
      const started = Date.now();
      const res = await postSigned(`${hanging.url}/webhooks/pim/${CATALOG}`, productEvent('product.created', 'HANG-1'));
      expect(res.status).toBe(503);
      expect(res.json.failed).toEqual([{ sku: 'HANG-1', message: 'no answer from Temporal within 200 ms' }]);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await hanging.close();
    }
  });

  it('refuses webhooks with 503 when no secret is configured', async () => {
    const open = await startService(database.db, { webhookSecret: undefined });
    try {
      const res = await postSigned(`${open.url}/webhooks/pim/${CATALOG}`, productEvent('product.created', 'X'));
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('webhooks_disabled');
    } finally {
      await open.close();
    }
  });
});
