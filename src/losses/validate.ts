/**
 * Input checks shared by every loss. Each error names the argument, the bad value and what was
 * expected; nothing is clamped or coerced silently.
 */
import * as tf from '../tf';

/** Labels: an int32 tensor [N], or any array of N integers. */
export type LabelsLike = tf.Tensor1D | ArrayLike<number>;

export class LossInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LossInputError';
  }
}

export function checkEmbeddings(
  loss: string,
  embeddings: tf.Tensor,
  embeddingDim?: number,
): asserts embeddings is tf.Tensor2D {
  if (!(embeddings instanceof tf.Tensor)) {
    throw new LossInputError(`${loss}: embeddings must be a tf.Tensor of shape [N, D], got ${typeof embeddings}`);
  }
  if (embeddings.rank !== 2) {
    throw new LossInputError(`${loss}: embeddings must have shape [N, D], got shape [${embeddings.shape.join(', ')}]`);
  }
  if (embeddings.shape[0] < 1)
    throw new LossInputError(`${loss}: embeddings is an empty batch (shape [${embeddings.shape.join(', ')}])`);
  if (embeddingDim !== undefined && embeddings.shape[1] !== embeddingDim) {
    throw new LossInputError(
      `${loss}: embeddings have dimension ${embeddings.shape[1]} but the head was built for embeddingDim = ${embeddingDim}`,
    );
  }
  if (embeddings.dtype !== 'float32')
    throw new LossInputError(`${loss}: embeddings must be float32, got ${embeddings.dtype}`);
}

/** Largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Refuses finite embeddings whose squared Euclidean distances would overflow float32, naming the
 * loss and the magnitude: ‖a‖² + ‖b‖² and ‖a − b‖² stay finite while
 * every |entry| is at most √(FLOAT32_MAX / 4D). Beyond that the true loss is not representable,
 * so the only honest answer is a refusal. Reads one number from the device; on webgpu in Node,
 * which cannot read synchronously, the check is left to the caller (the trainer refuses the
 * non-finite loss that results).
 */
export function checkSquaredDistanceRange(
  loss: string,
  embeddings: tf.Tensor2D,
  readable: boolean,
  remedy = 'scale the embeddings down',
): void {
  if (!readable) return;
  const t = tf.tidy(() => tf.max(tf.abs(embeddings)));
  const largest = t.dataSync()[0];
  t.dispose();
  const dim = embeddings.shape[1];
  const limit = Math.sqrt(FLOAT32_MAX / (4 * dim));
  // NaN or Infinity is not a magnitude: a non-finite batch is the trainer's divergence check's to
  // refuse (and unlessNonFinite keeps running state from absorbing it), as for every other loss.
  if (!Number.isFinite(largest)) return;
  if (largest > limit)
    throw new LossInputError(
      `${loss}: the embeddings reach |x| = ${largest.toPrecision(3)}, past ${limit.toPrecision(3)} (= √(3.4e38 / 4D) for D = ${dim}), where squared Euclidean distances overflow float32; ${remedy}`,
    );
}

/**
 * Reads and checks labels: N integers, each in [0, numClasses) when numClasses is given.
 * Returns the values (for mining / state updates) and an int32 tensor the caller must dispose.
 */
