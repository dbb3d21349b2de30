/** The simulator's named choices, without zod, so the CLI registers `--dialect` and `--latency-profile` cheaply. */

/**
 * Answer dialects, each a documented variant (see dialects.ts). Unset: the vendor page's shape on the
 * seed routes and the flat task shape on the task routes; set: every route answers in it.
 */
export const DIALECTS = ['seed', 'seed-string-error', 'seed-strange', 'tasks-wrapped', 'tasks-flat', 'mixed'] as const;
export type Dialect = (typeof DIALECTS)[number];

/**
 * `uniform`: a job runs for a time drawn uniformly from latencyMs (benchmarks of orchestration).
 * `realistic`: right-skewed like the published figures of Seedream 4.5 on large routers (log-normal,
 * median 22 s, p95 about 45 s, 3 % slow outliers of 2-3.5x).
 */
export const LATENCY_PROFILES = ['uniform', 'realistic'] as const;
export type LatencyProfile = (typeof LATENCY_PROFILES)[number];
