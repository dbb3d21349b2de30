/**
 * The ImaRouter Seedream 4.5 contract, written down in one place.
 *
 * What the vendor page states: the three submit endpoints, the job endpoint, bearer auth, JSON
 * bodies, the generate body (`prompt`, `imageSize`, `quality`, `numImages`, `outputFormat`), the job
 * statuses and `output[].url`, and the price. Everything marked CHOICE below is where the page is
 * silent; the client and the simulator both follow these schemas, and the client stays tolerant of
 * additive fields (object schemas are loose, never strict, on responses).
 */
import { z } from 'zod';

export { PRICE_PER_IMAGE_USD } from './price';
export const DEFAULT_MODEL = 'seedream-4.5';

/** Upstream model limits (design facts): outputs must be at least ~3.7 MP. */
export const LIMITS = {
  minOutputPixels: 3_686_400, // 1920 x 1920
  maxOutputPixels: 16_777_216, // 4096 x 4096
  maxReferences: 14,
  maxReferencesPlusOutputs: 15,
  maxReferenceBytes: 10 * 1024 * 1024,
  maxReferencePixels: 36_000_000,
  minAspect: 1 / 16,
  maxAspect: 16,
  maxNumImages: 6, // CHOICE: a catalog step never needs more; references plus outputs still capped at 15
  maxPromptChars: 4_000, // CHOICE
} as const;

/**
 * Size presets (the vendor example uses `portrait_4_3`), each mapped to the model's 2K class, so every
 * preset satisfies the 3.7 MP minimum. `portrait_4_3` is a portrait 3:4 frame, as in the vendor's naming.
 */
export const SIZE_PRESETS = {
  square_hd: { width: 2048, height: 2048 },
  square: { width: 2048, height: 2048 },
  portrait_4_3: { width: 1728, height: 2304 },
  landscape_4_3: { width: 2304, height: 1728 },
  portrait_16_9: { width: 1600, height: 2848 },
  landscape_16_9: { width: 2848, height: 1600 },
} as const;
export type SizePreset = keyof typeof SIZE_PRESETS;
export const sizePresetSchema = z.enum(Object.keys(SIZE_PRESETS) as [SizePreset, ...SizePreset[]]);

/** CHOICE: an explicit size is also accepted, within the model's pixel and aspect limits. */
export const customSizeSchema = z
  .object({ width: z.number().int().min(256).max(8192), height: z.number().int().min(256).max(8192) })
  .refine((s) => s.width * s.height >= LIMITS.minOutputPixels, {
    message: `width x height must be at least ${LIMITS.minOutputPixels} pixels (the model's ~3.7 MP minimum)`,
  })
  .refine((s) => s.width * s.height <= LIMITS.maxOutputPixels, {
    message: `width x height must be at most ${LIMITS.maxOutputPixels} pixels`,
  })
  .refine((s) => s.width / s.height >= LIMITS.minAspect && s.width / s.height <= LIMITS.maxAspect, {
    message: 'aspect ratio must be within 1:16 and 16:1',
  });
export const imageSizeSchema = z.union([sizePresetSchema, customSizeSchema]);
export type ImageSize = z.infer<typeof imageSizeSchema>;

export function resolveImageSize(size: ImageSize): { width: number; height: number } {
  return typeof size === 'string' ? { ...SIZE_PRESETS[size] } : { width: size.width, height: size.height };
}

export const qualitySchema = z.enum(['standard', 'high']);
/** The model's native output is JPEG; PNG is offered by the vendor example. */
export const outputFormatSchema = z.enum(['jpeg', 'png']);
export type OutputFormat = z.infer<typeof outputFormatSchema>;

/**
 * A reference image: an http(s) URL the provider can fetch, or an inline `data:image/...;base64,` URI.
 * The byte limit of an inline reference is checked here (its decoded size); a URL's size is only known
 * once the provider fetches it, which is why a bad URL fails the job rather than the request.
 */
const DATA_URI = /^data:(image\/(?:jpeg|png|webp));base64,([A-Za-z0-9+/]+={0,2})$/;
export const referenceSchema = z.string().superRefine((value, ctx) => {
  if (value.startsWith('data:')) {
    const m = DATA_URI.exec(value);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'must be a base64 data URI of image/jpeg, image/png or image/webp' });
      return;
    }
    const b64 = m[2] ?? '';
    const bytes = Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
    if (bytes > LIMITS.maxReferenceBytes) {
      ctx.addIssue({ code: 'custom', message: `inline image is ${bytes} bytes; the limit is ${LIMITS.maxReferenceBytes}` });
    }
    return;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL or a data URI' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `URL scheme ${url.protocol} is not allowed; use http(s) or a data URI` });
  }
});

