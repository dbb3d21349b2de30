/**
 * docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so they are checked
 * statically: the project's services are configured only with variables the config schema knows, and
 * that configuration loads; dependencies exist and can become healthy; the image is built on Node 24.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KNOWN_ENV_VARS, loadConfig } from '../src/config';
import { assertAuthConfig } from '../src/http/auth';

const root = path.resolve(import.meta.dirname, '..');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  restart?: string;
  deploy?: { replicas?: number };
  ports?: string[];
  container_name?: string;
}

const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** Services that run the project's own image (built from the Dockerfile). */
const projectServices = Object.entries(services)
  .filter(([, s]) => s.build !== undefined || s.image?.startsWith('catalog-assets'))
  .map(([name]) => name);

/** Read by a CLI command's own options (commander `.env()`), not by the config schema. */
const CLI_OPTION_ENV = ['WORKER_QUEUES', 'SIMULATOR_PORT', 'SIMULATOR_HOST', 'SIMULATOR_LATENCY_MS', 'SIMULATOR_MAX_RUNNING', 'SIMULATOR_FAULTS', 'SIMULATOR_SEED'];

/** Variables of the third-party services, each one read by that image. */
const THIRD_PARTY_ENV: Record<string, string[]> = {
  postgres: ['POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB'],
  'temporal-schema': ['SQL_PASSWORD'],
  temporal: ['DB', 'DB_PORT', 'POSTGRES_USER', 'POSTGRES_PWD', 'POSTGRES_SEEDS', 'BIND_ON_IP', 'DYNAMIC_CONFIG_FILE_PATH'],
  'temporal-namespace': ['TEMPORAL_ADDRESS', 'NAMESPACE'],
  'temporal-ui': ['TEMPORAL_ADDRESS', 'TEMPORAL_DEFAULT_NAMESPACE'],
  objectstore: ['ROOT_ACCESS_KEY_ID', 'ROOT_SECRET_ACCESS_KEY', 'VGW_REGION', 'BUCKET'],
};

/** The environment block as [name, raw value] pairs; null means "passed through from the host when set". */
function environmentOf(s: ComposeService): Array<[string, string | null]> {
  const env = s.environment ?? {};
  if (Array.isArray(env)) {
    return env.map((line) => {
      const i = line.indexOf('=');
      return i < 0 ? [line, null] : [line.slice(0, i), line.slice(i + 1)];
    });
  }
  return Object.entries(env).map(([k, v]) => [k, v === null ? null : String(v)]);
}

/** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
function interpolate(value: string, host: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name, colon, op, arg, bare) => {
    if (whole === '$$') return '$';
    if (bare) return host[bare as string] ?? '';
    const v = host[name as string];
    const missing = colon ? v === undefined || v === '' : v === undefined;
    if (!op) return v ?? '';
    if (op === '-') return missing ? (arg as string) : v!;
    if (missing) throw new Error(`compose requires ${name}: ${arg}`);
    return v!;
  });
}

/** The environment a project container would get, given the host's environment. */
function containerEnv(service: string, host: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of environmentOf(services[service]!)) {
    if (raw === null) {
      if (host[name] !== undefined) out[name] = host[name]!;
    } else {
      out[name] = interpolate(raw, host);
    }
  }
  return out;
}

function dependencies(s: ComposeService): Array<[string, string | undefined]> {
  const d = s.depends_on ?? [];
  return Array.isArray(d) ? d.map((n) => [n, undefined]) : Object.entries(d).map(([n, v]) => [n, v?.condition]);
}

