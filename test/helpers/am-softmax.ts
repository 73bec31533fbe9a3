/**
 * A loss added from outside the library, end to end, as a user (or a new contributor) would: LMCL
 * under its AM-Softmax name (Wang, Cheng, Liu and Liu, "Additive Margin Softmax", 2018), which is
 * CosFace's target s·(cos θ_y − m) with the paper's s = 30. Its file holds the class, the factory
 * and the spec; adding it to a table (`[...LOSS_TABLE, AM_SOFTMAX_SPEC]`) gives it option parsing,
 * range checks, help and a docs row. Not shipped: test/loss-table.test.ts uses it.
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
  readonly name = 'amSoftmax';
  readonly s: number;
  readonly m: number;

  constructor(opts: AMSoftmaxOptions) {
    const s = opts.s ?? 30;
    const m = opts.m ?? 0.35;
    if (!(typeof s === 'number' && s > 0)) throw new ml.LossInputError(`amSoftmax: s must be a number > 0, got ${s}`);
    if (!(typeof m === 'number' && m >= 0 && m < 2))
      throw new ml.LossInputError(`amSoftmax: m must be in [0, 2), got ${m}`);
    super(opts, 1, 'amSoftmax');
    this.s = s;
    this.m = m;
  }

  protected target(cosY: ml.tf.Tensor1D): ml.tf.Tensor1D {
    return tf.sub(cosY, this.m) as ml.tf.Tensor1D;
  }

  config(): Record<string, unknown> {
    return { loss: 'am-softmax', numClasses: this.numClasses, embeddingDim: this.embeddingDim, s: this.s, m: this.m };
  }
}

export function amSoftmax(opts: AMSoftmaxOptions): AMSoftmax {
  for (const k of Object.keys(opts))
    if (!['numClasses', 'embeddingDim', 'weights', 'init', 'seed', 's', 'm'].includes(k))
      throw new ml.LossInputError(`amSoftmax: unknown option ${k}`);
  return new AMSoftmax(opts);
}

export const AM_SOFTMAX_SPEC = ml.defineLoss({
  id: 'am-softmax',
  kind: 'head',
  cls: AMSoftmax,
  factory: amSoftmax,
  summary: 'AM-Softmax: s·(cos θ_y − m), s = 30 (LMCL under its other name)',
  options: {
    s: ml.scaleOption(30),
    m: { type: 'number', min: 0, max: 2, exclusiveMax: true, default: 0.35, help: 'additive cosine margin m' },
  },
});
