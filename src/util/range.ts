/**
 * Numeric ranges as data: one value that checks a number and says in words what it accepts, so a
 * range declared once (the training options, src/train/options.ts) reads the same in every
 * message that quotes it.
 */

export interface NumericRange {
  /** Whole numbers only (safe integers: up to 2⁵³ − 1 in size). */
  int?: boolean;
  /** Lower bound, included unless `minOpen`. */
  min?: number;
  minOpen?: boolean;
  /** Upper bound, included unless `maxOpen`. */
  max?: number;
  maxOpen?: boolean;
}

/** Whether `v` is a finite number (a whole one for `int`) within the range. */
export function inRange(range: NumericRange, v: unknown): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (range.int && !Number.isSafeInteger(v)) return false;
  if (range.min !== undefined && (range.minOpen ? !(v > range.min) : !(v >= range.min))) return false;
  if (range.max !== undefined && (range.maxOpen ? !(v < range.max) : !(v <= range.max))) return false;
  return true;
}

/** What the range accepts, in words: "an integer ≥ 1", "a number in [0, 1)", "a number > 0". */
export function rangeText(range: NumericRange): string {
  const kind = range.int ? 'an integer' : 'a number';
  const { min, max } = range;
  if (min !== undefined && max !== undefined)
    return `${kind} in ${range.minOpen ? '(' : '['}${min}, ${max}${range.maxOpen ? ')' : ']'}`;
  if (min !== undefined) return `${kind} ${range.minOpen ? '>' : '≥'} ${min}`;
  if (max !== undefined) return `${kind} ${range.maxOpen ? '<' : '≤'} ${max}`;
  return kind;
}
