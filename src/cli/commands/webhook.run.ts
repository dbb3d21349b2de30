/** What `catalog-assets webhook secret ...` does, loaded when it runs. */
import type { Kysely } from 'kysely';
import { catalogIdSchema } from '../../catalog/text';
import type { Config } from '../../config';
import { createDb } from '../../db/connect';
import { getCatalog } from '../../db/repositories/catalogs';
import { deleteWebhookSecrets, listWebhookSecrets, rotateWebhookSecret, setWebhookSecret } from '../../db/repositories/webhookSecrets';
import type { Database } from '../../db/schema';
import { generateWebhookSecret, openWebhookSecret, sealWebhookSecret, webhookKeyId } from '../../http/webhookSecrets';
import { CliError, configOrExit } from '../context';
import { DEFAULT_KEEP_PREVIOUS_HOURS } from './webhook';

async function withDb<T>(config: Config, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  if (!config.databaseUrl) throw new CliError('DATABASE_URL is not set: webhook secrets are kept in Postgres', 3);
  const db = createDb(config.databaseUrl, { poolSize: 2, applicationName: 'catalog-assets-cli' });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

function keyOf(config: Config): Buffer {
  const key = config.http.webhookSecretKey;
  if (!key) throw new CliError('WEBHOOK_SECRET_KEY is not set: it seals the stored webhook secrets (generate one with: openssl rand -base64 32), and the HTTP service needs the same one', 3);
  return key;
}

function catalogIdOf(value: string): string {
  const parsed = catalogIdSchema.safeParse(value);
  if (!parsed.success) throw new CliError(`--catalog: ${parsed.error.issues[0]!.message}`, 2);
  return parsed.data;
}

async function knownCatalog(db: Kysely<Database>, catalogId: string): Promise<void> {
  if (!(await getCatalog(db, catalogId))) throw new CliError(`no catalog ${JSON.stringify(catalogId)}; create it (e.g. with catalog-assets import) first`, 1);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

function printSecret(o: { json: boolean; catalogId: string; secret: string; previousExpiresAt?: Date }): void {
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ catalogId: o.catalogId, secret: o.secret, ...(o.previousExpiresAt ? { previousExpiresAt: o.previousExpiresAt.toISOString() } : {}) })}\n`);
    return;
  }
  process.stdout.write(
    `Webhook secret of catalog ${o.catalogId} (shown once; configure it in the PIM's connection now):\n\n  ${o.secret}\n\n` +
      (o.previousExpiresAt ? `The previous secret stays valid until ${o.previousExpiresAt.toISOString()}.\n` : 'No other secret is valid for this catalog.\n'),
  );
}

export async function setSecret(flags: { catalog: string; fromStdin: boolean; json: boolean }): Promise<void> {
  const config = configOrExit();
  const key = keyOf(config);
  const catalogId = catalogIdOf(flags.catalog);
  const value = flags.fromStdin ? await readStdin() : generateWebhookSecret();
  if (value.length < 16) throw new CliError('the secret must be at least 16 characters', 2);
  await withDb(config, async (db) => {
    await knownCatalog(db, catalogId);
    await setWebhookSecret(db, { catalogId, keyId: webhookKeyId(key), sealed: sealWebhookSecret(key, catalogId, value) });
  });
  if (flags.fromStdin) process.stdout.write(flags.json ? `${JSON.stringify({ catalogId })}\n` : `Webhook secret of catalog ${catalogId} set.\n`);
  else printSecret({ json: flags.json, catalogId, secret: value });
}


export async function rotateSecret(flags: { catalog: string; keepPreviousHours?: number; json: boolean }): Promise<void> {
  const config = configOrExit();
  const key = keyOf(config);
  const catalogId = catalogIdOf(flags.catalog);
  const value = generateWebhookSecret();
  const previousExpiresAt = new Date(Date.now() + (flags.keepPreviousHours ?? DEFAULT_KEEP_PREVIOUS_HOURS) * 3_600_000);
  const rotated = await withDb(config, async (db) => {
    await knownCatalog(db, catalogId);
    return rotateWebhookSecret(db, {
      catalogId,
      keyId: webhookKeyId(key),
      sealed: sealWebhookSecret(key, catalogId, value),
      previousExpiresAt,
      // Opening proves this key sealed it; the bytes are kept as they are.
      reseal: (current) => {
        openWebhookSecret(key, catalogId, current.current);
        return current.current;
      },
    });
  });
  if (!rotated) throw new CliError(`catalog ${JSON.stringify(catalogId)} has no webhook secret of its own yet: use catalog-assets webhook secret set`, 1);
  printSecret({ json: flags.json, catalogId, secret: value, previousExpiresAt });
}


export async function listSecrets(flags: { json: boolean }): Promise<void> {
  const config = configOrExit();
  const rows = await withDb(config, (db) => listWebhookSecrets(db));
  const now = Date.now();
  const view = rows.map((r) => ({
    catalogId: r.catalogId,
    keyId: r.keyId,
    rotatedAt: r.rotatedAt.toISOString(),
    previousValidUntil: r.previousExpiresAt && r.previousExpiresAt.getTime() > now ? r.previousExpiresAt.toISOString() : null,
  }));
  if (flags.json) process.stdout.write(`${JSON.stringify({ catalogs: view })}\n`);
  else if (view.length === 0) process.stdout.write('No catalog has a webhook secret of its own (the shared WEBHOOK_SECRET, if set, serves them all).\n');
  else for (const v of view) process.stdout.write(`${v.catalogId}\tkey ${v.keyId}\trotated ${v.rotatedAt}${v.previousValidUntil ? `\tprevious valid until ${v.previousValidUntil}` : ''}\n`);
}


export async function removeSecret(flags: { catalog: string }): Promise<void> {
  const config = configOrExit();
  const catalogId = catalogIdOf(flags.catalog);
  const removed = await withDb(config, (db) => deleteWebhookSecrets(db, catalogId));
  process.stdout.write(removed ? `Webhook secrets of catalog ${catalogId} removed.\n` : `Catalog ${catalogId} had no webhook secret of its own.\n`);
}
