/** The contract's error body and how the simulator words validation failures. */
import type { z } from 'zod';
import type { ErrorCode } from '../contract';

export interface ErrorReply {
  status: number;
  code: ErrorCode;
  message: string;
  field?: string;
}

export function errorBody(e: Omit<ErrorReply, 'status'>): { error: { code: ErrorCode; message: string; field?: string } } {
  return { error: e.field === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, field: e.field } };
}

/** The first zod issue as a 400: `field` is its dotted path; an unknown key names the key itself. */
export function invalidRequest(error: z.ZodError): ErrorReply {
  const first = error.issues[0];
  if (!first) return { status: 400, code: 'invalid_request', message: 'invalid request body' };
  const { issue, path } = mostSpecific(first, [...first.path]);
  let reason = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0] ?? '');
    reason = 'unknown field (this API accepts no extra fields)';
  }
  const field = path.map(String).join('.');
  if (!field) return { status: 400, code: 'invalid_request', message: `request body: ${reason}` };
  return { status: 400, code: 'invalid_request', field, message: `${field}: ${reason}` };
}

type Issue = z.core.$ZodIssue;

/**
 * A union (`imageSize`: a preset or a custom size) fails as "Invalid input"; say instead what the
 * branch the caller most likely meant objects to: a refinement or a nested field over a wrong type.
 */
function mostSpecific(issue: Issue, path: PropertyKey[]): { issue: Issue; path: PropertyKey[] } {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return { issue, path };
  const score = (i: Issue) => (i.code === 'invalid_type' ? 0 : i.code === 'invalid_value' ? 1 : 2) + i.path.length;
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    const candidate = branch[0];
    if (candidate && (!best || score(candidate) > score(best))) best = candidate;
  }
  return best ? mostSpecific(best, [...path, ...best.path]) : { issue, path };
}

/** Why a job failed, with the contract's code. */
export class JobFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JobFailure';
  }
}
