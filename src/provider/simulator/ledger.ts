/**
 * The simulator's books: what was submitted, what was billed, and whether anything was paid twice.
 * Money is kept in integer cents so totals never drift.
 */
import { PRICE_PER_IMAGE_USD, type JobStatus, type Ledger, type Operation } from '../contract';

export const PRICE_PER_IMAGE_CENTS = Math.round(PRICE_PER_IMAGE_USD * 100);
const MAX_ENTRIES = 10_000;

export interface LedgerEntry {
  jobId: string;
  idempotencyKey: string | null;
  operation: Operation;
  status: JobStatus;
  billedImages: number;
  bodyHash: string;
}

/** A submit the simulator refused (nothing billed): its key, and the answer it got. */
export interface Rejection {
  idempotencyKey: string | null;
  status: number;
  /** The error code of the answer, or the fault's kind (`rateLimit`, `serverError`, `dropBeforeAccept`). */
  code: string;
}

/**
 * `ledgerSchema` plus the additive per-job `entries` and per-submit `rejections` (the most recent
 * 10,000 of each): what a test checks a client against, key by key, independently of the client's books.
 */
export type SimulatorLedger = Ledger & { entries: LedgerEntry[]; rejections: Rejection[]; creditUsd?: number; remainingCreditUsd?: number };

export class LedgerBook {
  private submissions = 0;
  private jobs = 0;
  private billedImages = 0;
  private duplicateSubmissions = 0;
  private identicalBodiesBilled = 0;
  private billedCents = 0;
  private rejectedSubmissions = 0;
  private replays = 0;
  private readonly entries = new Map<string, LedgerEntry>();
  private readonly rejections: Rejection[] = [];
  private readonly billedKeys = new Set<string>();
  private readonly billedNoKeyBodies = new Set<string>();
  private readonly billedBodies = new Set<string>();
  /** Cents held for jobs not yet finished, so concurrent submits cannot overspend the credit. */
  private readonly reserved = new Map<string, number>();
  private reservedCents = 0;

  constructor(private readonly creditCents: number | undefined) {}

  rejected(rejection: Rejection): void {
    this.rejectedSubmissions++;
    this.rejections.push(rejection);
    if (this.rejections.length > MAX_ENTRIES) this.rejections.shift();
  }

  replayed(): void {
    this.submissions++;
    this.replays++;
  }

  /** Whether a new job of this many images fits in the remaining credit. */
  canAfford(images: number): boolean {
    if (this.creditCents === undefined) return true;
    return this.billedCents + this.reservedCents + images * PRICE_PER_IMAGE_CENTS <= this.creditCents;
  }

  jobCreated(entry: Omit<LedgerEntry, 'status' | 'billedImages'>, images: number): void {
    this.submissions++;
    this.jobs++;
    this.entries.set(entry.jobId, { ...entry, status: 'queued', billedImages: 0 });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    const cents = images * PRICE_PER_IMAGE_CENTS;
    this.reserved.set(entry.jobId, cents);
    this.reservedCents += cents;
  }

  statusChanged(jobId: string, status: JobStatus): void {
    const entry = this.entries.get(jobId);
    if (entry) entry.status = status;
  }

  /** A job finished: bill what it delivered and check whether the same step was already paid. */
  finished(job: { jobId: string; idempotencyKey: string | null; bodyHash: string; status: JobStatus; billedImages: number }): void {
    this.reservedCents -= this.reserved.get(job.jobId) ?? 0;
    this.reserved.delete(job.jobId);
    const entry = this.entries.get(job.jobId);
    if (entry) {
      entry.status = job.status;
      entry.billedImages = job.billedImages;
    }
    if (job.billedImages <= 0) return;
    this.billedImages += job.billedImages;
    this.billedCents += job.billedImages * PRICE_PER_IMAGE_CENTS;
    if (job.idempotencyKey !== null) {
      if (this.billedKeys.has(job.idempotencyKey)) this.duplicateSubmissions++;
      else this.billedKeys.add(job.idempotencyKey);
    } else if (this.billedNoKeyBodies.has(job.bodyHash)) this.duplicateSubmissions++;
    else this.billedNoKeyBodies.add(job.bodyHash);
    if (this.billedBodies.has(job.bodyHash)) this.identicalBodiesBilled++;
    else this.billedBodies.add(job.bodyHash);
  }

  snapshot(): SimulatorLedger {
    const ledger: SimulatorLedger = {
      submissions: this.submissions,
      jobs: this.jobs,
      billedImages: this.billedImages,
      duplicateSubmissions: this.duplicateSubmissions,
      identicalBodiesBilled: this.identicalBodiesBilled,
      costUsd: centsToUsd(this.billedCents),
      rejectedSubmissions: this.rejectedSubmissions,
      replays: this.replays,
      // Every job answer reports amount_usd from the same billed images, so the two agree to the cent.
      reportedAmountUsd: centsToUsd(this.billedCents),
      entries: [...this.entries.values()].map((e) => ({ ...e })),
      rejections: this.rejections.map((r) => ({ ...r })),
    };
    if (this.creditCents !== undefined) {
      ledger.creditUsd = centsToUsd(this.creditCents);
      ledger.remainingCreditUsd = centsToUsd(this.creditCents - this.billedCents);
    }
    return ledger;
  }
}

/** Cents to dollars; dividing an integer by 100 gives the nearest double to the decimal, no drift. */
export function centsToUsd(cents: number): number {
  return cents / 100;
}
