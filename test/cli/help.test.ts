/**
 * `--help` is answered by the commands' option modules alone: it lists every command and loads none of
 * the packages an implementation needs (Temporal, sharp, kysely, pg, fastify, zod...), so it stays fast.
 * The built CLI is checked (what production runs), built here into a temporary folder inside the
 * project (packages resolve from its node_modules).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main';
import { bareEnv, runCli } from '../helpers/cli';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const HEAVY = ['@temporalio/', 'sharp', 'kysely', 'pg', 'fastify', '@fastify/', 'zod', 'pino', 'undici', '@aws-sdk/', 'tesseract.js', 'cli-progress'];

/** Records every package the process resolves (sync module hooks, Node 22.15+) and prints them at exit. */
const RECORDER = `
import module from 'node:module';
const seen = new Set();
module.registerHooks({ resolve(specifier, context, next) {
  const r = next(specifier, context);
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m) seen.add(m[1]);
  return r;
} });
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify([...seen]) + '\\n'));
`;

let tmp: string;
let built: { entry: string; eager: string[] };

beforeAll(async () => {
  await fs.mkdir(path.join(root, 'test-output'), { recursive: true });
  tmp = await fs.mkdtemp(path.join(root, 'test-output', 'cli-help-'));
  await run(process.execPath, ['scripts/build.mjs'], { cwd: root, env: { ...process.env, CLI_BUILD_OUTDIR: tmp } });
  built = JSON.parse(await fs.readFile(path.join(tmp, 'cli.inputs.json'), 'utf8')) as typeof built;
}, 60_000);

afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** The built CLI with `args`, the packages it loaded, what it printed. */
async function builtCli(args: string[]): Promise<{ stdout: string; loaded: string[] }> {
  const script = `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(tmp, 'cli.js')).href)}); process.exitCode = await main(['node', 'catalog-assets', ...${JSON.stringify(args)}]);`;
  const r = await run(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(RECORDER)}`, '--input-type=module', '-e', script], { cwd: root, env: bareEnv() });
  const line = /LOADED (\[.*\])/.exec(r.stderr)?.[1];
  expect(line, r.stderr).toBeDefined();
  return { stdout: r.stdout, loaded: JSON.parse(line!) as string[] };
}

const heavyIn = (loaded: string[]) => loaded.filter((p) => HEAVY.some((h) => (h.endsWith('/') ? p.startsWith(h) : p === h)));

describe('catalog-assets --help', () => {
  it('lists every command the program registers', async () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names.length).toBeGreaterThanOrEqual(16);
    const r = await runCli(['--help'], bareEnv());
    expect(r.code, r.stderr).toBe(0);
    for (const name of names) expect(r.stdout).toMatch(new RegExp(`^\\s+${name}\\b`, 'm'));
  });

  it('the build refuses a --help path with an implementation package in it; this one has only commander', () => {
    expect(built.eager).toEqual(['commander']);
  });

  it('loads no implementation package, for the program or for a command', async () => {
    for (const args of [['--help'], ['refresh', '--help'], ['worker', '--help'], ['assets', 'show', '--help']]) {
      const { stdout, loaded } = await builtCli(args);
      expect(stdout).toContain('Usage: catalog-assets');
      expect(loaded).toContain('commander'); // the recorder sees packages at all
      expect(heavyIn(loaded), `${args.join(' ')} loaded`).toEqual([]);
    }
  });

  it('loads the implementation when the command runs', async () => {
    // `migrate` without DATABASE_URL: its implementation loads configuration (zod), then stops with exit 3.
    const { loaded } = await builtCli(['migrate']).catch((err: { stdout: string; stderr: string }) => ({ loaded: JSON.parse(/LOADED (\[.*\])/.exec(err.stderr)![1]!) as string[] }));
    expect(loaded).toContain('zod');
  });
});
