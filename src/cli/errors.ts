/**
 * The CLI's error with an exit code, and how any error reaches the terminal. Light on purpose: `main.ts`
 * imports it on every run, `--help` included.
 */
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

export function printError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${redact(message)}\n`);
}
