/**
 * Bundles the workflow code once, ahead of time (the Docker image build), so a worker loads it with
 * `--workflow-bundle` (WORKFLOW_BUNDLE) instead of running webpack over the workflows at every start.
 * Usage: tsx scripts/bundle-workflows.ts [out-file]   (default dist/workflow-bundle.js)
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../src/temporal/worker';

const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', 'dist', 'workflow-bundle.js'));
const started = Date.now();
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
await fs.mkdir(path.dirname(out), { recursive: true });
await fs.writeFile(out, code);
console.log(`bundle-workflows: ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms`);
