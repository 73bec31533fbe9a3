/**
 * A loss added from outside the library, end to end, as a user (or a new contributor) would: LMCL
 * under its AM-Softmax name (Wang, Cheng, Liu and Liu, "Additive Margin Softmax", 2018), which is
 * CosFace's target s·(cos θ_y − m) with the paper's s = 30. Its file holds the options interface,
 * the class and the spec. The spec gives the constructor its checks and defaults
 * (`resolveOptions`) and the head its `config()`; adding it to a table
 * (`[...LOSS_TABLE, AM_SOFTMAX_SPEC]`) gives it option parsing, range checks, help and a docs row.
 * Not shipped: test/loss-table.test.ts uses it.
 */
import * as ml from 'margin-lab';
import { tf } from 'margin-lab';

export interface AMSoftmaxOptions extends ml.HeadOptions {
  /** Scale s (paper: 30). */
  s?: number;
  /** Additive cosine margin m in [0, 2) (paper: 0.35). */
  m?: number;
}

export class AMSoftmax extends ml.CosineHead {
  readonly name = 'am-softmax';
  readonly spec: ml.LossSpec = AM_SOFTMAX_SPEC;
  readonly s: number;
  readonly m: number;

  constructor(opts: AMSoftmaxOptions) {
    const o = ml.resolveOptions(AM_SOFTMAX_SPEC, opts);
    super(opts, 1, 'am-softmax');
    this.s = o.s;
    this.m = o.m;
  }

  protected target(cosY: ml.tf.Tensor1D): ml.tf.Tensor1D {
    return tf.sub(cosY, this.m) as ml.tf.Tensor1D;
  }
}

export const AM_SOFTMAX_SPEC = ml.defineLoss({
  id: 'am-softmax',
  kind: 'head',
  cls: AMSoftmax,
  factory: (opts: AMSoftmaxOptions) => new AMSoftmax(opts),
  summary: 'AM-Softmax: s·(cos θ_y − m), s = 30 (LMCL under its other name)',
  options: {
    s: ml.scaleOption(30),
    m: { type: 'number', min: 0, max: 2, exclusiveMax: true, default: 0.35, help: 'additive cosine margin m' },
  },
});
