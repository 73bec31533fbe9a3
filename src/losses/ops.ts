/**
 * Numerically safe building blocks shared by the losses.
 *
 * The popular implementations produce NaN where an embedding is exactly on (θ = 0) or opposite
 * (θ = π) its class weight: d acos(c)/dc and d sqrt(1 − c²)/dc are infinite there, and the chain
 * rule multiplies that infinity by dc/dx = 0. Here the forward values are exact (no clamping of
 * the result) and only the derivative's denominator is kept away from zero, so every gradient is
 * finite.
 *
 * How close to the true derivative, in float32: acos' derivative −1/√(1 − c²) is computed with
 * 1 − c² = (1 − c)(1 + c). For c in [½, 1], 1 − c is exact in floating point, so the product is
 * good to about two roundings and the derivative agrees with the float64 value at the same c
 * to ~1e-7 relative, however close c is to ±1 (the naive 1 − c·c loses every digit there:
 * c·c rounds to the float32 grid near 1 and the difference can be off by a large factor). Only
 * at c = ±1 exactly, where the true derivative is infinite, is it replaced by the finite
 * 1/√GRAD_EPS = 1e6. The smallest non-zero (1 − c)(1 + c) in float32 is ≈ 1.2e-7, far above
 * GRAD_EPS, so the floor changes nothing else.
 */
import * as tf from '../tf';

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** Smallest value allowed under the square root in derivatives (float32 scale). */
export const GRAD_EPS = 1e-12;

/** sqrt(max(u, 0)) with derivative 1 / (2·sqrt(max(u, GRAD_EPS))) — finite at u = 0. */
export const safeSqrt: (u: tf.Tensor) => tf.Tensor = tf.customGrad(((u: tf.Tensor, save: tf.GradSaveFunc) => {
  const value = tf.sqrt(tf.relu(u));
  save([u]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.div(dy, tf.mul(2, tf.sqrt(tf.maximum(saved[0], GRAD_EPS)))),
  };
}) as unknown as CustomGradFn) as unknown as (u: tf.Tensor) => tf.Tensor;

/**
 * θ = acos(c) for c in [−1, 1] (values a hair outside from float32 rounding are read as ±1),
 * with derivative −1 / sqrt(max(1 − c², GRAD_EPS)).
 */
export const safeAcos: (c: tf.Tensor) => tf.Tensor = tf.customGrad(((c: tf.Tensor, save: tf.GradSaveFunc) => {
  const value = tf.acos(tf.clipByValue(c, -1, 1));
  save([c]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const c0 = saved[0];
      const oneMinusSq = tf.mul(tf.sub(1, c0), tf.add(1, c0));
      return tf.neg(tf.div(dy, tf.sqrt(tf.maximum(oneMinusSq, GRAD_EPS))));
    },
  };
}) as unknown as CustomGradFn) as unknown as (c: tf.Tensor) => tf.Tensor;

/** Identity whose gradient is zero: a value used as a constant (running statistics, detached norms). */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as CustomGradFn) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * A float 0/1 mask computed by `fn` (comparisons), treated as a constant by autodiff. tfjs has
 * no gradient for several comparison kernels and refuses to differentiate through them; the
 * mask is piecewise constant, so its true derivative is zero. `dep` is the tensor the mask is
 * computed from (the node's input on the tape).
 */
export function constantMask(fn: () => tf.Tensor, dep: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((x: tf.Tensor) => ({
    value: tf.cast(fn(), 'float32'),
    gradFunc: () => tf.zerosLike(x),
  })) as unknown as CustomGradFn) as unknown as (x: tf.Tensor) => tf.Tensor;
  return op(dep);
}

/** mask ? a : b for a 0/1 float mask (a and b finite): exact values, gradient to the chosen branch. */
export function select(mask: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(mask, a), tf.mul(tf.sub(1, mask), b));
}

