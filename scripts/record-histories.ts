// Re-records the workflow histories the replay tests replay: test/fixtures/histories/product-*.json
// (test/replay/product.replay.test.ts) and refresh-*.json (test/replay/refresh.replay.test.ts). Run it
// only after a deliberate change to workflow code, review the diff of the fixtures, and commit them
// with the change (README, "Tests").
//
//   npx tsx scripts/record-histories.ts                  # both kinds
//   npx tsx scripts/record-histories.ts --only refresh   # one kind; the other's files are left as they are
//
// The recording runs the real workflows on the test stack (dev server, Postgres, simulator), through
// vitest so it reuses the test infrastructure: test/replay/record-histories.test.ts, which is skipped
// unless RECORD_HISTORIES=1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTemporalCli } from '../src/dev/temporalCli';

const KINDS = ['product', 'refresh'] as const;
type Kind = (typeof KINDS)[number];

const root = path.resolve(import.meta.dirname, '..');
const dir = path.join(root, 'test', 'fixtures', 'histories');

const { values } = parseArgs({ options: { only: { type: 'string' } } });
if (values.only !== undefined && !(KINDS as readonly string[]).includes(values.only)) {
  process.stderr.write(`--only: expected one of ${KINDS.join(', ')}, got "${values.only}"\n`);
  process.exit(2);
}
const kinds: readonly Kind[] = values.only ? [values.only as Kind] : KINDS;

ensureTemporalCli();
// Stale recordings of scenarios that no longer exist must not linger.
const stale = new RegExp(`^(${kinds.join('|')})-.*\\.json$`);
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (stale.test(f)) fs.rmSync(path.join(dir, f));

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
// Each kind is one describe block, "record <kind> workflow histories (...)".
const filter = values.only ? ['-t', `record ${values.only} workflow histories`] : [];
const run = spawnSync(process.execPath, [vitest, 'run', 'test/replay/record-histories.test.ts', ...filter], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, RECORD_HISTORIES: '1' },
});
if (run.status !== 0) {
  process.stderr.write('recording failed; test/fixtures/histories may be incomplete (git checkout it to restore)\n');
  process.exit(run.status ?? 1);
}
const written = fs.readdirSync(dir).filter((f) => stale.test(f)).sort();
for (const f of written) process.stdout.write(`${path.join('test/fixtures/histories', f)}  ${Math.round(fs.statSync(path.join(dir, f)).size / 1024)} KiB\n`);