const commonFields = {
  prompt: z.string().trim().min(1, 'must not be empty').max(LIMITS.maxPromptChars),
  imageSize: imageSizeSchema.default('square_hd'),
  quality: qualitySchema.default('high'),
  numImages: z.number().int().min(1).max(LIMITS.maxNumImages).default(1),
  outputFormat: outputFormatSchema.default('jpeg'),
  /** Upstream draws a watermark unless told not to; catalog imagery never wants it. */
  watermark: z.boolean().default(false),
};

export const generateRequestSchema = z.object(commonFields).strict();
/** CHOICE: the edit source is `imageUrl` (URL or data URI). */
export const editRequestSchema = z.object({ ...commonFields, imageUrl: referenceSchema }).strict();
/** CHOICE: compose references are `imageUrls`, in order (product first, then scene, then style). */
export const composeRequestSchema = z
  .object({ ...commonFields, imageUrls: z.array(referenceSchema).min(1).max(LIMITS.maxReferences) })
  .strict()
  .refine((r) => r.imageUrls.length + r.numImages <= LIMITS.maxReferencesPlusOutputs, {
    message: `references plus outputs must be at most ${LIMITS.maxReferencesPlusOutputs}`,
    path: ['numImages'],
  });

export type GenerateRequest = z.input<typeof generateRequestSchema>;
export type EditRequest = z.input<typeof editRequestSchema>;
export type ComposeRequest = z.input<typeof composeRequestSchema>;
export type Operation = 'generate' | 'edit' | 'compose';
export const requestSchemas = {
  generate: generateRequestSchema,
  edit: editRequestSchema,
  compose: composeRequestSchema,
} as const;

/**
 * Route styles (IMAROUTER_API_STYLE). `seed`: the vendor page's routes and camelCase body (CONFIRMED
 * by the page: the three submit routes, `GET /v1/jobs/{id}`, `prompt`, `imageSize`, `quality`,
 * `numImages`, `outputFormat`). `tasks`: ImaRouter's unified task family (CONFIRMED by its API index:
 * `POST /v1/images/generations` with the model in the body, `GET /v1/images/generations/{task_id}`);
 * its body fields follow the upstream model's names (CHOICE: the index has no Seedream schema).
 */
export const API_STYLES = ['seed', 'tasks'] as const;
export type ApiStyle = (typeof API_STYLES)[number];

/** Seed-style paths relative to the configured base URL (CONFIRMED by the vendor page). */
export const paths = {
  submit: (model: string, op: Operation) => `/v1/image/${encodeURIComponent(model)}/${op}`,
  job: (jobId: string) => `/v1/jobs/${encodeURIComponent(jobId)}`,
};

/** Tasks-style paths (CONFIRMED by ImaRouter's API index). */
export const tasksPaths = {
  submit: '/v1/images/generations',
  job: (taskId: string) => `/v1/images/generations/${encodeURIComponent(taskId)}`,
};

/** ImaRouter's own balance endpoint, the cheapest authenticated call (CONFIRMED by its OpenAPI document). */
export const BALANCE_PATH = '/api/usage/token/user-balance';

export const balanceAnswerSchema = z.looseObject({
  success: z.boolean(),
  message: z.string().optional(),
  data: z.looseObject({
    object: z.string().optional(),
    user_id: z.union([z.string(), z.number()]).optional(),
    username: z.string().optional(),
    balance_usd: z.union([z.number(), z.string()]).optional(),
    used_amount_usd: z.union([z.number(), z.string()]).optional(),
  }),
});

export function routeFor(style: ApiStyle, model: string) {
  return style === 'tasks'
    ? { submit: (_op: Operation) => tasksPaths.submit, job: tasksPaths.job }
    : { submit: (op: Operation) => paths.submit(model, op), job: paths.job };
}

/** A validated (camelCase, defaults applied) submit body. */
export interface SubmitBody {
  prompt: string;
  imageSize: ImageSize;
  quality: 'standard' | 'high';
  numImages: number;
  outputFormat: OutputFormat;
  watermark: boolean;
  imageUrl?: string;
  imageUrls?: string[];
}

