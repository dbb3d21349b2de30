/** A workflow's input, checked: a bad field fails the run at once, naming the field, never retried. */
import { ApplicationFailure } from '@temporalio/workflow';
import { InputCheckError } from '../../shared/check';

export function checkedInput<T>(parse: (raw: unknown) => T, raw: unknown, what: string, failureType: string): T {
  try {
    return parse(raw);
  } catch (err) {
    if (!(err instanceof InputCheckError)) throw err;
    throw ApplicationFailure.nonRetryable(`invalid ${what} at ${err.path || '(root)'}: ${err.reason}`, failureType);
  }
}
