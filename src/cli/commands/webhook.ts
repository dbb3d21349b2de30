/**
 * `catalog-assets webhook secret set|rotate|list|remove`: each catalog's own webhook secret (see
 * src/http/webhookSecrets.ts). A new secret is printed once, here, and stored only sealed under
 * WEBHOOK_SECRET_KEY; nothing can show it again (set or rotate to get a new one).
 */
import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { catalogIdSchema } from '../../catalog/text';
import type { Config } from '../../config';
import { createDb } from '../../db/connect';
import { getCatalog } from '../../db/repositories/catalogs';
import { deleteWebhookSecrets, listWebhookSecrets, rotateWebhookSecret, setWebhookSecret } from '../../db/repositories/webhookSecrets';
import type { Database } from '../../db/schema';
import { generateWebhookSecret, openWebhookSecret, sealWebhookSecret, webhookKeyId } from '../../http/webhookSecrets';
import { CliError, configOrExit } from '../context';

const DEFAULT_KEEP_PREVIOUS_HOURS = 24;

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

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 24 * 90) throw new CliError('--keep-previous-hours: a number of hours from 0 to 2160', 2);
  return n;
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

export function registerWebhookCommand(program: Command): void {
  const webhook = program.command('webhook').description("PIM webhooks: each catalog's own signing secret.");
  const secret = webhook
    .command('secret')
    .description("Set, rotate, list or remove a catalog's webhook secret (sealed in Postgres under WEBHOOK_SECRET_KEY).")
    .addHelpText(
      'after',
      `
A catalog with its own secret accepts only deliveries signed with it (and, during a rotation, the
previous one until it expires), never the shared WEBHOOK_SECRET. Examples:
  $ catalog-assets webhook secret set --catalog acme            # prints a new secret once
  $ catalog-assets webhook secret rotate --catalog acme --keep-previous-hours 48
  $ catalog-assets webhook secret list`,
    );

  secret
    .command('set')
    .description('Give the catalog a new secret (generated, or read from stdin); any previous one stops working at once.')
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--from-stdin', "read the secret from stdin instead of generating one (e.g. the PIM's own)", false)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags: { catalog: string; fromStdin: boolean; json: boolean }) => {
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
    });

  secret
    .command('rotate')
    .description('Give the catalog a new secret; the current one stays valid for a while, so the PIM can switch over.')
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--keep-previous-hours <hours>', `how long the current secret stays valid (default ${DEFAULT_KEEP_PREVIOUS_HOURS})`, hours)
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags: { catalog: string; keepPreviousHours?: number; json: boolean }) => {
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
    });

  secret
    .command('list')
    .description('Catalogs with their own secret: key id, when rotated, until when a previous one is valid (never a secret).')
    .option('--json', 'print machine-readable JSON', false)
    .action(async (flags: { json: boolean }) => {
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
    });

  secret
    .command('remove')
    .description('Remove the catalog\'s own secrets: it falls back to the shared WEBHOOK_SECRET (or accepts no webhooks).')
    .requiredOption('--catalog <id>', 'catalog id')
    .action(async (flags: { catalog: string }) => {
      const config = configOrExit();
      const catalogId = catalogIdOf(flags.catalog);
      const removed = await withDb(config, (db) => deleteWebhookSecrets(db, catalogId));
      process.stdout.write(removed ? `Webhook secrets of catalog ${catalogId} removed.\n` : `Catalog ${catalogId} had no webhook secret of its own.\n`);
    });
}
