/**
 * Plans and prompt templates from configuration are untrusted input, property-based:
 * - arbitrary JSON, and valid plans with one random mutation, are either accepted or rejected by
 *   planSchema with an error whose path names a real place in the document; never a throw;
 * - the same through the worker's own loading (the loadPlan activity reading catalogs.plan from
 *   Postgres): a valid plan loads, an invalid one is a non-retryable InvalidPlan failure naming that path;
 * - template strings mixing placeholders, fallbacks, sections and stray braces are accepted or rejected
 *   at load; an accepted one renders against arbitrary product attributes, or raises TemplateError
 *   naming exactly the required attributes that are missing; never anything else.
 */
import { ApplicationFailure } from '@temporalio/common';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogActivities } from '../../src/temporal/activities/catalog';
import type { ActivityDeps } from '../../src/temporal/activities/deps';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { FailureType } from '../../src/shared/failures';
import { attributeText, planSchema, renderTemplate, templateAttributes, TemplateError, type PlanInput } from '../../src/shared/plan';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { recordFigures } from './figures';

const RUNS = Number(process.env.RELIABILITY_RUNS ?? 1_000);
const SEED = Number(process.env.RELIABILITY_SEED ?? 1717);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Whether `path` leads to a place in `doc`: every step but the last must exist (the last may be a missing key). */
function pathNamesAPlace(doc: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  let node: unknown = doc;
  for (const [i, step] of path.entries()) {
    const last = i === path.length - 1;
    if (Array.isArray(node)) {
      if (typeof step !== 'number' || step < 0 || (step >= node.length && !last)) return false;
      node = node[step];
    } else if (node !== null && typeof node === 'object') {
      if (typeof step !== 'string') return false;
      if (!Object.prototype.hasOwnProperty.call(node, step) && !last) return false;
      node = (node as Record<string, unknown>)[step];
    } else {
      return false;
    }
  }
  return true;
}

// --- arbitraries -------------------------------------------------------------------------------

const attrName = fc.oneof(
  fc.constantFrom('name', 'brand', 'colour', 'labelText', 'scene', 'locale', 'material', 'constructor', 'toString'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,8}$/),
);
const plainText = fc.string({ maxLength: 12, unit: 'grapheme' }).map((t) => t.replace(/[{}]/g, ''));

/** Template fragments that keep a template valid. */
const validFragment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: plainText },
  { weight: 3, arbitrary: attrName.map((a) => `{{${a}}}`) },
  { weight: 1, arbitrary: attrName.map((a) => `{{ ${a} }}`) },
  { weight: 2, arbitrary: fc.tuple(attrName, plainText).map(([a, f]) => `{{${a}|${f}}}`) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(attrName, fc.array(fc.oneof(plainText, attrName.map((a) => `{{${a}}}`), fc.tuple(attrName, plainText).map(([a, f]) => `{{${a}|${f}}}`)), { maxLength: 3 }))
      .map(([a, inner]) => `{{#${a}}}${inner.join('')}{{/${a}}}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('{', '}', '{ {', '} }') },
);
/** Fragments that may break a template. */
const anyFragment: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: validFragment },
  { weight: 1, arbitrary: fc.constantFrom('{{', '}}', '{{}}', '{{ }}', '{{#}}', '{{/x}}', '{{1a}}', '{{a-b}}', '{{{a}}}', '{{#a}}{{#b}}x{{/b}}{{/a}}', '{{#a}}open') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const template = (fragment: fc.Arbitrary<string>) =>
  fc.array(fragment, { minLength: 1, maxLength: 10 }).map((parts) => {
    const t = parts.join('');
    return t.trim() === '' ? `x${t}` : t;
  });

const sizeArb = fc.oneof(
  fc.constantFrom('square_hd', 'square', 'portrait_4_3', 'landscape_4_3', 'portrait_16_9', 'landscape_16_9'),
  fc.record({ width: fc.integer({ min: 64, max: 4096 }), height: fc.integer({ min: 64, max: 4096 }) }),
);

interface RawSlot {
  kind: 'generate' | 'edit' | 'compose';
  template: string;
  sourceKind: number;
  refCount: number;
  enabled: boolean;
  numImages: number;
  quality: 'standard' | 'high';
  outputFormat: 'jpeg' | 'png';
  imageSize: string | { width: number; height: number };
  optional: boolean[];
}

const rawSlot: fc.Arbitrary<RawSlot> = fc.record({
  kind: fc.constantFrom('generate' as const, 'edit' as const, 'compose' as const),
  template: template(validFragment),
  sourceKind: fc.nat(3),
  refCount: fc.integer({ min: 1, max: 3 }),
  enabled: fc.boolean(),
  numImages: fc.integer({ min: 1, max: 4 }),
  quality: fc.constantFrom('standard' as const, 'high' as const),
  outputFormat: fc.constantFrom('jpeg' as const, 'png' as const),
  imageSize: sizeArb,
  optional: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
});

/** A valid plan: unique names, sources that reference earlier enabled slots only. */
const validPlan: fc.Arbitrary<PlanInput> = fc.tuple(fc.integer({ min: 1, max: 1_000 }), fc.array(rawSlot, { minLength: 1, maxLength: 5 })).map(([version, raws]) => {
  const enabledBefore: string[] = [];
  const slots = raws.map((r, i) => {
    const name = ['hero', 'label', 'lifestyle', 'detail', 'alt'][i]!;
    const enabled = r.enabled || i === 0;
    const source = (k: number) =>
      k === 0 || enabledBefore.length === 0 || !enabled
        ? { attribute: 'packshotUrl' }
        : k === 1
          ? { slot: enabledBefore[k % enabledBefore.length]! }
          : k === 2
            ? { catalogSetting: 'sceneReferences' as const }
            : { url: `https://images.example.test/${name}.jpg` };
    const slot: Record<string, unknown> = { name, kind: r.kind, promptTemplate: r.template };
    if (r.kind === 'edit') slot.source = source(r.sourceKind);
    if (r.kind === 'compose') slot.references = Array.from({ length: r.refCount }, (_, j) => source((r.sourceKind + j) % 4));
    // Optional fields: present or left to their defaults.
    if (r.optional[0] || !enabled) slot.enabled = enabled;
    if (r.optional[1]) slot.numImages = r.numImages;
    if (r.optional[2]) slot.quality = r.quality;
    if (r.optional[3]) slot.outputFormat = r.outputFormat;
    if (r.optional[4]) slot.imageSize = r.imageSize;
    if (enabled) enabledBefore.push(name);
    return slot;
  });
  return { version, slots } as PlanInput;
});

