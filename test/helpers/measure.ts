/** Value and gradients of a loss on the active backend, read asynchronously (works on every backend). */
import * as L from 'margin-lab';
import { tf } from 'margin-lab';
import * as assert from 'node:assert/strict';
import * as R from '../reference/losses64';
import { relError } from './numeric';
import { flat, HeadCase, Mat, randLabels, randMat, refForGradient, shapes } from './loss-cases';

export interface Measured {
  loss: number;
  gx: Float32Array;
  gW?: Float32Array;
}

/** Value and gradients of a loss in eval mode (webgpu has no synchronous read in Node). */
export async function measureAsync(loss: L.EmbeddingLoss, x: Mat, labels: number[]): Promise<Measured> {
  const xt = tf.tensor2d(x);
  const head = loss as Partial<L.ClassifierHead>;
  const v = tf.tidy(() => loss.compute(xt, labels, { training: false }));
  const gx = tf.grad((xx: tf.Tensor) => loss.compute(xx as tf.Tensor2D, labels, { training: false }))(xt);
  let gW: tf.Tensor | null = null;
  if (head.W) {
    const { value, grads } = tf.variableGrads(() => loss.compute(xt, labels, { training: false }), [head.W]);
    value.dispose();
    gW = grads[head.W.name];
  }
  const out: Measured = {
    loss: (await v.data())[0],
    gx: (await gx.data()) as Float32Array,
    gW: gW ? ((await gW.data()) as Float32Array) : undefined,
  };
  tf.dispose([xt, v, gx, ...(gW ? [gW] : [])]);
  return out;
}

/**
 * A head case on the active backend against its float64 reference, at every shape of the table:
 * the value and the gradients with respect to the embeddings and the class weights (central
 * finite differences of the reference), each to a relative error of 1e-4.
 */
export async function checkHeadCase(c: HeadCase): Promise<void> {
  for (const [si, [N, D, C]] of shapes.entries()) {
    const seed = 1000 * si + c.name.length;
    const x = randMat(N, D, seed, c.scale ?? 1);
    const W = randMat(D, C * (c.K ?? 1), seed + 1);
    const y = randLabels(N, C, seed + 2);
    const loss = c.make(W, C, D);
    const got = await measureAsync(loss, x, y);
    loss.dispose();
    const want = c.ref(x, W, y);
    const fref = refForGradient(c, x);
    const gx = flat(R.fdGrad((xx) => fref(xx, W, y), x));
    const gW = flat(R.fdGrad((ww) => fref(x, ww, y), W));
    const at = `[N=${N}, D=${D}, C=${C}]`;
    assert.ok(Math.abs(got.loss - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${at} loss ${got.loss} vs ${want}`);
    assert.ok(relError(got.gx, gx) <= 1e-4, `${at} d/dx relative error ${relError(got.gx, gx)}`);
    assert.ok(relError(got.gW!, gW) <= 1e-4, `${at} d/dW relative error ${relError(got.gW!, gW)}`);
  }
}
