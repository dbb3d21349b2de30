/**
 * The outbound-event destination against the receiver stand-in, over real HTTP: every delivery is
 * signed so that a check written here (node:crypto, from the Standard Webhooks spec, not the sender's
 * code) accepts it; the same asset version always carries the same event id, so a repeat is
 * recognisable; each receiver fault is classified (retryable or not, Retry-After honoured); the
 * delivery log in Postgres keeps every attempt and `events list` shows it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliveryRecorder, listDeliveries } from '../../src/db/repositories/deliveries';
import { RECORD_PATH, startWebhookReceiver, type ReceivedAttempt, type WebhookReceiver } from '../../src/dev/standins/webhookReceiver';
import { PublishError, type DeliveryAttempt, type DestinationContext, type EventDestination, type PublishItem } from '../../src/publish/destination';
import { webhookKind, wireEventId } from '../../src/publish/webhook';
import { runCli } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const SECRET_ENV = 'EVENTS_TEST_SECRET';
const CATALOG = 'events-test';

function item(over: Partial<PublishItem> = {}): PublishItem {
  return {
    catalogId: CATALOG,
    sku: 'NC-001',
    slot: 'hero',
    assetId: '41',
    version: 3,
    fingerprint: 'f'.repeat(64),
    altText: 'Nordic Coffee 500 g, front of the bag',
    locale: 'en_US',
    files: [
      { variant: 'zoom', format: 'webp', contentType: 'image/webp', width: 2048, height: 2048, bytes: 312_000, sha256: 'a'.repeat(64), storageKey: 'assets/aa/zoom.webp', publicUrl: 'https://cdn.example.com/assets/aa/zoom.webp' },
      { variant: 'thumb', format: 'jpeg', contentType: 'image/jpeg', width: 160, height: 160, bytes: 6_100, sha256: 'b'.repeat(64), storageKey: 'assets/bb/thumb.jpg' },
    ],
    publicationKey: `${CATALOG}:NC-001:hero:3:events`,
    ...over,
  };
}

function destination(url: string, over: { settings?: Record<string, unknown>; ctx?: Partial<DestinationContext>; secret?: string } = {}): EventDestination {
  const settings = webhookKind.settingsSchema.parse({ name: 'events', kind: 'webhook', url, secretEnv: SECRET_ENV, ...over.settings });
  return webhookKind.create(settings, { env: { [SECRET_ENV]: over.secret ?? SECRET }, ...over.ctx }) as EventDestination;
}

/** The receiver's side, written from the spec: HMAC-SHA256 over "id.timestamp.body" with the decoded whsec_ key. */
function independentlyVerified(a: ReceivedAttempt, secret: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const id = a.headers['webhook-id']!;
  const ts = a.headers['webhook-timestamp']!;
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${a.raw}`).digest();
  return a.headers['webhook-signature']!.split(' ').some((entry) => {
    const [version, b64] = entry.split(',');
    const given = Buffer.from(b64 ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

async function failure(p: Promise<unknown>): Promise<PublishError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PublishError) return err;
    throw err;
  }
  throw new Error('expected a PublishError');
}

const noFile = async (): Promise<Buffer> => {
  throw new Error('the webhook destination reads no files');
};

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('webhook destination settings', () => {
  const base = { name: 'events', kind: 'webhook', url: 'https://hooks.example.com/catalog', secretEnv: SECRET_ENV };

  it('defaults to every event type and a 15 s timeout', () => {
    const s = webhookKind.settingsSchema.parse(base);
    expect(s.events).toEqual(['asset.published', 'asset.failed', 'refresh.completed']);
    expect(s.timeoutMs).toBe(15_000);
  });

  it('takes http only for this machine, and names the field it refuses', () => {
    expect(webhookKind.settingsSchema.safeParse({ ...base, url: 'http://localhost:8080/x' }).success).toBe(true);
    expect(webhookKind.settingsSchema.safeParse({ ...base, url: 'http://127.0.0.1:8080/x' }).success).toBe(true);
    const plain = webhookKind.settingsSchema.safeParse({ ...base, url: 'http://hooks.example.com/x' });
    expect(plain.success).toBe(false);
    expect(plain.error?.issues[0]?.path).toEqual(['url']);
    expect(plain.error?.issues[0]?.message).toMatch(/https/);
    expect(webhookKind.settingsSchema.safeParse({ ...base, url: 'https://user:pw@hooks.example.com/x' }).success).toBe(false);
    const events = webhookKind.settingsSchema.safeParse({ ...base, events: ['asset.published', 'asset.deleted'] });
    expect(events.error?.issues[0]?.path).toEqual(['events', 1]);
    expect(webhookKind.settingsSchema.safeParse({ ...base, events: [] }).success).toBe(false);
    expect(webhookKind.settingsSchema.safeParse({ ...base, secret: 'inline' }).success).toBe(false);
    expect(webhookKind.settingsSchema.safeParse({ ...base, secretEnv: 'lower-case' }).error?.issues[0]?.path).toEqual(['secretEnv']);
  });

  it('refuses to build without its secret, naming the variable, and refuses a weak or malformed one', () => {
    const s = webhookKind.settingsSchema.parse(base);
    const missing = (() => {
      try {
        webhookKind.create(s, { env: {} });
      } catch (err) {
        return err;
      }
    })();
    expect(missing).toBeInstanceOf(PublishError);
    expect((missing as PublishError).code).toBe('invalid_config');
    expect((missing as PublishError).retryable).toBe(false);
    expect((missing as PublishError).message).toContain(SECRET_ENV);
    expect(() => webhookKind.create(s, { env: { [SECRET_ENV]: 'short' } })).toThrow(/EVENTS_TEST_SECRET.*24/);
    expect(() => webhookKind.create(s, { env: { [SECRET_ENV]: 'whsec_not base64!' } })).toThrow(/EVENTS_TEST_SECRET.*base64/);
    expect(() => webhookKind.create(s, { env: { [SECRET_ENV]: `whsec_${randomBytes(8).toString('base64')}` } })).toThrow(/EVENTS_TEST_SECRET.*8/);
  });
});

describe('signed deliveries to a receiver', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startWebhookReceiver({ secret: SECRET });
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('publishes asset.published, signed so an independent check accepts it', async () => {
    const receipt = await destination(receiver.url).publish(item(), noFile);
    const [a] = receiver.record.attempts;
    expect(a?.accepted).toBe(true);
    expect(independentlyVerified(a!, SECRET)).toBe(true);
    expect(independentlyVerified(a!, `whsec_${randomBytes(32).toString('base64')}`)).toBe(false);
    expect(Math.abs(Number(a!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    expect(a!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(a!.raw);
    expect(Object.keys(body)).toEqual(['id', 'type', 'occurredAt', 'data']);
    expect(body.id).toBe(a!.headers['webhook-id']);
    expect(body.id).not.toContain('.');
    expect(body.type).toBe('asset.published');
    expect(body.data).toMatchObject({ catalogId: CATALOG, sku: 'NC-001', slot: 'hero', version: 3, altText: 'Nordic Coffee 500 g, front of the bag', locale: 'en_US' });
    expect(body.data.files).toEqual([
      { variant: 'zoom', format: 'webp', contentType: 'image/webp', width: 2048, height: 2048, bytes: 312_000, sha256: 'a'.repeat(64), publicUrl: 'https://cdn.example.com/assets/aa/zoom.webp' },
      { variant: 'thumb', format: 'jpeg', contentType: 'image/jpeg', width: 160, height: 160, bytes: 6_100, sha256: 'b'.repeat(64) },
    ]);
    expect(receipt).toMatchObject({ remoteId: body.id, alreadyPresent: false, details: { status: 200, type: 'asset.published' } });
  });

  it('gives the same asset version the same event id, so the receiver recognises the repeat', async () => {
    const dest = destination(receiver.url);
    const first = await dest.publish(item(), noFile);
    const again = await dest.publish(item(), noFile);
    const next = await dest.publish(item({ version: 4, assetId: '42', publicationKey: `${CATALOG}:NC-001:hero:4:events` }), noFile);
    expect(again.remoteId).toBe(first.remoteId);
    expect(next.remoteId).not.toBe(first.remoteId);
    expect(receiver.record.accepted().map((a) => a.duplicate)).toEqual([false, true, false]);
    expect(receiver.record.eventIds()).toEqual([first.remoteId, next.remoteId]);
    // Each attempt is signed afresh (its own timestamp) and each signature holds.
    for (const a of receiver.record.attempts) expect(independentlyVerified(a, SECRET)).toBe(true);
  });

  it('signs with every secret during a rotation, and a plain (non-whsec_) secret is its UTF-8 bytes', async () => {
    const next = `whsec_${randomBytes(32).toString('base64')}`;
    await destination(receiver.url, { secret: `${next} ${SECRET}` }).publish(item(), noFile);
    const [a] = receiver.record.attempts;
    expect(a?.accepted).toBe(true);
    expect(a!.headers['webhook-signature']!.split(' ')).toHaveLength(2);

    const plain = 'a-plain-secret-of-enough-length-0123';
    const other = await startWebhookReceiver({ secret: plain });
    try {
      await destination(other.url, { secret: plain }).publish(item(), noFile);
      const [b] = other.record.attempts;
      const expected = createHmac('sha256', Buffer.from(plain, 'utf8')).update(`${b!.headers['webhook-id']}.${b!.headers['webhook-timestamp']}.${b!.raw}`).digest('base64');
      expect(b!.headers['webhook-signature']).toBe(`v1,${expected}`);
      expect(b!.accepted).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('sends the other event types as given, and nothing for a type the destination does not take', async () => {
    const dest = destination(receiver.url, { settings: { events: ['asset.failed'] } });
    const failed = { id: 'evt_failed_1', type: 'asset.failed' as const, occurredAt: '2026-12-01T10:00:00.000Z', data: { catalogId: CATALOG, sku: 'NC-002', slot: 'label', reason: 'content rejected' } };
    await dest.send(failed);
    const skipped = await dest.send({ id: 'evt_refresh_1', type: 'refresh.completed', occurredAt: '2026-12-01T10:05:00.000Z', data: { catalogId: CATALOG } });
    const published = await dest.publish(item(), noFile);
    expect(skipped.details).toMatchObject({ sent: false });
    expect(published.details).toMatchObject({ sent: false });
    expect(receiver.record.attempts).toHaveLength(1);
    expect(JSON.parse(receiver.record.attempts[0]!.raw)).toEqual(failed);

    const undated = await failure(dest.send({ ...failed, occurredAt: 'yesterday' }));
    expect(undated.message).toMatch(/event\.occurredAt/);
    expect(undated.retryable).toBe(false);
    expect(receiver.record.attempts).toHaveLength(1);
  });

  it("carries a caller's id that is not wire-safe under one derived from it, the same every time", async () => {
    const at = '2026-12-01T10:00:00.000Z';
    // Ids as the workflows build them: from their parts, with dots, colons and escapes.
    const failed = { id: 'asset.failed:product%3Aevents-test%3ANC-002:NC-002:label:generate::', type: 'asset.failed' as const, occurredAt: at, data: { catalogId: CATALOG, sku: 'NC-002', slot: 'label', stage: 'generate', errorType: 'ContentRejected', message: 'content rejected by moderation' } };
    const done = { id: 'refresh.completed:refresh%3Aevents-test%3A1', type: 'refresh.completed' as const, occurredAt: at, data: { catalogId: CATALOG, refreshId: 'refresh:events-test:1', status: 'completed', counts: { generated: 2 } } };
    const dest = destination(receiver.url);
    const first = await dest.send(failed);
    await dest.send(failed);
    await dest.send(done);
    expect(first.remoteId).toBe(wireEventId(failed.id));
    expect(first.remoteId).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(wireEventId('evt_already_safe-1')).toBe('evt_already_safe-1');
    expect(receiver.record.accepted().map((a) => [a.event?.id, a.event?.type, a.duplicate])).toEqual([
      [wireEventId(failed.id), 'asset.failed', false],
      [wireEventId(failed.id), 'asset.failed', true],
      [wireEventId(done.id), 'refresh.completed', false],
    ]);
    expect(receiver.record.accepted()[0]!.event!.data).toEqual(failed.data);
    const listed = (await (await fetch(new URL(RECORD_PATH, receiver.url))).json()) as { attempts: Array<{ accepted: boolean; status: number }>; eventIds: string[] };
    expect(listed.eventIds).toEqual([wireEventId(failed.id), wireEventId(done.id)]);
    expect(listed.attempts.map((a) => [a.accepted, a.status])).toEqual([[true, 200], [true, 200], [true, 200]]);
  });

  it('tests reachability with OPTIONS and sends no event', async () => {
    const result = await destination(receiver.url).test();
    expect(result.ok).toBe(true);
    expect(result.detail).toMatch(/OPTIONS answered 204.*no event was sent/);
    expect(receiver.record.probes).toBe(1);
    expect(receiver.record.attempts).toHaveLength(0);
    const closed = await startWebhookReceiver({ secret: SECRET });
    const url = closed.url;
    await closed.close();
    const unreachable = await failure(destination(url).test());
    expect(unreachable).toMatchObject({ code: 'network', retryable: true });
  });
});

describe('the receiver stand-in is strict', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver({ secret: SECRET });
  });
  afterAll(async () => {
    await receiver.close();
  });

  /** Signed here, by the test, the way the spec says. */
  function signed(id: string, body: string, ts = Math.floor(Date.now() / 1000)): Record<string, string> {
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}` };
  }
  const post = async (headers: Record<string, string>, body: string) => {
    const res = await fetch(receiver.url, { method: 'POST', headers, body });
    return { status: res.status, text: await res.text() };
  };
  const event = (id: string) => JSON.stringify({ id, type: 'asset.published', occurredAt: new Date().toISOString(), data: {} });

  it('accepts what the spec describes and refuses everything short of it', async () => {
    const ok = event('evt_ok');
    expect((await post({ 'content-type': 'application/json', ...signed('evt_ok', ok) }, ok)).status).toBe(200);
    expect((await post({ 'content-type': 'text/plain', ...signed('evt_ok', ok) }, ok)).status).toBe(415);
    const { 'webhook-signature': _sig, ...unsigned } = signed('evt_ok', ok);
    expect(await post({ 'content-type': 'application/json', ...unsigned }, ok)).toMatchObject({ status: 400, text: expect.stringContaining('webhook-signature') });
    expect((await post({ 'content-type': 'application/json', ...signed('evt_other', ok) }, ok)).status).toBe(400);
    expect((await post({ 'content-type': 'application/json', ...signed('evt_ok', ok) }, `${ok} `)).status).toBe(401);
    expect((await post({ 'content-type': 'application/json', ...signed('evt_ok', ok, Math.floor(Date.now() / 1000) + 400) }, ok)).status).toBe(401);
    const dotted = event('evt.dot');
    expect((await post({ 'content-type': 'application/json', ...signed('evt.dot', dotted) }, dotted)).status).toBe(400);
    expect((await fetch(receiver.url, { method: 'GET' })).status).toBe(405);
    expect(receiver.record.accepted()).toHaveLength(1);
  });
});