/** sin θ = sqrt(1 − cos²θ) ≥ 0 for θ in [0, π], finite derivative at cos θ = ±1. */
export function sinFromCos(c: tf.Tensor): tf.Tensor {
  return safeSqrt(tf.sub(1, tf.square(c)));
}

/**
 * The largest |x| of each slice along `axis` (kept as a size-1 axis), or 1 for an all-zero slice
 * (which then keeps the plain form's finite derivative there), as a constant for autodiff.
 *
 * Why a constant is exact: x / ‖x‖ and ‖x‖ / m are homogeneous in x (of degree 0 and 1), so
 * with u = x / m, the derivative of f(u) through u alone is already f's derivative in x: the
 * path through m contributes nothing for x / ‖x‖, and for ‖x‖ = m·‖u‖ the chain rule through u
 * gives m · (u / ‖u‖) / m = x / ‖x‖. Dropping that path also saves the backward pass of the max.
 */
function sliceScale(x: tf.Tensor, axis: number): tf.Tensor {
  const op = tf.customGrad(((v: tf.Tensor) => ({
    value: tf.tidy(() => {
      const m = tf.max(tf.abs(v), axis, true);
      return tf.add(m, tf.cast(tf.equal(m, 0), 'float32'));
    }),
    gradFunc: () => tf.zerosLike(v),
  })) as unknown as CustomGradFn) as unknown as (v: tf.Tensor) => tf.Tensor;
  return op(x);
}

/**
 * x / ‖x‖ along `axis` for any finite scale; a zero vector stays zero (its cosine with anything
 * is defined as 0). The slice is first divided by its largest |entry|: Σx² overflows float32
 * once entries pass ~1e19 (the plain form then returns zeros, so every cosine reads 0) and
 * underflows below ~1e-19 (it returns x·1e12, again near-zero cosines), while the scaled slice
 * has its largest entry at ±1 and cannot do either.
 */
export function l2Normalize(x: tf.Tensor, axis: number): tf.Tensor {
  return l2NormalizeUnscaled(tf.div(x, sliceScale(x, axis)), axis);
}

/**
 * x / ‖x‖ without the rescaling, for tensors whose entries are known to lie well within
 * [1e-18, 1e18]: the heads' class weights, which start at Glorot scale and are kept there by
 * weight decay. It saves the scaling's four kernels on the [D, C] weight matrix each step.
 */
export function l2NormalizeUnscaled(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-24)));
}

/** cos θ between every row of x [N, D] (any finite scale) and every column of W [D, K]: [N, K]. */
export function cosineMatrix(x: tf.Tensor2D, W: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(l2Normalize(x, 1), l2NormalizeUnscaled(W, 0)) as tf.Tensor2D;
}

/**
 * ‖x‖ per row (safe derivative at 0), finite for every finite row: computed as m·‖x / m‖ with m
 * the row's largest |entry| (see l2Normalize), so rows of 1e30 give 1e30·‖·‖, not √∞.
 */
export function rowNorms(x: tf.Tensor2D): tf.Tensor1D {
  const m = sliceScale(x, 1);
  return tf.mul(tf.squeeze(m, [1]), safeSqrt(tf.sum(tf.square(tf.div(x, m)), 1))) as tf.Tensor1D;
}

/** Mean over rows of log Σ_j exp(z_ij) − z_i,y_i: softmax cross-entropy with one-hot targets. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  const lse = tf.logSumExp(logits, 1);
  const target = tf.sum(tf.mul(logits, oneHot), 1);
  return tf.mean(tf.sub(lse, target)) as tf.Scalar;
}

/**
 * x_i,y_i for each row: the entries the one-hot matrix [N, C] picks, [N]. Its gradient is one
 * product (oneHot · dy) where autodiff's `sum(x · oneHot)` builds a tensor of ones first.
 */
export function targetEntries(x: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Tensor1D {
  const n = x.shape[0];
  const op = tf.customGrad(((v: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([oneHot]);
    return {
      value: tf.sum(tf.mul(v, oneHot), 1),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.reshape(dy, [n, 1])),
    };
  }) as unknown as CustomGradFn) as unknown as (v: tf.Tensor2D) => tf.Tensor1D;
  return op(x);
}

