/** Value and gradients of a loss on the active backend, read asynchronously (works on every backend). */
import * as L from 'margin-lab';
import { tf } from 'margin-lab';
import { Mat } from './loss-cases';

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