export function readLabels(
  loss: string,
  labels: LabelsLike,
  n: number,
  numClasses?: number,
): { values: Int32Array; tensor: tf.Tensor1D } {
  let raw: ArrayLike<number>;
  if (labels instanceof tf.Tensor) {
    if (labels.rank !== 1)
      throw new LossInputError(`${loss}: labels must have shape [N], got shape [${labels.shape.join(', ')}]`);
    raw = labels.dataSync();
  } else if (
    labels !== null &&
    typeof labels === 'object' &&
    typeof (labels as ArrayLike<number>).length === 'number'
  ) {
    raw = labels;
  } else {
    throw new LossInputError(
      `${loss}: labels must be a tf.Tensor1D or an array of integers, got ${labels === null ? 'null' : typeof labels}`,
    );
  }
  if (raw.length !== n)
    throw new LossInputError(`${loss}: labels has ${raw.length} entries but embeddings has ${n} rows`);
  const values = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = raw[i];
    if (!Number.isInteger(v)) throw new LossInputError(`${loss}: labels[${i}] = ${v} is not an integer class index`);
    if (numClasses !== undefined && (v < 0 || v >= numClasses)) {
      throw new LossInputError(
        `${loss}: labels[${i}] = ${v} is out of range [0, ${numClasses}) for numClasses = ${numClasses}`,
      );
    }
    if (numClasses === undefined && v < 0) throw new LossInputError(`${loss}: labels[${i}] = ${v} must be ≥ 0`);
    // Labels are stored as int32: a larger id would wrap around and alias another one.
    if (v > 2 ** 31 - 1)
      throw new LossInputError(
        `${loss}: labels[${i}] = ${v} is larger than 2³¹ − 1, the largest label an int32 holds; renumber the identities 0, 1, 2, …`,
      );
    values[i] = v;
  }
  return { values, tensor: tf.tensor1d(values, 'int32') };
}

/** A value that should be a number but is not (a string "0.5", null, …): one message for all checks. */
function notANumber(loss: string, name: string, v: unknown): void {
  if (typeof v !== 'number')
    throw new LossInputError(
      `${loss}: ${name} must be a number, got ${typeof v === 'string' ? `the string ${JSON.stringify(v)}` : v === null ? 'null' : typeof v}${typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? ` (write ${Number(v)} without quotes)` : ''}`,
    );
}

export function checkNonNegative(loss: string, name: string, v: number): void {
  notANumber(loss, name, v);
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
    throw new LossInputError(`${loss}: ${name} must be a finite number ≥ 0, got ${v}`);
}

export function checkRange(
  loss: string,
  name: string,
  v: number,
  lo: number,
  hi: number,
  hiInclusive = false,
  why = '',
): void {
  notANumber(loss, name, v);
  const ok = typeof v === 'number' && Number.isFinite(v) && v >= lo && (hiInclusive ? v <= hi : v < hi);
  if (!ok) {
    throw new LossInputError(
      `${loss}: ${name} must be in [${lo}, ${hiInclusive ? `${hi}]` : `${formatBound(hi)})`}, got ${v}${why ? ` (${why})` : ''}`,
    );
  }
}

export function checkPositiveInteger(loss: string, name: string, v: number): void {
  notANumber(loss, name, v);
  if (!(Number.isInteger(v) && v >= 1))
    throw new LossInputError(`${loss}: ${name} must be a positive integer, got ${v}`);
}

/** A range bound as messages and docs show it: π/2 and π by name, others to at most 4 decimals. */
export function formatBound(x: number): string {
  if (Math.abs(x - Math.PI / 2) < 1e-12) return 'π/2';
  if (Math.abs(x - Math.PI) < 1e-12) return 'π';
  return String(+x.toFixed(4));
}

/**
 * Every key of an options interface as a runtime list, for `checkOptionKeys`. The compiler checks
 * that the list is complete: leaving out a key of T is a type error, so an option cannot be added
 * to an interface and then be rejected as unknown.
 */
export function optionKeys<T>() {
  return <K extends (keyof T & string)[]>(
    ...keys: K & (Exclude<keyof T, K[number]> extends never ? unknown : never)
  ): readonly string[] => keys;
}

/**
 * Options must be a plain object whose keys the loss knows: a misspelt or misplaced option (`margin`
 * for ArcFace's `m`) would otherwise be ignored without a word.
 */
export function checkOptionKeys(loss: string, opts: unknown, keys: readonly string[]): void {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw new LossInputError(
      `${loss}: options must be an object with keys among ${keys.join(', ')}; got ${Array.isArray(opts) ? 'an array' : String(opts)}`,
    );
  const unknown = Object.keys(opts).filter((k) => !keys.includes(k));
  if (unknown.length > 0)
    throw new LossInputError(
      `${loss}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length === 1 ? 'is not an option' : 'are not options'} of ${loss}; it takes ${keys.join(', ')}`,
    );
}
