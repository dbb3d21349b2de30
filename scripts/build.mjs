#!/usr/bin/env node
// Builds the CLI into one ESM file, dist/cli.js, so that a production process starts without a
// TypeScript transpiler. Plain JavaScript on purpose: building needs only esbuild, not tsx.
//
// Why esbuild and not tsc: the sources import each other without file extensions (moduleResolution
// "Bundler"), which tsc would emit unchanged and Node's ESM loader cannot resolve; esbuild resolves
// them and writes one file (one read at start instead of ~150). tsc stays the type checker
// (`npm run typecheck`). Packages stay external: node_modules is loaded as installed.
//
// dist/cli.inputs.json lists every source file that went in; bin/catalog-assets.js runs the build only
// while none of them changed since (otherwise it runs the sources through tsx, as before).
import fs from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'dist');
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

const started = Date.now();
await fs.mkdir(outdir, { recursive: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { cli: entry },
  outdir,
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
await fs.writeFile(path.join(outdir, 'cli.inputs.json'), `${JSON.stringify({ entry, inputs }, null, 1)}\n`);
console.log(`build: dist/cli.js from ${inputs.length} source files in ${Date.now() - started} ms`);
