/** What every CLI command shares: configuration loaded once, errors that say what to do. */
import { ConfigError, loadConfig, type Config } from '../config';
import { redact } from '../config/redact';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`${err.message}\n(see the configuration table in README.md)`, 3);
    throw err;
  }
}

export function printError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${redact(message)}\n`);
}
