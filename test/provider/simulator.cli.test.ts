import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { register as registerSimulatorCommand } from '../../src/cli/commands/simulator';

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

describe('catalog-assets simulator', () => {
  it('prints one line naming the LOCAL SIMULATOR and its URL, serves, and stops cleanly on SIGTERM', async () => {
    child = spawn(process.execPath, ['bin/catalog-assets.js', 'simulator', '--port', '0', '--api-key', 'cli-test-key'], {
      env: { ...process.env, SIMULATOR_LATENCY_MS: '10-20', SIMULATOR_OUTPUT_SCALE: '0.05' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await once(lines, 'line')) as [string];
    expect(line).toMatch(/LOCAL SIMULATOR/);
    expect(line).toMatch(/not the real API/);
    expect(line).not.toContain('cli-test-key');
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
    expect(url).toBeDefined();

    const health = (await (await fetch(`${url}/__simulator/health`)).json()) as { outputScale: number };
    expect(health.outputScale).toBe(0.05); // read from SIMULATOR_OUTPUT_SCALE
    const submit = await fetch(`${url}/v1/image/seedream-4.5/generate`, {
      method: 'POST',
      headers: { authorization: 'Bearer cli-test-key', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'cli' }),
    });
    expect(submit.status).toBe(202);

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  }, 30_000);

  it('documents its flags and environment variables in --help', () => {
    const program = new Command();
    registerSimulatorCommand(program);
    const command = program.commands.find((c) => c.name() === 'simulator');
    expect(command).toBeDefined();
    const help = command!.helpInformation();
    for (const env of ['SIMULATOR_PORT', 'SIMULATOR_API_KEY', 'SIMULATOR_LATENCY_MS', 'SIMULATOR_MAX_RUNNING', 'SIMULATOR_OUTPUT_SCALE', 'SIMULATOR_URL_TTL_MS', 'SIMULATOR_SEED', 'SIMULATOR_FAULTS', 'SIMULATOR_DIALECT', 'SIMULATOR_IGNORE_IDEMPOTENCY', 'SIMULATOR_LATENCY_PROFILE', 'SIMULATOR_TIME_SCALE']) {
      expect(help).toContain(env);
    }
  });

  it('rejects a malformed --faults value as a usage error', async () => {
    child = spawn(process.execPath, ['bin/catalog-assets.js', 'simulator', '--port', '0', '--faults', '{"rateLimit":{"probability":3}}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toMatch(/--faults/);
    expect(stderr).toMatch(/rateLimit\.probability/);
  }, 30_000);
});
