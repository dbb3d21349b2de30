/**
 * A local stand-in for the parts of Shopify's Admin GraphQL API the Shopify destination uses, as a real
 * HTTP server (like the provider simulator). It is stricter than Shopify where that catches mistakes:
 *
 * - `POST /admin/api/{version}/graphql.json` only, for the supported versions (others: 404, where Shopify
 *   would quietly answer with its oldest supported version and say so in `X-Shopify-API-Version`), with the
 *   `X-Shopify-Access-Token` header (wrong or missing: 401) and a JSON `{ query, variables, operationName }`;
 * - the GraphQL document is parsed and checked against a small schema of the fields used: unknown
 *   fields, arguments, input fields or operations are GraphQL errors, variables are coerced against
 *   their declared types (`INVALID_VARIABLE`), connections need `first` or `last` (at most 250);
 * - every answer carries `extensions.cost`; the calculated-cost leaky bucket is enforced (THROTTLED
 *   with HTTP 200 when the requested cost is not available, a query over 1000 points is refused);
 * - it serves the staged upload targets itself, as the storage service does: a multipart POST that must
 *   carry every issued parameter unchanged, nothing else, the file last, of the declared size, a real
 *   image of the declared type, within Shopify's image limits;
 * - `productUpdate` attaches media only from a staged upload that arrived, once per staged upload.
 *
 * Faults: THROTTLED bursts, 429 with Retry-After, 5xx, a connection dropped after a staged upload was
 * accepted or after media was attached, a refused token. `record` keeps every call, upload and attach.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { inspectImage } from '../../imaging';

/** The stable versions Shopify supports at the end of 2026 (each for at least 12 months after release). */
export const SHOPIFY_STANDIN_VERSIONS = ['2026-01', '2026-04', '2026-07', '2026-10'] as const;

export interface ShopifyStandInFaults {
  /** The next N GraphQL calls (of `operations`, when given) answer THROTTLED whatever the bucket holds. */
  throttled?: number;
  /** The next N GraphQL calls answer HTTP 429 with this Retry-After (seconds). */
  http429?: { count: number; retryAfterSeconds: number };
  /** The next N GraphQL calls answer HTTP 503 without running. */
  http5xx?: number;
  /** The next N staged uploads are stored, then the connection is dropped without an answer. */
  dropAfterUpload?: number;
  /** The next N productUpdate calls attach the media, then the connection is dropped without an answer. */
  dropAfterAttach?: number;
  /** Every token is refused (a revoked app). */
  badToken?: boolean;
  /** Root fields (e.g. `productUpdate`) the GraphQL faults apply to; all when absent. */
  operations?: string[];
}

export interface ShopifyStandInOptions {
  port?: number;
  token?: string;
  shopName?: string;
  products?: { sku: string; title: string }[];
  faults?: ShopifyStandInFaults;
  /** The bucket: Shopify's standard plan figures by default. */
  bucket?: { maximumAvailable: number; restoreRate: number };
  /** How long attached media stays PROCESSING (no image URL) before READY. */
  processingMs?: number;
}

export interface ShopifyStandInRecord {
  calls: { operation: string | null; rootFields: string[]; status: number; requestedQueryCost?: number; throttled?: boolean; fault?: string }[];
  uploads: { key: string; filename: string; mimeType: string; bytes: number; sha256: string }[];
  attached: { productId: string; sku: string; mediaId: string; filename: string; alt: string | null; sha256: string }[];
  throttled: number;
  /** The lowest the bucket was after any deduction: never below zero. */
  minAvailable: number;
}

export interface ShopifyStandIn {
  url: string;
  token: string;
  record: ShopifyStandInRecord;
  setFaults(faults: ShopifyStandInFaults): void;
  /** What a product holds now (for assertions). */
  productMedia(sku: string): { id: string; filename: string; alt: string | null; status: string }[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// GraphQL documents: a small parser for executable documents (operations, fields, arguments, inline
// fragments, variables). Fragment definitions and directives are refused with a clear error.

type Value =
  | { kind: 'var'; name: string }
  | { kind: 'string' | 'enum'; value: string }
  | { kind: 'int' | 'float'; value: number; raw: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'list'; items: Value[] }
  | { kind: 'object'; fields: [string, Value][] };

type TypeRef = { kind: 'named'; name: string } | { kind: 'list'; of: TypeRef } | { kind: 'nonNull'; of: TypeRef };

interface FieldNode {
  kind: 'field';
  alias?: string;
  name: string;
  args: [string, Value][];
  selections: Selection[] | undefined;
}
interface InlineNode {
  kind: 'inline';
  on?: string;
  selections: Selection[];
}
type Selection = FieldNode | InlineNode;

interface OperationNode {
  type: 'query' | 'mutation';
  name?: string;
  varDefs: { name: string; type: TypeRef; defaultValue?: Value }[];
  selections: Selection[];
}

class GraphqlError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

type Token = { t: 'punct' | 'name' | 'int' | 'float' | 'string'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\ufeff') {
      i++;
    } else if (c === '#') {
      while (i < src.length && src.charAt(i) !== '\n') i++;
    } else if (src.startsWith('...', i)) {
      out.push({ t: 'punct', v: '...' });
      i += 3;
    } else if ('!$():=@[]{}|&'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else if (/[_A-Za-z]/.test(c)) {
      const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(src.slice(i))!;
      out.push({ t: 'name', v: m[0] });
      i += m[0].length;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i));
      if (!m) throw new GraphqlError(`Parse error on "${c}" at ${i}`);
      out.push({ t: m[2] || m[3] ? 'float' : 'int', v: m[0] });
      i += m[0].length;
    } else if (c === '"') {
      if (src.startsWith('"""', i)) throw new GraphqlError('Block strings are not supported by the stand-in');
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= src.length || src.charAt(j) === '\n') throw new GraphqlError(`Unterminated string at ${i}`);
        const d = src.charAt(j);
        if (d === '"') break;
        if (d === '\\') {
          const e = src.charAt(j + 1);
          const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
          if (e === 'u') {
            s += String.fromCharCode(parseInt(src.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          if (!(e in map)) throw new GraphqlError(`Bad escape \\${e} at ${j}`);
          s += map[e];
          j += 2;
          continue;
        }
        s += d;
        j++;
      }
      out.push({ t: 'string', v: s });
      i = j + 1;
    } else {
      throw new GraphqlError(`Parse error on "${c}" at ${i}`);
    }
  }
  return out;
}

