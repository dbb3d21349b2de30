/**
 * One Temporal dev server for the whole run (the project's own CLI build, with the custom search
 * attributes registered) and one migrated template database that each test file copies.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { ALL_SEARCH_ATTRIBUTES } from '../src/shared';
import { findTemporalCli } from '../src/temporal/cli';
import { adminUrl, createTemplateDatabase, dropDatabase, dropLeftoverDatabases } from './helpers/pg';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

export default async function setup(project: TestProject) {
  process.env.VITEST_MAIN_PID = String(process.pid);
  const cli = findTemporalCli();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      // Without a local build the SDK downloads the dev server (machines with internet only).
      executable: cli ? { type: 'existing-path', path: cli.path } : undefined,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error'],
    },
  });
  const address = env.address;

  await dropLeftoverDatabases();
  const template = await createTemplateDatabase();

  project.provide('temporalAddress', address);
  project.provide('temporalNamespace', env.namespace ?? 'default');
  project.provide('pgAdminUrl', adminUrl());
  project.provide('pgTemplate', template);

  return async () => {
    await env.teardown();
    await dropDatabase(template);
  };
}
