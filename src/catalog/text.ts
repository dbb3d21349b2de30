/**
 * What product data must look like before it reaches Postgres and Temporal, whichever way it arrives
 * (webhook or import). Postgres text and jsonb reject NUL characters and unpaired UTF-16 surrogates,
 * and workflow ids percent-encode the SKU (which throws on an unpaired surrogate): such input is bad
 * input (a 400 or a failed row), never a 500.
 */
import { z } from 'zod';

/** Same bound as the product workflow's input. */
export const MAX_SKU_LENGTH = 200;

const CONTROL = /[\u0000-\u001f\u007f]/;
const SUSPICIOUS = /[\u0000\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableText(s: string): string | undefined {
  // One cheap scan for the common case (nothing suspicious); the precise checks only when needed.
  if (!SUSPICIOUS.test(s)) return undefined;
  if (s.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}

/** Why a SKU is not acceptable, or undefined. */
export function invalidSku(sku: string): string | undefined {
  if (sku.length === 0) return 'is empty';
  if (sku.length > MAX_SKU_LENGTH) return `is longer than ${MAX_SKU_LENGTH} characters`;
  if (sku.trim() !== sku) return 'has leading or trailing whitespace';
  if (CONTROL.test(sku)) return 'contains a control character';
  return unstorableText(sku);
}

export const skuSchema = z.string().superRefine((s, ctx) => {
  const problem = invalidSku(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `SKU ${problem}` });
});

/** An absolute http(s) URL, or a reason why not. */
export function invalidHttpUrl(s: string): string | undefined {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `has scheme ${url.protocol.replace(/:$/, '')}; expected http or https`;
  if (!url.hostname) return 'has no host';
  return undefined;
}

/** A catalog id as it appears in routes, CLI flags and workflow ids. */
export const catalogIdSchema = z
  .string()
  .min(1, 'catalog id is empty')
  .max(200, 'catalog id is longer than 200 characters')
  .superRefine((s, ctx) => {
        const problem = /[\u0000-\u001f\u007f]/.test(s) ? 'contains a control character' : unstorableText(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `catalog id ${problem}` });
  });

/** JSON nesting deeper than this is refused (no product needs it; deep input is a denial-of-service tool). */
export const MAX_JSON_DEPTH = 32;

/** The first value in a parsed JSON document that cannot be stored as is (iterative: no recursion limit to hit). */
export function findUnstorableValue(root: unknown): { reason: string; field: string } | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    const field = () => path.join('.') || '(body)';
    if (path.length > MAX_JSON_DEPTH) return { reason: `nesting is deeper than ${MAX_JSON_DEPTH} levels`, field: field() };
    if (typeof value === 'string') {
      const problem = unstorableText(value);
      if (problem) return { reason: `value ${problem}`, field: field() };
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { reason: 'number is out of range', field: field() };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, String(i)] });
    } else if (value && typeof value === 'object') {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        if (key === '__proto__') return { reason: 'key "__proto__" is not allowed', field: [...path, key].join('.') };
        const problem = unstorableText(key);
        if (problem) return { reason: `key ${problem}`, field: [...path, printable(key)].join('.') };
        stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
      }
    }
  }
  return undefined;
}

/** A key that cannot be printed as is (NUL, lone surrogate) is shown JSON-escaped. */
function printable(key: string): string {
  return JSON.stringify(key).slice(1, -1);
}