function parseDocument(src: string): OperationNode[] {
  const toks = tokenize(src);
  let p = 0;
  const peek = (v?: string) => (v === undefined ? toks[p] : toks[p]?.v === v && toks[p]?.t !== 'string' ? toks[p] : undefined);
  const take = (v?: string): Token => {
    const tok = toks[p];
    if (!tok || (v !== undefined && (tok.v !== v || tok.t === 'string'))) {
      throw new GraphqlError(`Parse error: expected ${v ?? 'a token'}, got ${tok ? `"${tok.v}"` : 'end of document'}`);
    }
    p++;
    return tok;
  };
  const name = (): string => {
    const tok = take();
    if (tok.t !== 'name') throw new GraphqlError(`Parse error: expected a name, got "${tok.v}"`);
    return tok.v;
  };
  const typeRef = (): TypeRef => {
    let t: TypeRef;
    if (peek('[')) {
      take('[');
      t = { kind: 'list', of: typeRef() };
      take(']');
    } else t = { kind: 'named', name: name() };
    if (peek('!')) {
      take('!');
      t = { kind: 'nonNull', of: t };
    }
    return t;
  };
  const value = (constant: boolean): Value => {
    const tok = toks[p];
    if (!tok) throw new GraphqlError('Parse error: unexpected end of document');
    if (tok.t === 'punct' && tok.v === '$') {
      if (constant) throw new GraphqlError('Variables are not allowed in default values');
      take('$');
      return { kind: 'var', name: name() };
    }
    if (tok.t === 'punct' && tok.v === '[') {
      take('[');
      const items: Value[] = [];
      while (!peek(']')) items.push(value(constant));
      take(']');
      return { kind: 'list', items };
    }
    if (tok.t === 'punct' && tok.v === '{') {
      take('{');
      const fields: [string, Value][] = [];
      while (!peek('}')) {
        const n = name();
        take(':');
        fields.push([n, value(constant)]);
      }
      take('}');
      return { kind: 'object', fields };
    }
    p++;
    if (tok.t === 'string') return { kind: 'string', value: tok.v };
    if (tok.t === 'int') return { kind: 'int', value: Number(tok.v), raw: tok.v };
    if (tok.t === 'float') return { kind: 'float', value: Number(tok.v), raw: tok.v };
    if (tok.t === 'name') {
      if (tok.v === 'true' || tok.v === 'false') return { kind: 'boolean', value: tok.v === 'true' };
      if (tok.v === 'null') return { kind: 'null' };
      return { kind: 'enum', value: tok.v };
    }
    throw new GraphqlError(`Parse error on "${tok.v}"`);
  };
  const selectionSet = (): Selection[] => {
    take('{');
    const out: Selection[] = [];
    while (!peek('}')) {
      if (peek('@')) throw new GraphqlError('Directives are not supported by the stand-in');
      if (peek('...')) {
        take('...');
        if (peek('on')) {
          take('on');
          const on = name();
          out.push({ kind: 'inline', on, selections: selectionSet() });
        } else if (peek('{')) {
          out.push({ kind: 'inline', selections: selectionSet() });
        } else throw new GraphqlError('Fragment spreads are not supported by the stand-in; use inline fragments');
        continue;
      }
      let fieldName = name();
      let alias: string | undefined;
      if (peek(':')) {
        take(':');
        alias = fieldName;
        fieldName = name();
      }
      const args: [string, Value][] = [];
      if (peek('(')) {
        take('(');
        while (!peek(')')) {
          const n = name();
          take(':');
          args.push([n, value(false)]);
        }
        take(')');
      }
      if (peek('@')) throw new GraphqlError('Directives are not supported by the stand-in');
      out.push({ kind: 'field', alias, name: fieldName, args, selections: peek('{') ? selectionSet() : undefined });
    }
    take('}');
    return out;
  };

  const ops: OperationNode[] = [];
  while (p < toks.length) {
    if (peek('{')) {
      ops.push({ type: 'query', varDefs: [], selections: selectionSet() });
      continue;
    }
    const kw = name();
    if (kw === 'fragment') throw new GraphqlError('Fragment definitions are not supported by the stand-in; use inline fragments');
    if (kw !== 'query' && kw !== 'mutation') throw new GraphqlError(`Parse error on "${kw}": expected query or mutation`);
    const op: OperationNode = { type: kw, varDefs: [], selections: [] };
    if (peek()?.t === 'name') op.name = name();
    if (peek('(')) {
      take('(');
      while (!peek(')')) {
        take('$');
        const n = name();
        take(':');
        const t = typeRef();
        let defaultValue: Value | undefined;
        if (peek('=')) {
          take('=');
          defaultValue = value(true);
        }
        op.varDefs.push({ name: n, type: t, defaultValue });
      }
      take(')');
    }
    if (peek('@')) throw new GraphqlError('Directives are not supported by the stand-in');
    op.selections = selectionSet();
    ops.push(op);
  }
  if (ops.length === 0) throw new GraphqlError('No operations given');
  return ops;
}

// ---------------------------------------------------------------------------------------------------
// The schema of the fields the destination uses (Admin API 2025-10), and input coercion.

interface FieldDef {
  type: string;
  args?: Record<string, string>;
}

const CONNECTION_ARGS = { first: 'Int', last: 'Int', after: 'String', before: 'String' };

