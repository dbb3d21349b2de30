/**
 * The suite's figures for the README's reliability section: each test file records, per fault or
 * input class, how often it was tried and what was lost, in test-output/reliability/<file>.json.
 * `npx tsx test/reliability/figures.ts` prints them as one markdown table.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Figure {
  /** The fault or input class. */
  fault: string;
  /** How many times it was tried (kills, SKUs, cases...), with the unit. */
  tried: string;
  /** What was lost, paid twice or half-written: "0" when nothing. */
  lost: string;
  /** Anything a reader needs to weigh the figure. */
  notes?: string;
}

const DIR = path.resolve(import.meta.dirname, '..', '..', 'test-output', 'reliability');

export function recordFigures(file: string, figures: Figure[], extra: Record<string, unknown> = {}): void {
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(path.join(DIR, `${file}.json`), `${JSON.stringify({ file, recordedAt: new Date().toISOString(), figures, ...extra }, null, 2)}\n`);
}

export function renderTable(): string {
  const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];
  const lines = ['| fault or input | tried | lost | notes |', '| --- | --- | --- | --- |'];
  for (const f of files) {
    const { figures } = JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as { figures: Figure[] };
    for (const x of figures) lines.push(`| ${x.fault} | ${x.tried} | ${x.lost} | ${x.notes ?? ''} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  process.stdout.write(`${renderTable()}\n`);
}
