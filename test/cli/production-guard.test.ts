/**
 * Production never runs on the simulator by accident: a process started with NODE_ENV=production and
 * no IMAROUTER_API_KEY stops as a configuration error (exit 3) naming the variable, before it
 * connects to anything; IMAROUTER_SIMULATOR=1 is the explicit way to do it on purpose.
 */
import { describe, expect, it } from 'vitest';
import { bareEnv, runCli, type CliRun } from '../helpers/cli';

function run(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  // Nothing reachable: a process that got past its configuration would fail differently (or hang).
  return runCli(args, bareEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', TEMPORAL_ADDRESS: '127.0.0.1:1', ...env }));
}

describe('a production process without an API key', () => {
  it('worker, serve and refresh exit 3 naming IMAROUTER_API_KEY', { timeout: 120_000 }, async () => {
    const results = await Promise.all([
      run(['worker'], { NODE_ENV: 'production' }),
      run(['serve'], { NODE_ENV: 'production', SERVICE_TOKEN: 'svc_token_0123456789abcdef' }),
      run(['refresh', '--catalog', 'acme', '--select', 'all'], { NODE_ENV: 'production' }),
    ]);
    for (const r of results) {
      expect([r.code, r.stderr]).toEqual([3, expect.stringMatching(/IMAROUTER_API_KEY: required with NODE_ENV=production/)]);
      expect(r.stderr).toMatch(/IMAROUTER_SIMULATOR=1/);
    }
  });

  it('gets past configuration with IMAROUTER_SIMULATOR=1 (then fails on the unreachable database, not exit 3)', { timeout: 120_000 }, async () => {
    const r = await run(['worker'], { NODE_ENV: 'production', IMAROUTER_SIMULATOR: '1' });
    expect(r.code).not.toBe(3);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/IMAROUTER_API_KEY: required/);
  });
});
