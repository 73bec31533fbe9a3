/**
 * SGD with momentum (optionally Nesterov) and coupled L2 weight decay, PyTorch's `torch.optim.SGD`
 * rule, as one optimizer:
 *
 *   g' = g + wd·w
 *   v  ← μ·v + g'
 *   w  ← w − lr·(g' + μ·v)     (Nesterov)     or     w ← w − lr·v     (plain momentum)
 *
 * tfjs's MomentumOptimizer with the decay added to the gradients first takes eight element-wise
 * kernels per variable (two for the decay, six for the step). Expanded, the same update is two
 * sums of scaled terms,
 *
 *   v ← μ·v + g + wd·w
 *   w ← (1 − lr·wd)·w − lr·g − lr·μ·v          (Nesterov)
 *
 * each one `addN` of products: seven kernels, and a quarter less memory traffic on the large
 * matrices (the dense layer, the class weights), where the update's time goes. The values agree
 * with the two-step form to rounding (test/train.test.ts); the slots, their names and order are
 * MomentumOptimizer's own, so checkpoints load in either.
 */
import * as tf from '../tf';

export class DecayedMomentumOptimizer extends tf.MomentumOptimizer {
  /** The coupled L2 weight decay (0: tfjs's MomentumOptimizer exactly). */
  readonly weightDecay: number;
  /** The momentum μ and whether the step is Nesterov's (MomentumOptimizer keeps its own private). */
  readonly mu: number;
  readonly nesterov: boolean;

  constructor(learningRate: number, momentum: number, useNesterov: boolean, weightDecay: number) {
    super(learningRate, momentum, useNesterov);
    this.weightDecay = weightDecay;
    this.mu = momentum;
    this.nesterov = useNesterov;
  }

  override applyGradients(variableGradients: Parameters<tf.MomentumOptimizer['applyGradients']>[0]): void {
    if (this.weightDecay === 0) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as {
      accumulations: Array<{ originalName: string; variable: tf.Variable } | undefined>;
      incrementIterations(): void;
    };
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor] as const)
      : Object.entries(variableGradients);
    const lr = this.learningRate;
    const mu = this.mu;
    const wd = this.weightDecay;
    const registered = tf.engine().registeredVariables;
    tf.tidy(() => {
      const coef = {
        mu: tf.scalar(mu),
        wd: tf.scalar(wd),
        keep: tf.scalar(1 - lr * wd),
        lr: tf.scalar(-lr),
        lrMu: tf.scalar(-lr * mu),
      };
      list.forEach(([name, gradient], i) => {
        const value = registered[name];
        if (!value) throw new Error(`DecayedMomentumOptimizer: no variable named ${JSON.stringify(name)}`);
        if (self.accumulations[i] == null)
          self.accumulations[i] = {
            originalName: `${name}/momentum`,
            variable: tf.keep(tf.zerosLike(value).variable(false)),
          };
        if (gradient == null) return;
        const acc = self.accumulations[i]!.variable;
        tf.tidy(() => {
          const v = tf.addN([tf.mul(acc, coef.mu), gradient, tf.mul(value, coef.wd)]);
          const w = this.nesterov
            ? tf.addN([tf.mul(value, coef.keep), tf.mul(gradient, coef.lr), tf.mul(v, coef.lrMu)])
            : tf.add(value, tf.mul(v, coef.lr));
          acc.assign(v);
          value.assign(w);
        });
      });
    });
    self.incrementIterations();
  }
}
