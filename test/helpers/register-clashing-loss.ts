/**
 * A loss of one's own whose option shares its name with a training flag (`warmup`), registered as
 * a user's `--require FILE` module would: the train command gives it `--loss-warmup`, so the two
 * never share a flag (test/registry.test.ts).
 */
import * as ml from 'margin-lab';
import { tf } from 'margin-lab';

export interface WarmMarginOptions extends ml.HeadOptions {
  /** Scale s (default 30). */
  s?: number;
  /** Additive cosine margin m in [0, 2) (default 0.2). */
  m?: number;
  /** A number the loss keeps (named like the train command's --warmup on purpose). */
  warmup?: number;
}

export class WarmMargin extends ml.CosineHead {
  readonly name = 'warm-margin';
  readonly spec: ml.LossSpec = WARM_MARGIN_SPEC;
  readonly s: number;
  readonly m: number;
  readonly warmup: number;

  constructor(opts: WarmMarginOptions) {
    const o = ml.resolveOptions(WARM_MARGIN_SPEC, opts);
    super(opts, 1, 'warm-margin');
    this.s = o.s;
    this.m = o.m;
    this.warmup = o.warmup;
  }

  protected target(cosY: ml.tf.Tensor1D): ml.tf.Tensor1D {
    return tf.sub(cosY, this.m) as ml.tf.Tensor1D;
  }
}

export const WARM_MARGIN_SPEC = ml.defineLoss({
  id: 'warm-margin',
  kind: 'head',
  cls: WarmMargin,
  factory: (opts: WarmMarginOptions) => new WarmMargin(opts),
  summary: 'an additive cosine margin whose option is named like a training flag',
  options: {
    s: ml.scaleOption(30),
    m: { type: 'number', min: 0, max: 2, exclusiveMax: true, default: 0.2, help: 'additive cosine margin m' },
    warmup: { type: 'integer', min: 0, default: 0, help: 'a number the loss keeps' },
  },
});

ml.registerLoss(WARM_MARGIN_SPEC);
