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

export const PRICE_PER_IMAGE_USD = 0.04;
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

/** Paths relative to the configured base URL. */
export const paths = {
  submit: (model: string, op: Operation) => `/v1/image/${encodeURIComponent(model)}/${op}`,
  job: (jobId: string) => `/v1/jobs/${encodeURIComponent(jobId)}`,
};

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** CHOICE: a submit answers 202 (new job) or 200 (same Idempotency-Key replayed) with this body. */
export const submitResponseSchema = z.looseObject({
  jobId: z.string().min(1),
  status: z.enum(['queued', 'running', 'completed', 'failed']),
  model: z.string().optional(),
  createdAt: z.string().optional(),
});
export type SubmitResponse = z.infer<typeof submitResponseSchema>;

export const jobStatusSchema = z.enum(['queued', 'running', 'completed', 'failed']);
export type JobStatus = z.infer<typeof jobStatusSchema>;

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

export const errorBodySchema = z.looseObject({
  error: z.looseObject({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** One delivered output. CHOICE: `index` is the output's position in the request (0-based). */
export const jobOutputSchema = z.looseObject({
  index: z.number().int().min(0),
  url: z.string().url(),
  contentType: z.string().optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  expiresAt: z.string().optional(),
});
/** One requested output that was not delivered (e.g. rejected by output moderation). */
export const jobImageErrorSchema = z.looseObject({
  index: z.number().int().min(0),
  code: z.string(),
  message: z.string(),
});

export const jobSchema = z.looseObject({
  jobId: z.string().min(1),
  status: jobStatusSchema,
  model: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  numImages: z.number().int().positive().optional(),
  output: z.array(jobOutputSchema).optional(),
  /** Per-image failures of a job that delivered some of its outputs, or of a failed one. */
  imageErrors: z.array(jobImageErrorSchema).optional(),
  /** Why the whole job failed. */
  error: z.looseObject({ code: z.string(), message: z.string() }).optional(),
  billedImages: z.number().int().min(0).optional(),
  costUsd: z.number().min(0).optional(),
});
export type Job = z.infer<typeof jobSchema>;

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
});
export type Ledger = z.infer<typeof ledgerSchema>;
