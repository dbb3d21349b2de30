/**
 * `catalog-assets provider check` as a user runs it, against the simulator: the free balance call,
 * one paid generate with its raw answers, the idempotency probe against a provider that honours the
 * key and one that ignores it, both route styles, and the exit codes.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/provider/simulator';

const KEY = 'sk-provider-check-0123456789abcdef';

function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/catalog-assets.js', ...args], { env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** The environment of a user whose IMAROUTER_* points at the given server. */
function envFor(sim: RunningSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { IMAROUTER_API_KEY: KEY, IMAROUTER_BASE_URL: sim.url, ...extra };
}

describe('catalog-assets provider check', () => {
  let honouring: RunningSimulator;
  let ignoring: RunningSimulator;
  beforeAll(async () => {
    const common = { apiKey: KEY, latencyMs: { min: 50, max: 100 }, outputScale: 0.03, creditUsd: 5 } as const;
    honouring = await startSimulator(common);
    ignoring = await startSimulator({ ...common, ignoreIdempotency: true });
  });
  afterAll(async () => {
    await honouring?.close();
    await ignoring?.close();
  });

  it('without flags makes the free balance call only, and exits 0', async () => {
    const r = await cli(['provider', 'check'], envFor(honouring));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/balance: 5 USD/);
    expect(r.stdout).toMatch(/IMAROUTER_IDEMPOTENCY: unknown/);
    expect(honouring.ledger().submissions).toBe(0);
  }, 60_000);

  it('--submit asks first; declining sends nothing and exits 1', async () => {
    const r = await cli(['provider', 'check', '--submit'], envFor(honouring), 'n\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/costs \$0\.04/);
    expect(r.stderr).toMatch(/nothing was sent/);
    expect(honouring.ledger().submissions).toBe(0);
  }, 60_000);

  it.each(['seed', 'tasks'] as const)('--submit --yes in %s style prints the raw answers, the recognised shape, and never the key', async (style) => {
    const before = honouring.ledger().billedImages;
    const r = await cli(['provider', 'check', '--submit', '--yes'], envFor(honouring, { IMAROUTER_API_STYLE: style }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(style === 'seed' ? /submit answer \(recognised as seed;/ : /submit answer \(recognised as tasks-flat;/);
    expect(r.stdout).toMatch(/last poll answer after \d+ poll\(s\) .*read as completed/);
    expect(r.stdout).toMatch(/outputs: 1; cost computed 0\.04 USD/);
    if (style === 'tasks') expect(r.stdout).toMatch(/reported by the provider 0\.04 USD/);
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(honouring.ledger().billedImages).toBe(before + 1);
  }, 60_000);

  it('--idempotency reports HONOURED when the provider returns the same job', async () => {
    const jobs = honouring.ledger().jobs;
    const r = await cli(['provider', 'check', '--idempotency', '--yes'], envFor(honouring));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/up to \$0\.08/);
    expect(r.stdout).toMatch(/idempotency: HONOURED/);
    expect(honouring.ledger().jobs).toBe(jobs + 1);
  }, 60_000);

  it('--idempotency reports NOT HONOURED when a repeated key bills a second job', async () => {
    const r = await cli(['provider', 'check', '--idempotency', '--yes'], envFor(ignoring));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/idempotency: NOT HONOURED/);
    expect(r.stdout).toMatch(/Keep IMAROUTER_IDEMPOTENCY=unknown/);
    expect(ignoring.ledger()).toMatchObject({ jobs: 2, submissions: 2 });
  }, 60_000);

  it('exits 3 for a configuration error and 1 for a key the provider refuses', async () => {
    const bad = await cli(['provider', 'check'], envFor(honouring, { IMAROUTER_API_STYLE: 'soap' }));
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/IMAROUTER_API_STYLE/);
    const wrong = await cli(['provider', 'check'], envFor(honouring, { IMAROUTER_API_KEY: 'sk-wrong-key-0000000000' }));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/unauthorized.*check IMAROUTER_API_KEY/);
    expect(wrong.stderr).not.toContain('sk-wrong-key-0000000000');
  }, 60_000);
});