/**
 * The body a tasks-style submit sends. CHOICE throughout (the index documents no Seedream schema),
 * following the upstream model's names: `size` as `WxH` (upstream accepts `2K`, `4K` or `WxH`), `n`,
 * `image` (edit: one source) and `images` (compose: references in order), `response_format: "url"`,
 * `watermark` (upstream defaults to true, so it is always sent). `quality` and `outputFormat` are
 * not sent: Seedream 4.5 has neither (its output is JPEG).
 */
export function tasksBody(operation: Operation, model: string, body: SubmitBody): Record<string, unknown> {
  const { width, height } = resolveImageSize(body.imageSize);
  const wire: Record<string, unknown> = {
    model,
    prompt: body.prompt,
    size: `${width}x${height}`,
    n: body.numImages,
    response_format: 'url',
    watermark: body.watermark,
  };
  if (operation === 'edit' && body.imageUrl !== undefined) wire.image = body.imageUrl;
  if (operation === 'compose' && body.imageUrls !== undefined) wire.images = body.imageUrls;
  return wire;
}

/** Parses a `size` of the tasks style: `WxH`, `2K` (2048x2048) or `4K` (4096x4096). */
export function parseTasksSize(size: string): { width: number; height: number } | undefined {
  const k = /^([24])K$/i.exec(size.trim());
  if (k) return k[1] === '2' ? { width: 2048, height: 2048 } : { width: 4096, height: 4096 };
  const m = /^(\d{2,5})[x*](\d{2,5})$/i.exec(size.trim());
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/**
 * CHOICE: a submit answered from an already seen Idempotency-Key says so with this header (the
 * convention of APIs that honour the key). No vendor document mentions either header.
 */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/**
 * What the simulator's default dialect answers on a submit (the vendor page reads `job.id`).
 * The client does not parse with this schema: it reads every known shape (`readProviderAnswer`).
 */
export const submitResponseSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
});
export type SubmitResponse = z.infer<typeof submitResponseSchema>;

export const jobStatusSchema = z.enum(['queued', 'running', 'completed', 'failed']);
export type JobStatus = z.infer<typeof jobStatusSchema>;
/** A status the client could not map is `unknown` (never terminal, never completed); its raw word is kept. */
export type ReadStatus = JobStatus | 'unknown';

/**
 * Every status spelling the client maps, written once. CONFIRMED: queued, running, completed, failed
 * (vendor page); pending, in_progress, processing, succeeded, error (clients of ImaRouter's task API).
 * CHOICE: the rest, from task APIs of the same family (submitted, not_start, success, failure) and
 * cancellation words read as failed (a cancelled job delivers nothing). Matching ignores case.
 */
export const STATUS_SPELLINGS: Record<JobStatus, readonly string[]> = {
  queued: ['queued', 'pending', 'submitted', 'not_start', 'waiting'],
  running: ['running', 'in_progress', 'processing', 'started', 'generating'],
  completed: ['completed', 'succeeded', 'success', 'succeed'],
  failed: ['failed', 'error', 'failure', 'cancelled', 'canceled', 'expired'],
};
const STATUS_BY_SPELLING = new Map<string, JobStatus>(
  (Object.entries(STATUS_SPELLINGS) as Array<[JobStatus, readonly string[]]>).flatMap(([status, words]) => words.map((w) => [w, status] as const)),
);

export function mapStatus(raw: unknown): { status: ReadStatus; rawStatus: string } {
  const rawStatus = typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : '';
  const word = rawStatus.trim().toLowerCase().replace(/[\s-]+/g, '_');
  return { status: STATUS_BY_SPELLING.get(word) ?? 'unknown', rawStatus };
}

/**
 * Error codes. CHOICE: every error body is `{ "error": { "code", "message", "field"? } }`.
 * `field` names the request field at fault, dotted (`imageUrls.3`).
 */