describe('docker-compose.yml', () => {
  it('has the production-like topology', () => {
    for (const name of ['postgres', 'temporal', 'temporal-ui', 'objectstore', 'setup', 'worker', 'service']) {
      expect(Object.keys(services)).toContain(name);
    }
    expect(projectServices.sort()).toEqual(['service', 'setup', 'simulator', 'worker']);
    expect(services.worker!.command).toEqual(['worker', '--migrate']);
    expect(services.service!.command).toEqual(['serve']);
    expect(services.setup!.command).toEqual(['setup']);
    // The worker scales: no fixed name, no host port, more than one replica by default.
    expect(services.worker!.container_name).toBeUndefined();
    expect(services.worker!.ports).toBeUndefined();
    expect(services.worker!.deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it('sets only variables the config schema knows on the project services (and known ones elsewhere)', () => {
    const known = new Set([...KNOWN_ENV_VARS, ...CLI_OPTION_ENV]);
    for (const [name, service] of Object.entries(services)) {
      const vars = environmentOf(service).map(([k]) => k);
      const allowed = projectServices.includes(name) ? known : new Set(THIRD_PARTY_ENV[name] ?? []);
      const unknown = vars.filter((v) => !allowed.has(v));
      expect(unknown, `service ${name} sets variables nothing reads`).toEqual([]);
    }
  });

  it('gives every project service a configuration that loads: the simulator and S3 storage by default', () => {
    for (const name of ['worker', 'service', 'setup']) {
      const config = loadConfig(containerEnv(name));
      expect(config.storage.kind, name).toBe('s3');
      expect(config.storage.s3).toMatchObject({ bucket: 'catalog-assets', endpoint: 'http://objectstore:7070', forcePathStyle: true });
      expect(config.provider).toMatchObject({ kind: 'simulator', baseUrl: 'http://simulator:8790' });
      expect(config.temporal.address).toBe('temporal:7233');
      expect(config.databaseUrl).toBe('postgres://postgres:postgres@postgres:5432/catalog_assets');
      expect(config.referenceMode).toBe('inline');
    }
    const service = loadConfig(containerEnv('service'));
    // A non-loopback bind needs a service token (src/http/auth.ts), so the service has one by default.
    expect(service.http).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(assertAuthConfig({ serviceToken: service.http.serviceToken, host: service.http.host })).toBe('token');
  });

  it('takes the real API, secrets and overrides from the host environment', () => {
    const host = {
      IMAROUTER_API_KEY: 'ir-live-0123456789abcdef',
      IMAROUTER_BASE_URL: 'https://api.imarouter.example',
      POSTGRES_PASSWORD: 's3cret-pg',
      S3_BUCKET: 'shop-assets',
      S3_SECRET_ACCESS_KEY: 'another-secret-key',
      REFERENCE_MODE: 'url',
      SERVICE_TOKEN: 'a-service-token-of-some-length',
    };
    const config = loadConfig(containerEnv('worker', host));
    expect(config.provider).toMatchObject({ kind: 'real', baseUrl: 'https://api.imarouter.example', apiKey: host.IMAROUTER_API_KEY });
    expect(config.databaseUrl).toBe('postgres://postgres:s3cret-pg@postgres:5432/catalog_assets');
    expect(config.storage.s3).toMatchObject({ bucket: 'shop-assets', credentials: { accessKeyId: 'catalog', secretAccessKey: 'another-secret-key' } });
    expect(config.referenceMode).toBe('url');
    expect(loadConfig(containerEnv('service', host)).http.serviceToken).toBe(host.SERVICE_TOKEN);

    // The object store is given the same credentials and bucket the project services use.
    const store = containerEnv('objectstore', host);
    expect(store).toMatchObject({ ROOT_ACCESS_KEY_ID: 'catalog', ROOT_SECRET_ACCESS_KEY: 'another-secret-key', BUCKET: 'shop-assets' });
    const pg = containerEnv('postgres', host);
    expect(pg.POSTGRES_PASSWORD).toBe('s3cret-pg');
  });

  it('refers only to services that exist, and waits only on conditions they can meet', () => {
    const dockerfileHasHealthcheck = /^HEALTHCHECK\s+(?!NONE)/m.test(dockerfile);
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, condition] of dependencies(service)) {
        const target = services[dep];
        expect(target, `${name} depends on missing service ${dep}`).toBeDefined();
        if (condition === 'service_healthy') {
          const hasCheck = target!.healthcheck?.test !== undefined || (projectServices.includes(dep) && dockerfileHasHealthcheck);
          expect(hasCheck && !target!.healthcheck?.disable, `${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`).toBe(true);
        }
        if (condition === 'service_completed_successfully') {
          // A one-shot job: it must not be restarted forever once it exits.
          expect(['always', 'unless-stopped'], `${name} waits for ${dep} to complete, but ${dep} restarts`).not.toContain(target!.restart);
        }
      }
    }
  });

  it('has no dependency cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, trail: string[]) => {
      if (state.get(name) === 'done') return;
      expect(state.get(name), `cycle: ${[...trail, name].join(' -> ')}`).not.toBe('visiting');
      state.set(name, 'visiting');
      for (const [dep] of dependencies(services[name]!)) visit(dep, [...trail, name]);
      state.set(name, 'done');
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('gives every long-running service a healthcheck and pins every third-party image', () => {
    for (const [name, service] of Object.entries(services)) {
      const oneShot = service.restart === 'no' || service.restart?.startsWith('on-failure') === true;
      if (!oneShot && !projectServices.includes(name)) expect(service.healthcheck?.test, `${name} has no healthcheck`).toBeDefined();
      if (!projectServices.includes(name)) {
        expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
        expect(service.image, name).not.toMatch(/:latest$/);
      }
    }
    for (const name of ['worker', 'service', 'simulator']) expect(services[name]!.healthcheck?.test, name).toBeDefined();
  });

  it('publishes ports on the loopback interface only', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('mounts only files that exist', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of (service as { volumes?: string[] }).volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(path.join(root, source)), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name} uses volume ${source}`).toContain(source);
      }
    }
  });
});

describe('Dockerfile', () => {
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]));
  const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!.replace(/^\$\{(\w+)\}$/, (_, a: string) => args[a] ?? a));

  it('builds on Node 24 in every stage', () => {
    expect(existsSync(path.join(root, 'Dockerfile'))).toBe(true);
    expect(bases.length).toBeGreaterThanOrEqual(2); // multi-stage
    for (const base of bases) expect(base).toMatch(/^node:24[.-]/);
  });

  it('installs production dependencies from the lockfile, runs as a non-root user, and has a healthcheck', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER\s+(?!root\b|0\b)\S+/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK\s+.*docker\/healthcheck\.mjs/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT\s+\["node", "bin\/catalog-assets\.js"\]/m);
  });

  it('copies every directory the CLI needs at run time, and .dockerignore keeps none of them out', () => {
    const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const dir of ['bin', 'src', 'migrations', 'scripts/build.mjs', 'scripts/bundle-workflows.ts', 'docker/healthcheck.mjs', 'package.json', 'package-lock.json']) {
      expect(dockerfile, dir).toMatch(new RegExp(`^COPY .*\\b${dir.replace('.', '\\.')}\\b`, 'm'));
      expect(ignore, dir).not.toContain(dir);
    }
    for (const kept of ['node_modules', '.tools', '.data', '.git', 'test', '.env']) expect(ignore).toContain(kept);
  });

  it('runs the built CLI, and workers load the workflow bundle built with the image', () => {
    expect(dockerfile).toMatch(/^RUN npm run build:workflows$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(dockerfile).toMatch(/WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/);
  });
});

describe('docker/healthcheck.mjs', () => {
  function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(root, 'docker', 'healthcheck.mjs'), ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  }

  async function listen(server: net.Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  it('serve: healthy only while /healthz answers 2xx', async () => {
    let status = 200;
    const server = http.createServer((req, res) => res.writeHead(req.url === '/healthz' ? status : 404).end());
    const port = await listen(server);
    try {
      expect((await run(['serve'], { HTTP_PORT: String(port) })).code).toBe(0);
      status = 503;
      const bad = await run(['serve'], { HTTP_PORT: String(port) });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/503/);
    } finally {
      server.close();
    }
  });

  it('worker: healthy while Temporal and Postgres accept connections, and never prints the database URL', async () => {
    const server = net.createServer((s) => s.destroy());
    const open = await listen(server);
    try {
      const ok = await run(['worker'], { TEMPORAL_ADDRESS: `127.0.0.1:${open}`, DATABASE_URL: `postgres://u:pw-secret@127.0.0.1:${open}/db` });
      expect(ok.code).toBe(0);
      const down = await run(['worker'], { TEMPORAL_ADDRESS: `127.0.0.1:${open}`, DATABASE_URL: `postgres://u:pw-secret@127.0.0.1:1/db` });
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/127\.0\.0\.1:1/);
      expect(down.stderr).not.toContain('pw-secret');
    } finally {
      server.close();
    }
  });

  it('one-shot roles count as healthy', async () => {
    expect((await run(['setup'], {})).code).toBe(0);
  });
});