/**
 * The margin-softmax cross-entropy in one differentiable step: the mean over rows of
 * log Σ_j exp(z_ij) − z_i,y_i, for the logits z = s·others whose target entries are replaced by
 * s·targetY (the margin's f(cos θ_y)). The values are those of building the logits and calling
 * {@link softmaxCrossEntropy}; the gradient is written out rather than taken through a chain of
 * [N, C] ops: with p = softmax(z),
 *   ∂L/∂others_ij = (s/N)·p_ij for j ≠ y_i, and 0 at the target (whose logit is not from others),
 *   ∂L/∂targetY_i = (s/N)·(p_i,y_i − 1).
 * About a dozen [N, C] kernels forward and backward where autodiff runs some thirty: it matters
 * with thousands of classes. `oneHot` is the float one-hot labels [N, C], `s` the scale.
 */
export function marginCrossEntropy(
  others: tf.Tensor2D,
  targetY: tf.Tensor1D,
  oneHot: tf.Tensor2D,
  s: number,
): tf.Scalar {
  const [n, c] = others.shape;
  const op = tf.customGrad(((o: tf.Tensor2D, ty: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const t = tf.mul(ty, s);
    const isTarget = tf.cast(oneHot, 'bool');
    const logits = tf.where(isTarget, tf.broadcastTo(tf.reshape(t, [n, 1]), [n, c]), tf.mul(o, s));
    const m = tf.max(logits, 1);
    const e = tf.exp(tf.sub(logits, tf.reshape(m, [n, 1])));
    const se = tf.sum(e, 1);
    const value = tf.mean(tf.sub(tf.add(tf.log(se), m), t));
    // exp(z_y − m) from the [N] values: p at the target is that over the row's sum.
    save([e, se, tf.exp(tf.sub(t, m)), tf.sub(1, oneHot)]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [eS, seS, eY, notTarget] = saved;
        const k = tf.mul(dy, s / n);
        const perRow = tf.reshape(tf.div(k, seS), [n, 1]);
        return [tf.mul(tf.mul(eS, perRow), notTarget), tf.mul(k, tf.sub(tf.div(eY, seS), 1))];
      },
    };
  }) as unknown as CustomGradFn) as unknown as (o: tf.Tensor2D, ty: tf.Tensor1D) => tf.Scalar;
  return op(others, targetY);
}

/**
 * A running state's next value, or its current one when the batch is not finite: `probe` is a
 * scalar that is finite exactly when the batch is (a sum or mean over it). A non-finite batch
 * then leaves the state as it was, with no read from the device. (The trainer refuses such a step
 * by its loss or its gradients, and puts back every state variable anyway.)
 */
export function unlessNonFinite(next: tf.Tensor, current: tf.Tensor, probe: tf.Tensor): tf.Tensor {
  return tf.where(tf.isFinite(probe), next, current);
}

/** Squared Euclidean distances between all rows of a [N, D]: [N, N], exactly 0 on the diagonal. */
export function pairwiseSquaredDistances(a: tf.Tensor2D): tf.Tensor2D {
  const sq = tf.sum(tf.square(a), 1, true);
  const d = tf.add(tf.sub(sq, tf.mul(2, tf.matMul(a, a, false, true))), tf.transpose(sq));
  const n = a.shape[0];
  // Rounding can make d slightly negative; the diagonal is zero by definition.
  return tf.mul(tf.relu(d), tf.sub(1, tf.eye(n))) as tf.Tensor2D;
}

/** Rows of `x` picked by index, as a one-hot matrix product (differentiable on every backend). */
export function selectRows(x: tf.Tensor2D, index: Int32Array | number[]): tf.Tensor2D {
  const n = x.shape[0];
  const sel = tf.oneHot(tf.tensor1d(Array.from(index), 'int32'), n);
  return tf.matMul(sel, x);
}