const OUTPUT: Record<string, Record<string, FieldDef>> = {
  QueryRoot: {
    shop: { type: 'Shop!' },
    productVariants: { type: 'ProductVariantConnection!', args: { ...CONNECTION_ARGS, query: 'String', reverse: 'Boolean' } },
    product: { type: 'Product', args: { id: 'ID!' } },
  },
  Mutation: {
    stagedUploadsCreate: { type: 'StagedUploadsCreatePayload', args: { input: '[StagedUploadInput!]!' } },
    productUpdate: { type: 'ProductUpdatePayload', args: { product: 'ProductUpdateInput', media: '[CreateMediaInput!]' } },
  },
  Shop: { id: { type: 'ID!' }, name: { type: 'String!' }, myshopifyDomain: { type: 'String!' } },
  ProductVariantConnection: { nodes: { type: '[ProductVariant!]!' }, pageInfo: { type: 'PageInfo!' } },
  ProductVariant: { id: { type: 'ID!' }, sku: { type: 'String' }, title: { type: 'String!' }, product: { type: 'Product!' } },
  Product: { id: { type: 'ID!' }, title: { type: 'String!' }, handle: { type: 'String!' }, media: { type: 'MediaConnection!', args: CONNECTION_ARGS } },
  MediaConnection: { nodes: { type: '[Media!]!' }, pageInfo: { type: 'PageInfo!' } },
  Media: { id: { type: 'ID!' }, alt: { type: 'String' }, status: { type: 'MediaStatus!' }, mediaContentType: { type: 'MediaContentType!' } },
  MediaImage: {
    id: { type: 'ID!' },
    alt: { type: 'String' },
    status: { type: 'MediaStatus!' },
    mediaContentType: { type: 'MediaContentType!' },
    mimeType: { type: 'String' },
    image: { type: 'Image' },
    originalSource: { type: 'MediaImageOriginalSource' },
  },
  Image: { url: { type: 'URL!' }, width: { type: 'Int' }, height: { type: 'Int' }, altText: { type: 'String' } },
  MediaImageOriginalSource: { url: { type: 'URL' }, fileSize: { type: 'Int' } },
  PageInfo: { hasNextPage: { type: 'Boolean!' }, hasPreviousPage: { type: 'Boolean!' }, startCursor: { type: 'String' }, endCursor: { type: 'String' } },
  StagedUploadsCreatePayload: { stagedTargets: { type: '[StagedMediaUploadTarget!]' }, userErrors: { type: '[UserError!]!' } },
  StagedMediaUploadTarget: { url: { type: 'URL' }, resourceUrl: { type: 'URL' }, parameters: { type: '[StagedUploadParameter!]!' } },
  StagedUploadParameter: { name: { type: 'String!' }, value: { type: 'String!' } },
  ProductUpdatePayload: { product: { type: 'Product' }, userErrors: { type: '[UserError!]!' } },
  UserError: { field: { type: '[String!]' }, message: { type: 'String!' } },
};

/** Interfaces and the object types that implement them. */
const POSSIBLE: Record<string, string[]> = { Media: ['MediaImage'] };

const INPUTS: Record<string, Record<string, string>> = {
  StagedUploadInput: {
    filename: 'String!',
    mimeType: 'String!',
    resource: 'StagedUploadTargetGenerateUploadResource!',
    httpMethod: 'StagedUploadHttpMethodType',
    fileSize: 'UnsignedInt64',
  },
  ProductUpdateInput: { id: 'ID', title: 'String', handle: 'String', descriptionHtml: 'String', tags: '[String!]' },
  CreateMediaInput: { alt: 'String', mediaContentType: 'MediaContentType!', originalSource: 'String!' },
};

const ENUMS: Record<string, string[]> = {
  StagedUploadTargetGenerateUploadResource: ['COLLECTION_IMAGE', 'FILE', 'IMAGE', 'MODEL_3D', 'PRODUCT_IMAGE', 'SHOP_IMAGE', 'VIDEO', 'BULK_MUTATION_VARIABLES', 'RETURN_LABEL', 'URL_REDIRECT_IMPORT'],
  StagedUploadHttpMethodType: ['POST', 'PUT'],
  MediaContentType: ['EXTERNAL_VIDEO', 'IMAGE', 'MODEL_3D', 'VIDEO'],
  MediaStatus: ['UPLOADED', 'PROCESSING', 'READY', 'FAILED'],
};

const SCALARS = new Set(['String', 'ID', 'Int', 'Float', 'Boolean', 'URL', 'UnsignedInt64']);

function parseTypeString(s: string): TypeRef {
  if (s.endsWith('!')) return { kind: 'nonNull', of: parseTypeString(s.slice(0, -1)) };
  if (s.startsWith('[')) return { kind: 'list', of: parseTypeString(s.slice(1, -1)) };
  return { kind: 'named', name: s };
}

function typeString(t: TypeRef): string {
  return t.kind === 'named' ? t.name : t.kind === 'list' ? `[${typeString(t.of)}]` : `${typeString(t.of)}!`;
}

function namedType(t: TypeRef): string {
  return t.kind === 'named' ? t.name : namedType(t.of);
}

/** May a variable of type `v` be used where `a` is expected? */
function compatible(v: TypeRef, a: TypeRef): boolean {
  if (a.kind === 'nonNull') return v.kind === 'nonNull' && compatible(v.of, a.of);
  if (v.kind === 'nonNull') return compatible(v.of, a);
  if (a.kind === 'list') return v.kind === 'list' && compatible(v.of, a.of);
  return v.kind === 'named' && v.name === a.name;
}

function isKnownInputType(t: TypeRef): boolean {
  const n = namedType(t);
  return SCALARS.has(n) || n in ENUMS || n in INPUTS;
}

/** Coerces a JSON value to a GraphQL input type; throws the reason (with the path inside the value). */
function coerce(value: unknown, t: TypeRef, path: string[]): unknown {
  const at = path.length > 0 ? ` for ${path.join('.')}` : '';
  if (t.kind === 'nonNull') {
    if (value === null || value === undefined) throw new CoerceError(`invalid value${at} (Expected value to not be null)`);
    return coerce(value, t.of, path);
  }
  if (value === null || value === undefined) return null;
  if (t.kind === 'list') {
    const items = Array.isArray(value) ? value : [value];
    return items.map((item, i) => coerce(item, t.of, [...path, String(i)]));
  }
  const n = t.name;
  const bad = () => new CoerceError(`invalid value${at} (Could not coerce value ${JSON.stringify(value)} to ${n})`);
  switch (n) {
    case 'String':
    case 'URL':
      if (typeof value !== 'string') throw bad();
      return value;
    case 'ID':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) throw bad();
      return String(value);
    case 'Int':
      if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) throw bad();
      return value;
    case 'Float':
      if (typeof value !== 'number') throw bad();
      return value;
    case 'Boolean':
      if (typeof value !== 'boolean') throw bad();
      return value;
    case 'UnsignedInt64':
      if (typeof value === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(value)) return BigInt(value) <= 2n ** 64n - 1n ? value : (() => { throw bad(); })();
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
      throw bad();
  }
  if (n in ENUMS) {
    if (typeof value !== 'string' || !ENUMS[n]!.includes(value)) throw bad();
    return value;
  }
  const def = INPUTS[n];
  if (!def) throw new CoerceError(`unknown type ${n}`);
  if (typeof value !== 'object' || Array.isArray(value)) throw bad();
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!(key in def)) throw new CoerceError(`invalid value${path.length ? ` for ${[...path, key].join('.')}` : ` for ${key}`} (Field is not defined on ${n})`);
  }
  for (const [key, ft] of Object.entries(def)) {
    const v = (value as Record<string, unknown>)[key];
    const c = coerce(v, parseTypeString(ft), [...path, key]);
    if (v !== undefined) out[key] = c;
  }
  return out;
}

