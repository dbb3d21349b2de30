// Makes sure the Temporal CLI is there before tests or benchmarks start (see src/dev/temporalCli.ts).
import { ensureTemporalCli } from '../src/dev/temporalCli';

try {
  const cli = ensureTemporalCli();
  if (cli) process.stderr.write(`Temporal CLI: ${cli.path} (${cli.source})\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
