/**
 * The optimizers train() builds, and the tfjs 4.22 details around them: Adam (decoupled weight
 * decay is applied by the trainer, as AdamW), and SGD with momentum or Nesterov and coupled
 * weight decay fused into one update (./sgd); disposing what tfjs leaves behind; setting the rate.
 */
import * as tf from '../tf';
import { DecayedMomentumOptimizer } from './sgd';
import type { OptimizerName } from './options';

export function makeOptimizer(
  name: OptimizerName,
  lr: number,
  momentum: number,
  nesterov: boolean,
  weightDecay: number,
): tf.Optimizer {
  if (name === 'adam') return tf.train.adam(lr);
  // The coupled weight decay is part of the SGD step (one fused update, see ./sgd).
  if (name === 'sgd') return new DecayedMomentumOptimizer(lr, momentum, nesterov, weightDecay);
  throw new Error(`unknown optimizer ${JSON.stringify(name)}; expected adam or sgd`);
}

/**
 * Disposes an optimizer and what tfjs 4.22 leaves behind: MomentumOptimizer's dispose() frees its
 * momentum and accumulators but not the learning-rate scalar (`c`) it inherits from
 * SGDOptimizer, one tensor per SGD-with-momentum run.
 */
export function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  const c = (opt as unknown as { c?: unknown }).c;
  if (c instanceof tf.Tensor && !c.isDisposed) c.dispose();
}

export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}
