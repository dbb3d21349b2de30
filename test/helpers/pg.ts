/**
 * Test databases: a template migrated once per run, then one fresh copy per test file
 * (CREATE DATABASE ... TEMPLATE is a file copy, far faster than migrating each time).
 * Names carry the vitest process id, so a crashed run's leftovers are dropped by the next run
 * without touching a run that is still going.
 */
import pg from 'pg';
import { createDb } from '../../src/db/connect';
import { migrateToLatest } from '../../src/db/migrate';
import { pidAlive } from '../../src/support/processes';

export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export function databaseUrl(name: string, base = adminUrl()): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, base = adminUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropLeftoverDatabases(): Promise<void> {
  await admin(async (c) => {
    const { rows } = await c.query<{ datname: string }>("select datname from pg_database where datname like 'ca\\_t%'");
    for (const { datname } of rows) {
      const pid = Number(/^ca_t(?:mpl)?_(\d+)_/.exec(datname)?.[1]);
      if (pid && !pidAlive(pid)) await c.query(`drop database if exists "${datname}" with (force)`);
    }
  });
}

let counter = 0;
function uniqueName(kind: 't' | 'tmpl'): string {
  // The pid of the process that owns the database, for leftover detection.
  const owner = kind === 'tmpl' ? process.pid : Number(process.env.VITEST_MAIN_PID ?? process.ppid);
  return `ca_${kind}_${owner}_${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function createTemplateDatabase(): Promise<string> {
  const name = uniqueName('tmpl');
  await admin((c) => c.query(`create database "${name}"`));
  const db = createDb(databaseUrl(name), { poolSize: 2 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return name;
}

export async function createDatabaseFrom(template: string, base = adminUrl()): Promise<string> {
  const name = uniqueName('t');
  await admin((c) => c.query(`create database "${name}" template "${template}"`), base);
  return name;
}

export async function createEmptyDatabase(base = adminUrl()): Promise<string> {
  const name = uniqueName('t');
  await admin((c) => c.query(`create database "${name}"`), base);
  return name;
}

export async function dropDatabase(name: string, base = adminUrl()): Promise<void> {
  await admin((c) => c.query(`drop database if exists "${name}" with (force)`), base);
}