describe('receiver faults, classified', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startWebhookReceiver({ secret: SECRET });
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('5xx and 429 are retryable, with Retry-After honoured', async () => {
    receiver.setFaults([{ kind: 'status', status: 503, retryAfter: '3' }, { kind: 'status', status: 500 }, { kind: 'rate_limit', retryAfter: '7' }]);
    const dest = destination(receiver.url);
    expect(await failure(dest.publish(item(), noFile))).toMatchObject({ code: 'unavailable', retryable: true, retryAfterMs: 3000 });
    const plain500 = await failure(dest.publish(item(), noFile));
    expect(plain500).toMatchObject({ code: 'unavailable', retryable: true, retryAfterMs: undefined });
    expect(plain500.message).toContain('500');
    expect(await failure(dest.publish(item(), noFile))).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 7000 });
    await dest.publish(item(), noFile);
    expect(receiver.record.accepted()).toHaveLength(1);
  });

  it('a slow receiver times out (retryable); it processed the event, so the retry is its duplicate', async () => {
    receiver.setFaults([{ kind: 'slow', delayMs: 1200 }]);
    const dest = destination(receiver.url, { settings: { timeoutMs: 300 } });
    const started = Date.now();
    const slow = await failure(dest.publish(item(), noFile));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(slow).toMatchObject({ code: 'network', retryable: true });
    expect(slow.message).toMatch(/no answer within 300 ms/);
    await until(() => receiver.record.accepted().length === 1);
    await dest.publish(item(), noFile);
    expect(receiver.record.accepted().map((a) => [a.event?.id, a.duplicate])).toEqual([
      [receiver.record.eventIds()[0], false],
      [receiver.record.eventIds()[0], true],
    ]);
  });

  it('a dropped connection is retryable, before or after the receiver accepted the event', async () => {
    receiver.setFaults([{ kind: 'drop' }, { kind: 'drop', afterAccept: true }]);
    const dest = destination(receiver.url);
    expect(await failure(dest.publish(item(), noFile))).toMatchObject({ code: 'network', retryable: true });
    expect(receiver.record.accepted()).toHaveLength(0);
    expect(await failure(dest.publish(item(), noFile))).toMatchObject({ code: 'network', retryable: true });
    await dest.publish(item(), noFile);
    expect(receiver.record.accepted().map((a) => a.duplicate)).toEqual([false, true]);
    expect(receiver.record.eventIds()).toHaveLength(1);
  });

  it('410 Gone, a redirect and other 4xx end the publication with the status and the answer', async () => {
    receiver.setFaults([{ kind: 'status', status: 410 }, { kind: 'status', status: 422, body: 'sku NC-001 unknown to this receiver' }, { kind: 'status', status: 302 }]);
    const dest = destination(receiver.url);
    const gone = await failure(dest.publish(item(), noFile));
    expect(gone).toMatchObject({ code: 'rejected', retryable: false });
    expect(gone.message).toMatch(/410 Gone/);
    const unprocessable = await failure(dest.publish(item(), noFile));
    expect(unprocessable).toMatchObject({ code: 'rejected', retryable: false });
    expect(unprocessable.message).toMatch(/\(422\).*sku NC-001 unknown to this receiver/);
    const redirect = await failure(dest.publish(item(), noFile));
    expect(redirect).toMatchObject({ code: 'rejected', retryable: false });
    expect(redirect.message).toMatch(/302.*redirect/);
  });

  it('a receiver that refuses the signature (wrong secret, stale clock) is a credentials failure', async () => {
    const wrong = await failure(destination(receiver.url, { secret: `whsec_${randomBytes(32).toString('base64')}` }).publish(item(), noFile));
    expect(wrong).toMatchObject({ code: 'bad_credentials', retryable: false });
    expect(wrong.message).toContain(SECRET_ENV);
    expect(receiver.record.attempts[0]).toMatchObject({ status: 401, accepted: false, reason: 'no v1 signature matches' });

    const stale = await failure(destination(receiver.url, { ctx: { now: () => Date.now() - 10 * 60_000 } }).publish(item(), noFile));
    expect(stale).toMatchObject({ code: 'bad_credentials', retryable: false });
    expect(receiver.record.attempts[1]?.status).toBe(401);
    expect(receiver.record.attempts[1]?.reason).toMatch(/webhook-timestamp is 60[01] s away/);
  });

  it('a receiver that is not listening is a retryable network failure', async () => {
    const url = receiver.url;
    await receiver.close();
    expect(await failure(destination(url).publish(item(), noFile))).toMatchObject({ code: 'network', retryable: true });
    receiver = await startWebhookReceiver({ secret: SECRET });
  });
});

