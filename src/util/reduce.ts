/**
 * Reductions over arrays of any length. `Math.max(...xs)` and `Math.hypot(...xs)` pass every
 * element as an argument and overflow the call stack beyond about 10^5 elements; these loop.
 */

/** The largest element (−Infinity for an empty array). */
export function maxOf(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] > m || Number.isNaN(xs[i])) m = xs[i];
  return m;
}

/** The smallest element (Infinity for an empty array). */
export function minOf(xs: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] < m || Number.isNaN(xs[i])) m = xs[i];
  return m;
}

/** The Euclidean norm, scaled so that large or tiny values neither overflow nor underflow. */
export function norm2(xs: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < xs.length; i++) scale = Math.max(scale, Math.abs(xs[i]));
  if (!(scale > 0) || !Number.isFinite(scale)) return scale === 0 ? 0 : Number.isNaN(scale) ? NaN : Infinity;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] / scale) ** 2;
  return scale * Math.sqrt(s);
}