/** Every path in a JSON document, root first. */
function pathsOf(doc: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (Array.isArray(doc)) doc.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (doc !== null && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

type Mutation = { kind: 'replace'; value: Json } | { kind: 'delete' } | { kind: 'addKey'; key: string; value: Json };

/** A valid plan with one random change somewhere in it. */
const mutatedPlan = fc
  .tuple(
    validPlan,
    fc.nat(),
    fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> }),
      fc.constant({ kind: 'delete' as const }),
      fc.record({ kind: fc.constant('addKey' as const), key: fc.string({ maxLength: 8 }), value: fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json> }),
    ),
  )
  .map(([plan, pick, m]: [PlanInput, number, Mutation]) => {
    const doc = structuredClone(plan) as unknown as Json;
    const paths = pathsOf(doc);
    const at = paths[pick % paths.length]!;
    if (at.length === 0) return m.kind === 'replace' ? m.value : doc;
    const parent = at.slice(0, -1).reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], doc) as Record<string | number, Json> | Json[];
    const key = at[at.length - 1]!;
    if (m.kind === 'replace') (parent as Record<string | number, Json>)[key] = m.value;
    else if (m.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete (parent as Record<string, Json>)[key];
    } else {
      const target = (parent as Record<string | number, Json>)[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, Json>)[m.key] = m.value;
    }
    return doc;
  });

const anyPlanDocument: fc.Arbitrary<Json> = fc.oneof(
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json> },
  { weight: 5, arbitrary: mutatedPlan },
  { weight: 1, arbitrary: validPlan },
);

/** Product attributes as a PIM sends them: strings (blank ones too), numbers, booleans, nulls, nested values. */
const attributes = fc.dictionary(
  attrName,
  fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', '  ', '{{name}}'), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 })),
  { maxKeys: 8 },
);

// --- properties ----------------------------------------------------------------------------------