export const errorCodes = [
  'invalid_request', // 400
  'unauthorized', // 401
  'insufficient_credit', // 402
  'not_found', // 404
  'idempotency_conflict', // 409: same key, different body
  'content_rejected', // 422 on submit (input moderation), or a failed job / image (output moderation)
  'rate_limited', // 429 with Retry-After
  'internal_error', // 5xx
  'reference_unreachable', // a failed job: a reference URL could not be fetched
  'reference_invalid', // a failed job: a reference is not an image within the limits
  'url_expired', // 410 on an output URL past its expiry
  'generation_failed', // a failed job for any other reason
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** The error body the simulator's default dialect answers (CHOICE). */
export const errorBodySchema = z.looseObject({
  error: z.looseObject({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * The job document the simulator's default dialect answers (the vendor page's shape: `id`, `status`,
 * `output[].url`, `error` as an object or a string), with the project's additive fields (CHOICE):
 * `output[].index` (0-based position in the request), `numImages`, `imageErrors` (per-image failures),
 * `billedImages`, `costUsd`. The client does not parse with this schema (see readProviderAnswer).
 */
export const jobSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  output: z.array(z.looseObject({ url: z.string().url(), index: z.number().int().min(0).optional() })).optional(),
  error: z.union([z.string(), z.looseObject({ message: z.string(), code: z.string().optional() })]).optional(),
  numImages: z.number().int().positive().optional(),
  imageErrors: z.array(z.looseObject({ index: z.number().int().min(0), code: z.string(), message: z.string() })).optional(),
  billedImages: z.number().int().min(0).optional(),
  costUsd: z.number().min(0).optional(),
});
export type Job = z.infer<typeof jobSchema>;

/** Which documented answer shape a document was recognised as (reported by `provider check`). */
export type AnswerShape = 'seed' | 'tasks-wrapped' | 'tasks-flat' | 'data-list' | 'unrecognised';

export interface AnswerOutput {
  index: number;
  url: string;
  contentType?: string;
  width?: number;
  height?: number;
  expiresAt?: string;
}

/** One provider answer (submit or job), whatever shape it came in. */
export interface ProviderAnswer {
  shape: AnswerShape;
  jobId?: string;
  status: ReadStatus;
  rawStatus: string;
  numImages?: number;
  outputs: AnswerOutput[];
  imageErrors: Array<{ index: number; code: string; message: string }>;
  error?: { code: string; message: string };
  billedImages?: number;
  /** What the provider says it charged (`amount_usd`), beside the cost the project computes. */
  providerCostUsd?: number;
}

type Doc = Record<string, unknown>;
const isDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);
const count = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
};
const usd = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
};
const isHttpUrl = (v: unknown): v is string => typeof v === 'string' && /^https?:\/\/\S+$/i.test(v);

/** CHOICE: a string error that speaks of moderation is a content rejection (final for the prompt). */
const MODERATION = /moderat|sensitive|safety|content[ _-]?(policy|filter|reject)|nsfw|inappropriate/i;

function readError(value: unknown): { code: string; message: string } | undefined {
  if (typeof value === 'string') {
    if (value.trim() === '') return undefined;
    return { code: MODERATION.test(value) ? 'content_rejected' : 'generation_failed', message: value };
  }
  if (!isDoc(value)) return undefined;
  const message = text(value.message) ?? text(value.msg) ?? text(value.detail);
  const code = text(value.code) ?? text(value.type);
  if (message === undefined && code === undefined) return undefined;
  return {
    code: code ?? (MODERATION.test(message ?? '') ? 'content_rejected' : 'generation_failed'),
    message: message ?? code!,
  };
}

