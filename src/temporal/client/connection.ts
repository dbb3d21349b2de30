/** Connections to Temporal from configuration: the local dev server, a cluster, or Temporal Cloud. */
import { Client, Connection, type DataConverter } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../../config';
import { payloadCodecFromConfig } from './codec';

function connectionOptions(config: Config) {
  return {
    address: config.temporal.address,
    tls: config.temporal.tls || Boolean(config.temporal.apiKey) ? {} : undefined,
    apiKey: config.temporal.apiKey,
  };
}

/**
 * The data converter of every client and worker: payload encryption when TEMPORAL_PAYLOAD_KEY is set
 * (src/temporal/client/codec.ts), otherwise the SDK's default (undefined). Workers take it through
 * createWorkers({ dataConverter }), clients through connectClient/lazyClient.
 */
export function dataConverterFor(config: Pick<Config, 'temporal'>): DataConverter | undefined {
  const codec = payloadCodecFromConfig(config);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

export async function connectClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(connectionOptions(config));
  return { client: new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverterFor(config) }), connection };
}

/** The workers' connection; pass dataConverterFor(config) to createWorkers alongside it. */
export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

/**
 * A client whose connection opens on first use: the HTTP service starts (and reports Temporal as
 * unhealthy on /healthz) while Temporal is down, instead of failing to start.
 */
export function lazyClient(config: Config): { client: Client; connection: Connection } {
  const connection = Connection.lazy(connectionOptions(config));
  return { client: new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverterFor(config) }), connection };
}
