import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';

describe('the Temporal dev server of the test stack', () => {
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace: inject('temporalNamespace') });
  });
  afterAll(async () => {
    await connection.close();
  });

  it('runs a workflow and its activity on a real worker', async () => {
    const nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const taskQueue = `smoke-${process.pid}-${Date.now()}`;
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: inject('temporalNamespace'),
      taskQueue,
      workflowsPath: new URL('../fixtures/smokeWorkflows.ts', import.meta.url).pathname,
      activities: { greet: async (name: string) => `hello ${name}` },
    });
    try {
      const result = await worker.runUntil(
        client.workflow.execute('smokeWorkflow', { taskQueue, workflowId: `smoke-${taskQueue}`, args: [{ name: 'catalog' }] }),
      );
      expect(result).toEqual({ greeting: 'hello catalog', workflowId: `smoke-${taskQueue}` });
      const description = await client.workflow.getHandle(`smoke-${taskQueue}`).describe();
      expect(description.typedSearchAttributes.get({ name: 'CatalogId', type: 'KEYWORD' } as never)).toBe('smoke');
    } finally {
      await nativeConnection.close();
    }
  });

  it('has the project\'s custom search attributes registered', async () => {
    const response = await connection.operatorService.listSearchAttributes({ namespace: inject('temporalNamespace') });
    const custom = Object.keys(response.customAttributes ?? {});
    expect(custom).toEqual(expect.arrayContaining(['CatalogId', 'Sku', 'AssetSlots', 'RefreshTrigger', 'AssetOutcome']));
  });
});
