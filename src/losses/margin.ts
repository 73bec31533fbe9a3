/**
 * The margin family in cos space. SphereFace, ArcFace and CosFace are one formula,
 * cos(m1·θ + m2) − m3 (insightface), each with its own rule for staying monotonic in θ:
 *
 *  - ArcFace (m1 = 1): cos(θ + m) turns back up once θ + m > π, so beyond θ = π − m the target
 *    becomes cos θ − m·sin m (insightface's fallback; a downward step, still non-increasing).
 *  - SphereFace (integer m1 = m, m2 = 0): cos(mθ) oscillates, so ψ(θ) = (−1)^k cos(mθ) − 2k for
 *    θ in [kπ/m, (k+1)π/m], which is continuous and decreasing on [0, π].
 *  - general m1 ≠ 1: the same ψ continuation applied to φ = m1·θ + m2.
 *  - CosFace (m1 = 1, m2 = 0): cos θ − m3 is already monotonic.
 *
 * All functions take cos θ (any shape) and return the target in cos space (before scaling).
 */
import * as tf from '../tf';
import { constantMask, safeAcos, select, sinFromCos } from './ops';

/** CosFace / AM-Softmax: cos θ − m. */
export function cosineMarginTarget(cos: tf.Tensor, m: number): tf.Tensor {
  return tf.sub(cos, m);
}

/** ArcFace: cos(θ + m), with the insightface fallback cos θ − m·sin m once θ + m > π. */
export function angularMarginTarget(cos: tf.Tensor, m: number, easyMargin = false): tf.Tensor {
  // cos(θ + m) = cos θ cos m − sin θ sin m, with sin θ ≥ 0 on [0, π]: no acos needed.
  const shifted = tf.sub(tf.mul(cos, Math.cos(m)), tf.mul(sinFromCos(cos), Math.sin(m)));
  if (easyMargin) {
    // Margin only where θ < π/2 (cos θ > 0); elsewhere plain cos θ. NOT monotonic: the target
    // jumps up from −sin m to 0 at θ = π/2, which is why it is off by default.
    return select(
      constantMask(() => tf.greater(cos, 0), cos),
      shifted,
      cos,
    );
  }
  // θ + m ≤ π  ⇔  cos θ ≥ cos(π − m) = −cos m.
  return select(
    constantMask(() => tf.greaterEqual(cos, -Math.cos(m)), cos),
    shifted,
    tf.sub(cos, m * Math.sin(m)),
  );
}

/** Chebyshev polynomial T_m(c) = cos(m·acos c): exact, smooth, no acos. */
export function chebyshev(cos: tf.Tensor, m: number): tf.Tensor {
  let prev: tf.Tensor = tf.onesLike(cos);
  let cur: tf.Tensor = cos;
  if (m === 0) return prev;
  for (let i = 1; i < m; i++) {
    const next = tf.sub(tf.mul(tf.mul(cos, 2), cur), prev);
    prev = cur;
    cur = next;
  }
  return cur;
}

/** SphereFace ψ(θ) = (−1)^k·cos(mθ) − 2k for θ in [kπ/m, (k+1)π/m], integer m ≥ 1. */
export function sphereTarget(cos: tf.Tensor, m: number): tf.Tensor {
  // k = #{ j in 1..m−1 : θ ≥ jπ/m } = #{ j : cos θ ≤ cos(jπ/m) }; comparisons carry no gradient.
  const k = constantMask(() => {
    let count: tf.Tensor = tf.zerosLike(cos);
    for (let j = 1; j < m; j++)
      count = tf.add(count, tf.cast(tf.lessEqual(cos, Math.cos((j * Math.PI) / m)), 'float32'));
    return count;
  }, cos);
  const sign = tf.sub(1, tf.mul(2, tf.mod(k, 2)));
  return tf.sub(tf.mul(sign, chebyshev(cos, m)), tf.mul(2, k));
}

/**
 * Combined margin cos(m1·θ + m2) − m3 made monotonic as described above. The presets reduce to
 * exactly the same tensor code as the dedicated losses: m1 = 1 → ArcFace's path (then − m3),
 * integer m1 with m2 = 0 → SphereFace's ψ (then − m3).
 */
export function combinedMarginTarget(cos: tf.Tensor, m1: number, m2: number, m3: number): tf.Tensor {
  let t: tf.Tensor;
  if (m1 === 1) {
    t = angularMarginTarget(cos, m2);
  } else if (m2 === 0 && Number.isInteger(m1)) {
    t = sphereTarget(cos, m1);
  } else {
    const phi = tf.add(tf.mul(safeAcos(cos), m1), m2);
    const k = constantMask(() => tf.floor(tf.div(phi, Math.PI)), phi);
    const sign = tf.sub(1, tf.mul(2, tf.mod(k, 2)));
    t = tf.sub(tf.mul(sign, tf.cos(phi)), tf.mul(2, k));
  }
  return m3 === 0 ? t : tf.sub(t, m3);
}
