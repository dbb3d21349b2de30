#!/usr/bin/env node
// The package's CLI. The sources are TypeScript run through tsx's loader, so `npx catalog-assets`
// works straight after `npm ci` with no build step (see README: "Why tsx at run time").
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