class CoerceError extends Error {}

function resolveValue(v: Value, vars: Record<string, unknown>): unknown {
  switch (v.kind) {
    case 'var':
      return vars[v.name];
    case 'string':
    case 'enum':
    case 'int':
    case 'float':
    case 'boolean':
      return v.value;
    case 'null':
      return null;
    case 'list':
      return v.items.map((i) => resolveValue(i, vars));
    case 'object':
      return Object.fromEntries(v.fields.map(([k, f]) => [k, resolveValue(f, vars)]));
  }
}

function usedVariables(v: Value, out: Set<string>): void {
  if (v.kind === 'var') out.add(v.name);
  else if (v.kind === 'list') v.items.forEach((i) => usedVariables(i, out));
  else if (v.kind === 'object') v.fields.forEach(([, f]) => usedVariables(f, out));
}

/** Where a variable appears as a whole argument, its declared type must fit the argument's. */
function checkVariableUse(arg: Value, expected: TypeRef, declared: Map<string, TypeRef>, where: string): void {
  if (arg.kind === 'var') {
    const d = declared.get(arg.name);
    if (!d) throw new GraphqlError(`Variable $${arg.name} is used by ${where} but not declared`, 'undefinedVariable');
    if (!compatible(d, expected)) {
      throw new GraphqlError(`Type mismatch on variable $${arg.name} and argument ${where} (${typeString(d)} / ${typeString(expected)})`, 'variableMismatch');
    }
    return;
  }
  if (arg.kind === 'list' && (expected.kind === 'list' || (expected.kind === 'nonNull' && expected.of.kind === 'list'))) {
    const inner = expected.kind === 'list' ? expected.of : (expected.of as { kind: 'list'; of: TypeRef }).of;
    arg.items.forEach((i) => checkVariableUse(i, inner, declared, where));
    return;
  }
  if (arg.kind === 'object') {
    const def = INPUTS[namedType(expected)];
    for (const [k, f] of arg.fields) {
      const ft = def?.[k];
      if (ft) checkVariableUse(f, parseTypeString(ft), declared, `${where}.${k}`);
    }
  }
}

interface Checked {
  cost: number;
}

/** Validates a selection set against the schema and returns its requested cost. */
function checkSelections(typeName: string, selections: Selection[], vars: Record<string, unknown>, declared: Map<string, TypeRef>, used: Set<string>): Checked {
  let cost = 0;
  for (const sel of selections) {
    if (sel.kind === 'inline') {
      const on = sel.on ?? typeName;
      const fits = on === typeName || (POSSIBLE[typeName] ?? []).includes(on) || (POSSIBLE[on] ?? []).includes(typeName);
      if (!fits || !(on in OUTPUT)) throw new GraphqlError(`Fragment on ${on} can't be spread inside ${typeName}`, 'fragmentSpreadImpossible');
      cost += checkSelections(on, sel.selections, vars, declared, used).cost;
      continue;
    }
    if (sel.name === '__typename') continue;
    const def = OUTPUT[typeName]?.[sel.name];
    if (!def) throw new GraphqlError(`Field '${sel.name}' doesn't exist on type '${typeName}'`, 'undefinedField');
    const args = def.args ?? {};
    const given = new Map(sel.args);
    for (const [k, v] of sel.args) {
      const at = args[k];
      if (!at) throw new GraphqlError(`Field '${sel.name}' doesn't accept argument '${k}'`, 'argumentNotAccepted');
      usedVariables(v, used);
      checkVariableUse(v, parseTypeString(at), declared, `'${k}' on field '${sel.name}'`);
      try {
        coerce(resolveValue(v, vars), parseTypeString(at), []);
      } catch (err) {
        if (err instanceof CoerceError) throw new GraphqlError(`Argument '${k}' on Field '${sel.name}' has an ${err.message}`, 'argumentLiteralsIncompatible');
        throw err;
      }
    }
    for (const [k, at] of Object.entries(args)) {
      if (at.endsWith('!') && !given.has(k)) throw new GraphqlError(`Field '${sel.name}' is missing required arguments: ${k}`, 'missingRequiredArguments');
    }
    const type = parseTypeString(def.type);
    const named = namedType(type);
    const leaf = SCALARS.has(named) || named in ENUMS;
    if (leaf && sel.selections) throw new GraphqlError(`Selections can't be made on scalars (field '${sel.name}' returns ${named})`, 'selectionMismatch');
    if (!leaf && !sel.selections) throw new GraphqlError(`Field must have selections (field '${sel.name}' returns ${named} but has no selections)`, 'selectionMismatch');
    if (leaf) continue;
    const inner = checkSelections(named, sel.selections!, vars, declared, used).cost;
    if (named.endsWith('Connection')) {
      const first = resolveValue(given.get('first') ?? { kind: 'null' }, vars) as number | null;
      const last = resolveValue(given.get('last') ?? { kind: 'null' }, vars) as number | null;
      const n = first ?? last;
      if (n == null) throw new GraphqlError(`you must provide one of first or last (field '${sel.name}')`, 'connectionSize');
      if (n < 0 || n > 250) throw new GraphqlError(`first and last must be between 0 and 250 (field '${sel.name}' asked ${n})`, 'connectionSize');
      cost += 2 + n * Math.max(1, inner);
    } else if (named in OUTPUT && (named.endsWith('Payload') || typeName === 'Mutation')) {
      cost += inner;
    } else {
      cost += (named === 'PageInfo' ? 0 : 1) + inner;
    }
  }
  return { cost };
}

