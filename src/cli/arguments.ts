/** Argument parsers the commands share: each refuses a bad value with a message naming what it expects. */
import { InvalidArgumentError } from 'commander';

export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** A number in (0, max]: output scales (max 1), time scales. */
export function positiveAtMost(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`expected a number greater than 0 and at most ${max}`);
    return n;
  };
}

/** `min-max` (or one number) in milliseconds. */
export function latencyRange(value: string): { min: number; max: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected min-max in milliseconds, e.g. 300-900');
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (min > max) throw new InvalidArgumentError('min must not exceed max');
  return { min, max };
}

export function positiveInt(value: string): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return Number(value);
}