describe('plans and prompt templates from configuration', () => {
  let database: TestDatabase;
  const tally = { plansAccepted: 0, plansRejected: 0, loadAccepted: 0, loadRejected: 0, templatesRejected: 0, rendered: 0, templateErrors: 0 };
  const passed = new Set<string>();

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
    if (passed.size < 3) return;
    recordFigures('input-plans', [
      {
        fault: 'plans from configuration: arbitrary JSON and valid plans with one random mutation (planSchema)',
        tried: `${RUNS} cases`,
        lost: '0 throws; every rejection names a path that exists in the document',
        notes: `${tally.plansAccepted} accepted, ${tally.plansRejected} rejected`,
      },
      {
        fault: 'the same stored in catalogs.plan and loaded by the worker (loadPlan activity)',
        tried: `${RUNS} cases`,
        lost: '0 (valid ones load; invalid ones are a non-retryable InvalidPlan failure naming the path)',
        notes: `${tally.loadAccepted} loaded, ${tally.loadRejected} rejected`,
      },
      {
        fault: 'prompt templates (placeholders, fallbacks, sections, stray and nested braces) against arbitrary attributes',
        tried: `${RUNS} cases`,
        lost: '0 (malformed ones rejected at load; the rest render, or raise TemplateError naming exactly the missing required attributes)',
        notes: `${tally.templatesRejected} rejected at load, ${tally.rendered} rendered, ${tally.templateErrors} TemplateErrors`,
      },
    ]);
  });

  it('accepts a plan or rejects it with the path of the error, never a throw', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(anyPlanDocument, (doc) => {
        const parsed = planSchema.safeParse(doc);
        if (parsed.success) {
          tally.plansAccepted += 1;
          // What was accepted is a working plan: it parses again to itself, every template is usable.
          expect(planSchema.parse(parsed.data)).toEqual(parsed.data);
          return;
        }
        tally.plansRejected += 1;
        const issue = parsed.error.issues[0]!;
        expect(issue.message.length).toBeGreaterThan(0);
        expect(pathNamesAPlace(doc, issue.path), `${JSON.stringify(issue.path)} in ${JSON.stringify(doc).slice(0, 300)}`).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    passed.add('schema');
  });

  it('loads a stored plan in the worker, or fails the load as InvalidPlan naming the path', { timeout: 180_000 }, async () => {
    const catalog = createCatalogActivities({ db: database.db } as unknown as ActivityDeps);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(anyPlanDocument, async (doc) => {
        // Postgres jsonb cannot hold \u0000 in a string: that is refused when the plan is stored, not loaded.
        // (Nor a lone UTF-16 surrogate, which JSON.stringify writes as a \\udXXX escape.)
        fc.pre(!/\\u0000|\\ud[89a-f][0-9a-f]{2}/i.test(JSON.stringify(doc)));
        const catalogId = `plan-${n++}`;
        await upsertCatalog(database.db, { id: catalogId, plan: doc });
        const parsed = doc === null ? { success: true as const } : planSchema.safeParse(doc);
        try {
          const loaded = await catalog.loadPlan({ catalogId, sku: 'SKU-1' });
          expect(parsed.success).toBe(true);
          // (Every slot switched off is a valid plan too: the catalog then generates nothing.)
          expect(loaded.slots.every((sl) => typeof sl.name === 'string' && Array.isArray(sl.dependsOn))).toBe(true);
          tally.loadAccepted += 1;
        } catch (err) {
          expect(err).toBeInstanceOf(ApplicationFailure);
          const failure = err as ApplicationFailure;
          expect([failure.type, failure.nonRetryable]).toEqual([FailureType.invalidPlan, true]);
          expect(parsed.success).toBe(false);
          const issue = !parsed.success && 'error' in parsed ? parsed.error.issues[0]! : undefined;
          expect(failure.message).toContain(`has an invalid plan at ${issue?.path.join('.') || '(root)'}: `);
          tally.loadRejected += 1;
        }
      }),
      { numRuns: RUNS, seed: SEED + 1 },
    );
    passed.add('load');
  });

  it('renders a template that loads, or raises TemplateError naming exactly the missing attributes', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(template(anyFragment), attributes, (t, attrs) => {
        const parsed = planSchema.safeParse({ version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: t }] });
        if (!parsed.success) {
          tally.templatesRejected += 1;
          const issue = parsed.error.issues[0]!;
          expect(issue.path.join('.')).toMatch(/^slots\.0(\.promptTemplate)?$/);
          return;
        }
        const { required, optional } = templateAttributes(t);
        let out: string;
        try {
          out = renderTemplate(t, attrs);
        } catch (err) {
          expect(err).toBeInstanceOf(TemplateError);
          const te = err as TemplateError;
          expect(te.missing.length).toBeGreaterThan(0);
          for (const m of te.missing) {
            // Named in the message, absent (or blank) in the product, and used without a fallback.
            expect(te.message).toContain(`"${m}"`);
            expect(attributeText(attrs, m)).toBeUndefined();
            expect(t).toMatch(new RegExp(`\\{\\{\\s*${m}\\s*\\}\\}`));
          }
          // Every placeholder required outside any section that is missing is among them.
          for (const r of required) if (attributeText(attrs, r) === undefined) expect(te.missing).toContain(r);
          tally.templateErrors += 1;
          return;
        }
        expect(required.filter((r) => attributeText(attrs, r) === undefined)).toEqual([]);
        expect(typeof out).toBe('string');
        expect(out).toBe(out.trim());
        tally.rendered += 1;
        // With every referenced attribute a plain value, nothing of the template syntax is left.
        const plainAttrs = Object.fromEntries([...required, ...optional].map((a) => [a, 'v']));
        expect(renderTemplate(t, plainAttrs)).not.toMatch(/\{\{|\}\}/);
      }),
      { numRuns: RUNS, seed: SEED + 2 },
    );
    passed.add('templates');
  });
});