function readOutputs(d: Doc, top: Doc): AnswerOutput[] {
  const list = [d.output, d.outputs, d.results, d.images, top.data].find((v): v is unknown[] => Array.isArray(v));
  const entries: unknown[] = list ?? [d.url ?? (isDoc(d.metadata) ? d.metadata.url : undefined) ?? d.image_url ?? (typeof d.output === 'string' ? d.output : undefined)];
  const seen = new Set<number>();
  const out: AnswerOutput[] = [];
  entries.forEach((entry, position) => {
    const o: Doc = isDoc(entry) ? entry : { url: entry };
    const url = [o.url, o.image_url, o.uri].find(isHttpUrl);
    if (url === undefined) return;
    // Position is the index when the answer gives none (the vendor example reads `output[0].url`).
    const index = count(o.index) ?? position;
    if (seen.has(index)) return;
    seen.add(index);
    out.push({
      index,
      url,
      ...(text(o.contentType ?? o.content_type) !== undefined ? { contentType: text(o.contentType ?? o.content_type)! } : {}),
      ...(count(o.width) ? { width: count(o.width)! } : {}),
      ...(count(o.height) ? { height: count(o.height)! } : {}),
      ...(text(o.expiresAt ?? o.expires_at) !== undefined ? { expiresAt: text(o.expiresAt ?? o.expires_at)! } : {}),
    });
  });
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Reads a submit or job answer in every shape the provider is known to use: the vendor page's
 * (`id`, `status`, `output[].url`, `error`), the wrapped task answer (`{ code, data: { task_id,
 * status, url, error: { message }, amount_usd } }`), the flat task answer (`{ id, task_id, status,
 * progress, results: [{ url }], error, amount_usd }`) and a bare `data: [{ url }]` list. Job id:
 * `task_id` (the task routes' own name), then `id`, then `jobId`. Never throws; an unmapped status is
 * `unknown` with its raw word kept.
 */
export function readProviderAnswer(doc: unknown): ProviderAnswer | undefined {
  if (!isDoc(doc)) return undefined;
  const wrapped = isDoc(doc.data);
  const d: Doc = wrapped ? { ...doc, ...(doc.data as Doc) } : doc;
  const jobId = text(d.task_id) ?? text(d.taskId) ?? text(d.id) ?? text(d.jobId) ?? text(d.job_id);
  const { status, rawStatus } = mapStatus(d.status ?? d.state);
  const shape: AnswerShape = wrapped
    ? 'tasks-wrapped'
    : d.task_id !== undefined || Array.isArray(d.results)
      ? 'tasks-flat'
      : d.id !== undefined || d.jobId !== undefined || Array.isArray(d.output)
        ? 'seed'
        : Array.isArray(doc.data)
          ? 'data-list'
          : 'unrecognised';
  const imageErrors = (Array.isArray(d.imageErrors) ? d.imageErrors : []).flatMap((e) => {
    if (!isDoc(e) || count(e.index) === undefined) return [];
    const err = readError(e);
    return err ? [{ index: count(e.index)!, ...err }] : [];
  });
  const error = readError(d.error) ?? readError(d.fail_reason) ?? readError(d.failure_reason) ?? readError(d.error_message);
  const numImages = count(d.numImages) ?? count(d.n) ?? count(d.num_images);
  const billedImages = count(d.billedImages) ?? count(d.billed_images);
  const providerCostUsd = usd(d.amount_usd) ?? usd(d.amountUsd) ?? usd(d.cost_usd) ?? usd(d.costUsd);
  return {
    shape,
    ...(jobId !== undefined ? { jobId } : {}),
    status,
    rawStatus,
    ...(numImages ? { numImages } : {}),
    outputs: readOutputs(d, doc),
    imageErrors,
    ...(error ? { error } : {}),
    ...(billedImages !== undefined ? { billedImages } : {}),
    ...(providerCostUsd !== undefined ? { providerCostUsd } : {}),
  };
}

/**
 * Reads an HTTP error body in every shape seen: `{ error: { code, message, field } }` (the project's
 * CHOICE, and OpenAI-style `{ error: { message, type, param } }`), `{ error: "text" }`,
 * `{ code, message }` and `{ data: { error: { message } } }`.
 */
export function readErrorAnswer(doc: unknown): { code?: string; message: string; field?: string } | undefined {
  if (!isDoc(doc)) return undefined;
  const inner = isDoc(doc.error) ? doc.error : isDoc(doc.data) && isDoc(doc.data.error) ? doc.data.error : undefined;
  if (inner) {
    const message = text(inner.message) ?? text(inner.msg) ?? text(inner.code) ?? 'error';
    const code = text(inner.code) ?? text(inner.type);
    const field = text(inner.field) ?? text(inner.param);
    return { message, ...(code !== undefined && !/^\d+$/.test(code) ? { code } : {}), ...(field !== undefined ? { field } : {}) };
  }
  const message = text(doc.error) ?? text(doc.message) ?? text(doc.msg);
  if (message === undefined) return undefined;
  const code = text(doc.code);
  return { message, ...(code !== undefined && !/^\d+$/.test(code) ? { code } : {}) };
}

/** Simulator-only endpoints (never present on the real service). */
export const simulatorPaths = {
  ledger: '/__simulator/ledger',
  faults: '/__simulator/faults',
  reset: '/__simulator/reset',
  health: '/__simulator/health',
} as const;

export const ledgerSchema = z.looseObject({
  submissions: z.number().int(), // accepted submit requests, replays included
  jobs: z.number().int(), // distinct jobs created
  billedImages: z.number().int(),
  duplicateSubmissions: z.number().int(), // the same step paid twice
  identicalBodiesBilled: z.number().int(), // billed jobs whose body equals an earlier billed job's (any key)
  costUsd: z.number(),
  rejectedSubmissions: z.number().int(), // 4xx/5xx/dropped submits: nothing billed
  replays: z.number().int(), // submits answered from an existing Idempotency-Key
  reportedAmountUsd: z.number().optional(), // the sum of the `amount_usd` the answers reported
});
export type Ledger = z.infer<typeof ledgerSchema>;
