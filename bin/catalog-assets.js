#!/usr/bin/env node
// The package's CLI. It runs the build (dist/cli.js and its chunks, made by `npm run build`, which
// `npm ci` runs through `prepare`) when that is current, so a production process loads plain JavaScript,
// and only the chunks of the command it runs (`--help` loads no command's implementation). While a
// source file is newer than the build (someone is editing) or the build is missing, it runs the
// TypeScript sources through tsx instead, so what runs is always what is in the tree.
import fs from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const built = path.join(root, 'dist', 'cli.js');

/** Current: every source that went into the build is still there and not newer than the build. */
function buildIsCurrent() {
  let builtAt;
  try {
    builtAt = fs.statSync(built).mtimeMs;
  } catch {
    return false;
  }
  // An image that ships only dist/ has nothing the build could be stale against.
  if (!fs.existsSync(path.join(root, 'src'))) return true;
  try {
    const { inputs } = JSON.parse(fs.readFileSync(path.join(root, 'dist', 'cli.inputs.json'), 'utf8'));
    return inputs.every((file) => fs.statSync(path.join(root, file)).mtimeMs <= builtAt);
  } catch {
    return false;
  }
}

let main;
if (buildIsCurrent()) {
  // V8 keeps the compiled code of the bundle and of node_modules on disk between runs (Node 22.1+),
  // which halves what a short command spends compiling; a cache it cannot write is simply not used.
  module.enableCompileCache?.();
  process.setSourceMapsEnabled(true);
  ({ main } = await import(pathToFileURL(built).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv);
