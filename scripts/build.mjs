#!/usr/bin/env node
// Builds the CLI into ESM under dist/ (the entry dist/cli.js and its chunks), so that a production
// process starts without a TypeScript transpiler. Plain JavaScript on purpose: building needs only
// esbuild, not tsx.
//
// Code splitting: each command's implementation (src/cli/commands/*.run.ts, loaded by `await import()`
// in its action) becomes a chunk of its own, so `--help` reads the commands' options and none of
// Temporal, sharp, kysely, pg, fastify or zod. The build fails when the entry's static import graph
// reaches one of those (HEAVY below): a command module that imports its implementation eagerly.
//
// Why esbuild and not tsc: the sources import each other without file extensions (moduleResolution
// "Bundler"), which tsc would emit unchanged and Node's ESM loader cannot resolve; esbuild resolves
// them and writes a few files (a handful of reads at start instead of ~150). tsc stays the type checker
// (`npm run typecheck`). Packages stay external: node_modules is loaded as installed.
//
// dist/cli.inputs.json lists every source file that went in; bin/catalog-assets.js runs the build only
// while none of them changed since (otherwise it runs the sources through tsx, as before).
import fs from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
// CLI_BUILD_OUTDIR: somewhere else than dist/ (test/cli/help.test.ts builds into a temporary folder).
const outdir = path.resolve(root, process.env.CLI_BUILD_OUTDIR ?? 'dist');
const entry = 'src/cli/main.ts';

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // A production-only install (npm ci --omit=dev) has no build tools: it runs a dist/ built before.
  console.warn('build: esbuild is not installed (production-only install?): dist/ left as it is');
  process.exit(0);
}

/**
 * Bundled code runs from dist/, so `import.meta.dirname` would name dist/ for every module. Each
 * source module gets the directory it was written in, relative to the bundle, so paths built from it
 * (the project root, the workflows folder) mean the same in the build and in the sources.
 */
const keepModuleDirname = {
  name: 'keep-module-dirname',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      let contents = await fs.readFile(args.path, 'utf8');
      if (contents.includes('import.meta.dirname') || contents.includes('import.meta.filename')) {
        const dir = path.relative(outdir, path.dirname(args.path)).split(path.sep).join('/');
        const file = path.relative(outdir, args.path).split(path.sep).join('/');
        contents = contents
          .replaceAll('import.meta.dirname', `(import.meta.dirname + ${JSON.stringify(`/${dir}`)})`)
          .replaceAll('import.meta.filename', `(import.meta.dirname + ${JSON.stringify(`/${file}`)})`);
      }
      return { contents, loader: 'ts' };
    });
  },
};

/** Packages `--help` must not load: each costs tens to hundreds of milliseconds of start-up. */
const HEAVY = /^(@temporalio\/|sharp$|kysely$|pg$|fastify$|@fastify\/|zod$|pino$|undici$|@aws-sdk\/|tesseract\.js$)/;

/**
 * The packages loaded before any action runs: the entry's imports (its `await import()` of the command
 * modules included, src/cli/main.ts), then the static imports of what those load, chunk by chunk. The
 * command modules' own `await import()` is the implementation, loaded only when the action runs.
 */
function eagerPackages(metafile, entryOut) {
  const seen = new Set();
  const packages = new Set();
  const walk = (out, followDynamic) => {
    if (seen.has(out)) return;
    seen.add(out);
    for (const imp of metafile.outputs[out]?.imports ?? []) {
      if (imp.kind !== 'import-statement' && !(followDynamic && imp.kind === 'dynamic-import')) continue;
      if (imp.external) packages.add(imp.path.startsWith('@') ? imp.path.split('/').slice(0, 2).join('/') : imp.path.split('/')[0]);
      else walk(imp.path, false);
    }
  };
  walk(entryOut, true);
  return [...packages].sort();
}

const started = Date.now();
await fs.mkdir(outdir, { recursive: true });
// Chunks of an earlier build would otherwise pile up (their names carry a content hash).
for (const name of await fs.readdir(outdir)) {
  if (/^chunk-[A-Z0-9]+\.js(\.map)?$/.test(name)) await fs.rm(path.join(outdir, name));
}
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { cli: entry },
  outdir,
  // Chunks beside the entry, not in a subfolder: keepModuleDirname computes paths from outdir.
  chunkNames: 'chunk-[hash]',
  splitting: true,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [keepModuleDirname],
});
const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('node_modules/')).sort();
const entryOut = Object.keys(result.metafile.outputs).find((o) => result.metafile.outputs[o].entryPoint === entry);
const eager = eagerPackages(result.metafile, entryOut);
const chunks = Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.js')).length;
await fs.writeFile(path.join(outdir, 'cli.inputs.json'), `${JSON.stringify({ entry, eager, inputs }, null, 1)}\n`);
const heavy = eager.filter((p) => HEAVY.test(p));
if (heavy.length > 0) {
  console.error(`build: the CLI loads ${heavy.join(', ')} before any command runs; import it in a command's *.run.ts (see src/cli/main.ts)`);
  process.exit(1);
}
console.log(`build: ${path.relative(root, outdir) || '.'}/cli.js and ${chunks - 1} chunks from ${inputs.length} source files in ${Date.now() - started} ms; --help loads ${eager.join(', ')}`);
