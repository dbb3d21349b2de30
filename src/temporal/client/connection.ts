/** Connections to Temporal from configuration: the local dev server, a cluster, or Temporal Cloud. */
import { Client, Connection, type DataConverter } from '@temporalio/client';
import type { Config } from '../../config';
import { payloadCodecFromConfig } from './codec';

export function connectionOptions(config: Pick<Config, 'temporal'>) {
  return {
    address: config.temporal.address,
    tls: config.temporal.tls || Boolean(config.temporal.apiKey) ? {} : undefined,
    apiKey: config.temporal.apiKey,
  };
}

/**
 * The data converter of every client and worker: payload encryption when TEMPORAL_PAYLOAD_KEY is set
 * (src/temporal/client/codec.ts), otherwise the SDK's default (undefined). Processes take it through
 * the composition root (src/app/runtime.ts), one-shot CLI clients through connectClient.
 */
export function dataConverterFor(config: Pick<Config, 'temporal'>): DataConverter | undefined {
  const codec = payloadCodecFromConfig(config);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

export async function connectClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(connectionOptions(config));
  return { client: new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverterFor(config) }), connection };
}