// ---------------------------------------------------------------------------------------------------
// Execution: resolvers build plain values (a function field takes its arguments); the projection keeps
// exactly what was selected.

type Resolved = Record<string, unknown> & { __typename?: string };

function project(typeName: string, value: Resolved, selections: Selection[], vars: Record<string, unknown>, refund: { points: number }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const concrete = value.__typename ?? typeName;
  for (const sel of selections) {
    if (sel.kind === 'inline') {
      if (!sel.on || sel.on === concrete || sel.on === typeName) Object.assign(out, project(sel.on ?? typeName, value, sel.selections, vars, refund));
      continue;
    }
    const key = sel.alias ?? sel.name;
    if (sel.name === '__typename') {
      out[key] = concrete;
      continue;
    }
    const def = OUTPUT[concrete]?.[sel.name] ?? OUTPUT[typeName]![sel.name]!;
    const args = Object.fromEntries(sel.args.map(([k, v]) => [k, resolveValue(v, vars)]));
    const raw = value[sel.name];
    const resolved: unknown = typeof raw === 'function' ? (raw as (a: Record<string, unknown>) => unknown)(args) : raw;
    const named = namedType(parseTypeString(def.type));
    if (named.endsWith('Connection') && resolved && typeof resolved === 'object') {
      const asked = (args.first ?? args.last) as number;
      const got = ((resolved as { nodes: unknown[] }).nodes ?? []).length;
      const perNode = Math.max(1, checkSelections(named, sel.selections!, vars, new Map(), new Set()).cost);
      refund.points += (asked - got) * perNode;
    }
    out[key] = shape(named, resolved, sel.selections, vars, refund);
  }
  return out;
}

function shape(named: string, v: unknown, selections: Selection[] | undefined, vars: Record<string, unknown>, refund: { points: number }): unknown {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map((i) => shape(named, i, selections, vars, refund));
  if (!selections) return v;
  return project(named, v as Resolved, selections, vars, refund);
}