describe('the delivery log', () => {
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    database = await createTestDatabase();
    receiver = await startWebhookReceiver({ secret: SECRET });
  });
  afterAll(async () => {
    await receiver.close();
    await database.drop();
  });

  it('records every attempt with its number, status, answer excerpt and error', async () => {
    receiver.setFaults([{ kind: 'status', status: 503, body: 'x'.repeat(2000) }, { kind: 'drop', afterAccept: true }]);
    const dest = destination(receiver.url, { ctx: { recordDelivery: deliveryRecorder(database.db) } });
    await failure(dest.publish(item(), noFile));
    await failure(dest.publish(item(), noFile));
    const receipt = await dest.publish(item(), noFile);
    await dest.send({ id: 'evt_refresh_42', type: 'refresh.completed', occurredAt: new Date().toISOString(), data: { catalogId: CATALOG, generated: 3 } });

    const rows = await listDeliveries(database.db, { catalogId: CATALOG });
    expect(rows.map((r) => [r.type, r.attempt, r.outcome, r.status])).toEqual([
      ['refresh.completed', 1, 'delivered', 200],
      ['asset.published', 3, 'delivered', 200],
      ['asset.published', 2, 'retryable', null],
      ['asset.published', 1, 'retryable', 503],
    ]);
    const [, ok, dropped, unavailable] = rows;
    expect(ok!.eventId).toBe(receipt.remoteId);
    expect(ok!.answer).toContain('"received":true');
    expect(dropped!.error).toMatch(/network error/);
    expect(unavailable!.answer!.length).toBeLessThanOrEqual(500);
    expect(unavailable!.error).toMatch(/503/);
    expect(rows.every((r) => r.destination === 'events' && r.durationMs >= 0)).toBe(true);

    expect(await listDeliveries(database.db, { catalogId: CATALOG, limit: 2 })).toHaveLength(2);
    expect(await listDeliveries(database.db, { catalogId: CATALOG, destination: 'other' })).toHaveLength(0);
    expect(await listDeliveries(database.db, { catalogId: CATALOG, eventId: receipt.remoteId })).toHaveLength(3);
  });

  it('a log that cannot be written does not turn a delivered event into a failure', async () => {
    const seen: DeliveryAttempt[] = [];
    const dest = destination(receiver.url, {
      ctx: {
        recordDelivery: async (entry) => {
          seen.push(entry);
          throw new Error('database unavailable');
        },
      },
    });
    const receipt = await dest.publish(item({ publicationKey: 'other-key' }), noFile);
    expect(receipt.details).toMatchObject({ status: 200, deliveryLogError: 'database unavailable' });
    expect(seen[0]).toMatchObject({ outcome: 'delivered', status: 200, catalogId: CATALOG, destination: 'events', type: 'asset.published' });
  });

  it('`events list` shows the last attempts and their answers', async () => {
    const env = { ...process.env, DATABASE_URL: database.url, NO_COLOR: '1' };
    const text = await runCli(['events', 'list', '--catalog', CATALOG, '--destination', 'events'], env);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/refresh\.completed\s+evt_refresh_42\s+#1\s+delivered\s+200/);
    expect(text.stdout).toMatch(/asset\.published\s+evt_\w+\s+#1\s+retryable\s+503/);
    const json = await runCli(['events', 'list', '--catalog', CATALOG, '--limit', '1', '--json'], env);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'refresh.completed', attempt: 1, outcome: 'delivered', status: 200 });
    const bad = await runCli(['events', 'list', '--catalog', CATALOG, '--limit', '0'], env);
    expect(bad.code).toBe(2);
  });
});
