/**
 * Input checks for the workflows, without a schema library. Workflow-safe.
 *
 * Temporal's reusable V8 context evaluates a workflow's imports again for every workflow execution
 * (module state stays per workflow), so whatever the workflows import is paid for on every product
 * workflow start. Zod's module initialisation was about 15 ms of CPU per start (bench/README.md), so
 * workflow code checks its inputs with these few functions; the edges (HTTP, CLI, import, config)
 * keep zod.
 */
export class InputCheckError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path || '(root)'}: ${reason}`);
    this.name = 'InputCheckError';
  }
}

/** The path of a field inside `path` ('' is the root). */
export const at = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));
const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** A plain object with no keys outside `allowed` (strict, like the edges' schemas). */
export function objectOf(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputCheckError(path, `expected an object, got ${describe(v)}`);
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) throw new InputCheckError(at(path, key), 'unrecognized key');
  }
  return v as Record<string, unknown>;
}


export function str(v: unknown, path: string, limits: { min?: number; max?: number } = {}): string {
  if (typeof v !== 'string') throw new InputCheckError(path, `expected a string, got ${describe(v)}`);
  if (limits.min !== undefined && v.length < limits.min) throw new InputCheckError(path, `must have at least ${limits.min} character${limits.min === 1 ? '' : 's'}`);
  if (limits.max !== undefined && v.length > limits.max) throw new InputCheckError(path, `must have at most ${limits.max} characters`);
  return v;
}

export function num(v: unknown, path: string, limits: { min?: number; max?: number; int?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputCheckError(path, `expected a number, got ${describe(v)}`);
  if (limits.int && !Number.isInteger(v)) throw new InputCheckError(path, 'expected an integer');
  if (limits.min !== undefined && v < limits.min) throw new InputCheckError(path, `must be >= ${limits.min}`);
  if (limits.max !== undefined && v > limits.max) throw new InputCheckError(path, `must be <= ${limits.max}`);
  return v;
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InputCheckError(path, `expected a boolean, got ${describe(v)}`);
  return v;
}

export function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new InputCheckError(path, `expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
  }
  return v as T;
}

export function arrayOf<T>(v: unknown, path: string, item: (v: unknown, path: string) => T, limits: { min?: number; max?: number } = {}): T[] {
  if (!Array.isArray(v)) throw new InputCheckError(path, `expected an array, got ${describe(v)}`);
  if (limits.min !== undefined && v.length < limits.min) throw new InputCheckError(path, `must have at least ${limits.min} item${limits.min === 1 ? '' : 's'}`);
  if (limits.max !== undefined && v.length > limits.max) throw new InputCheckError(path, `must have at most ${limits.max} items`);
  return v.map((x, i) => item(x, at(path, i)));
}

/** `undefined` stays undefined (an absent optional field); anything else must pass `check`. */
export function optional<T>(v: unknown, path: string, check: (v: unknown, path: string) => T): T | undefined {
  return v === undefined ? undefined : check(v, path);
}
