/**
 * One Temporal dev server for the whole run (the project's own CLI build, with the custom search
 * attributes registered) and one migrated template database that each test file copies.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../src/temporal/worker';
import type { TestProject } from 'vitest/node';
import { ALL_SEARCH_ATTRIBUTES } from '../src/shared';
import { findTemporalCli } from '../src/dev/temporalCli';
import { adminUrl, createTemplateDatabase, dropDatabase, dropLeftoverDatabases } from './helpers/pg';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    pgAdminUrl: string;
    pgTemplate: string;
    workflowBundlePath: string;
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

  // One workflow bundle for every test file: bundling costs seconds, and it is the same code.
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  const bundlePath = path.resolve('test-output', `workflow-bundle-${process.pid}.js`);
  await fs.mkdir(path.dirname(bundlePath), { recursive: true });
  await fs.writeFile(bundlePath, code);
  project.provide('workflowBundlePath', bundlePath);

  return async () => {
    await env.teardown();
    await dropDatabase(template);
    await fs.rm(bundlePath, { force: true });
  };
}

const quietBundlerLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: unknown) {
    console.warn(message, meta ?? '');
  },
  error(message: string, meta?: unknown) {
    console.error(message, meta ?? '');
  },
};
