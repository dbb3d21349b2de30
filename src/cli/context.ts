/** What every CLI command's implementation shares: configuration loaded once, errors that say what to do. */
import { ConfigError, loadConfig, type Config } from '../config';
import { CliError } from './errors';

export { CliError, printError } from './errors';

export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`${err.message}\n(see the configuration table in README.md)`, 3);
    throw err;
  }
}