function connection<T>(items: T[], args: Record<string, unknown>): Resolved {
  const first = args.first as number | null | undefined;
  const last = args.last as number | null | undefined;
  let start = 0;
  let end = items.length;
  const cursorIndex = (c: unknown) => {
    const m = typeof c === 'string' ? /^i:(\d+)$/.exec(Buffer.from(c, 'base64url').toString()) : null;
    if (!m) throw new GraphqlError(`Invalid cursor ${JSON.stringify(c)}`, 'badCursor');
    return Number(m[1]);
  };
  if (args.after != null) start = cursorIndex(args.after) + 1;
  if (args.before != null) end = cursorIndex(args.before);
  if (first != null) end = Math.min(end, start + first);
  else if (last != null) start = Math.max(start, end - last);
  const nodes = items.slice(start, end);
  const cursor = (i: number) => Buffer.from(`i:${i}`).toString('base64url');
  return {
    nodes,
    pageInfo: {
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
      startCursor: nodes.length ? cursor(start) : null,
      endCursor: nodes.length ? cursor(end - 1) : null,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The shop's state.

interface MediaRecord {
  id: string;
  filename: string;
  alt: string | null;
  mimeType: string;
  bytes: Buffer;
  width: number;
  height: number;
  createdAt: number;
  readyAt: number;
}

interface ProductRecord {
  id: string;
  title: string;
  handle: string;
  variant: { id: string; sku: string };
  media: MediaRecord[];
}

interface StagedRecord {
  key: string;
  filename: string;
  mimeType: string;
  fileSize: number;
  parameters: { name: string; value: string }[];
  resourceUrl: string;
  file?: { bytes: Buffer; width: number; height: number };
  attached: boolean;
}

const MIME_FORMAT: Record<string, { format: string; ext: string[] }> = {
  'image/jpeg': { format: 'jpeg', ext: ['jpg', 'jpeg'] },
  'image/png': { format: 'png', ext: ['png'] },
  'image/webp': { format: 'webp', ext: ['webp'] },
  'image/gif': { format: 'gif', ext: ['gif'] },
};

const IMAGE_LIMITS = { maxSide: 4472, maxPixels: 20_000_000, maxBytes: 20 * 1024 * 1024 };
const MAX_SINGLE_QUERY_COST = 1000;
const MUTATION_COST = 10;

export async function startShopifyStandIn(options: ShopifyStandInOptions = {}): Promise<ShopifyStandIn> {
  const token = options.token ?? `shpat_${randomUUID().replace(/-/g, '')}`;
  const signingKey = randomUUID();
  const shopName = options.shopName ?? 'Catalog Assets Stand-in';
  const bucket = { maximumAvailable: options.bucket?.maximumAvailable ?? 2000, restoreRate: options.bucket?.restoreRate ?? 100 };
  let available = bucket.maximumAvailable;
  let availableAt = Date.now();
  let faults: ShopifyStandInFaults = { ...options.faults };
  let nextId = 1000;
  const record: ShopifyStandInRecord = { calls: [], uploads: [], attached: [], throttled: 0, minAvailable: bucket.maximumAvailable };

  const products: ProductRecord[] = (options.products ?? []).map((p) => {
    const id = nextId++;
    return { id: `gid://shopify/Product/${id}`, title: p.title, handle: p.title.toLowerCase().replace(/[^a-z0-9]+/g, '-'), variant: { id: `gid://shopify/ProductVariant/${id}`, sku: p.sku }, media: [] };
  });
  const staged = new Map<string, StagedRecord>();
  let origin = '';

  const refill = () => {
    const now = Date.now();
    available = Math.min(bucket.maximumAvailable, available + (bucket.restoreRate * (now - availableAt)) / 1000);
    availableAt = now;
  };
  const throttleStatus = () => ({ maximumAvailable: bucket.maximumAvailable, currentlyAvailable: Math.floor(available), restoreRate: bucket.restoreRate });

  const mediaValue = (m: MediaRecord): Resolved => {
    const ready = Date.now() >= m.readyAt;
    const url = `${origin}/cdn/shop/files/${encodeURIComponent(m.filename)}?v=${m.createdAt}`;
    return {
      __typename: 'MediaImage',
      id: m.id,
      alt: m.alt,
      status: ready ? 'READY' : 'PROCESSING',
      mediaContentType: 'IMAGE',
      mimeType: m.mimeType,
      image: ready ? { url, width: m.width, height: m.height, altText: m.alt } : null,
      originalSource: ready ? { url: `${url}&original=1`, fileSize: m.bytes.length } : null,
    };
  };
  const productValue = (p: ProductRecord): Resolved => ({
    __typename: 'Product',
    id: p.id,
    title: p.title,
    handle: p.handle,
    media: (args: Record<string, unknown>) => connection(p.media.map(mediaValue), args),
  });
  const variantValue = (p: ProductRecord): Resolved => ({ __typename: 'ProductVariant', id: p.variant.id, sku: p.variant.sku, title: 'Default Title', product: productValue(p) });

  /** `sku:<value>` or `sku:"<value>"`; like Shopify's search, a SKU that starts with the value matches too. */
  const searchVariants = (query: unknown): ProductRecord[] => {
    if (typeof query !== 'string') throw new GraphqlError('The stand-in answers productVariants only with a query: "sku:<value>"', 'unsupportedQuery');
    const m = /^sku:(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))$/.exec(query.trim());
    if (!m) throw new GraphqlError(`The stand-in answers productVariants only for "sku:<value>" searches, not ${JSON.stringify(query)}`, 'unsupportedQuery');
    const value = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    return products.filter((p) => p.variant.sku.startsWith(value));
  };

  const stagedUploadsCreate = (args: Record<string, unknown>): Resolved => {
    const input = coerce(args.input, parseTypeString('[StagedUploadInput!]!'), []) as Record<string, string | undefined>[];
    const userErrors: { field: string[]; message: string }[] = [];
    const targets: Resolved[] = [];
    input.forEach((item, i) => {
      const field = (f: string) => ['input', String(i), f];
      const mime = MIME_FORMAT[item.mimeType ?? ''];
      if (item.resource !== 'IMAGE') userErrors.push({ field: field('resource'), message: `The stand-in stages IMAGE uploads only, not ${item.resource}` });
      if (item.httpMethod !== 'POST') userErrors.push({ field: field('httpMethod'), message: 'The stand-in serves POST (multipart form) targets only; PUT is the default when httpMethod is omitted' });
      if (!mime) userErrors.push({ field: field('mimeType'), message: `${item.mimeType} is not an image type Shopify takes for product media` });
      const ext = (item.filename ?? '').split('.').pop()?.toLowerCase() ?? '';
      if (mime && !mime.ext.includes(ext)) userErrors.push({ field: field('filename'), message: `The file name's extension .${ext} does not match ${item.mimeType}` });
      if (!/^[^/\\]{1,255}$/.test(item.filename ?? '')) userErrors.push({ field: field('filename'), message: 'A file name without slashes, at most 255 characters, is required' });
      if (item.fileSize === undefined) userErrors.push({ field: field('fileSize'), message: 'The stand-in requires fileSize so the upload can be checked against it' });
      else if (Number(item.fileSize) > IMAGE_LIMITS.maxBytes) userErrors.push({ field: field('fileSize'), message: `Images can be at most ${IMAGE_LIMITS.maxBytes} bytes (20 MB)` });
      if (userErrors.length > 0) return;
      const key = `tmp/standin/products/${randomUUID()}/${item.filename}`;
      const policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 3_600_000).toISOString(), conditions: [['content-length-range', 0, Number(item.fileSize)], { key }] })).toString('base64');
      const parameters = [
        { name: 'Content-Type', value: item.mimeType! },
        { name: 'success_action_status', value: '201' },
        { name: 'acl', value: 'private' },
        { name: 'key', value: key },
        { name: 'x-goog-date', value: new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '') },
        { name: 'x-goog-credential', value: 'standin@shopify-standin.iam.gserviceaccount.com/auto/storage/goog4_request' },
        { name: 'x-goog-algorithm', value: 'GOOG4-RSA-SHA256' },
        { name: 'x-goog-signature', value: createHmac('sha256', signingKey).update(key + policy).digest('hex') },
        { name: 'policy', value: policy },
      ];
      const resourceUrl = `${origin}/staged-uploads/${key}`;
      staged.set(resourceUrl, { key, filename: item.filename!, mimeType: item.mimeType!, fileSize: Number(item.fileSize), parameters, resourceUrl, attached: false });
      targets.push({ url: `${origin}/staged-uploads`, resourceUrl, parameters });
    });
    return { stagedTargets: userErrors.length > 0 ? null : targets, userErrors };
  };

  const productUpdate = (args: Record<string, unknown>): Resolved => {
    const input = args.product as Record<string, unknown> | null | undefined;
    const media = (args.media as Record<string, string | null>[] | null | undefined) ?? [];
    const userErrors: { field: string[]; message: string }[] = [];
    const product = products.find((p) => p.id === input?.id);
    if (!input?.id) userErrors.push({ field: ['id'], message: 'Product id is required' });
    else if (!product) userErrors.push({ field: ['id'], message: 'Product does not exist' });
    const accepted: StagedRecord[] = [];
    media.forEach((m, i) => {
      const field = (f: string) => ['media', String(i), f];
      if (m.mediaContentType !== 'IMAGE') userErrors.push({ field: field('mediaContentType'), message: 'The stand-in attaches IMAGE media only' });
      if ((m.alt ?? '').length > 512) userErrors.push({ field: field('alt'), message: 'Alt text is too long (maximum is 512 characters)' });
      const s = staged.get(m.originalSource ?? '');
      if (!s) userErrors.push({ field: field('originalSource'), message: 'Image URL is invalid: not a staged upload of this shop' });
      else if (!s.file) userErrors.push({ field: field('originalSource'), message: 'Image URL is invalid: nothing was uploaded to this staged target' });
      else if (s.attached) userErrors.push({ field: field('originalSource'), message: 'This staged upload is already attached as media' });
      else accepted.push(s);
    });
    if (product && product.media.length + accepted.length > 250) userErrors.push({ field: ['media'], message: 'A product can have at most 250 media' });
    if (userErrors.length > 0 || !product) return { product: null, userErrors };
    for (const [i, s] of accepted.entries()) {
      s.attached = true;
      const now = Date.now();
      const taken = products.some((p) => p.media.some((x) => x.filename === s.filename));
      const dot = s.filename.lastIndexOf('.');
      const filename = taken ? `${s.filename.slice(0, dot)}_${randomUUID()}${s.filename.slice(dot)}` : s.filename;
      const rec: MediaRecord = { id: `gid://shopify/MediaImage/${nextId++}`, filename, alt: media[i]?.alt ?? null, mimeType: s.mimeType, bytes: s.file!.bytes, width: s.file!.width, height: s.file!.height, createdAt: now, readyAt: now + (options.processingMs ?? 0) };
      product.media.push(rec);
      record.attached.push({ productId: product.id, sku: product.variant.sku, mediaId: rec.id, filename, alt: rec.alt, sha256: createHash('sha256').update(rec.bytes).digest('hex') });
    }
    return { product: productValue(product), userErrors: [] };
  };

  const root: Record<'query' | 'mutation', Resolved> = {
    query: {
      shop: { id: 'gid://shopify/Shop/1', name: shopName, myshopifyDomain: 'standin.myshopify.com' },
      productVariants: (args: Record<string, unknown>) => connection(searchVariants(args.query).map(variantValue), args),
      product: (args: Record<string, unknown>) => {
        const p = products.find((x) => x.id === args.id);
        return p ? productValue(p) : null;
      },
    },
    mutation: { stagedUploadsCreate, productUpdate },
  };

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, return503OnClosing: true });
  await app.register(multipart, { limits: { fileSize: IMAGE_LIMITS.maxBytes + 1, fields: 20, parts: 21, fieldSize: 8192 } });

  const takeFault = (rootFields: string[]): string | undefined => {
    const applies = !faults.operations || rootFields.some((f) => faults.operations!.includes(f));
    if (!applies) return undefined;
    if (faults.http5xx && faults.http5xx > 0) {
      faults.http5xx -= 1;
      return '5xx';
    }
    if (faults.http429 && faults.http429.count > 0) {
      faults.http429.count -= 1;
      return '429';
    }
    if (faults.throttled && faults.throttled > 0) {
      faults.throttled -= 1;
      return 'throttled';
    }
    return undefined;
  };

  app.post('/admin/api/:version/graphql.json', async (request, reply) => {
    const { version } = request.params as { version: string };
    const call: ShopifyStandInRecord['calls'][number] = { operation: null, rootFields: [], status: 200 };
    record.calls.push(call);
    const send = (status: number, body: unknown) => {
      call.status = status;
      if ((SHOPIFY_STANDIN_VERSIONS as readonly string[]).includes(version)) void reply.header('x-shopify-api-version', version);
      return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
    };
    if (!(SHOPIFY_STANDIN_VERSIONS as readonly string[]).includes(version)) return send(404, { errors: 'Not Found' });
    const given = request.headers['x-shopify-access-token'];
    if (faults.badToken || given !== token) return send(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) return send(415, { errors: 'Content-Type must be application/json' });
    const body = request.body as { query?: unknown; variables?: unknown; operationName?: unknown } | null;
    if (!body || typeof body.query !== 'string' || (body.variables != null && (typeof body.variables !== 'object' || Array.isArray(body.variables)))) {
      return send(400, { errors: { query: 'Required parameter missing or invalid' } });
    }
    const gqlError = (err: GraphqlError) => send(200, { errors: [{ message: err.message, extensions: { code: err.code ?? 'GRAPHQL_VALIDATION_FAILED' } }] });

    let op: OperationNode;
    let vars: Record<string, unknown>;
    let requested: number;
    try {
      const ops = parseDocument(body.query);
      const wanted = typeof body.operationName === 'string' ? body.operationName : undefined;
      const found = wanted ? ops.find((o) => o.name === wanted) : ops.length === 1 ? ops[0] : undefined;
      if (!found) throw new GraphqlError(wanted ? `Unknown operation named "${wanted}"` : 'An operationName is required when the document has several operations');
      op = found;
      call.operation = op.name ?? null;
      call.rootFields = op.selections.flatMap((s) => (s.kind === 'field' ? [s.name] : []));
      // Variables, coerced against their declared types.
      const declared = new Map<string, TypeRef>();
      vars = {};
      const supplied = (body.variables ?? {}) as Record<string, unknown>;
      for (const d of op.varDefs) {
        if (declared.has(d.name)) throw new GraphqlError(`There can only be one variable named "${d.name}"`);
        if (!isKnownInputType(d.type)) throw new GraphqlError(`${typeString(d.type)} isn't a defined input type (on $${d.name})`, 'variableRequiresValidType');
        declared.set(d.name, d.type);
        const raw = d.name in supplied ? supplied[d.name] : d.defaultValue ? resolveValue(d.defaultValue, {}) : undefined;
        try {
          vars[d.name] = coerce(raw, d.type, []);
        } catch (err) {
          if (err instanceof CoerceError) throw new GraphqlError(`Variable $${d.name} of type ${typeString(d.type)} was provided ${err.message}`, 'INVALID_VARIABLE');
          throw err;
        }
      }
      const rootType = op.type === 'query' ? 'QueryRoot' : 'Mutation';
      const used = new Set<string>();
      const checked = checkSelections(rootType, op.selections, vars, declared, used);
      for (const d of op.varDefs) if (!used.has(d.name)) throw new GraphqlError(`Variable $${d.name} is declared by ${op.name ?? 'anonymous operation'} but not used`, 'variableNotUsed');
      requested = op.type === 'mutation' ? MUTATION_COST * call.rootFields.length : Math.max(1, checked.cost);
      call.requestedQueryCost = requested;
    } catch (err) {
      if (err instanceof GraphqlError) return gqlError(err);
      throw err;
    }

    const fault = takeFault(call.rootFields);
    if (fault === '5xx') {
      call.fault = fault;
      return send(503, { errors: 'Service Unavailable' });
    }
    if (fault === '429') {
      call.fault = fault;
      call.status = 429;
      return reply.header('retry-after', String(faults.http429?.retryAfterSeconds ?? 1)).code(429).send({ errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' });
    }
    refill();
    if (requested > MAX_SINGLE_QUERY_COST) {
      return send(200, {
        errors: [{ message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_SINGLE_QUERY_COST}).`, extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_SINGLE_QUERY_COST } }],
        extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus() } },
      });
    }
    if (fault === 'throttled' || requested > available) {
      call.throttled = true;
      if (fault) call.fault = fault;
      record.throttled += 1;
      return send(200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus() } },
      });
    }
    available -= requested;
    record.minAvailable = Math.min(record.minAvailable, available);
    const refund = { points: 0 };
    let data: Record<string, unknown>;
    try {
      data = project(op.type === 'query' ? 'QueryRoot' : 'Mutation', root[op.type], op.selections, vars, refund);
    } catch (err) {
      available += requested;
      if (err instanceof GraphqlError || err instanceof CoerceError) return gqlError(err instanceof GraphqlError ? err : new GraphqlError(err.message, 'INVALID_VARIABLE'));
      throw err;
    }
    const actual = op.type === 'mutation' ? requested : Math.max(1, requested - refund.points);
    available = Math.min(bucket.maximumAvailable, available + (requested - actual));
    if (op.type === 'mutation' && call.rootFields.includes('productUpdate') && faults.dropAfterAttach && faults.dropAfterAttach > 0) {
      faults.dropAfterAttach -= 1;
      call.fault = 'dropAfterAttach';
      call.status = 0;
      return drop(request, reply);
    }
    return send(200, { data, extensions: { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: throttleStatus() } } });
  });

  // The staged upload target, as the storage service behind it answers (XML errors, 201 on success).
  app.post('/staged-uploads', async (request, reply) => {
    const xmlError = (status: number, code: string, message: string) =>
      reply.code(status).header('content-type', 'application/xml; charset=UTF-8').send(`<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`);
    if (!request.isMultipart()) return xmlError(400, 'InvalidArgument', 'The upload must be a multipart/form-data POST');
    const fields: [string, string][] = [];
    let file: { bytes: Buffer; filename: string } | undefined;
    try {
      for await (const part of request.parts()) {
        if (file) return xmlError(400, 'InvalidArgument', `The file must be the last field of the form; "${part.fieldname}" came after it`);
        if (part.type === 'file') {
          if (part.fieldname !== 'file') return xmlError(400, 'InvalidArgument', `The file goes in the "file" field, not "${part.fieldname}"`);
          const bytes = await part.toBuffer();
          file = { bytes, filename: part.filename };
        } else {
          fields.push([part.fieldname, String(part.value)]);
        }
      }
    } catch (err) {
      return xmlError(400, 'EntityTooLarge', `The upload could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
    const key = fields.find(([n]) => n === 'key')?.[1];
    const target = [...staged.values()].find((s) => s.key === key);
    if (!target) return xmlError(403, 'AccessDenied', 'No staged target was issued for this key (or the key field is missing)');
    for (const p of target.parameters) {
      const got = fields.filter(([n]) => n === p.name);
      if (got.length !== 1) return xmlError(400, 'InvalidPolicyDocument', `The form must carry the parameter "${p.name}" exactly once (found ${got.length})`);
      if (got[0]![1] !== p.value) return xmlError(403, 'AccessDenied', `The parameter "${p.name}" was changed from what stagedUploadsCreate issued`);
    }
    const extra = fields.filter(([n]) => !target.parameters.some((p) => p.name === n));
    if (extra.length > 0) return xmlError(400, 'InvalidPolicyDocument', `Fields not in the policy: ${extra.map(([n]) => n).join(', ')}`);
    if (!file) return xmlError(400, 'InvalidArgument', 'The form has no "file" field');
    if (target.file) return xmlError(409, 'Conflict', 'Something was already uploaded to this staged target');
    if (file.bytes.length !== target.fileSize) return xmlError(400, 'EntityTooLarge', `The file is ${file.bytes.length} bytes; stagedUploadsCreate declared ${target.fileSize}`);
    let info: Awaited<ReturnType<typeof inspectImage>>;
    try {
      info = await inspectImage(file.bytes, { maxBytes: IMAGE_LIMITS.maxBytes, maxPixels: 100_000_000 });
    } catch (err) {
      return xmlError(400, 'InvalidArgument', `The file is not a readable image: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (info.format !== MIME_FORMAT[target.mimeType]?.format) return xmlError(400, 'InvalidArgument', `The file is ${info.format}, but ${target.mimeType} was declared`);
    if (info.width > IMAGE_LIMITS.maxSide || info.height > IMAGE_LIMITS.maxSide || info.width * info.height > IMAGE_LIMITS.maxPixels) {
      return xmlError(400, 'InvalidArgument', `${info.width}x${info.height} is over Shopify's image limits (4472 px a side, 20 MP)`);
    }
    target.file = { bytes: file.bytes, width: info.width, height: info.height };
    record.uploads.push({ key: target.key, filename: target.filename, mimeType: target.mimeType, bytes: file.bytes.length, sha256: info.sha256 });
    if (faults.dropAfterUpload && faults.dropAfterUpload > 0) {
      faults.dropAfterUpload -= 1;
      return drop(request, reply);
    }
    return reply
      .code(201)
      .header('content-type', 'application/xml; charset=UTF-8')
      .send(`<?xml version='1.0' encoding='UTF-8'?><PostResponse><Location>${escapeXml(target.resourceUrl)}</Location><Bucket>shopify-staged-uploads</Bucket><Key>${escapeXml(target.key)}</Key><ETag>"${createHash('md5').update(file.bytes).digest('hex')}"</ETag></PostResponse>`);
  });

  // The CDN: attached images, by the file name their URL carries.
  app.get('/cdn/shop/files/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const m = products.flatMap((p) => p.media).find((x) => x.filename === name && Date.now() >= x.readyAt);
    if (!m) return reply.code(404).send({ errors: 'Not Found' });
    return reply.header('content-type', m.mimeType).send(m.bytes);
  });

  const address = await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const port = (app.server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  void address;

  return {
    url: origin,
    token,
    record,
    setFaults(next) {
      faults = { ...next };
    },
    productMedia(sku) {
      const p = products.find((x) => x.variant.sku === sku);
      return (p?.media ?? []).map((m) => ({ id: m.id, filename: m.filename, alt: m.alt, status: Date.now() >= m.readyAt ? 'READY' : 'PROCESSING' }));
    },
    close: () => app.close(),
  };
}

/** Destroys the connection without an answer: the client cannot tell what happened. */
function drop(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  request.raw.socket.destroy();
  return reply;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
