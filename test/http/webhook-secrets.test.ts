/**
 * A webhook delivery is bound to its catalog by the catalog's own secret: a delivery captured for
 * catalog A and replayed (same bytes, same headers, within the window) to catalog B by path, query or
 * header is refused 401 and writes nothing; a catalog with its own secret never accepts the shared
 * one; rotation keeps two secrets valid until the previous one expires; stored secrets are sealed, so
 * a database dump alone reveals none. Over real HTTP, with the CLI as an operator runs it.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { getWebhookSecrets, setWebhookSecret } from '../../src/db/repositories/webhookSecrets';
import { signedHeaders } from '../../src/http/signature';
import { generateWebhookSecret, sealWebhookSecret, webhookKeyId } from '../../src/http/webhookSecrets';
import { bareEnv, runCli, type CliRun } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { productEvent, snapshot, startService, type TestService } from './helpers';

const KEY = randomBytes(32);
const SHARED = 'whsec_shared_0123456789abcdef';

async function post(url: string, bytes: Buffer, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: bytes });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function delivery(sku: string): Buffer {
  return Buffer.from(JSON.stringify({ events: [productEvent('product.created', sku)] }));
}

function cli(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<CliRun> {
  return runCli(args, bareEnv({ NODE_ENV: 'test', ...env }), stdin);
}

describe('webhook secrets per catalog, over real HTTP', () => {
  let database: TestDatabase;
  let service: TestService;
  const secretA = generateWebhookSecret();
  const secretB = generateWebhookSecret();

  beforeAll(async () => {
    database = await createTestDatabase();
    for (const id of ['cat-a', 'cat-b', 'cat-c', 'cat-d']) await upsertCatalog(database.db, { id });
    await setWebhookSecret(database.db, { catalogId: 'cat-a', keyId: webhookKeyId(KEY), sealed: sealWebhookSecret(KEY, 'cat-a', secretA) });
    await setWebhookSecret(database.db, { catalogId: 'cat-b', keyId: webhookKeyId(KEY), sealed: sealWebhookSecret(KEY, 'cat-b', secretB) });
    service = await startService(database.db, { webhookSecret: SHARED, webhookSecretKey: KEY });
  });
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });
  beforeEach(() => {
    service.triggers.length = 0;
  });

  it('refuses a delivery captured for catalog A and replayed to B (path, query, header) with 401, writing nothing', async () => {
    const bytes = delivery('REPLAY-1');
    const headers = signedHeaders(secretA, bytes);
    expect((await post(`${service.url}/webhooks/pim/cat-a`, bytes, headers)).status).toBe(202);
    expect(service.triggers.map((t) => t.catalogId)).toEqual(['cat-a']);
    service.triggers.length = 0;

    const before = await snapshot(database.db);
    const replays = [
      [`${service.url}/webhooks/pim/cat-b`, {}],
      [`${service.url}/webhooks/pim?catalog=cat-b`, {}],
      [`${service.url}/webhooks/pim`, { 'x-catalog-id': 'cat-b' }],
      // cat-c has no secret of its own: the shared one verifies it, and A's signature is not that.
      [`${service.url}/webhooks/pim/cat-c`, {}],
    ] as const;
    for (const [url, extra] of replays) {
      const res = await post(url, bytes, { ...headers, ...extra });
      expect([url, res.status, res.json.error]).toEqual([url, 401, 'bad_signature']);
    }
    expect(await snapshot(database.db)).toBe(before);
    expect(service.triggers).toEqual([]);
  });

  it('never accepts the shared secret for a catalog with its own; catalogs without one still use it', async () => {
    const before = await snapshot(database.db);
    for (const id of ['cat-a', 'cat-b']) {
      const bytes = delivery(`SHARED-${id}`);
      expect((await post(`${service.url}/webhooks/pim/${id}`, bytes, signedHeaders(SHARED, bytes))).status).toBe(401);
    }
    expect(await snapshot(database.db)).toBe(before);
    const bytes = delivery('SHARED-C');
    expect((await post(`${service.url}/webhooks/pim/cat-c`, bytes, signedHeaders(SHARED, bytes))).status).toBe(202);
    // Akeneo's own header names carry the same scheme with the catalog's secret.
    const akeneo = delivery('AKENEO-A');
    const h = signedHeaders(secretA, akeneo);
    const res = await post(`${service.url}/webhooks/pim/cat-a`, akeneo, { 'x-akeneo-request-timestamp': h['x-timestamp']!, 'x-akeneo-request-signature': h['x-signature']!.slice('sha256='.length) });
    expect(res.status).toBe(202);
  });

  it('keeps the current and the previous secret valid during a rotation, and only until the previous one expires', async () => {
    const next = generateWebhookSecret();
    const { rows } = await sql<{ current_secret: Buffer }>`select current_secret from webhook_secrets where catalog_id = 'cat-b'`.execute(database.db);
    const setPrevious = (expiresAt: Date) =>
      sql`update webhook_secrets set current_secret = ${sealWebhookSecret(KEY, 'cat-b', next)}, previous_secret = ${rows[0]!.current_secret}, previous_expires_at = ${expiresAt} where catalog_id = 'cat-b'`.execute(database.db);
    await setPrevious(new Date(Date.now() + 3_600_000));
    for (const [sku, secret] of [['ROT-OLD', secretB], ['ROT-NEW', next]] as const) {
      const bytes = delivery(sku);
      expect([sku, (await post(`${service.url}/webhooks/pim/cat-b`, bytes, signedHeaders(secret, bytes))).status]).toEqual([sku, 202]);
    }
    await setPrevious(new Date(Date.now() - 1_000));
    const old = delivery('ROT-EXPIRED');
    expect((await post(`${service.url}/webhooks/pim/cat-b`, old, signedHeaders(secretB, old))).status).toBe(401);
    const fresh = delivery('ROT-NEW-2');
    expect((await post(`${service.url}/webhooks/pim/cat-b`, fresh, signedHeaders(next, fresh))).status).toBe(202);
  });

  it('stores secrets sealed: a dump reveals none, a sealed secret copied to another catalog does not open there', async () => {
    const dump = JSON.stringify(await database.db.selectFrom('webhook_secrets').selectAll().execute(), (_k, v: unknown) => {
      const o = v as { type?: string; data?: number[] };
      return o && o.type === 'Buffer' && Array.isArray(o.data) ? Buffer.from(o.data).toString('latin1') + Buffer.from(o.data).toString('base64') + Buffer.from(o.data).toString('hex') : v;
    });
    for (const s of [secretA, secretB, secretA.slice(6), KEY.toString('base64'), KEY.toString('hex')]) expect(dump.includes(s)).toBe(false);

    // Someone with write access copies A's sealed secret into D's row: D must not accept A's deliveries.
    const a = await getWebhookSecrets(database.db, 'cat-a');
    await setWebhookSecret(database.db, { catalogId: 'cat-d', keyId: a!.keyId, sealed: a!.current });
    const before = await snapshot(database.db);
    const bytes = delivery('COPIED-ROW');
    const res = await post(`${service.url}/webhooks/pim/cat-d`, bytes, signedHeaders(secretA, bytes));
    expect([res.status, res.json.error]).toEqual([503, 'webhook_secret_unavailable']);
    // ...nor fall back to the shared secret.
    expect((await post(`${service.url}/webhooks/pim/cat-d`, bytes, signedHeaders(SHARED, bytes))).status).toBe(503);
    expect(await snapshot(database.db)).toBe(before);
    await database.db.deleteFrom('webhook_secrets').where('catalog_id', '=', 'cat-d').execute();
  });

  it('without WEBHOOK_SECRET_KEY (or with another one) a catalog with its own secret is refused 503, never verified with the shared one', async () => {
    for (const key of [undefined, randomBytes(32)]) {
      const other = await startService(database.db, { webhookSecret: SHARED, webhookSecretKey: key });
      try {
        const before = await snapshot(database.db);
        const bytes = delivery('NO-KEY');
        for (const secret of [secretA, SHARED]) {
          const res = await post(`${other.url}/webhooks/pim/cat-a`, bytes, signedHeaders(secret, bytes));
          expect([res.status, res.json.error, JSON.stringify(res.json).includes(secretA)]).toEqual([503, 'webhook_secret_unavailable', false]);
        }
        expect(await snapshot(database.db)).toBe(before);
        expect(other.triggers).toEqual([]);
      } finally {
        await other.close();
      }
    }
    // Neither a shared secret nor a key: webhooks are off, as before.
    const off = await startService(database.db, { webhookSecret: undefined, webhookSecretKey: undefined });
    try {
      const bytes = delivery('OFF');
      expect((await post(`${off.url}/webhooks/pim/cat-a`, bytes, signedHeaders(secretA, bytes))).json.error).toBe('webhooks_disabled');
    } finally {
      await off.close();
    }
  });

  it('never writes a webhook secret, the shared one or the key into the service log, at debug level', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const logged = await startService(database.db, { webhookSecret: SHARED, webhookSecretKey: KEY, logger });
    try {
      for (const [id, secret] of [['cat-a', secretA], ['cat-b', secretA], ['cat-a', SHARED], ['cat-c', secretB]] as const) {
        const bytes = delivery(`LOG-${id}`);
        await post(`${logged.url}/webhooks/pim/${id}`, bytes, signedHeaders(secret, bytes));
      }
    } finally {
      await logged.close();
    }
    const text = lines.join('');
    expect(text).toContain('webhook rejected');
    for (const s of [secretA, secretB, SHARED, KEY.toString('base64'), KEY.toString('hex')]) expect(text.includes(s)).toBe(false);
  });

  it('sets, rotates and lists secrets from the CLI, printing a new secret once and never listing one', { timeout: 120_000 }, async () => {
    const env = { DATABASE_URL: database.url, WEBHOOK_SECRET_KEY: KEY.toString('base64') };
    const set = await cli(['webhook', 'secret', 'set', '--catalog', 'cat-c', '--json'], env);
    expect([set.code, set.stderr]).toEqual([0, '']);
    const first = (JSON.parse(set.stdout) as { secret: string }).secret;
    expect(first).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);

    // cat-c now has its own secret: the shared one stops working for it.
    const viaShared = delivery('CLI-SHARED');
    expect((await post(`${service.url}/webhooks/pim/cat-c`, viaShared, signedHeaders(SHARED, viaShared))).status).toBe(401);
    const viaOwn = delivery('CLI-OWN');
    expect((await post(`${service.url}/webhooks/pim/cat-c`, viaOwn, signedHeaders(first, viaOwn))).status).toBe(202);

    const rotate = await cli(['webhook', 'secret', 'rotate', '--catalog', 'cat-c', '--keep-previous-hours', '1', '--json'], env);
    expect([rotate.code, rotate.stderr]).toEqual([0, '']);
    const second = (JSON.parse(rotate.stdout) as { secret: string; previousExpiresAt: string });
    expect(second.secret).not.toBe(first);
    expect(new Date(second.previousExpiresAt).getTime()).toBeGreaterThan(Date.now());
    for (const [sku, secret] of [['CLI-ROT-OLD', first], ['CLI-ROT-NEW', second.secret]] as const) {
      const bytes = delivery(sku);
      expect([sku, (await post(`${service.url}/webhooks/pim/cat-c`, bytes, signedHeaders(secret, bytes))).status]).toEqual([sku, 202]);
    }

    const list = await cli(['webhook', 'secret', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { catalogs: Array<{ catalogId: string; previousValidUntil: string | null }> };
    expect(listed.catalogs.map((c) => c.catalogId)).toEqual(['cat-a', 'cat-b', 'cat-c']);
    expect(listed.catalogs.find((c) => c.catalogId === 'cat-c')!.previousValidUntil).not.toBeNull();
    for (const s of [first, second.secret, secretA, secretB]) expect(list.stdout.includes(s)).toBe(false);

    // From stdin (the PIM's own secret), an unknown catalog, and a missing key.
    const own = 'akeneo-connection-secret-0123456789';
    expect((await cli(['webhook', 'secret', 'set', '--catalog', 'cat-c', '--from-stdin'], env, `${own}\n`)).code).toBe(0);
    const viaStdin = delivery('CLI-STDIN');
    expect((await post(`${service.url}/webhooks/pim/cat-c`, viaStdin, signedHeaders(own, viaStdin))).status).toBe(202);
    const stale = delivery('CLI-AFTER-SET');
    expect((await post(`${service.url}/webhooks/pim/cat-c`, stale, signedHeaders(second.secret, stale))).status).toBe(401);
    const unknown = await cli(['webhook', 'secret', 'set', '--catalog', 'nope'], env);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no catalog "nope"')]);
    const noKey = await cli(['webhook', 'secret', 'rotate', '--catalog', 'cat-c'], { DATABASE_URL: database.url });
    expect([noKey.code, noKey.stderr]).toEqual([3, expect.stringContaining('WEBHOOK_SECRET_KEY is not set')]);
  });
});
