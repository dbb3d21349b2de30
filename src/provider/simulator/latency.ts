/**
 * Job latencies. The realistic profile follows the published 30-day figures of Seedream 4.5 on two
 * large routers (p50 22-25 s, p95 41-47 s): log-normal around a 22 s median, plus a few slow
 * outliers (queueing upstream), so a client's poll loop and heartbeats meet tens of seconds and a
 * long tail, not the sub-second jobs of the uniform profile.
 */
import type { LatencyProfile } from './options';
import type { Random } from '../../support/random';

export const REALISTIC = {
  medianMs: 22_000,
  /** ln(p95 / median) / 1.645 for the body; with the outliers the p95 lands near 45 s. */
  sigma: 0.37,
  outlierProbability: 0.03,
  outlierFactor: { min: 1.8, max: 3.5 },
  minMs: 4_000,
  maxMs: 240_000,
} as const;

/** A standard normal draw (Box-Muller) from the seeded stream. */
function normal(random: Random): number {
  const u = Math.max(random.next(), 1e-12);
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function realisticLatencyMs(random: Random): number {
  let ms = REALISTIC.medianMs * Math.exp(REALISTIC.sigma * normal(random));
  if (random.chance(REALISTIC.outlierProbability)) {
    const { min, max } = REALISTIC.outlierFactor;
    ms *= min + random.next() * (max - min);
  }
  return Math.min(REALISTIC.maxMs, Math.max(REALISTIC.minMs, ms));
}

export function latencyDrawer(o: { profile: LatencyProfile; latencyMs: { min: number; max: number }; timeScale: number }, random: Random): () => number {
  const draw = o.profile === 'realistic' ? () => realisticLatencyMs(random) : () => random.int(o.latencyMs.min, o.latencyMs.max);
  return () => Math.max(0, Math.round(draw() * o.timeScale));
}
