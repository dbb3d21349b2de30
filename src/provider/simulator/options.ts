/**
 * Simulator options, with the defaults a local run wants. Everything that makes the simulator deviate
 * from the real service (outputScale, faults) is off by default.
 */
import { z } from 'zod';
import { DEFAULT_MODEL } from '../contract';
import { faultsSchema } from './faults';
import { DIALECTS, LATENCY_PROFILES } from './names';

/** The subset of a pino logger the simulator calls; pino itself fits. */
export interface SimulatorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: SimulatorLogger = { debug() {}, info() {}, warn() {}, error() {} };

const loggerSchema = z.custom<SimulatorLogger>(
  (v) => typeof v === 'object' && v !== null && ['debug', 'info', 'warn', 'error'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  { message: 'must have debug, info, warn and error methods' },
);

export const latencySchema = z
  .object({ min: z.number().int().min(0), max: z.number().int().min(0) })
  .strict()
  .refine((l) => l.min <= l.max, { message: 'min must not exceed max', path: ['max'] });

export { DIALECTS, LATENCY_PROFILES, type Dialect, type LatencyProfile } from './names';

export const simulatorOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65_535).default(0),
    apiKey: z.string().min(1).default('sim-local-key'),
    /** The only model path served; any other answers 404 not_found. */
    model: z.string().min(1).default(DEFAULT_MODEL),
    /** A job's running time, drawn uniformly from [min, max]. */
    latencyMs: latencySchema.default({ min: 300, max: 900 }),
    latencyProfile: z.enum(LATENCY_PROFILES).default('uniform'),
    /** Multiplies every drawn job latency (0.01 runs the realistic profile 100x faster in tests). */
    timeScale: z.number().positive().max(100).default(1),
    dialect: z.enum(DIALECTS).optional(),
    /** A provider that does not honour Idempotency-Key: a repeated submit creates (and bills) a new job. */
    ignoreIdempotency: z.boolean().default(false),
    /** What the balance endpoint reports when no creditUsd is set. */
    balanceUsd: z.number().min(0).default(100),
    /** Jobs running at once; the rest wait queued. */
    maxRunning: z.number().int().min(1).max(10_000).default(8),
    outputUrlTtlMs: z.number().int().positive().default(60 * 60 * 1000),
    /**
     * Memory for output bytes. Past it the oldest outputs (downloaded ones first) expire early, so a
     * long full-size benchmark cannot exhaust memory; the real service has no such limit.
     */
    maxStoredOutputBytes: z.number().int().positive().default(1024 * 1024 * 1024),
    /**
     * TEST/BENCH ONLY, deviates from the real service: outputs are rendered at scale x the requested
     * size (at least 16 px a side), and the job output reports the size actually rendered. The real
     * service always renders the requested (>= 3.7 MP) size.
     */
    outputScale: z.number().positive().max(1).default(1),
    /** Seed of the PRNG behind latencies and faults. */
    seed: z.number().int().default(1),
    /** A prompt containing one of these (case-insensitive) is rejected at submit (input moderation). */
    blockedTerms: z.array(z.string().min(1)).default(['blocked-content']),
    /** Account credit; when set, a submit whose images would exceed it answers 402. */
    creditUsd: z.number().min(0).optional(),
    referenceFetchTimeoutMs: z.number().int().positive().default(10_000),
    /**
     * Base of the output URLs handed out. Default: the scheme and Host the client used, so URLs stay
     * reachable behind a container name or port mapping.
     */
    publicUrl: z.string().url().optional(),
    faults: faultsSchema.prefault({}),
    logger: loggerSchema.optional(),
  })
  .strict();

export type SimulatorOptions = z.output<typeof simulatorOptionsSchema>;
export type SimulatorOptionsInput = z.input<typeof simulatorOptionsSchema>;
