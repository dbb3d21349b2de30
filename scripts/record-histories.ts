// Re-records the product workflow histories that test/replay/product.replay.test.ts replays
// (test/fixtures/histories/product-*.json). Run it only after a deliberate change to workflow code,
// review the diff of the fixtures, and commit them with the change (README, "Replay histories").
//
//   npx tsx scripts/record-histories.ts
//
// The recording runs the real workflows on the test stack (dev server, Postgres, simulator), through
// vitest so it reuses the test infrastructure: test/replay/record-histories.test.ts, which is skipped
// unless RECORD_HISTORIES=1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureTemporalCli } from '../src/dev/temporalCli';

const root = path.resolve(import.meta.dirname, '..');
const dir = path.join(root, 'test', 'fixtures', 'histories');

ensureTemporalCli();
// Stale recordings of scenarios that no longer exist must not linger.
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (/^product-.*\.json$/.test(f)) fs.rmSync(path.join(dir, f));

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', 'test/replay/record-histories.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, RECORD_HISTORIES: '1' },
});
if (run.status !== 0) {
  process.stderr.write('recording failed; test/fixtures/histories may be incomplete (git checkout it to restore)\n');
  process.exit(run.status ?? 1);
}
const written = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
for (const f of written) process.stdout.write(`${path.join('test/fixtures/histories', f)}  ${Math.round(fs.statSync(path.join(dir, f)).size / 1024)} KiB\n`);
