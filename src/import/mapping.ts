/**
 * The field mapping of a PIM export: which of the file's columns (CSV header names, or JSON-lines
 * property names) hold the SKU, the name and each product attribute. JSON or YAML:
 *
 *   { "sku": "Article Number", "name": "Title",
 *     "attributes": { "brand": "Brand", "labelText": "Label Copy", "packshotUrl": "Image URL" },
 *     "urlAttributes": ["packshotUrl"],        // optional; default: attributes whose name ends in "Url"/"URL"
 *     "csv": { "delimiter": ";" } }            // optional; default ","
 *
 * Attribute names are what the plan's prompt templates refer to; a URL attribute must hold an
 * absolute http(s) URL (or be empty).
 */
import fs from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const column = z.string().min(1, 'a column name').max(500);

export const mappingSchema = z
  .object({
    sku: column,
    name: column,
    attributes: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,99}$/, 'an attribute name: a letter, then letters, digits or underscores'), column).default({}),
    urlAttributes: z.array(z.string()).optional(),
    csv: z
      .object({ delimiter: z.string().regex(/^[\t\x20-\x21\x23-\x7e]$/, 'one ASCII character (or a tab), not a quote').default(',') })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    for (const [i, name] of (m.urlAttributes ?? []).entries()) {
      if (!(name in m.attributes)) ctx.addIssue({ code: 'custom', path: ['urlAttributes', i], message: `"${name}" is not one of the mapped attributes` });
    }
  });

export type FieldMapping = z.infer<typeof mappingSchema>;

export class MappingError extends Error {
  override readonly name = 'MappingError';
}

export function parseMapping(value: unknown, source = 'mapping'): FieldMapping {
  const parsed = mappingSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new MappingError(`${source} is not a valid field mapping:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Reads a mapping file (YAML is a superset of JSON, so one parser reads both). */
export async function loadMapping(file: string): Promise<FieldMapping> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new MappingError(`cannot read the mapping file ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new MappingError(`the mapping file ${file} is neither JSON nor YAML: ${(err as Error).message}`);
  }
  return parseMapping(value, `the mapping file ${file}`);
}

/** The attributes whose values must be absolute http(s) URLs. */
export function urlAttributesOf(mapping: FieldMapping): Set<string> {
  return new Set(mapping.urlAttributes ?? Object.keys(mapping.attributes).filter((a) => /url$/i.test(a)));
}
