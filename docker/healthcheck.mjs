// Container health check for every role of the image (the slim base has no curl or wget).
// Plain JavaScript on purpose: it must start fast and not load tsx or the application.
//
//   node docker/healthcheck.mjs serve    GET http://127.0.0.1:$HTTP_PORT/healthz answers 2xx
//                                        (the service itself checks Postgres and Temporal there)
//   node docker/healthcheck.mjs worker   Temporal's frontend and Postgres accept connections
//                                        (a worker has no port of its own to ask)
//   node docker/healthcheck.mjs          the role is read from the container's command line;
//                                        one-shot commands (setup, migrate) count as healthy
import { readFileSync } from 'node:fs';
import net from 'node:net';

const TIMEOUT_MS = 3_000;

function roleFromCommandLine() {
  for (const pid of ['1', 'self']) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes('serve')) return 'serve';
      if (args.includes('worker')) return 'worker';
    } catch {
      // not Linux, or no /proc: fall through
    }
  }
  return 'other';
}

function tcp(host, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`${host}:${port}: timed out`));
    });
    socket.once('error', (err) => reject(new Error(`${host}:${port}: ${err.message}`)));
  });
}

function hostPort(address, defaultPort) {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(address);
  return { host: m?.[1] ?? address, port: Number(m?.[2] ?? defaultPort) };
}

async function check(role) {
  if (role === 'serve') {
    const port = process.env.HTTP_PORT || '8080';
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) throw new Error(`/healthz answered ${res.status}`);
    return;
  }
  if (role === 'worker') {
    const temporal = hostPort(process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233', 7233);
    const checks = [tcp(temporal.host, temporal.port)];
    if (process.env.DATABASE_URL) {
      const db = new URL(process.env.DATABASE_URL);
      checks.push(tcp(db.hostname, Number(db.port || 5432)));
    }
    await Promise.all(checks);
  }
}

const role = process.argv[2] ?? roleFromCommandLine();
try {
  await check(role);
  process.exit(0);
} catch (err) {
  // Only the reason: never the URL of the database (it may carry a password).
  process.stderr.write(`unhealthy (${role}): ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
