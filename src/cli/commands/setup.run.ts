/** What `catalog-assets setup` does, loaded when it runs. */
import { connectClient } from '../../temporal/client/connection';
import { registerSearchAttributes } from '../../temporal/client/setup';
import { configOrExit } from '../context';

export async function setup(flags: { json: boolean }): Promise<void> {
  const config = configOrExit();
  const { connection } = await connectClient(config);
  try {
    const result = await registerSearchAttributes(connection, config.temporal.namespace);
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(result)}\n`
        : `namespace ${config.temporal.namespace}: ${result.added.length ? `added ${result.added.join(', ')}` : 'nothing to add'}; already present: ${result.present.join(', ') || 'none'}\n`,
    );
  } finally {
    await connection.close();
  }
}
